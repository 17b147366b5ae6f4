"""The inventory: which objects an Application applied, as kept in `status.inventory` (Flux-style).

Called by the controller after a successful apply (`entries_of` the applied objects, `merge` with
the entries whose deletion failed, `to_status`) and before pruning (`from_status` of the last
status, `diff` with the new entries = prune candidates, handed to `prune.prune_set`). Pure set
functions over `Entry(id, v)`, where id is `<namespace>_<name>_<group>_<kind>` and v the API
version the object was applied with. Entries are compared by id only: a new API version of the same
object is not a removal. Results are sorted by id and free of duplicates.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.planning import _objects

COMPRESS_OVER = 1000  # entries; past this, status.inventory is stored compressed
MAX_INFLATED = 64 << 20  # bytes a compressed inventory may inflate to


@dataclass(frozen=True, order=True, slots=True)
class Entry:
    id: str
    v: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.from_inventory_id(self.id)


def entries_of(objs: Iterable[Manifest]) -> list[Entry]:
    """The inventory entries of (normalised) objects."""
    return _unique(Entry(_objects.ref_of(obj).inventory_id, _version(obj)) for obj in objs)


def diff(old: Iterable[Entry], new: Iterable[Entry]) -> list[Entry]:
    """Entries of `old` whose object is not in `new`: the prune candidates."""
    kept = {entry.id for entry in new}
    return _unique(entry for entry in old if entry.id not in kept)


def merge(new: Iterable[Entry], kept_from_old: Iterable[Entry]) -> list[Entry]:
    """`new` plus the old entries still to be tracked (deletion failed); `new` wins on the same id."""
    by_id = {entry.id: entry for entry in kept_from_old}
    by_id.update((entry.id, entry) for entry in new)
    return sorted(by_id.values())


def refs_of(entries: Iterable[Entry]) -> list[ObjectRef]:
    """The object references of entries, skipping ids that cannot be parsed."""
    return [ObjectRef.from_inventory_id(entry.id) for entry in entries if valid_id(entry.id)]


def to_status(entries: Iterable[Entry], compress_over: int = COMPRESS_OVER) -> dict[str, Any]:
    """`{"entries": [{"id": ..., "v": ...}]}`, sorted by id, for `status.inventory`; past
    `compress_over` entries `{"compressed": <base64 of zlib-compressed JSON [[id, v], …]>, "count": N}`,
    so a 20,000-object Application's status stays far below etcd's object size limit. Deterministic:
    the same entries always give the same value (an unchanged inventory is never rewritten)."""
    unique = _unique(entries)
    if len(unique) <= compress_over:
        return {"entries": [{"id": entry.id, "v": entry.v} for entry in unique]}
    data = json.dumps([[entry.id, entry.v] for entry in unique], separators=(",", ":")).encode()
    return {"compressed": base64.b64encode(zlib.compress(data, 9)).decode(), "count": len(unique)}


def from_status(value: Any) -> list[Entry]:
    """Entries from `status.inventory` (either form); anything malformed is skipped, never an error."""
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("compressed"), str):
        return _unique(_entry_or_none({"id": i, "v": v}) for i, v in _decompressed(value["compressed"]))
    items = value.get("entries")
    if not isinstance(items, list):
        return []
    return _unique(_entry_or_none(item) for item in items)


def _decompressed(text: str) -> list[tuple[Any, Any]]:
    """The [[id, v], …] pairs of a compressed inventory, inflated with a bound (a hostile status is no bomb)."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.b64decode(text, validate=True), MAX_INFLATED)
        if inflater.unconsumed_tail:
            return []
        pairs = json.loads(data)
    except (ValueError, zlib.error):
        return []
    if not isinstance(pairs, list):
        return []
    return [(p[0], p[1]) for p in pairs if isinstance(p, list) and len(p) == 2]


def valid_id(entry_id: object) -> bool:
    """`<namespace>_<name>_<group>_<kind>` with a name and a kind."""
    if not isinstance(entry_id, str):
        return False
    parts = entry_id.split("_", 3)
    return len(parts) == 4 and bool(parts[1]) and bool(parts[3])


def _entry_or_none(item: Any) -> Entry | None:
    if not isinstance(item, dict) or not valid_id(item.get("id")):
        return None
    version = item.get("v")
    return Entry(item["id"], version if isinstance(version, str) else "")


def _unique(entries: Iterable[Entry | None]) -> list[Entry]:
    by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry is not None:
            by_id.setdefault(entry.id, entry)
    return sorted(by_id.values())


def _version(obj: Manifest) -> str:
    return split_api_version(str(obj.get("apiVersion", "")))[1]
