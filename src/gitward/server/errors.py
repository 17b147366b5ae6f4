"""Every error the HTTP server answers is JSON `{"detail": "<message>"}` (validation errors add
`errors`), with the right status: 4xx for the caller's mistakes, 503 when this replica cannot
answer, 502 when the Kubernetes API failed, and a bare 500 without internals for bugs.

Installed by `gitward.server.app.build`. Messages never carry request bodies or credentials.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gitward.core.logging import get_logger
from gitward.core.redaction import redact
from gitward.kube import errors as kube_errors
from gitward.server.backend import Unavailable

log = get_logger(__name__)

__all__ = ["install", "validation_message"]


def validation_message(errors: list[Any]) -> str:
    """`body.prune: Input should be a valid boolean; ...` from pydantic/FastAPI error dicts."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _errors(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors
    ]


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse({"detail": detail}, exc.status_code, headers=dict(exc.headers or {}))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return JSONResponse({"detail": validation_message(errors), "errors": _errors(errors)}, 422)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unavailable)
    return JSONResponse({"detail": exc.message}, 503, headers={"Retry-After": str(exc.retry_after)})


async def _kube(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, kube_errors.KubeError)
    log.warning("kubernetes request failed", path=request.url.path, error=exc.message)
    if isinstance(exc, kube_errors.UnsafeRequestError):  # a name no Kubernetes object can have
        return JSONResponse({"detail": redact(exc.message)}, 400)
    if isinstance(exc, kube_errors.APINotFoundError):
        return JSONResponse({"detail": redact(exc.message)}, 404)
    if isinstance(exc, kube_errors.APIConflictError | kube_errors.APIInvalidError):
        return JSONResponse({"detail": redact(exc.message)}, 409)
    return JSONResponse({"detail": f"the Kubernetes API failed: {redact(exc.message)}"}, 502)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.error("request failed", path=request.url.path, error=type(exc).__name__)
    return JSONResponse({"detail": "internal error"}, 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Unavailable, _unavailable)
    app.add_exception_handler(kube_errors.KubeError, _kube)
    app.add_exception_handler(Exception, _bug)
