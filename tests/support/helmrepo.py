"""A real Helm chart repository for tests: an HTTP server with an `index.yaml` and chart archives.

Used by the Helm tests (tests/unit/rendering/test_helm_*.py, tests/integration/test_helm_*.py).
Charts are written by the tests themselves: `publish(name, version, files)` packs the files into
`<name>-<version>.tgz` (top directory `<name>/`, as `helm package` does) and rewrites `index.yaml`
with every published version, its sha256 digest and a relative URL. `put()` serves any bytes at
any path (hostile indexes and archives), `endless()` streams without end and without a length.
The server listens on 127.0.0.1:<free port>, may require Basic auth, and records every request.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

import yaml

from gitward.testing.loopback import LoopbackServer

__all__ = ["ChartRepoServer", "chart_archive"]


def chart_archive(top: str, files: dict[str, str | bytes]) -> bytes:
    """A gzipped tar of `files` (chart-relative path → dedented text or bytes) under `top/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, content in sorted(files.items()):
            data = content if isinstance(content, bytes) else textwrap.dedent(content).encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class _Published:
    name: str
    version: str
    digest: str
    created: str


@dataclass
class ChartRepoServer(LoopbackServer):
    """Serves published charts at `url` (http://127.0.0.1:<port>/charts)."""

    auth: tuple[str, str] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization header)
    published: list[_Published] = field(default_factory=list)
    port: int = 0
    _endless: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/charts"

    def bind(self) -> ThreadingHTTPServer:
        return ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"repo": self}))

    def publish(self, name: str, version: str, files: dict[str, str | bytes]) -> str:
        """Pack and serve a chart version (Chart.yaml is added when missing); its sha256 digest."""
        files = {"Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n", **files}
        archive = chart_archive(name, files)
        digest = hashlib.sha256(archive).hexdigest()
        self.files[f"/charts/{name}-{version}.tgz"] = archive
        self.published.append(_Published(name, version, digest, f"2026-01-0{len(self.published) % 9 + 1}T00:00:00Z"))
        self.write_index()
        return digest

    def write_index(self, digests: dict[str, str] | None = None) -> None:
        """Rewrite index.yaml from the published charts (`digests` overrides some by version)."""
        entries: dict[str, list[dict[str, object]]] = {}
        for chart in self.published:
            digest = (digests or {}).get(chart.version, chart.digest)
            entry: dict[str, object] = {
                "apiVersion": "v2",
                "name": chart.name,
                "version": chart.version,
                "digest": digest,
                "created": chart.created,
                "urls": [f"{chart.name}-{chart.version}.tgz"],
            }
            entries.setdefault(chart.name, []).insert(0, entry)
        index = {"apiVersion": "v1", "entries": entries, "generated": "2026-01-01T00:00:00Z"}
        self.put("/charts/index.yaml", yaml.safe_dump(index).encode())

    def put(self, path: str, data: bytes) -> None:
        self.files[path] = data

    def endless(self, path: str) -> None:
        """Serve `path` as a chunked stream that never ends (until the client hangs up)."""
        self._endless.add(path)

    def fetched(self, suffix: str) -> int:
        return sum(1 for path, _ in self.requests if path.endswith(suffix))


class _Handler(BaseHTTPRequestHandler):
    repo: ChartRepoServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.repo.requests.append((self.path, self.headers.get("Authorization", "")))
        if self.repo.auth is not None and not self._authorized(self.repo.auth):
            self._answer(401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="charts"'})
        elif self.path in self.repo._endless:
            self._stream_forever()
        elif self.path in self.repo.files:
            self._answer(200, self.repo.files[self.path], {})
        else:
            self._answer(404, b"not found", {})

    def _authorized(self, auth: tuple[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return cast(str, self.headers.get("Authorization", "")) == expected

    def _answer(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream_forever(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"entries:\n" + b"  x: []\n" * 8192
        deadline = time.monotonic() + 30
        try:
            for _ in _until(deadline):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True


def _until(deadline: float) -> Iterator[None]:
    while time.monotonic() < deadline:
        yield None
