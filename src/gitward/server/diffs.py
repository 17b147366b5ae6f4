"""Diffs of live objects against the desired ones, and the live reads every diff starts from.

`GET /api/v1/applications/{ns}/{name}/diff` (gitward.server.api_applications) and the dashboard
(gitward.server.dashboard.live) call `out_of_sync`: for each OutOfSync object of an Application, a
unified diff (live → desired) of the fields gitward manages, Secret values masked. The desired
objects are the in-process controller's last render (only the leader has it); live objects are read
with `read_live`, which `gitward diff` and `gitward app diff` (gitward.cli.diff) share.

    read_live(client, wanted)                  GET each object, a few at a time (I/O)
    object_diffs(rows, desired, live)          the diffs of the rows, from plain data (pure)

The diff itself is `gitward.planning.diffing.unified` (pure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from gitward.controller.manager import Controller
from gitward.core import redaction
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.planning import diffing
from gitward.server import schemas

__all__ = ["CONCURRENCY", "MAX_OBJECTS", "object_diffs", "out_of_sync", "read_live"]

CONCURRENCY = 8
MAX_OBJECTS = 500


async def read_live(
    client: KubeClient, wanted: Sequence[tuple[str, ObjectRef]], *, concurrency: int = CONCURRENCY
) -> list[Manifest | None]:
    """The live object of each (apiVersion, ref) in `wanted`, in order, at most `concurrency` GETs
    at a time; None when the object does not exist, or its kind does not (a CRD not installed yet)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(api_version: str, ref: ObjectRef) -> Manifest | None:
        async with limit:
            try:
                return await client.get_or_none(api_version, ref.kind, ref.name, ref.namespace or None)
            except errors.APINotFoundError:
                return None

    return list(await asyncio.gather(*(one(api_version, ref) for api_version, ref in wanted)))


async def out_of_sync(
    client: KubeClient,
    controller: Controller,
    rows: list[schemas.ResourceRow],
    desired: list[Manifest],
    secrets: tuple[str, ...] = (),
) -> list[schemas.ObjectDiff]:
    """The diffs of the rows that are OutOfSync (at most MAX_OBJECTS), in row order. Rendered
    objects are read from the API server; the ones awaiting pruning from the watch cache."""
    by_ref = {ObjectRef.of(obj): obj for obj in desired}
    refs = [_ref(row) for row in rows if row.status == "OutOfSync"][:MAX_OBJECTS]
    rendered = [(str(by_ref[ref].get("apiVersion", "")), ref) for ref in refs if ref in by_ref]
    live = dict(zip([ref for _, ref in rendered], await read_live(client, rendered), strict=True))
    live.update({ref: controller.live(ref) for ref in refs if ref not in by_ref})
    return object_diffs(rows, by_ref, live, secrets)


def object_diffs(
    rows: list[schemas.ResourceRow],
    desired: Mapping[ObjectRef, Manifest],
    live: Mapping[ObjectRef, Manifest | None],
    secrets: tuple[str, ...] = (),
) -> list[schemas.ObjectDiff]:
    """The diff of each OutOfSync row (at most MAX_OBJECTS) whose managed fields differ, in row
    order: `desired` and `live` by object (missing: the object is not rendered, or not live).
    `secrets` are Secret-held values the render put into other objects (substitution, valuesFrom):
    masked wherever they appear."""
    diffs = []
    for row in [r for r in rows if r.status == "OutOfSync"][:MAX_OBJECTS]:
        ref = _ref(row)
        want, have = desired.get(ref), live.get(ref)
        text = redaction.redact(diffing.unified(want, have), secrets) if secrets else diffing.unified(want, have)
        if not text:
            continue
        version = row.version or split_api_version(str((want or have or {}).get("apiVersion", "")))[1]
        diffs.append(
            schemas.ObjectDiff(
                group=row.group,
                version=version,
                kind=row.kind,
                namespace=row.namespace,
                name=row.name,
                status=row.status,
                diff=text,
            )
        )
    return diffs


def _ref(row: schemas.ResourceRow) -> ObjectRef:
    return ObjectRef(row.group, row.kind, row.namespace, row.name)
