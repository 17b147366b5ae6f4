"""The dashboard's Rollout views and buttons (SPEC §10):

    GET  /rollouts                                      every Rollout: phase, weight, step, revisions
    GET  /rollouts/{ns}/{name}                          one Rollout: steps (the current one marked),
                                                        weight, analysis results, history; buttons for admins
    POST /rollouts/{ns}/{name}/promote|promote-full|abort|retry    form: csrf_token

Mounted by gitward.server.dashboard.install. Rollouts are read live from the API server (they are
few); the buttons write the same annotations as the CLI and the REST API
(gitward.controller.rollouts.operations) after `auth.Admin` checked role, origin and CSRF token, and
answer with a redirect and a flash message.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gitward.controller.rollouts import operations
from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest
from gitward.core.redaction import redact
from gitward.kube import errors
from gitward.server import auth, backend
from gitward.server.api_rollouts import summary
from gitward.server.dashboard import access, flashes, templating

__all__ = ["router"]

router = APIRouter(prefix="/rollouts", include_in_schema=False)
Backend = Annotated[backend.Backend, Depends(backend.of)]
OPERATIONS: dict[str, operations.Operation] = {
    "promote": "promote", "promote-full": "promote-full", "abort": "abort", "retry": "retry",
}  # fmt: skip
DONE = {"promote": "Promotion", "promote-full": "Full promotion", "abort": "Abort", "retry": "Retry"}


def _base(namespace: str, name: str) -> str:
    return f"/rollouts/{urllib.parse.quote(namespace)}/{urllib.parse.quote(name)}"


async def _rollout(server: backend.Backend, principal: auth.Principal, namespace: str, name: str) -> Manifest:
    try:
        if server.namespace not in (None, namespace):
            raise operations.RolloutNotFoundError(namespace)
        return await operations.get(server.client, namespace, name)
    except operations.RolloutNotFoundError:
        raise access.PageError(404, "Not found", f"There is no rollout {namespace}/{name}.", principal) from None


def describe_step(step: dict[str, Any]) -> str:
    if "setWeight" in step:
        return f"set weight {step['setWeight']}%"
    if "pause" in step:
        duration = (step.get("pause") or {}).get("duration")
        return f"pause {duration}" if duration else "pause until promoted"
    if "analysis" in step:
        names = ", ".join(str(t.get("name")) for t in (step.get("analysis") or {}).get("templates") or [])
        return f"analysis: {names}"
    return json.dumps(step)[:80]


def steps_of(rollout: Manifest) -> list[str]:
    try:
        spec = ro.RolloutSpec.model_validate(rollout.get("spec") or {})
    except ValueError:
        return []
    return [describe_step(s.model_dump(by_alias=True, exclude_none=True)) for s in spec.steps()]


@router.get("", response_class=HTMLResponse)
async def rollout_list(request: Request, principal: access.Viewer, server: Backend) -> HTMLResponse:
    try:
        items, _ = await server.client.list(ro.API_VERSION, "Rollout", server.namespace)
    except errors.KubeError as exc:
        raise access.PageError(503, "Not ready yet", redact(exc.message), principal) from None
    rows = sorted((summary(r) for r in items), key=lambda s: (s.namespace, s.name))
    return templating.page(request, "rollouts.html", principal, rollouts=rows)


@router.get("/{namespace}/{name}", response_class=HTMLResponse)
async def rollout_page(
    request: Request, principal: access.Viewer, server: Backend, namespace: str, name: str
) -> HTMLResponse:
    found = await _rollout(server, principal, namespace, name)
    status = found.get("status") or {}
    return templating.page(
        request,
        "rollout.html",
        principal,
        r=summary(found),
        steps=steps_of(found),
        strategy="blue-green" if "blueGreen" in ((found.get("spec") or {}).get("strategy") or {}) else "canary",
        analysis=status.get("analysis") or [],
        history=list(reversed(status.get("history") or [])),
        weights=[w for w in status.get("weights") or [] if isinstance(w, dict)][-50:],
        base=_base(namespace, name),
    )


@router.post("/{namespace}/{name}/{operation}")
async def operate(
    principal: auth.Admin, server: Backend, namespace: str, name: str, operation: str
) -> RedirectResponse:
    await _rollout(server, principal, namespace, name)
    target = _base(namespace, name)
    chosen = OPERATIONS.get(operation)
    if chosen is None:
        raise access.PageError(404, "Not found", "There is no such rollout operation.", principal)
    try:
        await operations.request(server.client, namespace, name, chosen)
    except (errors.KubeError, operations.RolloutNotFoundError) as exc:
        return flashes.redirect(target, "error", f"The {operation} was not requested: {redact(str(exc))}")
    auth.audit(f"rollout-{operation}", namespace, name, principal, via="dashboard")
    return flashes.redirect(target, "success", f"{DONE[chosen]} requested.")
