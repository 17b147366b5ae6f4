"""`POST /api/v1/webhooks/git`: receive a push from GitHub, Gitea, GitLab or Bitbucket and
refresh the Applications it concerns (SPEC §4).

Mounted by gitward.server.app.build. In order:

1. no `webhookSecret` in the auth file → 401 (webhooks are disabled; logged at start-up);
2. the body is read as a stream, capped at 1 MiB before anything parses it → 413, answered so that
   the sender can read it (gitward.server.webhooks.bodies);
3. the provider is recognised by its event header → else 400;
4. the signature (or GitLab's token) is checked over the raw body in constant time → else 401;
5. events other than pushes (ping, ...) → 200, nothing refreshed;
6. the JSON (or GitHub's form-encoded `payload`) is parsed tolerantly → 400 naming the field;
7. matching Applications (gitward.server.webhooks.matching) are refreshed: in-process through the
   leader's controller when it runs here, else through the refresh annotation
   (gitward.controller.operations.request_refresh); the answer lists them;
8. so are the ApplicationSets whose git generators read the pushed revision
   (gitward.server.webhooks.appsets), listed in `applicationSets`.

Webhooks are authenticated by their signature, not by a token or cookie, and are exempt from the
JSON-only rule of the API (GitHub may send forms).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from gitward.controller import operations
from gitward.core.logging import get_logger
from gitward.kube import errors as kube_errors
from gitward.server import auth, backend, schemas
from gitward.server.webhooks import appsets, bitbucket, bodies, gitea, github, gitlab, matching
from gitward.server.webhooks.pushes import PayloadError, Provider, Push

log = get_logger(__name__)

MAX_BODY = 1024 * 1024
CONCURRENCY = 8
PROVIDERS: tuple[Provider, ...] = (gitea.PROVIDER, gitlab.PROVIDER, github.PROVIDER, bitbucket.PROVIDER)
"""In detection order: Gitea sends GitHub's headers too, so it comes before GitHub."""

Backend = Annotated[backend.Backend, Depends(backend.of)]
router = APIRouter(prefix="/api/v1", tags=["webhooks"])


class AppRef(BaseModel):
    namespace: str
    name: str


class Failure(AppRef):
    message: str


class WebhookResult(BaseModel):
    provider: str
    event: str
    refs: list[str] = []
    refreshed: list[AppRef] = []
    failed: list[Failure] = []
    applicationSets: list[AppRef] = []  # the ApplicationSets refreshed


def detect(headers: Mapping[str, str]) -> Provider | None:
    return next((p for p in PROVIDERS if headers.get(p.event_header)), None)


def decode(body: bytes, content_type: str | None) -> Any:
    """The JSON document of a delivery (GitHub and Gitea may send `payload=<json>` as a form)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        if media_type == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode(), max_num_fields=20)
            if "payload" not in form:
                raise PayloadError("form: no `payload` field")
            return json.loads(form["payload"][0])
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError("payload: not valid JSON") from None


@router.post(
    "/webhooks/git",
    response_model=WebhookResult,
    responses={
        400: {"model": schemas.Error, "description": "Unknown provider, or a malformed payload."},
        401: {"model": schemas.Error, "description": "Bad or missing signature, or webhooks disabled."},
        413: {"model": schemas.Error, "description": "The body is over 1 MiB."},
    },
)
async def receive(request: Request, server: Backend) -> WebhookResult:
    """A push event from GitHub (`X-Hub-Signature-256`), Gitea (`X-Gitea-Signature`), GitLab
    (`X-Gitlab-Token`) or Bitbucket (`X-Hub-Signature`); refreshes the Applications it concerns."""
    secret = auth.state_of(request).webhook_key
    if secret is None:
        raise HTTPException(401, "webhooks are disabled: the auth file has no webhookSecret")
    body = await bodies.read_capped(request, MAX_BODY)
    provider = detect(request.headers)
    if provider is None:
        raise HTTPException(400, "not a webhook from GitHub, Gitea, GitLab or Bitbucket (no event header)")
    if not provider.verify(request.headers, body, secret):
        log.warning("webhook refused: bad or missing signature", provider=provider.name, client=_client(request))
        raise HTTPException(401, f"{provider.name} webhook: bad or missing signature")
    event = request.headers.get(provider.event_header, "")[:64]
    if event not in provider.push_events:
        return WebhookResult(provider=provider.name, event=event)
    try:
        push = provider.parse(decode(body, request.headers.get("content-type")))
    except PayloadError as exc:
        raise HTTPException(400, f"{provider.name} {event}: {exc}") from None
    result = await refresh(server, push, matching.targets(await server.list(), push))
    result.applicationSets = [AppRef(namespace=ns, name=n) for ns, n in await appsets.refresh(server, push)]
    result.event = event
    log.info(
        "webhook push", provider=push.provider, refs=",".join(push.refs)[:512],
        refreshed=len(result.refreshed), failed=len(result.failed),
    )  # fmt: skip
    return result


async def refresh(server: backend.Backend, push: Push, targets: list[tuple[str, str]]) -> WebhookResult:
    """Refresh every target: in-process when this replica's controller owns it, else by annotation."""
    limit = asyncio.Semaphore(CONCURRENCY)
    result = WebhookResult(provider=push.provider, event="push", refs=list(push.refs))

    async def one(namespace: str, name: str) -> None:
        controller = server.owning_controller(namespace, name)
        try:
            if controller is not None:
                controller.refresh(f"{namespace}/{name}", initiated_by="webhook")
            else:
                async with limit:
                    await operations.request_refresh(server.client, namespace, name, initiated_by="webhook")
        except kube_errors.KubeError as exc:
            log.warning("webhook refresh failed", app=f"{namespace}/{name}", error=exc.message)
            result.failed.append(Failure(namespace=namespace, name=name, message=exc.message[:512]))
            return
        result.refreshed.append(AppRef(namespace=namespace, name=name))

    await asyncio.gather(*(one(ns, name) for ns, name in targets))
    result.refreshed.sort(key=lambda r: (r.namespace, r.name))
    result.failed.sort(key=lambda r: (r.namespace, r.name))
    return result


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
