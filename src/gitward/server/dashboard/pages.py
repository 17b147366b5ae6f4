"""The dashboard's pages (SPEC §5):

    GET /                                  the application list (?sync=, ?health=, ?namespace=)
    GET /applications/{namespace}/{name}   one application: header, resource tree, diffs,
                                           conditions, history; operation forms for admins

Mounted by gitward.server.dashboard.install. Applications come from the server's informer
(gitward.server.backend); the tree and the diffs are read live (gitward.server.dashboard.live).
Each page works without JavaScript; /assets/live.js re-fetches it when /api/v1/events reports a
change and swaps the parts marked `data-live`.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gitward.server import auth, backend, schemas, views
from gitward.server.dashboard import access, fleets, listing, live, overviews, templating, trees

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Backend = Annotated[backend.Backend, Depends(backend.of)]


async def _applications(server: backend.Backend, principal: auth.Principal) -> list[schemas.ApplicationSummary]:
    try:
        return [views.summary(app) for app in await server.list()]
    except backend.Unavailable as exc:
        raise access.PageError(503, "Not ready yet", exc.message, principal) from None


@router.get("/", response_class=HTMLResponse)
async def application_list(request: Request, principal: access.Viewer, server: Backend) -> HTMLResponse:
    every = await _applications(server, principal)
    filters = listing.Filters.parse(request.query_params)
    shown = listing.select(every, filters)
    events = "/api/v1/events" + (f"?namespace={urllib.parse.quote(filters.namespace)}" if filters.namespace else "")
    return templating.page(
        request,
        "list.html",
        principal,
        apps=shown,
        total=len(every),
        counts=listing.count(shown),
        filters=filters,
        namespaces=sorted({app.namespace for app in every} | ({filters.namespace} - {""})),
        sync_statuses=listing.SYNC_STATUSES,
        health_statuses=listing.HEALTH_STATUSES,
        events=events,
    )


@router.get("/applications/{namespace}/{name}", response_class=HTMLResponse)
async def application_page(
    request: Request, principal: access.Viewer, server: Backend, namespace: str, name: str
) -> HTMLResponse:
    try:
        app = await server.get(namespace, name)
    except backend.Unavailable as exc:
        raise access.PageError(503, "Not ready yet", exc.message, principal) from None
    if app is None:
        raise access.PageError(404, "Not found", f"There is no application {namespace}/{name}.", principal)
    overview = overviews.overview(app)
    objects, tree_note = await live.related(server.client, overview.resources)
    now = datetime.now(UTC)
    query = urllib.parse.urlencode({"namespace": namespace, "name": name})
    return templating.page(
        request,
        "application.html",
        principal,
        o=overview,
        s=overview.summary,
        tree=trees.build(overview.resources, objects, now),
        tree_note=tree_note,
        diffs=await live.diffs_of(server, app, overview.resources),
        fleet=fleets.dependencies(app, server.applications.store),
        base=f"/applications/{urllib.parse.quote(namespace)}/{urllib.parse.quote(name)}",
        events=f"/api/v1/events?{query}",
    )
