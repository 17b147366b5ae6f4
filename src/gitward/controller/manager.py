"""The controller process: Application watch, managed-object caches, work queue and workers.

Started by `gitward run` (through leader election: only the Lease holder runs a `Controller`).
Application events enqueue their key when spec, annotations, finalizers or deletion change (not on
status writes); events of managed objects enqueue the Application named by their tracking
annotation (drift and health, within seconds); the queue's timer brings interval re-checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitward.controller import dependencies, kube_events, metrics, policies
from gitward.controller.appsets import AppSets
from gitward.controller.clusters import Clusters
from gitward.controller.context import Memory
from gitward.controller.images.running import ImageAutomation
from gitward.controller.informers import Informer
from gitward.controller.notifications import Notifier
from gitward.controller.queueing import WorkQueue
from gitward.controller.reconciler import Options, Reconciler
from gitward.controller.rollouts import RolloutController
from gitward.controller.sources import Sources
from gitward.core import applications as apps
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube.client import KubeClient
from gitward.planning import normalizing
from gitward.sourcing import Fetcher

log = get_logger(__name__)


@dataclass
class Config:
    namespace: str | None = "gitward"  # where Applications are watched; None = all namespaces
    controller_namespace: str = "gitward"
    workers: int = 8
    shard: tuple[int, int] | None = None  # (index, count)
    cache_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "gitward-cache")
    allow_file: bool = False
    allow_remote_bases: bool = False
    default_service_account: str = ""
    ls_remote_ttl: float = 2.0


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return shard_of(key, count) == index


def shard_of(key: str, count: int) -> int:
    """The shard of `key` among `count`, by jump consistent hashing (Lamping and Veach, 2014): going
    from N to N+1 shards moves only the keys that land on the new shard, about 1/(N+1) of them."""
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    shard, jump = -1, 0
    while jump < count:
        shard = jump
        h = (h * 2862933555777941757 + 1) & 0xFFFF_FFFF_FFFF_FFFF
        jump = int((shard + 1) * ((1 << 31) / ((h >> 33) + 1)))
    return shard


class Controller:
    def __init__(self, client: KubeClient, config: Config) -> None:
        self.client = client
        self.config = config
        self.queue = WorkQueue()
        self.apps = Informer(client, apps.API_VERSION, "Application", namespace=config.namespace)
        self.projects = Informer(client, apps.API_VERSION, "Project", namespace=config.controller_namespace)
        self.policy_informer = Informer(client, apps.API_VERSION, "Policy", namespace=config.controller_namespace)
        # notifications (SPEC §14): Providers and Alerts of the controller namespace, delivered off the reconcile path
        self.providers = Informer(client, apps.API_VERSION, "Provider", namespace=config.controller_namespace)
        self.alerts = Informer(client, apps.API_VERSION, "Alert", namespace=config.controller_namespace)
        self.notifier = Notifier(client, config.controller_namespace, self.providers, self.alerts)
        self.clusters = Clusters(client, config.controller_namespace, [self._on_managed], hook=client.hook)
        self.informers = self.clusters.home.informers
        self.fetcher = Fetcher(
            config.cache_dir / "git", allow_file=config.allow_file, ls_remote_ttl=config.ls_remote_ttl
        )
        self.sources = Sources(self.fetcher, config.cache_dir / "work", allow_remote_bases=config.allow_remote_bases)
        # image automation (SPEC §12): scans registries, picks images, writes them back to Git
        self.images = ImageAutomation(
            client, config.namespace, self.sources.registries, self.apps, lambda key: self.refresh(key, "automated"),
            allow_file=config.allow_file,
        )  # fmt: skip
        self.reconciler = Reconciler(
            client,
            self.apps,
            self.clusters,
            self.sources,
            kube_events.Recorder(client, observer=self.notifier.submit),
            Options(default_service_account=config.default_service_account),
            self.projects,
        )
        # fleets (SPEC §11): ApplicationSets of the controller namespace, woken by their Applications too
        self.appsets = AppSets(
            client,
            config.controller_namespace,
            self.sources,
            owns=lambda key: in_shard(key, config.shard),
            applications=(lambda: self.apps.store) if config.namespace in (None, config.controller_namespace) else None,
            observer=self.notifier.submit,  # ApplicationSet events reach Alerts (SPEC §14)
        )
        self.apps.handlers.append(self.appsets.on_application)
        self.apps.handlers.append(dependencies.Dependents(lambda: self.apps.store, self._wake).on_app)
        self.policies = policies.Policies(client, self.policy_informer, kube_events.Recorder(client))
        self.reconciler.desired.policies = self.policies
        # progressive delivery (SPEC §10): Rollouts in the watched namespace(s), own informers and queue
        self.rollouts = RolloutController(
            client,
            config.namespace,
            kube_events.Recorder(client, observer=self.notifier.submit),
            accept=lambda key: in_shard(key, config.shard),
            default_service_account=config.default_service_account,  # tenant mode reaches Rollouts too
        )
        self._seen: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.apps.handlers.append(self._on_app)
        self.projects.handlers.append(self._on_project)
        self.policy_informer.handlers.append(self._on_policy)

    @property
    def synced(self) -> bool:
        return self.apps.synced.is_set()

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.projects.run(), name="projects informer"))
        self._tasks.append(asyncio.create_task(self.policy_informer.run(), name="policies informer"))
        await self.projects.synced.wait()
        await self.policy_informer.synced.wait()
        self._tasks.append(asyncio.create_task(self.notifier.run(), name="notifications"))
        self._tasks.append(asyncio.create_task(self.providers.run(), name="providers informer"))
        self._tasks.append(asyncio.create_task(self.alerts.run(), name="alerts informer"))
        await asyncio.gather(self.providers.synced.wait(), self.alerts.synced.wait())
        await self.appsets.start()
        self._tasks.append(asyncio.create_task(self.apps.run(), name="applications informer"))
        self._tasks.append(asyncio.create_task(self.queue.run_timer(), name="queue timer"))
        self._tasks += [asyncio.create_task(self._worker(), name=f"worker {i}") for i in range(self.config.workers)]
        await self.apps.synced.wait()
        await self.images.start()
        await self.rollouts.start()
        log.info("controller started", namespace=self.config.namespace or "*", applications=len(self.apps.store))

    async def stop(self, grace: float = 0.0) -> None:
        """Stop: take no new work, let reconciles in flight finish for up to `grace` seconds (a sync
        cut short converges on the next start anyway: inventory first), then cancel what is left."""
        self.queue.close()
        if grace > 0:
            try:
                await asyncio.wait_for(self.queue.drained(), grace)
            except TimeoutError:
                log.warning("reconciles still running at shutdown; cancelling them", grace=grace)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.images.stop()
        await self.appsets.stop()
        await self.rollouts.stop()
        await self.clusters.stop()
        self.policies.evaluator.close()
        self.sources.close()
        self.fetcher.close()

    def refresh(self, key: str, initiated_by: str = "manual") -> None:
        """Re-check `key` now, including its source (webhooks, API); a sync it causes is
        recorded in the history as initiated by `initiated_by`."""
        memory = self.reconciler.memory.setdefault(key, Memory())
        memory.refresh_requested = time.monotonic()
        memory.refresh_reason = initiated_by
        self.queue.add(key)

    def desired(self, key: str) -> list[Manifest] | None:
        """The normalised objects of `key`'s last render, without the fields it ignores (None before
        its first reconcile)."""
        memory = self.reconciler.memory.get(key)
        if memory is None or memory.revision is None:
            return None
        return memory.effective or memory.desired

    def secret_values(self, key: str) -> tuple[str, ...]:
        """Secret-held strings the last render of `key` put into its objects (masked in diffs)."""
        memory = self.reconciler.memory.get(key)
        return memory.secret_values if memory is not None else ()

    def live(self, ref: ObjectRef) -> Manifest | None:
        """The live object from the watch cache (managed objects only)."""
        return self.informers.get(ref)

    # ------------------------------------------------------------------ event handlers

    def _on_app(self, event: str, app: Manifest) -> None:
        meta = app.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if not in_shard(key, self.config.shard):
            return
        if event == "DELETED":
            self._seen.pop(key, None)
            self.queue.forget(key)
            self.reconciler.memory.pop(key, None)
            self.policies.forget(key)
            metrics.forget_app(str(meta.get("namespace")), str(meta.get("name")))
            return
        fingerprint = _fingerprint(app)
        if self._seen.get(key) != fingerprint:
            self._seen[key] = fingerprint
            self.queue.add(key)

    def _wake(self, key: str) -> None:
        """Re-check `key` (an Application waiting for another one), when this shard owns it."""
        if in_shard(key, self.config.shard):
            self.queue.add(key)

    def _on_project(self, event: str, project: Manifest) -> None:
        """A Project changed: re-check every Application that names it."""
        name = (project.get("metadata") or {}).get("name")
        for ref, app in list(self.apps.store.items()):
            if ((app.get("spec") or {}).get("project") or "default") == name:
                key = f"{ref.namespace}/{ref.name}"
                if in_shard(key, self.config.shard):
                    self.queue.add(key)

    def _on_policy(self, event: str, policy: Manifest) -> None:
        """A Policy changed: re-check every Application (a refused revision may pass now, or no more)."""
        for ref in list(self.apps.store):
            key = f"{ref.namespace}/{ref.name}"
            if in_shard(key, self.config.shard):
                self.queue.add(key)

    def _on_managed(self, event: str, obj: Manifest) -> None:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        owner = normalizing.parse_tracking_id(annotations.get(apps.TRACKING_ID))
        if owner is None:
            return
        key = f"{owner[0]}/{owner[1]}"
        if in_shard(key, self.config.shard) and (self.config.namespace in (None, owner[0])):
            self.queue.add(key)

    # ------------------------------------------------------------------ workers

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._process(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        app = self.apps.store.get(ObjectRef(apps.API_GROUP, "Application", namespace, name))
        if app is None:
            return
        started = time.monotonic()
        result = "success"
        delay: float | None
        try:
            # the reconciler only changes metadata (finalizers, resourceVersion): copy that, not the status
            delay = await self.reconciler.reconcile({**app, "metadata": dict(app.get("metadata") or {})})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = "error"
            delay = 5.0
            log.exception("reconcile crashed", app=key, error=str(exc))
        metrics.RECONCILE_DURATION.labels(namespace, name, result).observe(time.monotonic() - started)
        if delay is not None:
            self.queue.add_after(key, delay)


def _fingerprint(app: Manifest) -> str:
    meta = app.get("metadata") or {}
    data = [meta.get("generation"), meta.get("annotations"), meta.get("finalizers"), meta.get("deletionTimestamp")]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
