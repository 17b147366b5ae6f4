"""`gitward_http_requests_total{method,route,code}`: HTTP requests served, by route template
(`/api/v1/applications/{namespace}/{name}`, never the raw path), so the label set stays bounded.

Installed by `gitward.server.app.build` as the outermost ASGI middleware; the counter lives in the
controller's registry, which /metrics serves.
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitward.controller import metrics

__all__ = ["HTTP_REQUESTS", "RequestCounter"]

HTTP_REQUESTS = Counter(
    "gitward_http_requests_total",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "code"],
    registry=metrics.REGISTRY,
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestCounter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = 500

        async def recording_send(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, Route) else "other"
            method = str(scope.get("method", "")).upper()
            HTTP_REQUESTS.labels(method if method in _METHODS else "other", template, str(code)).inc()
