"""The body of a webhook delivery, capped (SPEC §4: over 1 MiB → 413) — and refused so that the
sender can read the refusal.

Called by gitward.server.webhooks.receiving before anything parses the body. Senders write their
whole body before they read the answer, and many ask the server to close the connection after it
(`Connection: close`, as urllib does). Answering as soon as the cap is passed and closing with the
rest of the body unread makes the kernel reset the connection: the sender gets ECONNRESET or a
broken pipe instead of the 413. So past the cap the rest of the body is read and thrown away, up
to `MAX_DRAIN` bytes and `DRAIN_SECONDS` (nothing is kept: memory stays bounded by the cap), and
only then answered. A declared Content-Length past `MAX_DRAIN`, or `Expect: 100-continue` (the
sender waits for leave to send), is answered at once, before any body is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from gitward.server.security import BodyTooLarge

__all__ = ["DRAIN_SECONDS", "MAX_DRAIN", "read_capped"]

MAX_DRAIN = 8 * 1024 * 1024  # bytes read and dropped past the cap before answering 413
DRAIN_SECONDS = 10.0


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, or 413 (`BodyTooLarge`) when it is over `limit` bytes; 400 for an invalid
    Content-Length."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        if declared <= MAX_DRAIN and not _expects_continue(request):
            await _drain(request.stream(), declared)
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                await _drain(stream, MAX_DRAIN - size)
                raise BodyTooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPException(400, "the client went away before sending the whole body") from None
    return b"".join(chunks)


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.strip().isdigit():
        raise HTTPException(400, "invalid Content-Length")
    return int(declared)


def _expects_continue(request: Request) -> bool:
    return request.headers.get("expect", "").strip().lower() == "100-continue"


async def _drain(stream: AsyncIterator[bytes], budget: int) -> None:
    """Read and drop the rest of `stream`: at most about `budget` bytes, for at most DRAIN_SECONDS."""
    with contextlib.suppress(TimeoutError, ClientDisconnect):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in stream:
                budget -= len(chunk)
                if budget < 0:
                    return
