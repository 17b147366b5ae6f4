"""The dashboard's operation forms, for admins (SPEC §5):

    POST /applications/{ns}/{name}/sync       form: csrf_token, prune=on?, revision?
    POST /applications/{ns}/{name}/refresh    form: csrf_token
    POST /applications/{ns}/{name}/rollback   form: csrf_token, id
    POST /applications/{ns}/{name}/resume     form: csrf_token (after a rollback suspended it)

Mounted by gitward.server.dashboard.install. `auth.Admin` checks the role, the origin and the CSRF
form field before anything runs (403 otherwise); the operation is the same change of the
Application that the REST API makes (gitward.controller.operations), and the answer is a redirect
back to the application page with a flash message saying what was requested or why not.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from gitward.controller import operations
from gitward.core.logging import get_logger
from gitward.core.redaction import redact
from gitward.kube import errors
from gitward.server import auth, backend
from gitward.server.dashboard import access, flashes

__all__ = ["router"]

log = get_logger(__name__)
router = APIRouter(prefix="/applications/{namespace}/{name}", include_in_schema=False)
Backend = Annotated[backend.Backend, Depends(backend.of)]
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@^~+-]{0,255}$")


async def _target(server: backend.Backend, principal: auth.Principal, namespace: str, name: str) -> str:
    """The application page to return to; PageError 404 when there is no such Application."""
    try:
        found = await server.get(namespace, name)
    except backend.Unavailable as exc:
        raise access.PageError(503, "Not ready yet", exc.message, principal) from None
    if found is None:
        raise access.PageError(404, "Not found", f"There is no application {namespace}/{name}.", principal)
    return f"/applications/{urllib.parse.quote(namespace)}/{urllib.parse.quote(name)}"


def _failed(target: str, what: str, exc: errors.KubeError) -> RedirectResponse:
    log.warning("dashboard operation failed", operation=what, error=exc.message)
    return flashes.redirect(target, "error", f"The {what} was not requested: {redact(exc.message)}")


@router.post("/sync")
async def sync(principal: auth.Admin, request: Request, server: Backend, namespace: str, name: str) -> RedirectResponse:
    target = await _target(server, principal, namespace, name)
    form = await auth.read_form(request)
    revision = form.get("revision", "").strip()
    if revision and not _REVISION.match(revision):
        return flashes.redirect(target, "error", "That is not a branch, tag or commit name.")
    prune = form.get("prune") == "on"
    try:
        await operations.request_sync(
            server.client, namespace, name, revision, prune, initiated_by="manual", initiator=principal.name
        )
    except errors.KubeError as exc:
        return _failed(target, "sync", exc)
    auth.audit("sync", namespace, name, principal, revision=revision, prune=prune, via="dashboard")
    of = f" of {revision}" if revision else ""
    return flashes.redirect(target, "success", f"Sync{of} requested{' (with pruning)' if prune else ''}.")


@router.post("/refresh")
async def refresh(principal: auth.Admin, server: Backend, namespace: str, name: str) -> RedirectResponse:
    target = await _target(server, principal, namespace, name)
    try:
        await operations.request_refresh(server.client, namespace, name, initiated_by="manual")
    except errors.KubeError as exc:
        return _failed(target, "refresh", exc)
    auth.audit("refresh", namespace, name, principal, via="dashboard")
    return flashes.redirect(target, "success", "Refresh requested: gitward re-checks Git and the cluster now.")


@router.post("/rollback")
async def rollback(
    principal: auth.Admin, request: Request, server: Backend, namespace: str, name: str
) -> RedirectResponse:
    target = await _target(server, principal, namespace, name)
    raw = (await auth.read_form(request)).get("id", "")
    if not raw.isdigit() or len(raw) > 9:
        return flashes.redirect(target, "error", "Choose a history entry to roll back to.")
    try:
        await operations.rollback(server.client, namespace, name, int(raw), principal.name)
    except operations.OperationError as exc:
        return flashes.redirect(target, "error", str(exc))
    except errors.KubeError as exc:
        return _failed(target, "rollback", exc)
    auth.audit("rollback", namespace, name, principal, id=int(raw), via="dashboard")
    message = f"Rollback to history entry {raw} requested. Automated sync is suspended until you resume it."
    return flashes.redirect(target, "success", message)


@router.post("/resume")
async def resume(principal: auth.Admin, server: Backend, namespace: str, name: str) -> RedirectResponse:
    target = await _target(server, principal, namespace, name)
    try:
        await operations.set_suspend(server.client, namespace, name, False)
    except errors.KubeError as exc:
        return _failed(target, "resume", exc)
    auth.audit("resume", namespace, name, principal, via="dashboard")
    return flashes.redirect(target, "success", "Automated sync resumed.")
