"""A real smart-HTTP Git server for tests: `git http-backend` (CGI) behind a threaded HTTP server.

Used by gitward's tests (through `tests.support.gitserver`) and benchmarks (bench/). It listens on
127.0.0.1:<free port>, runs one `git http-backend` process per request with the CGI environment,
streams request and response bodies (decoding chunked and gzip request bodies), and can require
Basic or Bearer authentication (401 + `WWW-Authenticate: Basic realm=...` otherwise). Every request
is recorded, so tests can assert how many fetches reached the server (`fetches()`).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import itertools
import os
import re
import subprocess
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase, BufferedReader
from pathlib import Path
from typing import cast
from urllib.parse import unquote

from gitward.testing.gitrepos import BareRepos
from gitward.testing.loopback import LoopbackServer

__all__ = ["BasicAuth", "BearerAuth", "GitHttpServer", "HttpRequest"]

REALM = "gitward-test"
_ROUTE = re.compile(r"^/(?P<repo>.+?)/(?P<service>info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+)$")


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True)
class BearerAuth:
    token: str
    username: str = "token-user"


@dataclass(frozen=True)
class HttpRequest:
    """One request the server answered. `command` is `fetch`, `ls-refs`, `push`, `advertise` or ``."""

    method: str
    repo: str
    service: str
    command: str
    status: int
    user: str


class GitHttpServer(BareRepos, LoopbackServer):
    """Serves the bare repositories under `root` at http://127.0.0.1:<port>/<name>."""

    def __init__(self, root: Path, auth: BasicAuth | BearerAuth | None = None) -> None:
        super().__init__(root)
        self.auth = auth
        self.port = 0
        self.cgi_errors: list[str] = []
        self._requests: list[HttpRequest] = []
        self._lock = threading.Lock()

    def bind(self) -> ThreadingHTTPServer:
        return _Server(("127.0.0.1", self.port), _Handler, owner=self)  # a restart keeps its URL

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    @property
    def requests(self) -> list[HttpRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, *, repo: str | None = None, method: str | None = None, service: str | None = None,
              command: str | None = None, status: int | None = None) -> int:  # fmt: skip
        """How many recorded requests match every given attribute."""
        wanted = {"repo": repo, "method": method, "service": service, "command": command, "status": status}
        return sum(all(v is None or getattr(r, k) == v for k, v in wanted.items()) for r in self.requests)

    def upload_pack_posts(self, repo: str | None = None) -> int:
        """POSTs to git-upload-pack (protocol v2: ls-refs and fetch commands alike)."""
        return self.count(repo=repo, method="POST", service="git-upload-pack", status=200)

    def fetches(self, repo: str | None = None) -> int:
        """Successful upload-pack POSTs that fetched objects (not ref listings)."""
        return self.count(repo=repo, method="POST", service="git-upload-pack", command="fetch", status=200)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()

    def authenticate(self, header: str | None) -> str | None:
        """REMOTE_USER for an accepted request ("" when anonymous), None when refused."""
        if self.auth is None:
            return ""
        scheme, _, value = (header or "").partition(" ")
        if isinstance(self.auth, BearerAuth):
            ok = scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), self.auth.token)
            return self.auth.username if ok else None
        expected = base64.b64encode(f"{self.auth.username}:{self.auth.password}".encode()).decode()
        ok = scheme.lower() == "basic" and hmac.compare_digest(value.strip(), expected)
        return self.auth.username if ok else None

    def record(self, request: HttpRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[_Handler], *, owner: GitHttpServer) -> None:
        self.owner = owner
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    """One request: authenticate, record, run `git http-backend`, relay its response."""

    server: _Server
    protocol_version = "HTTP/1.1"  # answers `Expect: 100-continue`; every response closes the connection

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        self.close_connection = True
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        route = _ROUTE.match(unquote(path))
        repo, service = (route["repo"], route["service"]) if route else ("", "")
        user = owner.authenticate(self.headers.get("Authorization"))
        if user is None:
            owner.record(HttpRequest(self.command, repo, service, "", 401, ""))
            self._unauthorized()
            return
        body = _request_body(self.rfile, self.headers)
        first = next(body, b"")
        proc = self._start_cgi(path, query, user)
        feeder = threading.Thread(target=_feed, args=(proc, itertools.chain([first], body)), daemon=True)
        feeder.start()
        try:
            status, headers = _cgi_headers(proc)
            owner.record(HttpRequest(self.command, repo, service, _command(service, first), status, user))
            self._relay(proc, status, headers)
        finally:
            feeder.join()
            _finish(proc, owner)

    def _unauthorized(self) -> None:
        text = b"authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(text)

    def _start_cgi(self, path: str, query: str, user: str) -> subprocess.Popen[bytes]:
        pipe = subprocess.PIPE
        return subprocess.Popen(
            ["git", "http-backend"], stdin=pipe, stdout=pipe, stderr=pipe, env=self._cgi_env(path, query, user)
        )

    def _cgi_env(self, path: str, query: str, user: str) -> dict[str, str]:
        root = str(self.server.owner.root)
        env = {
            "PATH": os.environ.get("PATH", os.defpath), "HOME": root, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path), "QUERY_STRING": query, "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }  # fmt: skip
        if user:
            env["REMOTE_USER"] = user
        if self.headers.get("Git-Protocol"):
            env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        # a decoded (gunzipped / de-chunked) body has no known length: http-backend then reads to EOF
        if not self.headers.get("Content-Encoding") and not self.headers.get("Transfer-Encoding"):
            env["CONTENT_LENGTH"] = self.headers.get("Content-Length", "0")
        return env

    def _relay(self, proc: subprocess.Popen[bytes], status: int, headers: list[tuple[str, str]]) -> None:
        assert proc.stdout is not None
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        stdout = cast(BufferedReader, proc.stdout)  # readline() above buffered: read1 drains that first
        while chunk := stdout.read1(1 << 16):
            self.wfile.write(chunk)


def _cgi_headers(proc: subprocess.Popen[bytes]) -> tuple[int, list[tuple[str, str]]]:
    assert proc.stdout is not None
    status, headers = 200, []
    while line := proc.stdout.readline().decode("latin-1").rstrip("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name, value.strip()))
    return status, headers


def _feed(proc: subprocess.Popen[bytes], body: Iterator[bytes]) -> None:
    assert proc.stdin is not None
    try:
        for chunk in body:
            proc.stdin.write(chunk)
    except (BrokenPipeError, ValueError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


def _finish(proc: subprocess.Popen[bytes], owner: GitHttpServer) -> None:
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    errors = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    proc.wait()
    if errors.strip():
        owner.cgi_errors.append(errors)


def _request_body(rfile: BufferedIOBase, headers: Message) -> Iterator[bytes]:
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        raw = _chunked(rfile)
    else:
        raw = _fixed(rfile, int(headers.get("Content-Length") or 0))
    if headers.get("Content-Encoding", "").lower() in ("gzip", "x-gzip"):
        return _gunzip(raw)
    return raw


def _fixed(rfile: BufferedIOBase, length: int) -> Iterator[bytes]:
    while length > 0 and (chunk := rfile.read(min(length, 1 << 16))):
        length -= len(chunk)
        yield chunk


def _chunked(rfile: BufferedIOBase) -> Iterator[bytes]:
    while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
        yield rfile.read(size)
        rfile.readline()
    while rfile.readline().strip():  # trailers
        pass


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for chunk in chunks:
        if out := inflater.decompress(chunk):
            yield out
    if tail := inflater.flush():
        yield tail


def _command(service: str, first: bytes) -> str:
    """What a request does, from its service and the first bytes of its (decoded) body."""
    head = first[:256]
    if service == "info/refs":
        return "advertise"
    if service == "git-receive-pack":
        return "push"
    if service != "git-upload-pack":
        return ""
    if b"command=ls-refs" in head:
        return "ls-refs"
    return "fetch" if b"command=fetch" in head or b"want " in head else "other"
