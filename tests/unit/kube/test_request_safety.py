"""Header and request-line injection (security issue 10): the transport's head builder writes what it
was given or refuses it, on both request paths, before any connection is made; the client's query
strings and ServiceAccount identities. Plain data and a loopback server, no Kubernetes."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitward.kube import errors
from gitward.kube.client import Identity, _query
from gitward.kube.transport import Http11Transport, _request_head

INJECTED = b"system:serviceaccount:tenant:limited\r\nImpersonate-Group: system:masters"

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VISIBLE = "".join(chr(c) for c in range(0x21, 0x7F))
_HOSTILE = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b"\x7f", b"\x01", b"\x0b", b"\x0c", b":", b"\x80",
            b"\r\nImpersonate-Group: system:masters", b" HTTP/1.1\r\nX: y\r\n\r\n", b"\n\tfolded"]  # fmt: skip

tokens = st.text(_TOKEN_CHARS, min_size=1, max_size=12).map(str.encode)
words = st.text(_VISIBLE + "é", min_size=1, max_size=8).map(str.encode)
field_values = st.one_of(st.just(b""), st.lists(words, min_size=1, max_size=3).map(b" ".join))
targets = st.text(_VISIBLE, max_size=30).map(lambda t: b"/" + t.encode())
hostile = st.one_of(st.sampled_from(_HOSTILE), st.binary(min_size=1, max_size=3))


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]:
    """A well-formed request, then up to three hostile fragments spliced into its method, target,
    header names or values (some splices stay well-formed: a space inside a value, obs-text)."""
    method = draw(st.one_of(st.sampled_from([b"GET", b"PATCH", b"DELETE"]), tokens))
    target = draw(targets)
    headers = draw(st.lists(st.tuples(tokens, field_values), max_size=5))
    body = draw(st.binary(max_size=4))
    for _ in range(draw(st.integers(0, 3))):
        fields = ["method", "target"] + (["name", "value"] if headers else [])
        where, piece = draw(st.sampled_from(fields)), draw(hostile)
        if where in ("name", "value"):
            index = draw(st.integers(0, len(headers) - 1))
            name, value = headers[index]
            if where == "name":
                headers[index] = (_splice(draw, name, piece), value)
            else:
                headers[index] = (name, _splice(draw, value, piece))
        elif where == "method":
            method = _splice(draw, method, piece)
        else:
            target = _splice(draw, target, piece)
    return method, target, headers, body


def _splice(draw: st.DrawFn, data: bytes, piece: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + piece + data[at:]


LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@asynccontextmanager
async def serving(seen: list[bytes]) -> AsyncIterator[tuple[int, list[int]]]:
    """A loopback HTTP server answering 200 to every request head; yields its port and the number of
    connections it accepted; `seen` collects the request heads."""
    accepted = [0]

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()
        await server.wait_closed()


def _expected_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
    if body and not any(n.lower() == b"content-length" for n, _ in kept):
        kept.append((b"Content-Length", b"%d" % len(body)))
    return kept


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
@example((b"POST", b"/api/v1/namespaces/t/configmaps", [(b"Impersonate-User", INJECTED)], b"{}"))
@example((b"GET", b"/x HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /y", [], b""))
@example((b"GET /admin", b"/x", [], b""))
@example((b"GET", b"/x", [(b"X-A", b"v\nInjected: 1")], b""))
@example((b"GET", b"/x", [(b"X-A", b" padded ")], b""))
@example((b"GET", b"/x", [(b"X-A\r\nInjected", b"1")], b""))
@example((b"PUT", b"/x", [(b"Content-Length", b"1")], b"{}"))
def test_a_head_parses_back_to_exactly_its_input_or_is_refused(
    request: tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes],
) -> None:
    method, target, headers, body = request
    try:
        head = _request_head(method, target, headers, body)
    except errors.UnsafeRequestError:
        return
    assert head.endswith(b"\r\n\r\n")
    block = head[:-4]
    # a lenient reader (bare CR or LF as line ends) sees the same lines as a strict one
    lines = block.split(b"\r\n")
    assert LINE_BREAK.split(block) == lines
    assert b"\x00" not in head
    request_line, *header_lines = lines
    assert request_line.split(b" ") == [method, target, b"HTTP/1.1"]
    expected = _expected_headers(headers, body)
    assert len(header_lines) == len(expected)
    for line, (name, value) in zip(header_lines, expected, strict=True):
        parsed_name, colon, parsed_value = line.partition(b":")
        assert colon == b":"
        assert (parsed_name, parsed_value.strip(b" \t")) == (name, value)  # OWS stripped, as servers do
        assert not line[:1].isspace()  # never an obs-fold continuation of the line before


def test_well_formed_heads_are_written_unchanged() -> None:
    headers = [(b"Host", b"h:6443"), (b"Impersonate-User", "jöhn doe".encode()), (b"X-Empty", b"")]
    head = _request_head(b"PATCH", b"/api/v1/x?fieldManager=gitward&force=true", headers, b"{}")
    assert head == (
        b"PATCH /api/v1/x?fieldManager=gitward&force=true HTTP/1.1\r\n"
        b"Host: h:6443\r\nImpersonate-User: j\xc3\xb6hn doe\r\nX-Empty: \r\nContent-Length: 2\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        (b"POST", b"/x", [(b"Impersonate-User", INJECTED)], "header b'Impersonate-User': value"),
        (b"GET", b"/x", [(b"Authorization", b"Bearer t\nX: y")], "header b'Authorization': value"),
        (b"GET", b"/x", [(b"X-A", b"nul\x00")], "value"),
        (b"GET", b"/x", [(b"X-A", b"bell\x07")], "value"),
        (b"GET", b"/x", [(b"X-A", b" lead")], "surrounding whitespace"),
        (b"GET", b"/x", [(b"X-A", b"trail\t")], "surrounding whitespace"),
        (b"GET", b"/x", [(b"X A", b"v")], "header name b'X A' is not an HTTP token"),
        (b"GET", b"/x", [(b"X-A:", b"v")], "not an HTTP token"),
        (b"GET", b"/x", [(b"", b"v")], "not an HTTP token"),
        (b"GET /y", b"/x", [], "request method"),
        (b"", b"/x", [], "request method"),
        (b"GET", b"/x y", [], "request target"),
        (b"GET", b"/x\r\nX: y", [], "request target"),
        (b"GET", "/é".encode(), [], "request target"),
        (b"GET", b"", [], "request target"),
        (b"PUT", b"/x", [(b"Content-Length", b"5")], "Content-Length"),
        (b"PUT", b"/x", [(b"Content-Length", b"2"), (b"Content-Length", b"2")], "Content-Length"),
    ],
)  # fmt: skip
def test_unsafe_heads_are_refused(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    with pytest.raises(errors.UnsafeRequestError, match=re.escape(message)) as caught:
        _request_head(method, target, headers, b"{}")
    assert isinstance(caught.value, errors.KubeError)
    assert caught.value.reason == "UnsafeRequest"


def test_a_refused_header_value_is_never_shown() -> None:
    with pytest.raises(errors.UnsafeRequestError) as caught:
        _request_head(b"GET", b"/x", [(b"Authorization", b"Bearer sekret-token\r\nX: 1")], b"")
    assert "sekret" not in caught.value.message


async def test_direct_exchange_refuses_before_connecting() -> None:
    seen: list[bytes] = []
    async with serving(seen) as (port, accepted):
        transport = Http11Transport(None, max_connections=1)  # a slot held by a refusal would block the next
        origin = ("http", "127.0.0.1", port)
        headers = [(b"Host", f"127.0.0.1:{port}".encode()), (b"Impersonate-User", INJECTED)]
        with pytest.raises(errors.UnsafeRequestError):
            await transport.exchange(origin, "POST", b"/api/v1/x", headers, b"{}", 5.0)
        with pytest.raises(errors.UnsafeRequestError):
            await transport.exchange(origin, "GET", b"/api/v1/x HTTP/1.1\r\nX: 1", headers[:1], b"", 5.0)
        assert accepted[0] == 0
        # the same transport still works: the refused requests never held its one connection slot
        for _ in range(3):
            assert (await transport.exchange(origin, "GET", b"/ok", headers[:1], b"", 5.0))[0] == 200
        await transport.aclose()
    assert accepted[0] == 1
    assert all(b"system:masters" not in head for head in seen)


async def test_httpx2_path_hands_the_header_over_unchanged_and_it_is_refused() -> None:
    """httpx2 neither validates nor strips header values (so it would not stop this; h11 is bypassed):
    the refusal comes from the transport, before a connection is opened."""
    seen: list[bytes] = []
    async with (
        serving(seen) as (port, accepted),
        httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", transport=Http11Transport(None, max_connections=1), timeout=5.0
        ) as http,
    ):
        request = http.build_request("POST", "/api/v1/x", headers=[(b"Impersonate-User", INJECTED)], content=b"{}")
        assert (b"Impersonate-User", INJECTED) in request.headers.raw
        with pytest.raises(errors.UnsafeRequestError):
            await http.send(request)
        with pytest.raises(errors.UnsafeRequestError):
            await http.get("/x", headers={"X-A": "v\nInjected: 1"})
        assert accepted[0] == 0
        for _ in range(3):  # the one connection slot was not leaked by the refusals (else: PoolTimeout)
            assert (await http.get("/fine")).status_code == 200
    assert accepted[0] == 1
    assert all(b"Injected" not in head and b"system:masters" not in head for head in seen)


# ---------------------------------------------------------------- query strings


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), st.one_of(st.text(max_size=20), st.booleans(), st.integers())))
@example({"labelSelector": "app in (a,b),tier!=x", "fieldSelector": "metadata.name=a&b=c#d", "continue": "x?y=1"})
@example({"name": "a\r\nX-Injected: 1", "k=v&x": "%2F/ +"})
def test_query_parameters_decode_back_to_themselves(params: dict[str, str | bool | int]) -> None:
    query = _query(params)
    assert re.fullmatch(r"[A-Za-z0-9._~%+=&-]*", query), query  # nothing that ends a query or a line
    decoded = urllib.parse.parse_qsl(query, keep_blank_values=True)
    as_text = {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in params.items()}
    assert decoded == list(as_text.items())


# ---------------------------------------------------------------- ServiceAccount identities


def test_service_account_identity() -> None:
    identity = Identity.service_account("tenant-a", "deployer.v2")
    assert identity.user == "system:serviceaccount:tenant-a:deployer.v2"
    assert identity.groups == ()  # the API server adds a ServiceAccount's groups; asking would need more RBAC


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("tenant", "limited\r\nImpersonate-Group: system:masters"), ("tenant", "limited\n"), ("tenant", "a:b"),
     ("tenant", ""), ("tenant", "-x"), ("tenant", "Upper"), ("tenant", "a" * 254), ("tenant", "a..b"),
     ("ten\r\nant", "x"), ("tenant.x", "x"), ("", "x"), ("a" * 64, "x"), ("tenant", "x y"), ("tenant", "é")],
)  # fmt: skip
def test_service_account_identity_refuses_what_kubernetes_would_not_name(namespace: str, name: str) -> None:
    with pytest.raises(ValueError, match="ServiceAccount"):
        Identity.service_account(namespace, name)
