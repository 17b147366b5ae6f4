"""Human-readable diffs of what gitward would change: the desired object against the live one,
restricted to the fields the desired object sets (what gitward manages), Secret values masked.

Pure. Called by the REST API (`GET .../diff`), the dashboard and `gitward diff` / `gitward app diff`.
"""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from gitward.core.manifests import Manifest, ObjectRef

MASK = "++++++++"
CHANGED_MASK = "+++++++++++ (changed)"
_IGNORED_ANNOTATIONS = ("gitward.dev/desired-hash",)


def _is_secret(obj: Manifest | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def masked(obj: Manifest, changed: frozenset[str] = frozenset()) -> Manifest:
    """A copy with every Secret value replaced by a mask (keys stay visible); keys in `changed`
    get a different mask, so a diff shows that a value changed without showing any value."""
    out = dict(obj)
    if _is_secret(obj):
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                out[key] = {k: CHANGED_MASK if k in changed else MASK for k in obj[key]}
    return out


def _changed_keys(desired: Manifest | None, live: Manifest | None) -> frozenset[str]:
    if desired is None or live is None or not (_is_secret(desired) and _is_secret(live)):
        return frozenset()
    want, have = desired.get("data") or {}, live.get("data") or {}
    if not (isinstance(want, dict) and isinstance(have, dict)):
        return frozenset()
    return frozenset(k for k in want if want.get(k) != have.get(k))


def projected(desired: Any, live: Any) -> Any:
    """`live` restricted to the fields present in `desired` (lists compared item by item)."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: projected(v, live[k]) for k, v in desired.items() if k in live}
    if isinstance(desired, list) and isinstance(live, list):
        return [projected(want, have) for want, have in zip(desired, live, strict=False)] + live[len(desired) :]
    return live


def _clean(obj: Manifest) -> Manifest:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(out.get("metadata") or {})
    for key in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"):
        meta.pop(key, None)
    if isinstance(meta.get("annotations"), dict):
        kept = {k: v for k, v in meta["annotations"].items() if k not in _IGNORED_ANNOTATIONS}
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations")
    out["metadata"] = meta
    return out


def _yaml(obj: Manifest | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified(desired: Manifest | None, live: Manifest | None) -> str:
    """A unified diff (live → desired) of the managed fields; "" when they are the same.

    `desired` None means the object would be pruned; `live` None means it would be created.
    Secret values never appear: both sides are masked, a changed value shows as a changed mask.
    Desired Secrets are expected normalised (stringData folded into data).
    """
    changed = _changed_keys(desired, live)
    want = _clean(masked(desired, changed)) if desired is not None else None
    have = _clean(masked(live)) if live is not None else None
    if want is not None and have is not None:
        have = projected(want, have)
    ref = ObjectRef.of(desired or live or {})
    lines = difflib.unified_diff(_yaml(have), _yaml(want), fromfile=f"live/{ref}", tofile=f"desired/{ref}")
    return "".join(lines)
