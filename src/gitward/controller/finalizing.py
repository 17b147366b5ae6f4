"""The `gitward.dev/cleanup` finalizer: deleting an Application deletes its managed objects, unless
it is annotated `gitward.dev/deletion-policy: orphan`.

Called by the reconciler: `ensure_finalizer` on every live Application (a JSON patch guarded by the
resourceVersion, adding only the finalizer), `Finalizer.finalize` once the Application is being deleted.
"""

from __future__ import annotations

from gitward.applying import pruning
from gitward.controller.clusters import Clusters
from gitward.controller.impersonation import Impersonation
from gitward.core import applications as apps
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import JSON_PATCH, KubeClient
from gitward.planning import inventory, ordering, prune

log = get_logger(__name__)


async def ensure_finalizer(client: KubeClient, app: Manifest) -> None:
    meta = app["metadata"]
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list) and apps.FINALIZER in finalizers:
        return
    ops: list[dict[str, object]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
    ]
    if isinstance(finalizers, list):
        ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": apps.FINALIZER})
    else:
        ops.append({"op": "add", "path": "/metadata/finalizers", "value": [apps.FINALIZER]})
    updated = await client.patch(
        apps.API_VERSION, "Application", meta["name"], meta["namespace"], ops, content_type=JSON_PATCH
    )
    meta["finalizers"] = updated["metadata"].get("finalizers")
    meta["resourceVersion"] = updated["metadata"]["resourceVersion"]


class Finalizer:
    """Runs the `gitward.dev/cleanup` finalizer: deletes an Application's managed objects (in prune
    order, as its own ServiceAccount), then removes the finalizer."""

    def __init__(self, client: KubeClient, clusters: Clusters, impersonation: Impersonation) -> None:
        self.client = client  # the controller's own cluster, where the Application lives
        self.clusters = clusters
        self.impersonation = impersonation

    async def finalize(self, app: Manifest) -> None:
        """Clean up after a deleted Application. An invalid spec raises pydantic.ValidationError and
        deletes nothing (its identity cannot be trusted)."""
        meta = app["metadata"]
        finalizers = meta.get("finalizers") or []
        if apps.FINALIZER not in finalizers:
            return
        key = f"{meta['namespace']}/{meta['name']}"
        orphan = (meta.get("annotations") or {}).get(apps.DELETION_POLICY) == "orphan"
        if not orphan:
            await self._delete_managed(app, key)
        index = finalizers.index(apps.FINALIZER)
        ops = [
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": apps.FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            await self.client.patch(
                apps.API_VERSION, "Application", meta["name"], meta["namespace"], ops, content_type=JSON_PATCH
            )
        except errors.APINotFoundError:
            return
        log.info("application deleted", app=key, orphan=orphan)

    async def _delete_managed(self, app: Manifest, key: str) -> None:
        meta = app["metadata"]
        entries = inventory.from_status((app.get("status") or {}).get("inventory"))
        if not entries:
            return
        # an invalid spec (an old CRD let it in) deletes nothing: its identity cannot be trusted, and the
        # reconciler reports InvalidSpec until the spec is fixed or the Application annotated orphan
        spec = apps.ApplicationSpec.model_validate(app.get("spec") or {})
        target = await self.clusters.get(spec.destination.cluster)
        client = self.impersonation.client(spec, meta["namespace"], target.client)
        versions = {e.ref: f"{e.ref.group}/{e.v}" if e.ref.group else e.v for e in entries}
        for kind in {(v, r.kind) for r, v in versions.items()}:
            try:
                await target.informers.ensure(*kind)
            except errors.KubeError:
                continue
        targets = []
        for ref in ordering.prune_order(list(versions)):
            live = target.informers.get(ref)
            if live is not None and prune.skip_reason(live, meta["namespace"], meta["name"]) is not None:
                continue
            targets.append((ref, versions[ref]))
        changes = await pruning.prune(client, targets)
        failed = [c for c in changes if c.action.value == "failed"]
        if failed:
            raise errors.KubeError(f"Application {key}: cleanup failed: {failed[0].message}")
