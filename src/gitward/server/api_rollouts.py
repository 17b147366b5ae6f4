"""The Rollout part of the REST API (SPEC §10):

    GET  /api/v1/rollouts                              every Rollout (viewers): phase, weight, step, revisions
    GET  /api/v1/rollouts/{ns}/{name}                  one Rollout's spec and status (viewers)
    POST /api/v1/rollouts/{ns}/{name}/promote          {"full"?: bool}   (admins)
    POST /api/v1/rollouts/{ns}/{name}/abort            {}                (admins)
    POST /api/v1/rollouts/{ns}/{name}/retry            {}                (admins)

Mounted by gitward.server.app.build. Writes are checked like the Application operations
(gitward.server.api_operations: 401, 403, 415, 413, 400, 422, then 404); the operation is an
annotation on the Rollout (gitward.controller.rollouts.operations), acted on by the rollout controller.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from gitward.controller.rollouts import operations
from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest
from gitward.server import auth, backend, schemas
from gitward.server.api_operations import WRITE, JsonOnly, parse

Backend = Annotated[backend.Backend, Depends(backend.of)]

router = APIRouter(prefix="/api/v1", tags=["rollouts"])


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full: bool = Field(default=False, description="Skip the remaining steps (gitward.dev/promote-full).")


class EmptyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RolloutOperationAccepted(BaseModel):
    namespace: str
    name: str
    operation: Literal["promote", "promote-full", "abort", "retry"]
    request: str = Field(description="The value written to the Rollout's operation annotation.")


class RolloutSummary(BaseModel):
    namespace: str
    name: str
    phase: str = ""
    currentStep: int = 0
    canaryWeight: int = 0
    stableRevision: str = ""
    canaryRevision: str = ""
    message: str = ""


class RolloutList(BaseModel):
    items: list[RolloutSummary]


class RolloutDetail(BaseModel):
    namespace: str
    name: str
    spec: dict[str, Any]
    status: dict[str, Any]


def summary(rollout: Manifest) -> RolloutSummary:
    meta, status = rollout.get("metadata") or {}, rollout.get("status") or {}
    return RolloutSummary(
        namespace=str(meta.get("namespace")),
        name=str(meta.get("name")),
        phase=str(status.get("phase") or ""),
        currentStep=int(status.get("currentStep") or 0),
        canaryWeight=int(status.get("canaryWeight") or 0),
        stableRevision=str(status.get("stableRevision") or ""),
        canaryRevision=str(status.get("canaryRevision") or ""),
        message=str(status.get("message") or ""),
    )


async def _rollout(server: backend.Backend, namespace: str, name: str) -> Manifest:
    if server.namespace not in (None, namespace):  # served like the Applications: this namespace only
        raise HTTPException(404, f"Rollout {namespace}/{name} not found")
    try:
        return await operations.get(server.client, namespace, name)
    except operations.RolloutNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/rollouts", response_model=RolloutList)
async def list_rollouts(principal: auth.Viewer, server: Backend) -> RolloutList:
    """Every Rollout the server can see, sorted by namespace and name."""
    items, _ = await server.client.list(ro.API_VERSION, "Rollout", server.namespace)
    return RolloutList(items=sorted((summary(r) for r in items), key=lambda s: (s.namespace, s.name)))


@router.get("/rollouts/{namespace}/{name}", response_model=RolloutDetail, responses={404: {"model": schemas.Error}})
async def get_rollout(principal: auth.Viewer, server: Backend, namespace: str, name: str) -> RolloutDetail:
    """One Rollout: its spec and status (steps, weights, analysis, history)."""
    rollout = await _rollout(server, namespace, name)
    return RolloutDetail(
        namespace=namespace, name=name, spec=rollout.get("spec") or {}, status=rollout.get("status") or {}
    )


async def _operate(
    principal: auth.Principal, server: backend.Backend, namespace: str, name: str, operation: operations.Operation
) -> RolloutOperationAccepted:
    await _rollout(server, namespace, name)
    try:
        value = await operations.request(server.client, namespace, name, operation)
    except operations.RolloutNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    auth.audit(f"rollout-{operation}", namespace, name, principal)
    return RolloutOperationAccepted(namespace=namespace, name=name, operation=operation, request=value)


@router.post("/rollouts/{namespace}/{name}/promote", response_model=RolloutOperationAccepted, responses=WRITE)
async def promote(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> RolloutOperationAccepted:
    """Promote: finish the current step (a pause waits for this), or with `full` skip every remaining step."""
    body = await parse(request, PromoteRequest)
    return await _operate(principal, server, namespace, name, "promote-full" if body.full else "promote")


@router.post("/rollouts/{namespace}/{name}/abort", response_model=RolloutOperationAccepted, responses=WRITE)
async def abort(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> RolloutOperationAccepted:
    """Abort the rollout in progress: weight 0, the primary untouched, phase Degraded."""
    await parse(request, EmptyRequest)
    return await _operate(principal, server, namespace, name, "abort")


@router.post("/rollouts/{namespace}/{name}/retry", response_model=RolloutOperationAccepted, responses=WRITE)
async def retry(
    principal: auth.Admin, _json: JsonOnly, server: Backend, request: Request, namespace: str, name: str
) -> RolloutOperationAccepted:
    """Deliver the rolled-back or aborted revision again, from step 0."""
    await parse(request, EmptyRequest)
    return await _operate(principal, server, namespace, name, "retry")
