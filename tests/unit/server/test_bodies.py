"""server.webhooks.bodies: a webhook body over the cap is refused (413) only after the rest of it
was read and dropped — within bounds — so the sender can read the refusal; what a Starlette request
gets from an ASGI server is played by a plain receive callable."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import HTTPException, Request

from gitward.server.security import BodyTooLarge
from gitward.server.webhooks import bodies

LIMIT = 1024
CHUNK = 256


class Sender:
    """The client side: `chunks` body messages, then the end of the body — or, with `then`
    "stall", nothing more ever; with "leave", a disconnect before the body ended."""

    def __init__(self, chunks: int, then: str = "end") -> None:
        self.chunks = chunks
        self.then = then
        self.received = 0  # body messages the server took

    async def receive(self) -> dict[str, Any]:
        if self.received >= self.chunks:
            if self.then == "stall":
                await asyncio.Event().wait()
            return {"type": "http.disconnect"}
        self.received += 1
        more = self.received < self.chunks or self.then != "end"
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": more}


def request(sender: Sender, **headers: str) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/webhooks/git",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, sender.receive)


async def test_a_body_within_the_cap_is_returned_whole() -> None:
    sender = Sender(LIMIT // CHUNK)
    assert await bodies.read_capped(request(sender), LIMIT) == b"x" * LIMIT


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
async def test_over_the_cap_the_rest_is_read_before_the_413(declared: bool) -> None:
    sender = Sender(40)  # 10 KiB
    headers = {"content_length": str(40 * CHUNK)} if declared else {}
    with pytest.raises(BodyTooLarge) as refused:
        await bodies.read_capped(request(sender, **headers), LIMIT)
    assert refused.value.status_code == 413
    assert sender.received == 40, "the whole body was read, so closing the connection resets nothing"


async def test_draining_stops_after_max_drain_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bodies, "MAX_DRAIN", 64 * CHUNK)
    sender = Sender(1000)
    with pytest.raises(BodyTooLarge):
        await bodies.read_capped(request(sender), LIMIT)
    assert 64 <= sender.received <= 65


@pytest.mark.parametrize(
    "headers",
    [{"content_length": str(bodies.MAX_DRAIN + 1)}, {"content_length": str(2 * LIMIT), "expect": "100-continue"}],
    ids=["over-the-drain-bound", "expect-100-continue"],
)
async def test_refused_from_the_headers_alone(headers: dict[str, str]) -> None:
    sender = Sender(10)
    with pytest.raises(BodyTooLarge):
        await bodies.read_capped(request(sender, **headers), LIMIT)
    assert sender.received == 0


async def test_a_sender_that_stalls_is_answered_after_drain_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bodies, "DRAIN_SECONDS", 0.2)
    sender = Sender(8, then="stall")
    with pytest.raises(BodyTooLarge):
        await asyncio.wait_for(bodies.read_capped(request(sender), LIMIT), 30)
    assert sender.received == 8


@pytest.mark.parametrize("value", ["12x", "-1", ""])
async def test_an_invalid_content_length_is_400(value: str) -> None:
    with pytest.raises(HTTPException) as refused:
        await bodies.read_capped(request(Sender(1), content_length=value), LIMIT)
    assert refused.value.status_code == 400


async def test_a_client_gone_mid_body_is_400() -> None:
    with pytest.raises(HTTPException) as refused:
        await bodies.read_capped(request(Sender(2, then="leave")), LIMIT)
    assert refused.value.status_code == 400
