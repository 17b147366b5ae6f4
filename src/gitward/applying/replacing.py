"""Immutable fields (SPEC §13): an object whose change touches a field the API server will not change
in place (a Job's template, a Service's clusterIP, a Deployment's selector) is deleted and created
again when it opts in — annotation `gitward.dev/sync-options: Replace=true` (or `Force=true`), or
the same option in the Application's `syncPolicy.syncOptions` — and otherwise fails with a message
naming the immutable fields and how to opt in.

Called by `applying.validating` (the dry-run lets such a change through when it will be replaced)
and `applying.applier` (which replaces it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient

__all__ = ["SYNC_OPTIONS", "Replaceable", "hint", "immutable_fields", "opted_in", "recreate"]

SYNC_OPTIONS = "gitward.dev/sync-options"
REPLACE_OPTIONS = ("Replace", "Force")
GONE_TIMEOUT = 60.0

Replaceable = Callable[[Manifest], bool]
"""Whether an object may be deleted and re-created when an immutable field changes."""

_FIELD = re.compile(r"^[A-Za-z0-9_.\[\]-]{1,200}$")


def opted_in(obj: Manifest, app_wide: bool = False) -> bool:
    """`Replace=true` or `Force=true` in the object's `gitward.dev/sync-options` (comma-separated),
    or set for the whole Application."""
    if app_wide:
        return True
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_OPTIONS) if isinstance(annotations, dict) else None
    if not isinstance(value, str):
        return False
    for option in value.split(","):
        name, _, setting = option.strip().partition("=")
        if name in REPLACE_OPTIONS and setting.strip().lower() == "true":
            return True
    return False


def immutable_fields(exc: errors.KubeError) -> list[str]:
    """The fields an Invalid answer says are immutable (empty: not an immutable-field refusal)."""
    if not isinstance(exc, errors.APIInvalidError):
        return []
    details = exc.status.get("details") if isinstance(exc.status, dict) else None
    causes = details.get("causes") if isinstance(details, dict) else None
    found = []
    for cause in causes if isinstance(causes, list) else ():
        if not isinstance(cause, dict) or "immutable" not in str(cause.get("message", "")):
            continue
        name = str(cause.get("field") or "")
        found.append(name if _FIELD.match(name) else "a field")
    if not found and "field is immutable" in exc.message:
        found.append("a field")
    return sorted(set(found))


def hint(ref: ObjectRef, fields: list[str]) -> str:
    """The message for an immutable-field refusal of an object that did not opt in (no values:
    the API server's own message quotes the whole old object, Secret data included)."""
    return (
        f"{ref}: {', '.join(fields)} cannot be changed in place (immutable); to delete and re-create the "
        f"object on such a change, annotate it {SYNC_OPTIONS}: Replace=true"
    )


async def recreate(client: KubeClient, obj: Manifest, timeout: float = GONE_TIMEOUT) -> Manifest:
    """Delete the live object, wait until it is gone, and apply `obj` (a create)."""
    meta = obj.get("metadata") or {}
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    name, namespace = str(meta.get("name")), meta.get("namespace") or None
    await client.delete(api_version, kind, name, namespace, propagation="Background")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await client.get_or_none(api_version, kind, name, namespace) is not None:
        if loop.time() > deadline:
            raise errors.KubeError(f"{ObjectRef.of(obj)}: still being deleted after {timeout:.0f}s (finalizers?)")
        await asyncio.sleep(0.1)
    return await client.apply(obj)
