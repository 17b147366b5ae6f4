"""Deleting objects that left Git: in the order planning gives (reverse of apply), only those the
caller selected from the inventory (prune set), with background propagation.

Called by the controller's sync step after a successful apply, and by the finalizer on deletion.
"""

from __future__ import annotations

from gitward.applying.results import Action, Change
from gitward.core.manifests import ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient


async def prune(client: KubeClient, targets: list[tuple[ObjectRef, str]]) -> list[Change]:
    """Delete each (ref, apiVersion) in order; NotFound counts as pruned."""
    changes: list[Change] = []
    for ref, api_version in targets:
        try:
            await client.delete(api_version, ref.kind, ref.name, ref.namespace or None)
        except errors.KubeError as exc:
            changes.append(Change(ref, Action.FAILED, f"{ref}: prune failed: {exc.message}"))
            continue
        changes.append(Change(ref, Action.PRUNED))
    return changes
