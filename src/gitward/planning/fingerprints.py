"""Fingerprints of the live values of the fields gitward sets, to catch value drift that moves no
field ownership.

Called by the controller's sync step. `comparing.needs_apply` finds drift through managedFields
(another writer took a field over); but some writes change a value without taking ownership (e.g.
the scale subresource on older API servers). So right after gitward writes an object, the caller
records `fingerprint(desired, live)`: a hash of the live values at every leaf path of the desired
object, as the server stored them (defaults and normalisation included). Later, the same fingerprint
differing means someone changed a value gitward set. Pure functions; lists are matched by index,
which is stable because both fingerprints are taken the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gitward.core.manifests import Manifest

_SKIP_TOP = ("apiVersion", "kind")
_SKIP_META = ("name", "namespace")
_MISSING = "\0missing"


def _leaves(desired: Any, live: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(desired, dict) and desired:
        for key in sorted(desired):
            sub = live.get(key, _MISSING) if isinstance(live, dict) else _MISSING
            _leaves(desired[key], sub, f"{path}.{key}" if path else str(key), out)
    elif isinstance(desired, list) and desired:
        for index, item in enumerate(desired):
            sub = live[index] if isinstance(live, list) and index < len(live) else _MISSING
            _leaves(item, sub, f"{path}[{index}]", out)
    else:
        out.append((path, desired, live))


def leaves(desired: Manifest, live: Manifest) -> list[tuple[str, Any, Any]]:
    """(path, desired value, live value) for every leaf of `desired` but its identity fields."""
    out: list[tuple[str, Any, Any]] = []
    for key in sorted(desired):
        if key in _SKIP_TOP:
            continue
        value = desired[key]
        if key == "metadata" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _SKIP_META}
        _leaves(value, live.get(key, _MISSING), key, out)
    return out


def fingerprint(desired: Manifest, live: Manifest) -> str:
    values = [v for _, _, v in leaves(desired, live)]
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


def first_difference(desired: Manifest, live: Manifest) -> str | None:
    """The first leaf path whose live value differs from the desired one (naively), or None."""
    for path, want, have in leaves(desired, live):
        if want != have and not (want is None and have is _MISSING):
            return path
    return None
