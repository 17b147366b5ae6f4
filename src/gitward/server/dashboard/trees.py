"""The resource tree of an Application page (pure): its managed objects (`status.resources`) with
the objects they own, by owner references — Deployment → ReplicaSet → Pod, CronJob → Job → Pod.

Called by gitward.server.dashboard.pages with the rows of `status.resources` and the live objects
read by gitward.server.dashboard.live. Managed objects carry their sync status and the health the
controller recorded; owned objects get their health from gitward.health. Live objects are untrusted
input: a malformed field shows as an empty detail, never an error. Secrets are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitward import health
from gitward.core.manifests import Manifest, ObjectRef
from gitward.server import schemas

__all__ = ["MAX_CHILDREN", "MAX_DEPTH", "PARENT_KINDS", "Node", "build"]

PARENT_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "CronJob"),
        ("batch", "Job"),
    }
)
MAX_CHILDREN = 25
MAX_DEPTH = 3
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class Node:
    group: str
    kind: str
    namespace: str
    name: str
    managed: bool
    sync: str = ""  # managed objects only
    health: str = ""
    message: str = ""
    info: str = ""
    idle: bool = False  # a scaled-down ReplicaSet of an older rollout
    children: tuple[Node, ...] = ()
    hidden: int = 0  # owned objects beyond MAX_CHILDREN

    @property
    def id(self) -> str:
        return "-".join(p for p in ("node", self.kind, self.namespace, self.name) if p).lower()


def build(rows: Iterable[schemas.ResourceRow], live: Iterable[Manifest], now: datetime | None = None) -> list[Node]:
    """One tree per managed object, in the order of `rows`."""
    index = _Index(live)
    return [_managed(row, index, now) for row in rows]


class _Index:
    def __init__(self, objects: Iterable[Manifest]) -> None:
        self.by_ref: dict[ObjectRef, Manifest] = {}
        self.owned: dict[str, dict[str, Manifest]] = {}
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            self.by_ref[ObjectRef.of(obj)] = obj
            for owner in _list(_dict(obj.get("metadata")).get("ownerReferences")):
                uid = _dict(owner).get("uid")
                if isinstance(uid, str) and uid:
                    self.owned.setdefault(uid, {})[_uid(obj) or str(ObjectRef.of(obj))] = obj

    def children(self, obj: Manifest | None) -> list[Manifest]:
        uid = _uid(obj)
        return sorted(self.owned.get(uid, {}).values(), key=_order) if uid else []


def _managed(row: schemas.ResourceRow, index: _Index, now: datetime | None) -> Node:
    obj = index.by_ref.get(ObjectRef(row.group, row.kind, row.namespace, row.name))
    children, hidden = _children(obj, index, now, 1)
    return Node(
        group=row.group,
        kind=row.kind,
        namespace=row.namespace,
        name=row.name,
        managed=True,
        sync=row.status,
        health=row.health.status if row.health is not None else "",
        message=row.message or (row.health.message if row.health is not None else ""),
        info=_info(obj) if obj is not None else "",
        children=children,
        hidden=hidden,
    )


def _children(obj: Manifest | None, index: _Index, now: datetime | None, depth: int) -> tuple[tuple[Node, ...], int]:
    if depth > MAX_DEPTH:
        return (), 0
    owned = index.children(obj)
    shown = tuple(_owned(child, index, now, depth) for child in owned[:MAX_CHILDREN])
    return shown, max(0, len(owned) - MAX_CHILDREN)


def _owned(obj: Manifest, index: _Index, now: datetime | None, depth: int) -> Node:
    ref = ObjectRef.of(obj)
    assessed = health.assess(obj, now)
    children, hidden = _children(obj, index, now, depth + 1)
    return Node(
        group=ref.group,
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        managed=False,
        health=assessed.status.value,
        message=assessed.message,
        info=_info(obj),
        idle=_idle(obj),
        children=children,
        hidden=hidden,
    )


def _info(obj: Manifest) -> str:
    """A short detail: `2/2 ready`, `rev 3 · 0/0 ready`, `Running · 1/1 ready · 2 restarts`."""
    kind, spec, status = obj.get("kind"), _dict(obj.get("spec")), _dict(obj.get("status"))
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        ready = f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)} ready"
        revision = _dict(_dict(obj.get("metadata")).get("annotations")).get(REVISION)
        return f"rev {revision} · {ready}" if kind == "ReplicaSet" and isinstance(revision, str) else ready
    if kind == "DaemonSet":
        return f"{_int(status.get('numberReady'))}/{_int(status.get('desiredNumberScheduled'))} ready"
    if kind == "Job":
        return f"{_int(status.get('succeeded'))}/{_int(spec.get('completions'), 1)} succeeded"
    if kind == "Pod":
        return _pod_info(status)
    return ""


def _pod_info(status: dict[str, Any]) -> str:
    containers = [_dict(c) for c in _list(status.get("containerStatuses"))]
    parts = [str(status.get("phase") or "Pending")]
    if containers:
        parts.append(f"{sum(1 for c in containers if c.get('ready') is True)}/{len(containers)} ready")
    restarts = sum(_int(c.get("restartCount")) for c in containers)
    if restarts:
        parts.append(f"{restarts} restart{'s' if restarts != 1 else ''}")
    return " · ".join(parts)


def _idle(obj: Manifest) -> bool:
    return obj.get("kind") == "ReplicaSet" and _int(_dict(obj.get("spec")).get("replicas"), 1) == 0


def _order(obj: Manifest) -> tuple[int, int, str, str]:
    """Newest rollout first (ReplicaSet revision), scaled-down ones last, then kind and name."""
    revision = _dict(_dict(obj.get("metadata")).get("annotations")).get(REVISION)
    number = int(revision) if isinstance(revision, str) and revision.isdigit() else 0
    ref = ObjectRef.of(obj)
    return int(_idle(obj)), -number, ref.kind, ref.name


def _uid(obj: Manifest | None) -> str:
    uid = _dict(obj.get("metadata")).get("uid") if obj is not None else None
    return uid if isinstance(uid, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
