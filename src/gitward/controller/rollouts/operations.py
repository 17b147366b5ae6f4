"""Rollout operations — promote, promote-full, abort, retry — written as annotations on the Rollout
(any new value asks once), so Kubernetes RBAC governs who may ask and the rollout controller stays
the only writer of the objects around it (SPEC §10).

Called by the CLI (`gitward rollout ...`, with the user's kubeconfig) and the REST API
(`gitward.server.api_rollouts`, with the server's identity after its own authorization).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal

from gitward.core import rollouts as ro
from gitward.core.identifiers import GRAMMARS
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

__all__ = ["Operation", "RolloutNotFoundError", "get", "request"]

Operation = Literal["promote", "promote-full", "abort", "retry"]
ANNOTATION: dict[str, str] = {
    "promote": ro.PROMOTE,
    "promote-full": ro.PROMOTE_FULL,
    "abort": ro.ABORT,
    "retry": ro.RETRY,
}


class RolloutNotFoundError(Exception):
    """No such Rollout (or a name that cannot be one)."""


def _valid(namespace: str, name: str) -> bool:
    return GRAMMARS["label"].problem(namespace) is None and GRAMMARS["subdomain"].problem(name) is None


async def get(client: KubeClient, namespace: str, name: str) -> Manifest:
    """The Rollout, or RolloutNotFoundError."""
    rollout = await client.get_or_none(ro.API_VERSION, "Rollout", name, namespace) if _valid(namespace, name) else None
    if rollout is None:
        raise RolloutNotFoundError(f"Rollout {namespace}/{name} not found")
    return rollout


async def request(
    client: KubeClient, namespace: str, name: str, operation: Operation, initiated_by: str = "manual"
) -> str:
    """Ask for `operation` on the Rollout (a new annotation value); return that value."""
    if not _valid(namespace, name):
        raise RolloutNotFoundError(f"Rollout {namespace}/{name} not found")
    value = f"{initiated_by}-{dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}-{secrets.token_hex(3)}"
    patch = {"metadata": {"annotations": {ANNOTATION[operation]: value}}}
    try:
        await client.patch(ro.API_VERSION, "Rollout", name, namespace, patch)
    except errors.APINotFoundError as exc:
        raise RolloutNotFoundError(f"Rollout {namespace}/{name} not found") from exc
    return value
