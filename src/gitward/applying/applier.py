"""Writing objects: server-side apply (field manager `gitward`, forced), concurrently within a step,
and waiting for CustomResourceDefinitions to be Established before their custom resources.

Called by the controller's sync step after validation passed. Results are `Change`s; a failed write
is a `FAILED` change, not an exception, so the caller can still record what was written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gitward.applying import replacing, secrecy
from gitward.applying.results import Action, Change
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient

DEFAULT_CONCURRENCY = 8
CRD_API = "apiextensions.k8s.io/v1"

Written = Callable[[ObjectRef, Manifest], None]
"""Called with what the API server returned for each successful write (to update the cache)."""


async def apply(
    client: KubeClient,
    objs: list[tuple[Manifest, Action]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_written: Written | None = None,
    replaceable: replacing.Replaceable | None = None,
) -> list[Change]:
    """Apply each (object, intended action) pair; the action is created or configured. An object
    whose change touches an immutable field is deleted and created again when `replaceable`."""
    limit = asyncio.Semaphore(concurrency)

    async def one(obj: Manifest, action: Action) -> Change:
        ref = ObjectRef.of(obj)
        message = ""
        async with limit:
            try:
                result = await client.apply(obj)
            except errors.KubeError as exc:
                immutable = replacing.immutable_fields(exc)
                if not (immutable and replaceable is not None and replaceable(obj)):
                    text = replacing.hint(ref, immutable) if immutable else secrecy.clean(exc.message, obj)
                    return Change(ref, Action.FAILED, text if immutable else f"{ref}: {text}")
                try:
                    result = await replacing.recreate(client, obj)
                except errors.KubeError as again:
                    return Change(ref, Action.FAILED, f"{ref}: replace failed: {secrecy.clean(again.message, obj)}")
                message = f"replaced: deleted and re-created ({', '.join(immutable)} immutable; Replace=true)"
        if on_written is not None:
            on_written(ref, result)
        return Change(ref, action, message)

    return list(await asyncio.gather(*(one(o, a) for o, a in objs)))


def crd_established(crd: Manifest) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def wait_crds(client: KubeClient, names: list[str], timeout: float = 60.0) -> list[str]:
    """Wait until the named CRDs are Established; return those that are not after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = list(names)
    while pending and loop.time() < deadline:
        still = []
        for name in pending:
            crd = await client.get_or_none(CRD_API, "CustomResourceDefinition", name)
            if crd is None or not crd_established(crd):
                still.append(name)
        pending = still
        if pending:
            await asyncio.sleep(0.1)
    if not pending:
        client.forget_discovery()  # new kinds are served now
    return pending
