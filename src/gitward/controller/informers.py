"""Watch-backed caches of live objects ("informers"): list once, then watch, per kind.

Called by the controller: one `Informer` for Applications, and an `InformerSet` that starts, on
first use, one cluster-wide informer per kind that gitward manages (label selector
`app.kubernetes.io/managed-by=gitward`). The reconciler reads live state from these stores instead of
sending a GET per object; handlers turn events into work-queue entries (drift, health changes).
Stored objects keep only gitward's own managedFields entry, which is all the comparison needs, and
those of the field managers whose fields an Application ignores (`planning.ignoring`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable
from typing import Any

from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import FIELD_MANAGER, KubeClient
from gitward.planning import ignoring

log = get_logger(__name__)

Handler = Callable[[str, Manifest], None]
"""Called with the event type (ADDED, MODIFIED, DELETED) and the object, after the store changed."""

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=gitward"


def slim(obj: Manifest, keep: Collection[str] = (FIELD_MANAGER,)) -> Manifest:
    """Drop the managedFields entries of other managers than `keep` (memory); keep gitward's."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields"):
        meta["managedFields"] = [m for m in meta["managedFields"] if m.get("manager") in keep]
    return obj


class Informer:
    def __init__(
        self,
        client: KubeClient,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        transform: Callable[[Manifest], Manifest] | None = None,
    ) -> None:
        self.client = client
        self.api_version, self.kind = api_version, kind
        self.group = split_api_version(api_version)[0]
        self.namespace, self.label_selector = namespace, label_selector
        self.transform = transform or (lambda o: o)
        self.store: dict[ObjectRef, Manifest] = {}
        self.synced = asyncio.Event()
        self.handlers: list[Handler] = []
        self.failed: str = ""  # the last list error, when the kind cannot be listed at all

    def get(self, ref: ObjectRef) -> Manifest | None:
        return self.store.get(ref)

    def _ref(self, obj: Manifest) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return ObjectRef(self.group, self.kind, str(meta.get("namespace") or ""), str(meta.get("name", "")))

    def _emit(self, event: str, obj: Manifest) -> None:
        for handler in self.handlers:
            try:
                handler(event, obj)
            except Exception:  # a handler bug must not stop the watch
                log.exception("informer handler failed", kind=self.kind)

    async def _relist(self) -> str:
        items, version = await self.client.list(
            self.api_version, self.kind, self.namespace, label_selector=self.label_selector
        )
        fresh = {self._ref(o): self.transform(o) for o in items}
        gone = [self.store[r] for r in self.store.keys() - fresh.keys()]
        previous = self.store
        self.store = fresh
        for obj in gone:
            self._emit("DELETED", obj)
        for ref, obj in fresh.items():
            old = previous.get(ref)
            if old is None or _rv(old) != _rv(obj):
                self._emit("ADDED" if old is None else "MODIFIED", obj)
        return version

    async def run(self) -> None:
        """List and watch until cancelled; re-list after 410 Gone or a broken watch."""
        delay = 0.2
        while True:
            try:
                version = await self._relist()
                self.failed = ""
                self.synced.set()
                delay = 0.2
                while True:
                    version = await self._watch_once(version)
            except asyncio.CancelledError:
                raise
            except errors.APIGoneError:
                continue
            except errors.KubeError as exc:
                # said once per distinct error, not every 10 s: a controller that may not list a kind
                # (tenant mode reads as each Application's ServiceAccount) is not failing
                report = log.warning if exc.message != self.failed else log.debug
                self.failed = exc.message
                self.synced.set()  # readers must not wait forever on a kind that cannot be listed
                report("informer list/watch failed", kind=self.kind, error=exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _watch_once(self, version: str) -> str:
        async for event in self.client.watch(
            self.api_version, self.kind, self.namespace, resource_version=version, label_selector=self.label_selector
        ):
            obj = event.object
            version = _rv(obj) or version
            if event.type == "BOOKMARK":
                continue
            ref = self._ref(obj)
            if event.type == "DELETED":
                self.store.pop(ref, None)
            else:
                obj = self.transform(obj)
                self.store[ref] = obj
            self._emit(event.type, obj)
        return version


def _rv(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class InformerSet:
    """One informer per managed kind of one cluster, started on first use."""

    def __init__(self, client: KubeClient, label_selector: str = MANAGED_SELECTOR) -> None:
        self.client = client
        self.label_selector = label_selector
        self.by_kind: dict[tuple[str, str], Informer] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.handlers: list[Handler] = []
        # the managedFields entries the caches keep: gitward's, and those of the field managers whose
        # fields an Application ignores (planning.ignoring), the Rollout controller's first of all
        self.kept_managers: set[str] = {FIELD_MANAGER, *ignoring.ALWAYS_IGNORED_MANAGERS}

    def keep_managers(self, managers: Iterable[str]) -> set[str]:
        """Keep the managedFields entries of `managers` from now on; return those not kept before
        (objects cached earlier lack their entries: the caller reads those objects again)."""
        new = set(managers) - self.kept_managers
        self.kept_managers |= new
        return new

    def _slim(self, obj: Manifest) -> Manifest:
        return slim(obj, self.kept_managers)

    async def ensure(self, api_version: str, kind: str) -> Informer:
        """The synced informer for (group of api_version, kind); starts it when new."""
        key = (split_api_version(api_version)[0], kind)
        informer = self.by_kind.get(key)
        if informer is None:
            informer = Informer(
                self.client, api_version, kind, label_selector=self.label_selector, transform=self._slim
            )
            informer.handlers.extend(self.handlers)
            self.by_kind[key] = informer
            self._tasks[key] = asyncio.create_task(informer.run(), name=f"informer {kind}")
        await informer.synced.wait()
        return informer

    def get(self, ref: ObjectRef) -> Manifest | None:
        informer = self.by_kind.get((ref.group, ref.kind))
        return informer.get(ref) if informer else None

    async def reset_failed(self) -> None:
        """Restart the informers whose kind could not be listed (e.g. a CRD that exists now)."""
        failed = [(key, i) for key, i in self.by_kind.items() if i.failed]
        for key, informer in failed:
            self._tasks.pop(key).cancel()
            del self.by_kind[key]
            await self.ensure(informer.api_version, informer.kind)

    def put(self, ref: ObjectRef, obj: Manifest) -> None:
        """Record what a write returned, so the next read sees it before the watch event arrives."""
        informer = self.by_kind.get((ref.group, ref.kind))
        if informer is not None:
            current = informer.store.get(ref)
            if current is None or _newer(obj, current):
                informer.store[ref] = self._slim(obj)

    def forget(self, ref: ObjectRef) -> None:
        informer = self.by_kind.get((ref.group, ref.kind))
        if informer is not None:
            informer.store.pop(ref, None)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


def _newer(a: Manifest, b: Manifest) -> bool:
    try:
        return int(_rv(a) or 0) >= int(_rv(b) or 0)
    except ValueError:
        return True


def count(informers: InformerSet) -> dict[str, Any]:
    return {f"{g}/{k}" if g else k: len(i.store) for (g, k), i in informers.by_kind.items()}
