"""HTTP hardening shared by every route: security headers on every response, and the JSON-only
rule for state-changing API requests (SPEC §4).

`SecurityHeaders` is installed by `gitward.server.app.build` around the whole application;
`require_json` is a dependency of the API's POST routes (gitward.server.api_operations).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "BodyTooLarge", "SecurityHeaders", "is_json", "read_body", "require_json"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on same-site form
    # posts, which the CSRF origin check must refuse; same-origin still sends nothing to other sites
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Pure ASGI middleware (streams stay streams): adds the headers above to every response, and
    `Cache-Control: no-store` to API responses, unless the route set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                extra = [(k, v) for k, v in _HEADERS if k not in present]
                if api and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_json(content_type: str | None) -> bool:
    """`application/json`, with or without parameters (`; charset=utf-8`)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


async def require_json(request: Request) -> None:
    """415 unless the request says its body is `application/json` (blocks cross-site form posts)."""
    if not is_json(request.headers.get("content-type")):
        raise HTTPException(415, "state-changing requests must have Content-Type: application/json")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read as a stream and refused (413) as soon as it exceeds `limit` bytes —
    before anything parses it. A Content-Length over the limit is refused without reading."""
    cached: bytes | None = getattr(request.state, "gitward_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request.state.gitward_body = body
    return body
