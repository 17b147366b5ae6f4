"""Read-only accessors that tolerate malformed objects.

Used by every module of `gitward.planning`: rendered objects come from users' YAML and live objects
from the API server, and neither may crash planning with a TypeError. Where the core accessors in
`gitward.core.manifests` assume well-formed metadata, these return empty values instead.
"""

from __future__ import annotations

from typing import Any

from gitward.core.manifests import Manifest, ObjectRef, split_api_version


def ref_of(obj: Manifest) -> ObjectRef:
    """`ObjectRef.of`, but an object with a malformed metadata still gets a (best-effort) name."""
    meta = metadata(obj)
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    return ObjectRef(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))


def metadata(obj: Manifest) -> dict[str, Any]:
    """`metadata` when it is a mapping, else an empty dict."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def annotation(obj: Manifest, key: str) -> str | None:
    """The value of one annotation when it is a string, else None."""
    annotations = metadata(obj).get("annotations")
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(key)
    return value if isinstance(value, str) else None


def mapping(obj: Manifest, key: str) -> dict[str, Any]:
    """A top-level field that should be a mapping (`data`, `spec`), or an empty dict."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def is_secret(obj: Manifest) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret"
