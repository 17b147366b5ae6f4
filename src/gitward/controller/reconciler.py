"""The reconciler: one Application, from Git to cluster to status. Reads straight down:

    spec → source (fetch, only on a re-check) → render (cached) → normalise → decide policy
         → sync (compare, validate, apply, prune) → health → status (one patch) → requeue delay

Called by the manager's workers with an Application key. Each failing step sets its condition and
returns; the last good revision stays deployed because nothing is written before validation passed.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass, field

import pydantic

from gitward import sourcing
from gitward.controller import events, fights, finalizing, metrics, statuses, triggers
from gitward.controller.clusters import Clusters, Target
from gitward.controller.informers import Informer, InformerSet
from gitward.controller.sources import Sources
from gitward.controller.syncing import Policy, Syncer, SyncOutcome
from gitward.core import applications as apps
from gitward.core.errors import PermanentError, ReconcileError, RenderError, SourceError, SyncError, ValidationError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors as kube_errors
from gitward.kube.client import Identity, KubeClient
from gitward.planning import inventory, normalizing, projects
from gitward.sourcing import Credentials, Revision, verification

log = get_logger(__name__)

FIGHT_WAKE_SLACK = 0.05  # seconds past the end of a back-off, so that it has ended when the reconcile runs


@dataclass
class Memory:
    """What the controller remembers of one Application between reconciles (not persisted)."""

    revision: Revision | None = None  # the last revision that passed the source checks (fetch, signature)
    attempted: Revision | None = None  # the newest revision tried, even when refused (lastAttemptedRevision)
    source_key: str = ""
    checked_at: float = 0.0
    retries: int = 0
    desired: list[Manifest] = field(default_factory=list)  # the last normalised render
    desired_key: tuple[str, ...] = ()  # what it was rendered from; () = render again next time
    refresh_requested: float | None = None  # monotonic time of an explicit refresh not yet handled
    refresh_reason: str = ""  # who asked for it (webhook, manual): recorded in the history
    fight_guard: fights.FightGuard = field(default_factory=fights.FightGuard)  # objects changed back by others


@dataclass
class Options:
    default_service_account: str = ""
    progress_requeue: float = 5.0


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        apps_informer: Informer,
        clusters: Clusters,
        sources: Sources,
        recorder: events.Recorder,
        options: Options | None = None,
        projects_informer: Informer | None = None,
    ) -> None:
        self.client = client
        self.projects = projects_informer
        self.apps = apps_informer
        self.clusters = clusters
        self.sources = sources
        self.recorder = recorder
        self.options = options or Options()
        self.memory: dict[str, Memory] = {}

    @property
    def informers(self) -> InformerSet:
        """The watch caches of the controller's own cluster."""
        return self.clusters.home.informers

    def app_client(self, spec: apps.ApplicationSpec, app_namespace: str, target: Target) -> KubeClient:
        """The client an Application's requests go through: its destination cluster's, impersonating
        its ServiceAccount (or the controller's --default-service-account) when it names one."""
        account = spec.service_account_name or self.options.default_service_account
        if not account:
            return target.client
        namespace = spec.destination.namespace or app_namespace
        return target.client.impersonating(Identity.service_account(namespace, account))

    async def reconcile(self, app: Manifest) -> float | None:
        """Reconcile one Application; return the delay before the next re-check (None: none)."""
        meta = app["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if meta.get("deletionTimestamp"):
            try:
                await finalizing.finalize(self, app)
            except pydantic.ValidationError as exc:
                await statuses.write_failure(self, app, None, _invalid_spec(exc, "; nothing deleted"))
                return None
            self.memory.pop(key, None)
            return None
        try:
            spec = apps.ApplicationSpec.model_validate(app.get("spec") or {})
            interval = apps.parse_duration(spec.sync_policy.interval)
        except (pydantic.ValidationError, ValueError) as exc:
            await statuses.write_failure(self, app, None, _invalid_spec(exc))
            return None
        await finalizing.ensure_finalizer(self.client, app)
        mem = self.memory.setdefault(key, Memory())
        trig = triggers.of(app, mem.refresh_reason)
        return await self._run(app, spec, interval, mem, trig)

    async def _run(
        self, app: Manifest, spec: apps.ApplicationSpec, interval: float, mem: Memory, trig: triggers.Triggers
    ) -> float | None:
        if trig.sync is not None and trig.sync.error:
            await statuses.write_failure(self, app, None, PermanentError(trig.sync.error, reason="InvalidSyncRequest"))
            return _jitter(interval)
        full = self._needs_source_check(spec, interval, mem, trig)
        try:
            bounds = self._project_bounds(spec, app)
            target = await self.clusters.get(spec.destination.cluster)
            creds = await self._credentials(spec, app) if full or mem.revision is None else None
            revision = (
                await self._revision(spec, app["metadata"]["namespace"], mem, trig, creds, _created(app))
                if full
                else mem.revision
            )
            assert revision is not None
            desired = await self._desired(app, spec, revision, creds, target)
            _check_objects(bounds, spec, desired)
        except ReconcileError as exc:
            mem.retries += 1
            await statuses.write_failure(self, app, mem.attempted or mem.revision, exc)
            # a permanent error waits for a new revision: keep polling the source at the interval
            return _jitter(interval) if isinstance(exc, PermanentError) else self._backoff(spec, mem)
        if full:
            mem.checked_at = time.monotonic()
        mem.desired = desired
        status = app.get("status") or {}
        retry_allowed = mem.retries < spec.sync_policy.retry.limit
        decision = triggers.decide(spec, status, revision.sha, trig, retry_allowed)
        policy = _policy(decision, mem.fight_guard)
        client = self.app_client(spec, app["metadata"]["namespace"], target)
        meta = app["metadata"]
        syncer = Syncer(client, target.informers, meta["namespace"], meta["name"], target.fingerprints)
        try:
            if decision.write and spec.sync_policy.option("CreateNamespace") == "true":
                await _create_namespace(client, spec.destination.namespace)
            old_inventory = inventory.from_status(status.get("inventory"))

            async def persist(entries: list[inventory.Entry]) -> None:
                await statuses.persist_inventory(self, app, entries, revision)

            outcome = await syncer.sync(desired, old_inventory, policy, persist)
        except kube_errors.APIForbiddenError as exc:
            refused = ValidationError(f"forbidden: {exc.message}", reason="Forbidden")
            await statuses.write_failure(self, app, revision, refused)
            return _jitter(interval)
        except kube_errors.KubeError as exc:
            mem.retries += 1
            await statuses.write_failure(self, app, revision, SyncFailure(exc.message))
            return self._backoff(spec, mem)
        return await self._report(app, spec, revision, desired, outcome, decision, trig, mem, full, interval, target)

    async def _report(
        self,
        app: Manifest,
        spec: apps.ApplicationSpec,
        revision: Revision,
        desired: list[Manifest],
        outcome: SyncOutcome,
        decision: triggers.Decision,
        trig: triggers.Triggers,
        mem: Memory,
        full: bool,
        interval: float,
        target: Target,
    ) -> float | None:
        await self._watch_fights(app, mem, decision, outcome)
        fought = mem.fight_guard.fights()
        report = await statuses.write_outcome(
            self, app, spec, revision, desired, outcome, decision, trig, full, target.informers.get, fought
        )
        delay = self._requeue(spec, mem, outcome, report.health, interval)
        wake = mem.fight_guard.wake(time.monotonic())  # a back-off ends, or a fight may be over: not the interval
        return delay if wake is None else min(delay, wake + FIGHT_WAKE_SLACK)

    def _requeue(
        self, spec: apps.ApplicationSpec, mem: Memory, outcome: SyncOutcome, health: str, interval: float
    ) -> float:
        if outcome.failed:
            mem.retries += 1
            return self._backoff(spec, mem)
        mem.retries = 0
        if outcome.waiting:
            return 1.0
        if health in ("Progressing", "Missing"):
            return min(self.options.progress_requeue, _jitter(interval))
        return _jitter(interval)

    async def _watch_fights(
        self, app: Manifest, mem: Memory, decision: triggers.Decision, outcome: SyncOutcome
    ) -> None:
        """Count self-heal corrections per object; report a fight that starts (Event) or ends (log)."""
        now = time.monotonic()
        if decision.write and decision.heal_only:
            metrics.DRIFT_CORRECTIONS.inc(len(outcome.written))
            for fight in mem.fight_guard.record(outcome.out_of_sync, outcome.written, now):
                log.warning("drift fight: backing off", app=_key(app), object=str(fight.ref), writer=fight.writer)
                await self.recorder.emit(app, "Warning", "DriftFight", fight.message)
        for ref in mem.fight_guard.settle(now):
            log.info("drift fight over", app=_key(app), object=str(ref))

    def _project_bounds(self, spec: apps.ApplicationSpec, app: Manifest) -> projects.Bounds:
        """The Application's Project bounds; source and destination are checked here, before any fetch."""
        name = spec.project
        project = None
        if self.projects is not None:
            project = self.projects.get(ObjectRef(apps.API_GROUP, "Project", self.projects.namespace or "", name))
        if project is None and name != projects.DEFAULT:
            raise ValidationError(f"Project {name} not found", reason="ProjectNotFound")
        bounds = projects.ALLOW_ALL if project is None else projects.Bounds.from_spec(project.get("spec"))
        url = spec.source.repo_url
        problem = projects.source_violation(bounds, url, sourcing.normalize(url))
        problem = problem or projects.destination_violation(
            bounds, spec.destination.cluster, spec.destination.namespace or app["metadata"]["namespace"]
        )
        if problem is not None:
            raise ValidationError(f"Project {name}: {problem}", reason="ProjectViolation")
        return bounds

    def _needs_source_check(
        self, spec: apps.ApplicationSpec, interval: float, mem: Memory, trig: triggers.Triggers
    ) -> bool:
        source_key = spec.source.model_dump_json() + (trig.sync.revision if trig.sync else "")
        changed = source_key != mem.source_key
        mem.source_key = source_key
        due = time.monotonic() - mem.checked_at >= interval * 0.9
        return bool(
            mem.revision is None
            or changed
            or due
            or mem.refresh_requested is not None
            or trig.refresh
            or trig.sync
            or trig.spec_changed
        )

    async def _credentials(self, spec: apps.ApplicationSpec, app: Manifest) -> Credentials | None:
        ref = spec.source.secret_ref
        if ref is None:
            return None
        secret = await self._secret(app["metadata"]["namespace"], ref.name, SourceError)
        try:
            return Credentials.from_secret_data(secret.get("data") or {}, secret_name=ref.name)
        except ValueError as exc:
            raise SourceError(str(exc), reason="InvalidCredentials") from exc

    async def _secret(self, namespace: str, name: str, error: type[ReconcileError]) -> Manifest:
        """A Secret of the Application's namespace (repository credentials, trusted keys)."""
        try:
            return await self.client.get("v1", "Secret", name, namespace)
        except kube_errors.APINotFoundError as exc:
            raise error(f"Secret/{namespace}/{name}: not found", reason="SecretNotFound") from exc
        except kube_errors.KubeError as exc:
            raise error(f"Secret/{namespace}/{name}: {exc.message}", reason="SecretUnavailable") from exc

    async def _revision(
        self,
        spec: apps.ApplicationSpec,
        namespace: str,
        mem: Memory,
        trig: triggers.Triggers,
        creds: Credentials | None,
        created: str = "",
    ) -> Revision:
        """Resolve and fetch the revision to deploy (verified when the source asks for it)."""
        source = spec.source
        if trig.sync is not None and trig.sync.revision:
            source = source.model_copy(update={"target_revision": trig.sync.revision})
        started = time.monotonic()
        not_before = mem.refresh_requested
        if trig.refresh or trig.sync:
            not_before = time.monotonic()
        elif mem.revision is None:  # first sight: Git as it was when the Application was created, or later
            fresh_enough = time.monotonic() - self.sources.fetcher.ls_remote_ttl
            not_before = max(not_before or 0.0, _monotonic_of(created), fresh_enough)
        revision = await self.sources.revision(source, creds, not_before)
        mem.refresh_requested = None
        mem.refresh_reason = ""
        metrics.GIT_FETCH_DURATION.observe(time.monotonic() - started)
        mem.attempted = revision  # seen, whatever the checks below say of it
        await self._verify(spec, namespace, revision, creds)
        mem.revision = revision
        return revision

    async def _verify(
        self, spec: apps.ApplicationSpec, namespace: str, revision: Revision, creds: Credentials | None
    ) -> None:
        """With verify.mode head, refuse a head commit without a trusted signature (before rendering)."""
        verify = spec.source.verify
        if verify is None or verify.mode != "head":
            return
        if spec.source.chart:
            raise verification.VerificationError(
                "verify.mode head checks Git commit signatures; a chart from a Helm repository has none "
                "(its archive is checked against the index digest) — remove verify or use a Git source"
            )
        if verify.secret_ref is None:
            raise verification.VerificationError("verify.mode head needs verify.secretRef (the trusted keys)")
        secret = await self._secret(namespace, verify.secret_ref.name, verification.VerificationError)
        keys = verification.TrustedKeys.from_secret_data(secret.get("data") or {}, verify.secret_ref.name)
        signer = await verification.verify_head(self.sources.fetcher, spec.source.repo_url, revision.sha, keys, creds)
        log.info("commit signature verified", repo=spec.source.repo_url, sha=revision.sha, signer=signer)

    async def _desired(
        self, app: Manifest, spec: apps.ApplicationSpec, revision: Revision, creds: Credentials | None, target: Target
    ) -> list[Manifest]:
        meta = app["metadata"]
        mem = self.memory.setdefault(f"{meta['namespace']}/{meta['name']}", Memory())
        key = (revision.sha, spec.source.model_dump_json(), spec.destination.model_dump_json(), target.name)
        if mem.desired_key == key and mem.desired:
            return mem.desired  # same commit, source and destination: the same objects (no re-parse)
        objs = await self.sources.render(
            spec.source,
            revision.sha,
            creds,
            app_name=meta["name"],
            namespace=spec.destination.namespace or meta["namespace"],
            capabilities=target.discovery.get,
        )
        scopes = await self._scopes(objs, target)
        desired = normalizing.normalize(
            objs,
            app_namespace=meta["namespace"],
            app_name=meta["name"],
            default_namespace=spec.destination.namespace or meta["namespace"],
            is_namespaced=lambda group, kind: scopes.get((group, kind)),
        )
        mem.desired_key = key if all(scope is not None for scope in scopes.values()) else ()
        return desired

    async def _scopes(self, objs: list[Manifest], target: Target) -> dict[tuple[str, str], bool | None]:
        """Kind scopes from the destination cluster's discovery."""
        try:
            return await target.client.scopes(objs)
        except kube_errors.KubeError as exc:
            raise RenderError(f"discovery on cluster {target.name} failed: {exc.message}") from exc

    def _backoff(self, spec: apps.ApplicationSpec, mem: Memory) -> float:
        backoff = spec.sync_policy.retry.backoff
        try:
            base, cap = apps.parse_duration(backoff.duration), apps.parse_duration(backoff.max_duration)
        except ValueError:
            base, cap = 5.0, 180.0
        return float(min(base * backoff.factor ** max(mem.retries - 1, 0), cap))


class SyncFailure(SyncError):
    """The Kubernetes API failed during the sync itself (after validation): retried with backoff."""


def _policy(decision: triggers.Decision, guard: fights.FightGuard) -> Policy:
    """What the sync may write. Self-heal skips the objects another writer keeps changing back while
    they back off, and looks up who changes the objects that may start a fight."""
    if not (decision.write and decision.heal_only):
        return Policy(decision.write, decision.prune, decision.allow_empty)
    now = time.monotonic()
    return Policy(True, decision.prune, decision.allow_empty, guard.held(now), guard.suspects(now))


async def _create_namespace(client: KubeClient, name: str) -> None:
    if not name or await client.get_or_none("v1", "Namespace", name) is not None:
        return
    try:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except kube_errors.APIConflictError:
        return


def _check_objects(bounds: projects.Bounds, spec: apps.ApplicationSpec, desired: list[Manifest]) -> None:
    problems = projects.object_violations(bounds, spec.destination.cluster, desired, lambda ref: not ref.namespace)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        message = f"Project {spec.project}: " + "; ".join(problems[:3]) + more
        raise ValidationError(message, reason="ProjectViolation")


def _created(app: Manifest) -> str:
    return str(app["metadata"].get("creationTimestamp") or "")


def _monotonic_of(timestamp: str) -> float:
    """The monotonic clock's reading at wall-clock `timestamp` (RFC 3339); 0 when unknown."""
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    age = (dt.datetime.now(dt.UTC) - then).total_seconds()
    return time.monotonic() - max(age, 0.0) - 1.0  # one second of slack: timestamps have second precision


def _jitter(interval: float) -> float:
    return interval * random.uniform(0.9, 1.1)  # noqa: S311 (not cryptographic)


def _key(app: Manifest) -> str:
    return f"{app['metadata']['namespace']}/{app['metadata']['name']}"


def _invalid_spec(exc: Exception, suffix: str = "") -> PermanentError:
    """The InvalidSpec error for a spec the models refuse: its message names the field."""
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"spec.{where}: {first.get('msg', 'invalid').removeprefix('Value error, ')}"
    else:
        message = f"spec: {exc}"
    return PermanentError(message + suffix, reason="InvalidSpec")
