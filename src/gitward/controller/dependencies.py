"""Holding an Application's sync until what it depends on is ready (SPEC §11).

Two sources of dependencies, one mechanism:

- `spec.dependsOn: [{name, namespace}]`: those Applications must be Synced and Healthy at their
  current revision (their spec observed, their newest revision deployed; when they deploy the same
  repository and revision, at the very commit this one is about to deploy);
- RollingSync (an ApplicationSet's `strategy`): a generated Application of step N (annotation
  `gitward.dev/rollout-step`, set by the set) waits for every Application of the same set in the
  steps before it; a failed step therefore stops the rollout.

Called by the reconciler before it syncs (`hold`, then `report`: the status says what it waits for,
conditions `Ready` False and `Reconciling` True with reason `DependenciesNotReady`,
`WaitingForRollout` or `DependencyCycle`); a manual sync request is never held. A cycle is found on
every member and reported, never waited on. `Dependents` (a handler of the manager's Application
informer) wakes the dependents of an Application whose readiness changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitward.appstatus import conditions
from gitward.controller import kube_events, reporting
from gitward.controller.context import Pass
from gitward.controller.status_writer import StatusWriter
from gitward.controller.triggers import Decision
from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.manifests import Manifest, ObjectRef
from gitward.sourcing import Revision

__all__ = ["Dependents", "Hold", "hold", "not_ready", "report"]

Store = Mapping[ObjectRef, Manifest]
HOLD_RECHECK = 30.0
"""Seconds before a held Application looks again (its dependencies' changes wake it sooner)."""
REFETCH_RECHECK = 5.0
"""Seconds before a held Application whose dependency is at another commit asks Git again."""
NOT_AT = "not yet at"
MAX_WALK = 10_000
"""Most Applications a cycle search visits."""


@dataclass(frozen=True)
class Hold:
    reason: str
    message: str
    refetch: bool = False  # a dependency is at another commit of the same source: look at Git again


def applies(p: Pass, decision: Decision) -> bool:
    """Whether this pass would start a sync that dependencies may hold (not drift repair, not a
    manual sync request, not a wave-by-wave sync already running)."""
    running = ((p.app.get("status") or {}).get("operationState") or {}).get("phase") == "Running"
    return decision.write and not decision.heal_only and p.why.sync is None and not running


def hold(p: Pass, sha: str, store: Store) -> Hold | None:
    """Why `p`'s Application may not sync `sha` yet, or None."""
    key = (p.namespace, p.name)
    cycle = _cycle(key, store)
    if cycle:
        path = " → ".join(f"{ns}/{name}" for ns, name in [*cycle, cycle[0]])
        return Hold("DependencyCycle", f"dependency cycle: {path}")
    for dep in p.spec.depends_on:
        ref = (dep.namespace or p.namespace, dep.name)
        problem = _not_ready(store.get(_ref(*ref)), p.spec.source, sha)
        if problem:
            return Hold("DependenciesNotReady", f"waiting for {ref[0]}/{ref[1]}: {problem}", NOT_AT in problem)
    return _rollout_hold(p, sha, store)


def _rollout_hold(p: Pass, sha: str, store: Store) -> Hold | None:
    meta = p.app["metadata"]
    owner = (meta.get("labels") or {}).get(sets.SET_LABEL)
    step = _step(p.app)
    if not owner or step <= 1:
        return None
    for other in sorted(_set_members(store, p.namespace, owner), key=lambda a: (_step(a), _name(a))):
        if _step(other) >= step:
            continue
        problem = _not_ready(other, p.spec.source, sha)
        if problem:
            message = f"RollingSync step {step} waits for step {_step(other)}: {_name(other)} {problem}"
            return Hold("WaitingForRollout", message, NOT_AT in problem)
    return None


def _set_members(store: Store, namespace: str, owner: str) -> list[Manifest]:
    return [
        app
        for ref, app in store.items()
        if ref.namespace == namespace and ((app.get("metadata") or {}).get("labels") or {}).get(sets.SET_LABEL) == owner
    ]


def not_ready(dep: Manifest | None) -> str:
    """Why `dep` is not Synced and Healthy at its current revision ("" when it is): for displays."""
    return _not_ready(dep, None, "")


def _not_ready(dep: Manifest | None, source: apps.Source | None, sha: str) -> str:
    """Why `dep` is not Synced and Healthy at its current revision ("" when it is)."""
    if dep is None:
        return "not found"
    meta, status = dep.get("metadata") or {}, dep.get("status") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    if meta.get("deletionTimestamp"):
        return "is being deleted"
    if status.get("observedGeneration") != meta.get("generation"):
        return "has not reconciled its current spec yet"
    if sync.get("status") != "Synced" or health.get("status") != "Healthy":
        return f"is {sync.get('status') or 'Unknown'} and {health.get('status') or 'Unknown'}"
    revision = str(sync.get("revision") or "")
    attempted = str(status.get("lastAttemptedRevision") or revision)
    if attempted != revision:
        return f"has not deployed its newest revision {apps.short_revision(attempted)}"
    if source is None:
        return ""
    dep_source = (dep.get("spec") or {}).get("source") or {}
    same = dep_source.get("repoURL") == source.repo_url and (dep_source.get("targetRevision") or "HEAD") == (
        source.target_revision
    )
    if same and revision != sha:
        return f"is at {apps.short_revision(revision)}, {NOT_AT} {apps.short_revision(sha)}"
    return ""


def _cycle(start: tuple[str, str], store: Store) -> list[tuple[str, str]]:
    """The dependency cycle through `start` (dependsOn edges), or []."""
    path: list[tuple[str, str]] = []
    on_path: set[tuple[str, str]] = set()
    done: set[tuple[str, str]] = set()

    def visit(key: tuple[str, str]) -> bool:
        if len(done) > MAX_WALK:
            return False
        path.append(key)
        on_path.add(key)
        for nxt in _edges(key, store):
            if nxt == start:
                return True
            if nxt not in on_path and nxt not in done and visit(nxt):
                return True
        path.pop()
        on_path.discard(key)
        done.add(key)
        return False

    return path if visit(start) else []


def _edges(key: tuple[str, str], store: Store) -> list[tuple[str, str]]:
    app = store.get(_ref(*key))
    spec = (app or {}).get("spec") or {}
    found = []
    for dep in spec.get("dependsOn") or []:
        if isinstance(dep, dict) and isinstance(dep.get("name"), str):
            found.append((str(dep.get("namespace") or key[0]), dep["name"]))
    return found


async def report(
    writer: StatusWriter, recorder: kube_events.Recorder, p: Pass, revision: Revision, held: Hold
) -> float:
    """Write what the Application waits for (once per change); return when to look again."""
    if held.refetch:  # the dependency may be at a newer commit than this one has seen
        p.memory.refresh_requested = time.monotonic()
    old = p.app.get("status") or {}
    wanted = [
        conditions.Condition(conditions.READY, False, held.reason, held.message),
        conditions.Condition(conditions.RECONCILING, True, held.reason, held.message),
    ]
    now = reporting.now()
    status: dict[str, Any] = {
        "observedGeneration": p.app["metadata"].get("generation"),
        "conditions": conditions.apply(old.get("conditions"), wanted, now),
        "lastAttemptedRevision": revision.sha,
    }
    if not old.get("sync"):
        status["sync"] = {"status": "OutOfSync", "revision": revision.sha}
        status["health"] = {"status": "Missing", "message": held.message}
    refresh = (p.app["metadata"].get("annotations") or {}).get(apps.REFRESH)
    if refresh:
        status["lastHandledRefresh"] = refresh
    changed = {k: v for k, v in status.items() if old.get(k) != v}
    before = conditions.find(old.get("conditions"), conditions.READY) or {}
    if before.get("message") != held.message:
        await recorder.emit(p.app, "Normal", held.reason, held.message, revision=revision.sha)
    if before.get("message") != held.message or p.full or p.why.refresh:  # a completed re-check (SPEC §2)
        changed["reconciledAt"] = now
    if changed:
        await writer.patch(p.app, changed)
    if held.refetch:
        return REFETCH_RECHECK
    return HOLD_RECHECK if held.reason != "DependencyCycle" else max(HOLD_RECHECK, p.interval)


class Dependents:
    """Wakes the Applications that wait for one whose readiness changed (informer handler). Only
    Applications that can wait (with `dependsOn`, or a RollingSync step after the first) are looked
    at, so a fleet without dependencies costs nothing here."""

    def __init__(self, store: Callable[[], Store], wake: Callable[[str], None]) -> None:
        self.store = store
        self.wake = wake
        self._seen: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._waiters: set[tuple[str, str]] = set()

    def on_app(self, event: str, app: Manifest) -> None:
        meta = app.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if event == "DELETED":
            self._seen.pop(key, None)
            self._waiters.discard(key)
        else:
            signature = _signature(app)
            if self._seen.get(key) == signature:
                return
            self._seen[key] = signature
            if (app.get("spec") or {}).get("dependsOn") or _step(app) > 1:
                self._waiters.add(key)
            else:
                self._waiters.discard(key)
        owner, step = _owner(app), _step(app)
        store = self.store()
        for waiter in list(self._waiters):
            other = store.get(_ref(*waiter))
            if waiter == key or other is None:
                continue
            in_later_step = bool(owner) and 0 < step < _step(other) and waiter[0] == key[0] and _owner(other) == owner
            if in_later_step or key in _edges(waiter, store):
                self.wake(f"{waiter[0]}/{waiter[1]}")


def _signature(app: Manifest) -> tuple[Any, ...]:
    meta, status = app.get("metadata") or {}, app.get("status") or {}
    return (
        meta.get("generation"),
        status.get("observedGeneration"),
        (status.get("sync") or {}).get("status"),
        (status.get("sync") or {}).get("revision"),
        (status.get("health") or {}).get("status"),
        status.get("lastAttemptedRevision"),
        bool(meta.get("deletionTimestamp")),
        str((meta.get("annotations") or {}).get(sets.ROLLOUT_STEP)),
        repr((app.get("spec") or {}).get("dependsOn")),
    )


def _step(app: Manifest) -> int:
    raw = ((app.get("metadata") or {}).get("annotations") or {}).get(sets.ROLLOUT_STEP)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _owner(app: Manifest) -> str:
    return str(((app.get("metadata") or {}).get("labels") or {}).get(sets.SET_LABEL) or "")


def _name(app: Manifest) -> str:
    return str((app.get("metadata") or {}).get("name") or "")


def _ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef(apps.API_GROUP, "Application", namespace, name)
