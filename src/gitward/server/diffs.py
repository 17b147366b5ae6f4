"""`GET /api/v1/applications/{ns}/{name}/diff`: for each OutOfSync object of an Application, a
unified diff (live → desired) of the fields gitward manages, Secret values masked.

Called by gitward.server.api_applications. The desired objects are the in-process controller's
last render (only the leader has it); live objects are read with the server's Kubernetes client,
a few at a time. The diff itself is `gitward.planning.diffing.unified` (pure).
"""

from __future__ import annotations

import asyncio

from gitward.controller.manager import Controller
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.planning import diffing
from gitward.server import schemas

CONCURRENCY = 8
MAX_OBJECTS = 500


async def out_of_sync(
    client: KubeClient, controller: Controller, rows: list[schemas.ResourceRow], desired: list[Manifest]
) -> list[schemas.ObjectDiff]:
    """The diffs of the rows that are OutOfSync (at most MAX_OBJECTS), in row order."""
    by_ref = {ObjectRef.of(obj): obj for obj in desired}
    wanted = [r for r in rows if r.status == "OutOfSync"][:MAX_OBJECTS]
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(row: schemas.ResourceRow) -> schemas.ObjectDiff | None:
        ref = ObjectRef(row.group, row.kind, row.namespace, row.name)
        want = by_ref.get(ref)
        async with limit:
            live = await _live(client, controller, ref, want)
        text = diffing.unified(want, live)
        if not text:
            return None
        version = row.version or split_api_version(str((want or live or {}).get("apiVersion", "")))[1]
        return schemas.ObjectDiff(
            group=row.group, version=version, kind=row.kind, namespace=row.namespace, name=row.name,
            status=row.status, diff=text,
        )  # fmt: skip

    results = await asyncio.gather(*(one(r) for r in wanted))
    return [r for r in results if r is not None]


async def _live(client: KubeClient, controller: Controller, ref: ObjectRef, want: Manifest | None) -> Manifest | None:
    """The live object: a GET for rendered objects, the watch cache for ones awaiting pruning."""
    if want is None:
        return controller.live(ref)
    try:
        return await client.get_or_none(str(want.get("apiVersion", "")), ref.kind, ref.name, ref.namespace or None)
    except errors.APINotFoundError:  # the kind itself is unknown (CRD not installed)
        return None
