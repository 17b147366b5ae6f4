"""gitward's HTTP/1.1 transport against a real (tiny) asyncio HTTP server on loopback: framing
(Content-Length, chunked streams, read-to-close), keep-alive reuse, a retry when the server closed
an idle connection, and httpx2 errors for what goes wrong on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx2
import pytest

from gitward.kube.transport import Http11Transport

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Answers one request (its head and body); returns False to close the connection afterwards."""


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1; yields its base URL and the number of connections it accepted."""
    accepted = [0]

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                if not await handler(head + body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", accepted
    finally:
        server.close()
        await server.wait_closed()


def client(base_url: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=base_url, transport=Http11Transport(None), timeout=5.0)


async def echo_length(request: bytes, writer: asyncio.StreamWriter) -> bool:
    body = b'{"seen": %d}' % len(request)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    return True


async def test_content_length_responses_reuse_one_connection() -> None:
    async with serving(echo_length) as (url, accepted), client(url) as http:
        for _ in range(5):
            resp = await http.patch("/x", params={"a": "1"}, content=b'{"k": "v"}')
            assert resp.status_code == 200
            assert resp.json()["seen"] > 0
    assert accepted[0] == 1


async def test_request_is_sent_whole_with_its_body() -> None:
    seen: list[bytes] = []

    async def record(request: bytes, writer: asyncio.StreamWriter) -> bool:
        seen.append(request)
        return await echo_length(request, writer)

    async with serving(record) as (url, _), client(url) as http:
        await http.post("/api/v1/things?x=1", content=b"0123456789", headers={"Content-Type": "text/plain"})
    head, _, body = seen[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/things?x=1 HTTP/1.1\r\n")
    assert b"content-length: 10" in head.lower()
    assert body == b"0123456789"


async def test_chunked_stream_arrives_chunk_by_chunk() -> None:
    gate = asyncio.Event()

    async def stream(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"6\r\nfirst\n\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async with serving(stream) as (url, _), client(url) as http, http.stream("GET", "/w?watch=1") as resp:
        lines = resp.aiter_lines()
        assert await anext(lines) == "first"
        gate.set()
        assert await anext(lines) == "second"


async def test_body_until_close_and_connection_close() -> None:
    async def close_delimited(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        return False

    async with serving(close_delimited) as (url, accepted), client(url) as http:
        assert (await http.get("/a")).text == "all of it"
        assert (await http.get("/b")).text == "all of it"
    assert accepted[0] == 2


async def test_retries_once_when_the_server_closed_the_idle_connection() -> None:
    async def once_per_connection(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await echo_length(request, writer)
        return False  # closes without saying so (no Connection: close), like an idle timeout

    async with serving(once_per_connection) as (url, accepted), client(url) as http:
        assert (await http.get("/a")).status_code == 200
        await asyncio.sleep(0.05)
        assert (await http.get("/b")).status_code == 200
    assert accepted[0] == 2


async def test_no_answer_is_a_read_timeout() -> None:
    async def silent(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async with (
        serving(silent) as (url, _),
        httpx2.AsyncClient(base_url=url, transport=Http11Transport(None), timeout=0.2) as http,
    ):
        with pytest.raises(httpx2.ReadTimeout):
            await http.get("/slow")


async def test_nobody_listening_is_a_connect_error() -> None:
    async with serving(echo_length) as (url, _):
        pass  # the server is gone again: its port refuses connections
    async with client(url) as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get("/")


async def test_error_status_is_returned_with_its_body() -> None:
    async def not_found(request: bytes, writer: asyncio.StreamWriter) -> bool:
        body = b'{"kind":"Status","code":404}'
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        return True

    async with serving(not_found) as (url, _), client(url) as http:
        resp = await http.get("/missing")
        assert resp.status_code == 404
        assert resp.json()["code"] == 404


async def test_exchange_sends_directly_and_reads_whole_bodies() -> None:
    seen: list[bytes] = []

    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        seen.append(request)
        writer.write(b'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n')
        await writer.drain()
        return True

    async with serving(chunked) as (url, accepted):
        transport = Http11Transport(None)
        port = int(url.rsplit(":", 1)[1])
        headers = [(b"Host", f"127.0.0.1:{port}".encode()), (b"Authorization", b"Bearer t")]
        for _ in range(3):
            status, body = await transport.exchange(
                ("http", "127.0.0.1", port), "PATCH", b"/p?x=1", headers, b"{}", 5.0
            )
            assert (status, body) == (201, b'{"a":1}')
        await transport.aclose()
    assert accepted[0] == 1
    head = seen[0].split(b"\r\n\r\n")[0]
    assert head.startswith(b"PATCH /p?x=1 HTTP/1.1\r\n")
    assert b"Authorization: Bearer t" in head
    assert b"Content-Length: 2" in head
