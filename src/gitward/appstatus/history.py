"""The Application's deployment history (`status.history`): who deployed which revision, when.

Called by the controller after a sync that changed the cluster (or failed). Pure: bounded by
`revisionHistoryLimit` and by MAX_BYTES (commit authors and messages come from the repository: a
thousand entries of hostile ones must not push the Application past what etcd stores), ids
increase monotonically so rollbacks can name an entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

MAX_BYTES = 128 * 1024
"""Most bytes of `status.history` as JSON: past it the oldest entries go, whatever the limit."""
MAX_AUTHOR = 256
MAX_MESSAGE = 1024


@dataclass(frozen=True)
class Deployment:
    revision: str
    author: str
    message: str
    committed_at: str
    deployed_at: str
    initiated_by: str  # automated | manual | rollback | webhook
    result: str  # Succeeded | Failed
    initiator: str = ""  # who asked, when known: an API token's name, a user, a field manager

    def as_status(self, entry_id: int) -> dict[str, Any]:
        d = asdict(self)
        return {
            "id": entry_id,
            "revision": d["revision"],
            "author": d["author"][:MAX_AUTHOR],
            "message": d["message"][:MAX_MESSAGE],
            "committedAt": d["committed_at"],
            "deployedAt": d["deployed_at"],
            "initiatedBy": d["initiated_by"],
            **({"initiator": d["initiator"]} if d["initiator"] else {}),
            "result": d["result"],
        }


def append(history: Any, entry: Deployment, limit: int) -> list[dict[str, Any]]:
    """`history` with `entry` added last, trimmed to the newest `limit` entries (at least one) and
    to MAX_BYTES."""
    old = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
    next_id = max((int(h.get("id") or 0) for h in old), default=0) + 1
    entries = [*old, entry.as_status(next_id)][-max(limit, 1) :]
    sizes = [len(json.dumps(e, ensure_ascii=False).encode()) + 1 for e in entries]
    total = sum(sizes)
    first = 0
    while total > MAX_BYTES and first < len(entries) - 1:
        total -= sizes[first]
        first += 1
    return entries[first:]


def find(history: Any, entry_id: int) -> dict[str, Any] | None:
    if not isinstance(history, list):
        return None
    return next((h for h in history if isinstance(h, dict) and h.get("id") == entry_id), None)
