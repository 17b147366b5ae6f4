"""Does a rendered object need to be written? Decided without any API call.

Called by the applier for every normalised object (`normalizing` → `ordering` → **`comparing`** →
apply only what changed) with the live object from the watch cache, and by the controller to report
Synced/OutOfSync and drift between syncs. It is on the hot path of every re-check, so it costs one
string comparison for unchanged objects and one walk of the desired object for drift.

The design:

1. `desired_hash(obj)`: sha256 (32 hex chars) of the canonical JSON (sorted keys, compact) of the
   normalised object, without the `gitward.dev/desired-hash` annotation itself and, for `v1/Secret`,
   without `data` and `stringData` (a hash of Secret content must never be published).
   `normalizing.normalize` stores it in that annotation, so it is applied with the object.
2. `needs_apply(desired, live)`:
   - no live object → `create`;
   - the live hash annotation differs from the desired one → `update` ("changed in Git");
   - no `Apply` entry of gitward's field manager in `metadata.managedFields` → `drift`;
   - Secrets: data values (decoded, `stringData` folded in) are compared with the live ones; a
     differing key gitward still owns means Git changed it → `update`; one that another writer now
     owns → `drift` (named by key, never by value);
   - drift: every leaf of the desired object (but apiVersion, kind, metadata.name/namespace) must be
     covered by gitward's `fieldsV1` (see `fieldsets`). When another writer changes a value gitward
     applied, the server moves that field's ownership to the other manager; so drift is found
     without comparing values, and without value normalisation problems ("1000m" vs "1").
   - otherwise `none`.

A field the API server drops (an unknown field of a pruning CRD) is never owned, so it would read
as drift forever; the server-side dry-run with strict field validation refuses such objects first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest
from gitward.planning import _objects, fieldsets

DESIRED_HASH = "gitward.dev/desired-hash"
FIELD_MANAGER = "gitward"
HASH_LENGTH = 32

Action = Literal["create", "update", "drift", "none"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one object, and why (`reason` never carries Secret data)."""

    action: Action
    reason: str


def desired_hash(obj: Manifest) -> str:
    """The hash of the desired state that `normalize` records in `gitward.dev/desired-hash`."""
    try:
        canonical = json.dumps(
            _hashed_view(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise RenderError(f"{_objects.ref_of(obj)}: not a JSON-compatible object ({exc})") from exc
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def _hashed_view(obj: Manifest) -> Manifest:
    view = dict(obj)
    if _objects.is_secret(obj):
        view.pop("data", None)
        view.pop("stringData", None)
    meta = dict(_objects.metadata(obj))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and DESIRED_HASH in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != DESIRED_HASH}
    if meta.get("annotations") == {}:
        del meta["annotations"]
    if "metadata" in view:
        view["metadata"] = meta
    return view


def needs_apply(desired: Manifest, live: Manifest | None, field_manager: str = FIELD_MANAGER) -> Decision:
    """Decide create / update / drift / none for one object (see the module docstring)."""
    if live is None:
        return Decision("create", "not found in the cluster")
    if _hash_of(desired) != _objects.annotation(live, DESIRED_HASH):
        return Decision("update", "changed in Git")
    owned = fields_of_manager(live, field_manager)
    if owned is None:
        return Decision("drift", f"drift: not managed by {field_manager} (no server-side apply entry)")
    if _objects.is_secret(desired):
        decision = _secret_decision(desired, live, owned)
        if decision is not None:
            return decision
    path = fieldsets.first_uncovered(_owned_view(desired), owned)
    if path is not None:
        return Decision("drift", f"drift: {path} is managed by another writer")
    return Decision("none", "in sync")


def fields_of_manager(live: Manifest, manager: str) -> dict[str, Any] | None:
    """The `fieldsV1` of `manager`'s Apply entry (main resource, not a subresource), or None."""
    entries = _objects.metadata(live).get("managedFields")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("subresource"):
            continue
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, dict) else {}
    return None


def _hash_of(desired: Manifest) -> str:
    return _objects.annotation(desired, DESIRED_HASH) or desired_hash(desired)


def _owned_view(desired: Manifest) -> Manifest:
    """The desired object without the fields that identify it (never in a field set)."""
    meta = {key: value for key, value in _objects.metadata(desired).items() if key not in ("name", "namespace")}
    view = {key: meta if key == "metadata" else value for key, value in desired.items()}
    for key in ("apiVersion", "kind", "status"):
        view.pop(key, None)
    if not meta:
        view.pop("metadata", None)
    return view


def _secret_decision(desired: Manifest, live: Manifest, owned: dict[str, Any]) -> Decision | None:
    want = secret_data(desired)
    have = _objects.mapping(live, "data")
    node = owned.get("f:data")
    owned_keys = {str(name)[2:] for name in node if str(name).startswith("f:")} if isinstance(node, dict) else set()
    if any(key in have and key not in want for key in owned_keys):
        return Decision("update", "Secret data changed in Git")
    changed = [key for key in sorted(want) if not _same_bytes(want[key], have.get(key))]
    if any(key in owned_keys or key not in have for key in changed):
        return Decision("update", "Secret data changed in Git")
    if changed:
        return Decision("drift", f"drift: {fieldsets.join('data', changed[0])} is managed by another writer")
    return None


def secret_data(secret: Manifest) -> dict[str, str]:
    """`data` with `stringData` folded in (base64), as the API server stores a Secret."""
    data = {str(key): value for key, value in _objects.mapping(secret, "data").items()}
    for key, value in _objects.mapping(secret, "stringData").items():
        text = value if isinstance(value, str) else str(value)
        data[str(key)] = base64.b64encode(text.encode()).decode()
    return data


def _same_bytes(want: Any, have: Any) -> bool:
    """Equal Secret values, compared decoded (base64 spelled differently is the same value)."""
    if not isinstance(want, str) or not isinstance(have, str):
        return bool(want == have)
    try:
        return base64.b64decode(want) == base64.b64decode(have)
    except (binascii.Error, ValueError):
        return want == have
