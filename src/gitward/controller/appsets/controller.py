"""The ApplicationSet controller: its watch, work queue and workers (SPEC §11).

Started and stopped by `gitward.controller.manager.Controller` (same process, same leader, same
`Sources`). A set is regenerated ("full" pass) when its spec or annotations change (the
`gitward.dev/refresh` annotation), every `spec.interval` (default 3m), and on `refresh()` (matching
Git webhooks, the API); changes of its generated Applications (label `gitward.dev/application-set`)
wake a light pass that only reports their state in the set's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping

import pydantic

from gitward.controller import kube_events
from gitward.controller.appsets.reconciling import SetMemory, SetReconciler, edited_by_others
from gitward.controller.informers import Informer
from gitward.controller.queueing import WorkQueue
from gitward.controller.sources import Sources
from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube.client import KubeClient

log = get_logger(__name__)

STATUS_DELAY = 1.0
"""Seconds a change of a generated Application waits before the set reports it (bursts coalesce)."""
EARLY_TIMER = 0.5
"""Seconds a timer may fire before a full pass is due and still count as due."""
ERROR_RETRY = 30.0
"""Most seconds before a set whose generators, template or writes failed is tried again (besides its
interval); the first retry comes after `FIRST_RETRY`, doubling with each failed pass in a row (a
transient refusal — an API server still initialising a CRD's storage, a Git server restarting — is
over in a second or two)."""
FIRST_RETRY = 1.0


class AppSets:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        sources: Sources,
        *,
        workers: int = 2,
        owns: Callable[[str], bool] = lambda key: True,
        applications: Callable[[], Mapping[ObjectRef, Manifest]] | None = None,
        observer: kube_events.Observer | None = None,
    ) -> None:
        self.namespace = namespace
        self.informer = Informer(client, apps.API_VERSION, sets.KIND, namespace=namespace)
        self.queue = WorkQueue()
        self.reconciler = SetReconciler(client, sources, namespace, applications, observer)
        self.memory: dict[str, SetMemory] = {}
        self.workers = workers
        self.owns = owns  # sharding: only the shard that owns a set's key generates it
        self._seen: dict[str, str] = {}
        self._full: set[str] = set()  # keys whose next pass regenerates
        self._refresh_at: dict[str, float] = {}  # in-process refreshes: ask Git for news since then
        self._tasks: list[asyncio.Task[None]] = []
        self.informer.handlers.append(self._on_set)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.informer.run(), name="applicationsets informer"))
        self._tasks.append(asyncio.create_task(self.queue.run_timer(), name="applicationsets timer"))
        self._tasks += [asyncio.create_task(self._worker(), name=f"appset worker {i}") for i in range(self.workers)]
        await self.informer.synced.wait()

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def refresh(self, key: str) -> None:
        """Regenerate `key` now, asking Git for news (webhooks, API)."""
        self._refresh_at[key] = time.monotonic()
        self._full.add(key)
        self.queue.add(key)

    def sets(self) -> list[Manifest]:
        return list(self.informer.store.values())

    # ------------------------------------------------------------------ event handlers

    def _on_set(self, event: str, appset: Manifest) -> None:
        meta = appset.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if not self.owns(key):
            return
        if event == "DELETED":
            self._seen.pop(key, None)
            self.memory.pop(key, None)
            self.queue.forget(key)
            return
        fingerprint = hashlib.sha256(
            json.dumps([meta.get("generation"), meta.get("annotations")], sort_keys=True, default=str).encode()
        ).hexdigest()
        if self._seen.get(key) != fingerprint:
            self._seen[key] = fingerprint
            self._full.add(key)
            self.queue.add(key)

    def on_application(self, event: str, app: Manifest) -> None:
        """An Application changed (the manager's Application informer): wake the set that made it."""
        meta = app.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(sets.SET_LABEL)
        key = f"{self.namespace}/{owner}"
        if owner and meta.get("namespace") == self.namespace and self.owns(key):
            memory = self.memory.get(key)
            if event == "DELETED" or (memory is not None and edited_by_others(app, memory.written)):
                self._full.add(key)  # deleted or edited by someone else: generate it again
            self.queue.add_after(key, STATUS_DELAY)  # a burst of changes: one pass

    # ------------------------------------------------------------------ workers

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._process(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("application set pass crashed", set=key, error=str(exc))
                self._full.add(key)
                self.queue.add_after(key, ERROR_RETRY)
            finally:
                self.queue.done(key)

    async def _process(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        appset = self.informer.store.get(ObjectRef(apps.API_GROUP, sets.KIND, namespace, name))
        if appset is None:
            return
        memory = self.memory.setdefault(key, SetMemory())
        interval = _interval(appset)
        now = time.monotonic()
        full = key in self._full or now >= memory.full_due - EARLY_TIMER
        self._full.discard(key)
        not_before = self._refresh_at.pop(key, None)
        if _new_refresh(appset):
            not_before = now
        if full:
            memory.checked_at = now
        await self.reconciler.reconcile(appset, memory, full, not_before)
        if full:
            memory.failed_passes = memory.failed_passes + 1 if memory.failure is not None else 0
            wait = retry_delay(memory.failed_passes) if memory.failed_passes else interval
            memory.full_due = memory.checked_at + wait
        # every pass re-arms the timer: a status-only pass (an Application's change) took its place
        self.queue.add_after(key, max(memory.full_due - time.monotonic(), 0.0))


def retry_delay(failed_passes: int) -> float:
    """Seconds before the next pass after `failed_passes` (≥ 1) failed full passes in a row."""
    return min(ERROR_RETRY, FIRST_RETRY * float(2 ** min(failed_passes - 1, 16)))


def _interval(appset: Manifest) -> float:
    try:
        return sets.ApplicationSetSpec.model_validate(appset.get("spec") or {}).interval_seconds
    except (pydantic.ValidationError, ValueError):
        return 180.0


def _new_refresh(appset: Manifest) -> bool:
    value = ((appset.get("metadata") or {}).get("annotations") or {}).get(apps.REFRESH)
    return bool(value) and value != (appset.get("status") or {}).get("lastHandledRefresh")
