"""What an Application page reads from the cluster at request time: the managed workloads and the
objects they own (for gitward.server.dashboard.trees), and the diffs of OutOfSync objects.

Called by gitward.server.dashboard.pages with the server's backend (gitward.server.backend). Owned
objects are found by listing, in the namespaces of the Application's workloads, the kinds those
workloads may own (a Deployment: ReplicaSets and Pods; a CronJob: Jobs and Pods) — a few list
requests per page, bounded — and matching `ownerReferences` uids; Secrets are never listed. Diffs are the server's own
(gitward.server.diffs: Secret values masked), computed from the leader's last render. Failures
become a note on the page, never an error page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gitward.core.manifests import Manifest
from gitward.core.redaction import redact
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.server import backend, diffs, schemas
from gitward.server.dashboard import trees

__all__ = ["Diffs", "diffs_of", "lists", "related"]

MAX_NAMESPACES = 10
MAX_DIFFS = 50
CONCURRENCY = 6
API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "CronJob": "batch/v1",
    "Job": "batch/v1",
    "Pod": "v1",
}
# what each workload kind may own, down to its Pods
OWNED = {
    "Deployment": ("ReplicaSet", "Pod"),
    "StatefulSet": ("Pod",),
    "DaemonSet": ("Pod",),
    "ReplicaSet": ("Pod",),
    "CronJob": ("Job", "Pod"),
    "Job": ("Pod",),
}


def lists(rows: list[schemas.ResourceRow]) -> list[tuple[str, str, str]]:
    """The (apiVersion, kind, namespace) lists that show the managed workloads of `rows` and what
    they may own, in the first MAX_NAMESPACES namespaces (sorted); never Secrets."""
    parents = [r for r in rows if (r.group, r.kind) in trees.PARENT_KINDS and r.namespace and r.status != "Pruned"]
    namespaces = sorted({r.namespace for r in parents})[:MAX_NAMESPACES]
    wanted: set[tuple[str, str, str]] = set()
    for row in parents:
        if row.namespace in namespaces:
            kinds = (row.kind, *OWNED[row.kind])
            wanted.update((API_VERSIONS[kind], kind, row.namespace) for kind in kinds)
    return sorted(wanted)


async def related(client: KubeClient, rows: list[schemas.ResourceRow]) -> tuple[list[Manifest], str]:
    """The managed workloads and the objects in their namespaces that may be owned by them (the
    `lists` of `rows`), and a note when some could not be read ("" when all could)."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(api_version: str, kind: str, namespace: str) -> list[Manifest] | str:
        async with limit:
            try:
                items, _ = await client.list(api_version, kind, namespace)
            except errors.KubeError as exc:
                return f"cannot list {kind} in {namespace}: {redact(exc.message)}"
        return items

    results = await asyncio.gather(*(one(*w) for w in lists(rows)))
    objects = [obj for result in results if isinstance(result, list) for obj in result]
    notes = sorted({result for result in results if isinstance(result, str)})
    return objects, "; ".join(notes[:3])


@dataclass(frozen=True)
class Diffs:
    items: list[schemas.ObjectDiff]
    note: str = ""  # why there are no diffs to show although objects are OutOfSync


async def diffs_of(server: backend.Backend, app: Manifest, rows: list[schemas.ResourceRow]) -> Diffs:
    """The diffs of the OutOfSync rows (at most MAX_DIFFS), or a note saying why there are none."""
    wanted = [r for r in rows if r.status == "OutOfSync"][:MAX_DIFFS]
    if not wanted:
        return Diffs([])
    meta = app.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    controller = server.owning_controller(namespace, name)
    if controller is None:
        return Diffs([], "Diffs are computed by the controller, which does not run in this replica.")
    desired = controller.desired(f"{namespace}/{name}")
    if desired is None:
        return Diffs([], "The application has not been rendered yet.")
    try:
        secrets = controller.secret_values(f"{namespace}/{name}")
        items = await diffs.out_of_sync(server.client, controller, wanted, desired, secrets)
    except errors.KubeError as exc:
        return Diffs([], f"Cannot read the live objects: {redact(exc.message)}")
    return Diffs(items, "" if items else "No field differences to show.")
