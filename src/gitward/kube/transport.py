"""A lean HTTP/1.1 keep-alive transport for the Kubernetes API client, on asyncio streams.

Plugged into the httpx2 client by `gitward.kube.config.http_client` (so authentication, timeouts,
URLs and errors stay httpx2's); only the wire is handled here. Why: profiles of a cold sync of
1,000 objects showed three quarters of the controller's CPU in the generic transport (connection
pool bookkeeping, anyio's TLS stream in Python, one socket write for the headers and another for
the body). This one writes each request in one go, reads the response with asyncio's native
TLS streams, and keeps idle connections in a plain list. `bench/transport.py` measures it against
httpx2's stock transport: a fifth to a sixth of the client CPU per request on the direct path
(docs/performance.md, "The hand-written transport").

Supported: http and https, Content-Length and chunked responses (watch streams arrive as chunks,
yielded as they come), keep-alive with an idle expiry, `Connection: close`, connect/read/pool
timeouts from the request's extensions, one retry of a request whose reused connection turned
out to be closed by the server before any byte of the answer. Not supported (never used by the
API client): proxies, HTTP/2, request bodies other than bytes, `Expect: 100-continue`.
Refused before any connection is used (`gitward.kube.errors.UnsafeRequestError`, see `_request_head`):
what h11 would refuse in a request head — CR, LF, NUL in the method, target, header names or values.
At most `max_connections` requests are in flight; watches do not count against that limit, so
long-lived watch streams can never starve ordinary requests.

`exchange()` is the direct path `KubeClient.request` takes when the connection's authentication is
static (a token or a client certificate): one request in, status and body out, with no httpx2
request and response objects in between (building them was a fifth of the controller's CPU in a
cold sync). Streams (watches) and every other authentication go through httpx2.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

import httpx2

from gitward.kube.errors import UnsafeRequestError

__all__ = ["Http11Transport", "Origin"]

Origin = tuple[str, str, int]
"""(scheme, host, port) of a server."""
_Key = Origin
_NO_BODY_STATUS = frozenset({204, 304})


@dataclass(eq=False)
class _Connection:
    key: _Key
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)
    reused: bool = False

    def usable(self, now: float, expiry: float) -> bool:
        return now - self.idle_since < expiry and not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Stale(Exception):
    """A reused connection was closed by the server before it answered: retry on a new one."""


class Http11Transport(httpx2.AsyncBaseTransport):
    def __init__(
        self, ssl_context: ssl.SSLContext | None, *, max_connections: int = 16, keepalive_expiry: float = 30.0
    ) -> None:
        self._ssl = ssl_context
        self._expiry = keepalive_expiry
        self._idle: dict[_Key, list[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()

    async def exchange(
        self,
        origin: Origin,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeout: float | None,
    ) -> tuple[int, bytes]:
        """Send one request (`target` is path and query) and read its whole answer: (status, body).
        `headers` must include Host and any authentication; Content-Length is added here."""
        head = _request_head(method.encode(), target, headers, body)
        await self._acquire(timeout, None)
        try:
            for attempt in (1, 2):
                conn = await self._connection(origin, timeout, fresh=attempt == 2, request=None)
                try:
                    status, response_headers, _ = await self._exchange(conn, head + body, timeout, None)
                    reader = _Body(self, conn, method, status, response_headers, timeout, False, None)
                    data = b"".join([chunk async for chunk in reader])
                except _Stale:
                    self._discard(conn)
                    continue
                except BaseException:
                    self._discard(conn)
                    raise
                await reader.aclose()
                return status, data
            raise httpx2.ReadError("the server closed the connection twice")
        finally:
            self._slots.release()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts = request.extensions.get("timeout") or {}
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        head = _head(request, body)
        limited = b"watch=" not in request.url.raw_path
        if limited:
            await self._acquire(timeouts.get("pool"), request)
        try:
            url = request.url
            origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
            for attempt in (1, 2):
                conn = await self._connection(origin, timeouts.get("connect"), fresh=attempt == 2, request=request)
                try:
                    status, headers, reason = await self._exchange(conn, head + body, timeouts.get("read"), request)
                except _Stale:
                    self._discard(conn)
                    continue
                except BaseException:
                    self._discard(conn)
                    raise
                stream = _Body(self, conn, request.method, status, headers, timeouts.get("read"), limited, request)
                extensions = {"http_version": b"HTTP/1.1", "reason_phrase": reason}
                return httpx2.Response(status, headers=headers, stream=stream, extensions=extensions)
            raise httpx2.ReadError("the server closed the connection twice", request=request)
        except BaseException:
            if limited:
                self._slots.release()
            raise

    async def aclose(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()

    # ------------------------------------------------------------------ connections

    async def _acquire(self, timeout: float | None, request: httpx2.Request | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx2.PoolTimeout("no free connection", request=request) from exc

    async def _connection(
        self, key: Origin, timeout: float | None, *, fresh: bool, request: httpx2.Request | None
    ) -> _Connection:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle and not fresh:
            conn = idle.pop()
            if conn.usable(now, self._expiry):
                conn.reused = True
                return conn
            self._discard(conn)
        tls = self._ssl if key[0] == "https" else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    key[1], key[2], ssl=tls, server_hostname=key[1] if tls else None, limit=1 << 20
                )
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(f"connecting to {key[1]}:{key[2]} timed out", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx2.ConnectError(f"{key[1]}:{key[2]}: {exc}", request=request) from exc
        conn = _Connection(key, reader, writer)
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)

    def _discard(self, conn: _Connection) -> None:
        self._open.discard(conn)
        conn.close()

    async def _exchange(
        self, conn: _Connection, data: bytes, timeout: float | None, request: httpx2.Request | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        try:
            conn.writer.write(data)
            await conn.writer.drain()
        except OSError as exc:
            if conn.reused:
                raise _Stale from exc
            raise httpx2.WriteError(str(exc), request=request) from exc
        try:
            async with asyncio.timeout(timeout):
                raw = await conn.reader.readuntil(b"\r\n\r\n")
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("timed out waiting for the response", request=request) from exc
        except asyncio.IncompleteReadError as exc:
            if conn.reused and not exc.partial:
                raise _Stale from exc
            raise httpx2.RemoteProtocolError("the server closed the connection", request=request) from exc
        except (OSError, asyncio.LimitOverrunError) as exc:
            if conn.reused and isinstance(exc, ConnectionResetError):
                raise _Stale from exc
            raise httpx2.ReadError(str(exc), request=request) from exc
        return _parse_head(raw, request)


def _head(request: httpx2.Request, body: bytes) -> bytes:
    return _request_head(request.method.encode(), request.url.raw_path, request.headers.raw, body)


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 `token`: a method or a header name."""
_TARGET = re.compile(rb"[\x21-\x7e]+")
"""A request target: visible ASCII only (no space, tab, CR, LF, NUL or other control characters)."""
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
"""RFC 9110 `field-value`: visible characters (and obs-text) with inner spaces/tabs, nothing around."""


def _request_head(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The request line and header block, written as given (Transfer-Encoding dropped: the body is
    always sent whole, with its Content-Length).

    Both paths come through here (`exchange` and `handle_async_request`), and nothing here changes
    a byte of what it was given: a method that is not a token, a target with whitespace or control
    characters, a header name that is not a token, a value with CR, LF, NUL, another control
    character or surrounding whitespace, or a Content-Length that is not the body's is refused with
    `UnsafeRequestError` before any connection is used — so no input can add a header line or change
    the request target (the checks h11 makes, which this transport would otherwise bypass).
    """
    _check_request_line(method, target)
    lines = [b"%s %s HTTP/1.1" % (method, target)]
    has_length = False
    for name, value in headers:
        _check_header(name, value)
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue
        if lowered == b"content-length":
            if has_length or value != b"%d" % len(body):
                raise UnsafeRequestError("Content-Length header does not match the request body")
            has_length = True
        lines.append(name + b": " + value)
    if body and not has_length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _check_request_line(method: bytes, target: bytes) -> None:
    if not _TOKEN.fullmatch(method):
        raise UnsafeRequestError(f"request method {_shown(method)} is not an HTTP token")
    if not _TARGET.fullmatch(target):
        where = next((i for i, byte in enumerate(target) if not 0x21 <= byte <= 0x7E), 0)
        raise UnsafeRequestError(
            f"request target has whitespace, a control or a non-ASCII character (at byte {where}) or is empty"
        )


def _check_header(name: bytes, value: bytes) -> None:
    if not _TOKEN.fullmatch(name):
        raise UnsafeRequestError(f"header name {_shown(name)} is not an HTTP token")
    if not _FIELD_VALUE.fullmatch(value):
        # never the value itself: it may be a credential (Authorization)
        raise UnsafeRequestError(
            f"header {_shown(name)}: value has CR, LF, NUL, another control character or surrounding whitespace"
        )


def _shown(data: bytes) -> str:
    return repr(data[:40]) + ("…" if len(data) > 40 else "")


def _parse_head(raw: bytes, request: httpx2.Request | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status_line, *lines = raw[:-4].split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise httpx2.RemoteProtocolError(f"malformed status line {status_line[:80]!r}", request=request)
    headers = []
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return int(parts[1]), headers, parts[2] if len(parts) > 2 else b""


class _Body(httpx2.AsyncByteStream):
    """The response body, read from the connection as the caller iterates; the connection goes back
    to the pool once the body was read to its end (and the server did not ask to close)."""

    def __init__(
        self,
        transport: Http11Transport,
        conn: _Connection,
        method: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        timeout: float | None,
        holds_slot: bool,
        request: httpx2.Request | None,
    ) -> None:
        self._transport, self._conn, self._timeout, self._request = transport, conn, timeout, request
        self._holds_slot = holds_slot
        values = {name.lower(): value for name, value in headers}
        self._keep_alive = values.get(b"connection", b"").lower() != b"close"
        self._chunked = b"chunked" in values.get(b"transfer-encoding", b"").lower()
        length = values.get(b"content-length")
        self._length: int | None = int(length) if length is not None and length.isdigit() else None
        if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            self._chunked, self._length = False, 0
        if not self._chunked and self._length is None:
            self._keep_alive = False  # the body ends when the server closes the connection
        self._complete = False
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._chunked:
                async for chunk in self._chunks():
                    yield chunk
            elif self._length is not None:
                if self._length:
                    yield await self._read(self._conn.reader.readexactly(self._length))
            else:
                while data := await self._read(self._conn.reader.read(1 << 16)):
                    yield data
            self._complete = True
        except asyncio.IncompleteReadError as exc:
            raise httpx2.RemoteProtocolError(
                "the server closed the connection mid-body", request=self._request
            ) from exc
        except (OSError, asyncio.LimitOverrunError, ValueError) as exc:
            raise httpx2.ReadError(str(exc), request=self._request) from exc

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self._conn.reader
        while True:
            size_line = await self._read(reader.readuntil(b"\r\n"))
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await self._read(reader.readuntil(b"\r\n"))) != b"\r\n":  # trailers
                    pass
                return
            data = await self._read(reader.readexactly(size + 2))
            yield data[:-2]

    async def _read(self, awaitable: Awaitable[bytes]) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await awaitable
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("timed out reading the response body", request=self._request) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._complete and self._keep_alive:
            self._transport._release(self._conn)
        else:
            self._transport._discard(self._conn)
        if self._holds_slot:
            self._transport._slots.release()
