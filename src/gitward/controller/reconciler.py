"""The reconciler: one Application, from Git to cluster to status. Reads straight down:

    spec → desired state (Project, cluster, source, render, normalise) → decide policy
         → sync (compare, validate, apply, prune) → status (one patch) → requeue delay

Called by the manager's workers with an Application. Every failing step raises a ReconcileError;
`_failed` turns it into the status and the retry delay in one place. The last good revision stays
deployed because nothing is written before validation passed.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pydantic

from gitward.applying.results import Change
from gitward.controller import dependencies, fights, finalizing, kube_events, metrics, triggers
from gitward.controller.clusters import Clusters, Target
from gitward.controller.context import Memory, Pass
from gitward.controller.desiring import DesiredState, needs_source_check
from gitward.controller.hooks import HookRun, sync_with_hooks
from gitward.controller.impersonation import Impersonation
from gitward.controller.informers import Informer, InformerSet
from gitward.controller.inputs import RenderInputs
from gitward.controller.sources import Sources
from gitward.controller.status_writer import StatusWriter
from gitward.controller.syncing import Policy, Syncer, SyncOutcome
from gitward.core import applications as apps
from gitward.core import redaction
from gitward.core.errors import PermanentError, ReconcileError, SyncError, ValidationError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.planning import hooks as hook_plan
from gitward.planning import ignoring, inventory
from gitward.sourcing import Revision

__all__ = ["Options", "Reconciler", "SyncFailure"]

log = get_logger(__name__)

RETRY_SLACK = 0.05  # seconds past the end of a retry backoff, so that it has ended when the reconcile runs
FIGHT_WAKE_SLACK = 0.05  # seconds past the end of a back-off, so that it has ended when the reconcile runs


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
        recorder: kube_events.Recorder,
        options: Options | None = None,
        projects_informer: Informer | None = None,
    ) -> None:
        self.client = client
        self.clusters = clusters
        self.recorder = recorder
        self.options = options or Options()
        self.memory: dict[str, Memory] = {}
        self.impersonation = Impersonation(self.options.default_service_account)
        self.desired = DesiredState(
            client, clusters, sources, projects_informer, inputs=RenderInputs(client, self.impersonation)
        )
        self.status = StatusWriter(client, apps_informer, recorder)
        self.finalizer = finalizing.Finalizer(client, clusters, self.impersonation)

    @property
    def informers(self) -> InformerSet:
        """The watch caches of the controller's own cluster."""
        return self.clusters.home.informers

    async def reconcile(self, app: Manifest) -> float | None:
        """Reconcile one Application; return the delay before the next re-check (None: none)."""
        meta = app["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if meta.get("deletionTimestamp"):
            try:
                await self.finalizer.finalize(app)
            except pydantic.ValidationError as exc:
                await self.status.failure(app, None, _invalid_spec(exc, "; nothing deleted"))
                return None
            except kube_errors.KubeError as exc:
                # the clean-up deletes as the Application's ServiceAccount: a refusal is shown and retried,
                # never done with the controller's rights
                await self.status.failure(app, None, SyncError(exc.message, reason="CleanupFailed"))
                raise
            self.memory.pop(key, None)
            return None
        try:
            spec = apps.ApplicationSpec.model_validate(app.get("spec") or {})
            interval = apps.parse_duration(spec.sync_policy.interval)
        except (pydantic.ValidationError, ValueError) as exc:
            await self.status.failure(app, None, _invalid_spec(exc))
            return None
        await finalizing.ensure_finalizer(self.client, app)
        memory = self.memory.setdefault(key, Memory())
        p = Pass(app, spec, interval, memory, triggers.of(app, memory.refresh_reason))
        try:
            return await self._converge(p)
        except ReconcileError as exc:
            return await self._failed(p, exc)

    async def _converge(self, p: Pass) -> float | None:
        if p.why.sync is not None and p.why.sync.error:
            raise PermanentError(p.why.sync.error, reason="InvalidSyncRequest")
        p.full, p.memory.source_key = needs_source_check(p, time.monotonic())
        desired = await self.desired.of(p)
        target, revision = p.target, p.revision
        if target is None or revision is None:  # DesiredState.of sets both or raises
            raise PermanentError("internal: no destination or revision after the desired state", reason="Internal")
        if p.full:
            p.memory.checked_at = time.monotonic()
        p.memory.desired, p.memory.effective = desired, []
        hooks, p.desired = hook_plan.split(desired)  # hooks run around a sync operation, never applied with it
        decision = triggers.decide(p.spec, p.app.get("status") or {}, revision.sha, p.why, _may_retry(p))
        if decision.write and not decision.heal_only and not decision.retry:
            p.memory.retries, p.memory.retry_at = 0, 0.0  # a new operation: its own retries
        decision = self._within_sync_windows(p, decision)
        if dependencies.applies(p, decision):  # spec.dependsOn and RollingSync steps (SPEC §11)
            held = dependencies.hold(p, revision.sha, self.status.applications.store)
            if held is not None:
                return await dependencies.report(self.status, self.recorder, p, revision, held)
        outcome = await self._sync(p, target, revision, decision, hooks)
        return await self._report(p, target, revision, outcome, decision)

    def _within_sync_windows(self, p: Pass, decision: triggers.Decision) -> triggers.Decision:
        """Hold a write outside the Project's sync windows (a sync already under way continues)."""
        running = ((p.app.get("status") or {}).get("operationState") or {}).get("phase") == "Running"
        if not decision.write or running:
            return decision
        state = self.desired.sync_windows(p, datetime.now(UTC))
        manual = p.why.sync is not None
        if state.manual if manual else state.automated:
            return decision
        opens = f"; the next window opens at {state.next_open:%Y-%m-%dT%H:%M:%SZ}" if state.next_open else ""
        what = "manual sync" if manual else "automated sync"
        return dataclasses.replace(decision, write=False, held=f"{what} held by {state.message}{opens}")

    async def _sync(
        self, p: Pass, target: Target, revision: Revision, decision: triggers.Decision, hooks: list[hook_plan.Hook]
    ) -> SyncOutcome:
        client = self.impersonation.client(p.spec, p.namespace, target.client)
        syncer = Syncer(client, target.informers, p.namespace, p.name, target.fingerprints, ignoring.rules_of(p.spec))
        try:
            if decision.write and p.spec.sync_policy.option("CreateNamespace") == "true":
                await _create_namespace(client, p.spec.destination.namespace)
            old_inventory = inventory.from_status((p.app.get("status") or {}).get("inventory"))

            async def persist(entries: list[inventory.Entry]) -> None:
                await self.status.persist_inventory(p.app, entries, revision)

            policy = _policy(decision, p.memory.fight_guard, _replace_all(p.spec))

            async def sync(write: bool) -> SyncOutcome:
                chosen = policy if write else dataclasses.replace(policy, write=False, prune=False)
                return await syncer.sync(p.desired, old_inventory, chosen, persist)

            operation = decision.write and not decision.heal_only
            run = HookRun.of(client, hooks, p.app.get("status") or {}, revision.sha) if hooks and operation else None
            outcome = await sync_with_hooks(run, sync)
            p.memory.effective = outcome.effective
        except kube_errors.APIForbiddenError as exc:
            raise ValidationError(f"forbidden: {_masked(exc.message, p)}", reason="Forbidden") from exc
        except kube_errors.KubeError as exc:
            raise SyncFailure(_masked(exc.message, p)) from exc
        outcome.changes = [_masked_change(c, p) for c in outcome.changes]
        outcome.invalid = [_masked_change(c, p) for c in outcome.invalid]
        return outcome

    async def _failed(self, p: Pass, exc: ReconcileError) -> float:
        """The one failure path: the step's condition in the status, and when to try again — a
        permanent error waits for a new revision or spec (polling the source at the interval)."""
        await self.status.failure(p.app, p.revision or p.memory.attempted or p.memory.revision, exc)
        return _jitter(p.interval) if isinstance(exc, PermanentError) else self._retry_later(p)

    async def _report(
        self, p: Pass, target: Target, revision: Revision, outcome: SyncOutcome, decision: triggers.Decision
    ) -> float | None:
        await self._watch_fights(p, decision, outcome)
        report = await self.status.outcome(p, target, revision, outcome, decision)
        delay = self._requeue(p, outcome, report.health, decision)
        wake = p.memory.fight_guard.wake(time.monotonic())  # a back-off ends, or a fight may be over
        return delay if wake is None else min(delay, wake + FIGHT_WAKE_SLACK)

    def _requeue(self, p: Pass, outcome: SyncOutcome, health: str, decision: triggers.Decision) -> float:
        if outcome.failed:
            return self._retry_later(p)
        if decision.write:  # the operation went through: a later failure starts its retries afresh
            p.memory.retries, p.memory.retry_at = 0, 0.0
        if outcome.waiting:
            return 1.0
        delay = _jitter(p.interval)
        if health in ("Progressing", "Missing"):
            delay = min(self.options.progress_requeue, delay)
        if decision.failed and _may_retry(p, at_all=True):  # a backoff runs: wake when it ends
            delay = min(delay, max(p.memory.retry_at - time.monotonic(), 0.0) + RETRY_SLACK)
        return delay

    def _retry_later(self, p: Pass) -> float:
        """Count a failed attempt; the backoff before the next one (syncPolicy.retry)."""
        p.memory.retries += 1
        delay = self._backoff(p.spec, p.memory)
        p.memory.retry_at = time.monotonic() + delay
        return delay

    async def _watch_fights(self, p: Pass, decision: triggers.Decision, outcome: SyncOutcome) -> None:
        """Count self-heal corrections per object; report a fight that starts (Event) or ends (log)."""
        now = time.monotonic()
        guard = p.memory.fight_guard
        if decision.write and decision.heal_only:
            metrics.DRIFT_CORRECTIONS.inc(len(outcome.written))
            for fight in guard.record(outcome.out_of_sync, outcome.written, now):
                log.warning("drift fight: backing off", app=p.key, object=str(fight.ref), writer=fight.writer)
                await self.recorder.emit(p.app, "Warning", "DriftFight", fight.message)
        for ref in guard.settle(now):
            log.info("drift fight over", app=p.key, object=str(ref))

    @staticmethod
    def _backoff(spec: apps.ApplicationSpec, memory: Memory) -> float:
        backoff = spec.sync_policy.retry.backoff
        try:
            base, cap = apps.parse_duration(backoff.duration), apps.parse_duration(backoff.max_duration)
        except ValueError:
            base, cap = 5.0, 180.0
        return float(min(base * backoff.factor ** max(memory.retries - 1, 0), cap))


def _may_retry(p: Pass, *, at_all: bool = False) -> bool:
    """Whether a failed operation may be tried again now (or, `at_all`, once its backoff ends):
    `retry.limit` retries after the first attempt, each after its backoff."""
    if p.memory.retries_spent(p.spec.sync_policy.retry.limit):
        return False
    return at_all or time.monotonic() >= p.memory.retry_at


class SyncFailure(SyncError):
    """The Kubernetes API failed during the sync itself (after validation): retried with backoff."""


def _policy(decision: triggers.Decision, guard: fights.FightGuard, replace: bool) -> Policy:
    """What the sync may write. Self-heal skips the objects another writer keeps changing back while
    they back off, and looks up who changes the objects that may start a fight."""
    if not (decision.write and decision.heal_only):
        return Policy(decision.write, decision.prune, decision.allow_empty, replace=replace)
    now = time.monotonic()
    return Policy(True, decision.prune, decision.allow_empty, guard.held(now), guard.suspects(now), replace)


def _replace_all(spec: apps.ApplicationSpec) -> bool:
    """syncOptions `Replace=true` / `Force=true`: any object may be deleted and re-created."""
    return any((spec.sync_policy.option(name) or "").lower() == "true" for name in ("Replace", "Force"))


async def _create_namespace(client: KubeClient, name: str) -> None:
    if not name or await client.get_or_none("v1", "Namespace", name) is not None:
        return
    try:
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except kube_errors.APIConflictError:
        return


def _jitter(interval: float) -> float:
    return interval * random.uniform(0.9, 1.1)  # noqa: S311 (not cryptographic)


def _invalid_spec(exc: Exception, suffix: str = "") -> PermanentError:
    """The InvalidSpec error for a spec the models refuse: its message names the field."""
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"spec.{where}: {first.get('msg', 'invalid').removeprefix('Value error, ')}"
    else:
        message = f"spec: {exc}"
    return PermanentError(message + suffix, reason="InvalidSpec")


def _masked(message: str, p: Pass) -> str:
    """`message` without the Secret-held values the render put into other objects (substitution,
    valuesFrom, SOPS): an API server error about such an object may echo them."""
    return redaction.redact(message, p.memory.secret_values) if p.memory.secret_values else message


def _masked_change(change: Change, p: Pass) -> Change:
    return dataclasses.replace(change, message=_masked(change.message, p)) if change.message else change
