"""The HTTP application served by `gitward run`: probes and metrics (SPEC §4).

Built by `gitward.cli.run` with a `Probe` that reports liveness and readiness of the process;
later layers (REST API, webhooks, dashboard) mount their routers here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitward import __version__
from gitward.controller import metrics


@dataclass
class Probe:
    ready: Callable[[], bool]
    detail: Callable[[], dict[str, object]]


def build(probe: Probe) -> FastAPI:
    app = FastAPI(
        title="gitward",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

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

    return app
