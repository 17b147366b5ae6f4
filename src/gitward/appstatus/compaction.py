"""An Application's status that stays small at any size (SPEC §2 "Size"), and its full view again.

etcd refuses objects over 1.5 MiB and every status write and watch event carries the whole object,
so past `FULL_ROWS` objects the status written by the controller is compacted:

- `resources` keeps only the rows that say something (objects not both Synced and Healthy, pruned
  ones), at most `FULL_ROWS` of them; `summary` counts every object;
- `inventory` past `FULL_ROWS` entries is `{"compressed": <base64 of zlib-compressed JSON [[id, v], …]>,
  "count": N}` instead of `{"entries": […]}` (decoded by `gitward.planning.inventory.from_status`);
- `operationState.syncResult.resources` lists only objects that changed or failed, with a count of
  each action in `syncResult.summary`.

`expand_rows` gives the API, the dashboard and the CLI every object again: the rows written, plus a
Synced and Healthy row for every inventory entry without one. Pure functions over plain data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitward.planning import inventory

__all__ = ["FULL_ROWS", "compact_rows", "expand_rows", "summary", "sync_result"]

FULL_ROWS = 1000
"""Up to this many objects the status lists every one of them, as it always did."""

_QUIET = ("Synced", "Healthy")


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """`status.summary`: counts over every object of the render (pruned rows are not objects)."""
    objects = [r for r in rows if r.get("status") != "Pruned"]
    health = [_health(r) for r in objects]
    return {
        "objects": len(objects),
        "synced": sum(1 for r in objects if r.get("status") == "Synced"),
        "outOfSync": sum(1 for r in objects if r.get("status") != "Synced"),
        "healthy": health.count("Healthy"),
        "progressing": health.count("Progressing"),
        "degraded": health.count("Degraded"),
        "missing": health.count("Missing"),
    }


def compact_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows to write: all of them up to `FULL_ROWS`, else only those that say something."""
    if len(rows) <= FULL_ROWS:
        return rows
    return [r for r in rows if (r.get("status"), _health(r)) != _QUIET][:FULL_ROWS]


def expand_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object's row: the written rows, and for a compacted status a Synced and Healthy row for
    each inventory entry that has none (that is what compaction left out)."""
    rows = [r for r in status.get("resources") or [] if isinstance(r, dict)]
    counts = status.get("summary") if isinstance(status.get("summary"), dict) else {}
    objects = counts.get("objects") if isinstance(counts, dict) else None
    written = sum(1 for r in rows if r.get("status") != "Pruned")
    if not isinstance(objects, int) or objects <= written:
        return rows
    seen = {(r.get("group", ""), r.get("kind"), r.get("namespace", ""), r.get("name")) for r in rows}
    for entry in inventory.from_status(status.get("inventory")):
        ref = entry.ref
        if (ref.group, ref.kind, ref.namespace, ref.name) in seen:
            continue
        rows.append({
            "group": ref.group, "version": entry.v, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name,
            "status": "Synced", "health": {"status": "Healthy"},
        })  # fmt: skip
    return rows


def sync_result(revision: str, changes: Iterable[dict[str, str]], unchanged: int = 0) -> dict[str, Any]:
    """`operationState.syncResult`: the objects that changed or failed, and a count of every action
    (`unchanged`: the objects already in sync, never listed)."""
    counts: dict[str, int] = {"unchanged": unchanged} if unchanged else {}
    listed: list[dict[str, str]] = []
    for change in changes:
        action = change.get("action", "")
        counts[action] = counts.get(action, 0) + 1
        if action != "unchanged" and len(listed) < FULL_ROWS:
            listed.append(change)
    return {"revision": revision, "resources": listed, "summary": dict(sorted(counts.items()))}


def _health(row: dict[str, Any]) -> str:
    value = row.get("health")
    return str(value.get("status", "")) if isinstance(value, dict) else ""
