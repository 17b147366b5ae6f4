"""Validation before the first write: server-side dry-run of every new or changed object.

Called by the controller's sync step. One failure refuses the whole revision: the caller writes
nothing and reports the failing objects (message starts with the object, Secret values removed).
"""

from __future__ import annotations

import asyncio

from gitward.applying import replacing, secrecy
from gitward.applying.results import Action, Change
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient

DEFAULT_CONCURRENCY = 8


async def dry_run(
    client: KubeClient,
    objs: list[Manifest],
    concurrency: int = DEFAULT_CONCURRENCY,
    replaceable: replacing.Replaceable | None = None,
) -> list[Change]:
    """Dry-run apply each object; return the failures (empty list: all valid). A change of an
    immutable field passes when the object will be replaced (`replaceable`), else it fails naming
    the fields and the opt-in."""
    limit = asyncio.Semaphore(concurrency)

    async def one(obj: Manifest) -> Change | None:
        async with limit:
            try:
                await client.apply(obj, dry_run=True)
            except errors.KubeError as exc:
                ref = ObjectRef.of(obj)
                immutable = replacing.immutable_fields(exc)
                if immutable and replaceable is not None and replaceable(obj):
                    return None  # deleted and created again by the apply
                if immutable:
                    return Change(ref, Action.FAILED, replacing.hint(ref, immutable))
                return Change(ref, Action.FAILED, f"{ref}: {secrecy.clean(exc.message, obj)}")
        return None

    results = await asyncio.gather(*(one(o) for o in objs))
    return [r for r in results if r is not None]
