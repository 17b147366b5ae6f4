"""The write side of the REST API (SPEC §4), for admins, JSON only:

    POST /api/v1/applications/{ns}/{name}/sync       {"revision"?: str, "prune"?: bool}
    POST /api/v1/applications/{ns}/{name}/refresh    {} (or no body)
    POST /api/v1/applications/{ns}/{name}/rollback   {"id": int}   (also suspends automated sync)

Mounted by gitward.server.app.build. Each request is checked in this order: authentication (401),
role and CSRF (403), `Content-Type: application/json` (415), body size (413), JSON (400), fields
(422), the Application (404), a revision its Git source can never resolve (422). The operation
itself is a change of the Application written by gitward.controller.operations, so the controller
stays the only writer of managed objects.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

import pydantic
from fastapi import APIRouter, Depends, HTTPException, Request

from gitward.controller import operations
from gitward.server import auth, backend, errors, schemas, security
from gitward.server.api_applications import ONE, application

Backend = Annotated[backend.Backend, Depends(backend.of)]
MAX_BODY = 64 * 1024
Model = TypeVar("Model", bound=pydantic.BaseModel)

router = APIRouter(prefix="/api/v1", tags=["operations"])
JsonOnly = Annotated[None, Depends(security.require_json)]  # after auth: 401/403 come before 415

WRITE: dict[int | str, dict[str, Any]] = {
    **ONE,
    400: {"model": schemas.Error, "description": "The body is not JSON."},
    403: {"model": schemas.Error, "description": "A viewer, or a cookie request without its CSRF token."},
    413: {"model": schemas.Error, "description": "The body is too large."},
    415: {"model": schemas.Error, "description": "Content-Type is not application/json."},
    422: {"model": schemas.Error, "description": "A field is missing or has the wrong type."},
}


def _documented(model: type[pydantic.BaseModel], required: bool) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


async def parse(request: Request, model: type[Model]) -> Model:
    """The JSON body as `model`: an empty body is `{}`; 400 for malformed JSON, 422 for fields."""
    body = await security.read_body(request, MAX_BODY)
    if not body.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise HTTPException(400, f"the body is not valid JSON: {_where(exc)}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise HTTPException(422, errors.validation_message(list(exc.errors(include_input=False)))) from None


def _where(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "cannot decode" if isinstance(exc, ValueError) else "nested too deeply"


@router.post(
    "/applications/{namespace}/{name}/sync",
    response_model=schemas.OperationAccepted,
    responses=WRITE,
    openapi_extra=_documented(schemas.SyncRequest, required=False),
)
async def sync(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> schemas.OperationAccepted:
    """Ask for a sync now, optionally of another revision and with or without pruning."""
    body = await parse(request, schemas.SyncRequest)
    try:
        operations.check_sync_revision(await application(namespace, name, server), body.revision or "")
    except operations.OperationError as exc:
        raise HTTPException(422, str(exc)) from None
    value = await operations.request_sync(
        server.client, namespace, name, body.revision or "", body.prune, initiated_by="manual", initiator=principal.name
    )
    auth.audit("sync", namespace, name, principal, revision=body.revision or "", prune=body.prune)
    return schemas.OperationAccepted(namespace=namespace, name=name, operation="sync", request=value)


@router.post(
    "/applications/{namespace}/{name}/refresh",
    response_model=schemas.OperationAccepted,
    responses=WRITE,
    openapi_extra=_documented(schemas.RefreshRequest, required=False),
)
async def refresh(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> schemas.OperationAccepted:
    """Re-check the source and the cluster now (a sync follows only under an automated policy)."""
    await parse(request, schemas.RefreshRequest)
    await application(namespace, name, server)
    value = await operations.request_refresh(server.client, namespace, name, initiated_by="manual")
    auth.audit("refresh", namespace, name, principal)
    return schemas.OperationAccepted(namespace=namespace, name=name, operation="refresh", request=value)


@router.post(
    "/applications/{namespace}/{name}/rollback",
    response_model=schemas.OperationAccepted,
    responses={**WRITE, 404: {"model": schemas.Error, "description": "No such Application or history entry."}},
    openapi_extra=_documented(schemas.RollbackRequest, required=True),
)
async def rollback(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> schemas.OperationAccepted:
    """Deploy the revision of a history entry again and suspend automated sync (as Argo CD does);
    `spec.suspend: false` (or `gitward app resume`) resumes it."""
    body = await parse(request, schemas.RollbackRequest)
    await application(namespace, name, server)
    try:
        value = await operations.rollback(server.client, namespace, name, body.id, principal.name)
    except operations.OperationError as exc:
        raise HTTPException(404, str(exc)) from None
    auth.audit("rollback", namespace, name, principal, id=body.id)
    return schemas.OperationAccepted(namespace=namespace, name=name, operation="rollback", request=value)
