"""The HTTP application served by `gitward run` (SPEC §4).

Built by `gitward.cli.run` (and by tests) with a `Probe` that reports liveness and readiness of the
process and a `Backend` (gitward.server.backend) for everything else:

    GET  /healthz, /readyz, /metrics          no authentication
    GET  /api/v1/openapi.json                 the API's OpenAPI document
         /api/v1/applications...              REST (api_applications, api_operations)
         /api/v1/rollouts...                  Rollouts: read, promote/abort/retry (api_rollouts)
    GET  /api/v1/events                       server-sent events (sse)
    POST /api/v1/webhooks/git                 Git push webhooks (webhooks.receiving)
    GET|POST /login, POST /logout, GET /api/v1/session   browser login (auth)

Around everything: the request counter (httpmetrics), security headers (security) and JSON errors
(errors). The dashboard mounts its router on the returned app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitward import __version__
from gitward.controller import metrics
from gitward.server import (
    api_applications,
    api_operations,
    api_rollouts,
    auth,
    dashboard,
    errors,
    httpmetrics,
    security,
    sse,
)
from gitward.server.backend import Backend
from gitward.server.webhooks import receiving

__all__ = ["Probe", "build", "build_probes"]

DESCRIPTION = """\
gitward's REST API. Authenticate with `Authorization: Bearer <token>` (tokens and roles come from
`gitward run --auth-file`); viewers may read, admins may also sync, refresh and roll back.
State-changing requests must be `Content-Type: application/json`. Errors are `{"detail": "..."}`.
"""


@dataclass
class Probe:
    ready: Callable[[], bool]
    detail: Callable[[], dict[str, object]]


def build(probe: Probe, backend: Backend | None = None) -> FastAPI:
    app = FastAPI(
        title="gitward",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.backend = backend
    auth.install(app, backend.auth if backend is not None else None)
    if backend is not None:
        app.state.events = sse.Broadcaster(backend)
    errors.install(app)
    app.add_middleware(security.SecurityHeaders)
    app.add_middleware(httpmetrics.RequestCounter)
    for router in (
        api_applications.router,
        api_operations.router,
        api_rollouts.router,
        sse.router,
        receiving.router,
    ):
        app.include_router(router)

    _probe_routes(app, probe)
    dashboard.install(app)
    return app


def build_probes(probe: Probe) -> FastAPI:
    """The probe listener (`gitward run --probe-listen`): /healthz, /readyz and /metrics alone, without
    authentication, for the kubelet and Prometheus; everything else is 404 there."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)  # /healthz/ is 404
    app.add_middleware(security.SecurityHeaders)
    _probe_routes(app, probe)
    return app


def _probe_routes(app: FastAPI, probe: Probe) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict[str, object]:
        ready = probe.ready()
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", **probe.detail()}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
