"""The rollout step machine (pure): spec + status + observations in, the next status and Events out.

Called by `controller.rollouts.reconciling` once per reconcile of a Rollout; everything a rollout
knows lives in its `status` (a plain dict, as the API server returns it), so a controller restarted
mid-rollout resumes from there and never promotes twice. The I/O side reads the world into an
`Observed`, calls `advance`, writes the status, then converges the world to `world(...)`.

A new pod template of the target (its revision, a hash) starts a rollout at step 0. `setWeight`
waits until the canary's pods are available (bounded by `progressDeadlineSeconds`), `pause` waits
for its duration or for promote, `analysis` waits for its measurements; a failure rolls back at
once. After the last step the primary gets the new template (`stableRevision`), and once it runs it
the rollout is Healthy and the history says Promoted.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from gitward.core import rollouts as ro

__all__ = ["MAX_HISTORY", "Notice", "Observed", "World", "advance", "analysis_entries", "world"]

MAX_HISTORY = 10
MAX_WEIGHTS = 50
"""`status.weights`: the canary weight each time it changed, newest last (the dashboard's chart)."""
MAX_MESSAGE = 1024

Status = dict[str, Any]


@dataclass(frozen=True)
class Observed:
    """What the controller saw of the world, and what was asked for, at `now`."""

    now: dt.datetime
    target_revision: str | None  # hash of the target's pod template; None: the target is missing
    canary_ready: bool = False  # the target has the replicas `world` wants for it, all available
    primary_ready: bool = False  # the primary runs `stableRevision`, all replicas available
    primary_revision: str | None = None  # the revision the primary runs ("" no primary; None: not observed)
    requested: frozenset[str] = frozenset()  # operations asked for (keys of `rollouts.OPERATIONS`)
    operations: dict[str, str] = field(default_factory=dict)  # the annotations' values, to remember
    templates: dict[str, ro.AnalysisTemplateSpec | str] = field(default_factory=dict)  # name → spec or error


@dataclass(frozen=True)
class Notice:
    """A Kubernetes Event to record about the Rollout."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class World:
    """What the objects around the Rollout should look like for a status."""

    weight: int  # percent of traffic to the canary (Gateway API)
    canary_replicas: int  # replicas of the target Deployment
    apex: Literal["primary", "canary", "both"] = "primary"  # whose pods the Service `<service>` selects


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def canary_replicas(spec: ro.RolloutSpec, weight: int, primary_replicas: int) -> int:
    """Replica-based traffic: the canary gets ceil(weight% of the primary's replicas)."""
    if weight <= 0:
        return 0
    return max(1, math.ceil(primary_replicas * weight / 100))


def world(spec: ro.RolloutSpec, status: Status, primary_replicas: int, now: dt.datetime) -> World:
    """The weight, canary size and Service target that `status` stands for."""
    phase = status.get("phase")
    weight = int(status.get("canaryWeight") or 0)
    running = phase in ("Progressing", "Paused")
    blue_green = spec.strategy.blue_green is not None
    scale_down_at = parse_stamp(status.get("scaleDownAt"))
    if running and blue_green:
        promoting = status.get("currentStep", 0) >= len(spec.steps())
        return World(0, primary_replicas, "canary" if promoting else "primary")  # the blue-green switch
    if running:
        routed = spec.strategy.canary is not None and spec.strategy.canary.traffic_routing is not None
        replicas = canary_replicas(spec, weight, primary_replicas)
        # without traffic routing, clients of `<service>` reach both versions: traffic follows replicas
        return World(weight, replicas, "primary" if routed or replicas == 0 else "both")
    if scale_down_at is not None and now < scale_down_at:
        return World(0, primary_replicas)
    return World(0, 0)


def advance(spec: ro.RolloutSpec, status: Status, seen: Observed) -> tuple[Status, list[Notice]]:
    """The next status, and the Events of the transitions made; a changed canary weight is recorded
    in `status.weights` ({at, weight, revision}, the last MAX_WEIGHTS)."""
    new, notices = _advance(spec, status, seen)
    before, after = int(status.get("canaryWeight") or 0), int(new.get("canaryWeight") or 0)
    if before != after:
        entry = {"at": stamp(seen.now), "weight": after, "revision": str(new.get("canaryRevision") or "")}
        new["weights"] = [*list(new.get("weights") or [])[-(MAX_WEIGHTS - 1) :], entry]
    return new, notices


def _advance(spec: ro.RolloutSpec, status: Status, seen: Observed) -> tuple[Status, list[Notice]]:
    new: Status = copy.deepcopy(status)
    notices: list[Notice] = []
    requested = set(seen.requested)
    new["operations"] = dict(seen.operations)
    revision = seen.target_revision
    if revision is None:
        new["message"] = f"Deployment/{spec.target_ref.name}: not found"
        new.setdefault("phase", "Degraded")
        return new, notices
    stable = new.get("stableRevision")
    if not stable:  # first sight: the target becomes the primary
        _settle(new, revision, f"initialized: primary runs revision {revision}")
        new["stableRevision"] = revision
        notices.append(
            Notice("Normal", "Initialized", f"Deployment/{spec.primary_name} created from revision {revision}")
        )
        return new, notices
    phase = new.get("phase")
    running = phase in ("Progressing", "Paused")
    stranded = _stranded(new, revision, seen)
    if stranded:  # the stable template left the target before the primary got it: it can never get it
        stable = new["stableRevision"] = seen.primary_revision or stable  # the primary keeps what it runs
        new["message"] = f"revision {revision} arrived before Deployment/{spec.primary_name} ran the stable template"
    if running and revision != new.get("canaryRevision") and (stranded or not _promoting(spec, new)):
        if revision == stable:
            _end(
                new,
                "Aborted",
                str(new.get("canaryRevision")),
                f"revision {new.get('canaryRevision')} left the target",
                notices,
                seen.now,
            )
            return new, notices
        _start(spec, new, revision, seen, notices, restarted=True)
        return new, notices
    if not running:
        if revision == stable:
            if phase != "Healthy" or new.get("failedRevision"):
                _settle(new, revision, f"revision {revision} is stable")
            return new, notices
        if revision == new.get("failedRevision") and "retry" not in requested:
            new["phase"] = "Degraded"
            return new, notices
        _start(spec, new, revision, seen, notices, restarted=False)
        return new, notices
    if "abort" in requested:
        _end(new, "Aborted", revision, "aborted by request", notices, seen.now)
        return new, notices
    return _progress(spec, new, seen, requested, notices)


def _progress(
    spec: ro.RolloutSpec, new: Status, seen: Observed, requested: set[str], notices: list[Notice]
) -> tuple[Status, list[Notice]]:
    steps = spec.steps()
    revision = str(new["canaryRevision"])
    failure = _failed_analysis(new, revision)
    if failure:
        _end(new, "RolledBack", revision, f"analysis failed: {failure}", notices, seen.now)
        return new, notices
    if "promoteFull" in requested and not _promoting(spec, new):
        _enter(spec, new, len(steps), seen, notices)
        notices.append(Notice("Normal", "PromotedFull", f"revision {revision}: promotion requested, steps skipped"))
    for _ in range(len(steps) + 2):  # move through every step that is already done, in one pass
        index = int(new.get("currentStep") or 0)
        if index >= len(steps):
            return _promote(spec, new, seen, notices)
        done, problem = _step_done(spec, steps[index], index, new, seen, requested)
        if problem:
            _end(new, "RolledBack", revision, problem, notices, seen.now)
            return new, notices
        if not done:
            return new, notices
        requested.discard("promote")
        _enter(spec, new, index + 1, seen, notices)
        if index + 1 < len(steps) and steps[index + 1].set_weight is not None:
            return new, notices  # the canary's readiness at the new weight is observed next time
    return new, notices


def _step_done(
    spec: ro.RolloutSpec, step: ro.Step, index: int, new: Status, seen: Observed, requested: set[str]
) -> tuple[bool, str]:
    """Whether the current step is complete, and why the rollout must roll back instead."""
    started = parse_stamp(new.get("stepStartedAt")) or seen.now
    waited = (seen.now - started).total_seconds()
    if "promote" in requested:
        return True, ""
    if step.set_weight is not None:
        if seen.canary_ready:
            return True, ""
        if waited > spec.progress_deadline_seconds:
            return (
                False,
                f"progress deadline exceeded: the canary was not available within {spec.progress_deadline_seconds}s",
            )
        return False, ""
    if step.pause is not None:
        duration = ro.seconds(step.pause.duration)
        new["phase"] = "Paused" if duration is None else "Progressing"
        if duration is None:
            new["message"] = f"step {index}: paused until promoted"
            return False, ""
        return waited >= duration, ""
    source = f"step-{index}"
    entries = [
        a for a in new.get("analysis") or [] if a.get("source") == source and a.get("revision") == new["canaryRevision"]
    ]
    return bool(entries) and all(a.get("phase") == "Successful" for a in entries), ""


def _enter(spec: ro.RolloutSpec, new: Status, index: int, seen: Observed, notices: list[Notice]) -> None:
    steps = spec.steps()
    new["currentStep"] = index
    new["stepStartedAt"] = stamp(seen.now)
    new["phase"] = "Progressing"
    revision = str(new["canaryRevision"])
    if index >= len(steps):
        new["message"] = f"promoting revision {revision}"
        return
    step = steps[index]
    if step.set_weight is not None:
        new["canaryWeight"] = step.set_weight
        new["message"] = f"step {index}: weight {step.set_weight}"
    elif step.pause is not None:
        new["message"] = f"step {index}: pause {step.pause.duration or 'until promoted'}"
        if step.pause.duration is None:
            new["phase"] = "Paused"
            notices.append(Notice("Normal", "Paused", f"revision {revision}: step {index} waits for promote"))
    elif step.analysis is not None:
        new["message"] = f"step {index}: analysis"
        problem = _add_analysis(new, step.analysis, f"step-{index}", revision, seen)
        if problem:
            new["message"] = problem


def _promote(spec: ro.RolloutSpec, new: Status, seen: Observed, notices: list[Notice]) -> tuple[Status, list[Notice]]:
    """After the last step: the primary gets the new template; once it runs it, Healthy."""
    revision = str(new["canaryRevision"])
    if new.get("stableRevision") != revision:
        new["stableRevision"] = revision
        new["message"] = f"promoting revision {revision}: updating Deployment/{spec.primary_name}"
        notices.append(
            Notice(
                "Normal", "Promoting", f"revision {revision}: copying the template to Deployment/{spec.primary_name}"
            )
        )
        return new, notices
    if not seen.primary_ready:
        return new, notices
    bg = spec.strategy.blue_green
    if bg is not None and bg.scale_down_delay_seconds > 0:
        new["scaleDownAt"] = stamp(seen.now + dt.timedelta(seconds=bg.scale_down_delay_seconds))
    _history(new, revision, "Promoted", "all steps passed", seen.now)
    _settle(new, revision, f"revision {revision} promoted")
    notices.append(Notice("Normal", "Promoted", f"revision {revision} promoted to Deployment/{spec.primary_name}"))
    return new, notices


def _stranded(new: Status, revision: str, seen: Observed) -> bool:
    """The target runs another template than `stableRevision` while the primary does not run it yet:
    the stable template (copied only from the target) can no longer reach the primary, so waiting for
    the primary to run it would stall. The newest template becomes the canary instead, against the
    template the primary does run (Flagger restarts the analysis on a new revision)."""
    return seen.primary_revision is not None and new.get("stableRevision") not in (revision, seen.primary_revision)


def _promoting(spec: ro.RolloutSpec, new: Status) -> bool:
    return int(new.get("currentStep") or 0) >= len(spec.steps()) and new.get("stableRevision") == new.get(
        "canaryRevision"
    )


def _start(
    spec: ro.RolloutSpec, new: Status, revision: str, seen: Observed, notices: list[Notice], *, restarted: bool
) -> None:
    new["canaryRevision"] = revision
    new["canaryWeight"] = 0
    new["failedRevision"] = ""
    new["rolloutStartedAt"] = stamp(seen.now)
    new.pop("scaleDownAt", None)
    new["analysis"] = [a for a in new.get("analysis") or [] if a.get("phase") != "Running"][-ro.MAX_METRICS :]
    why = "restarted with the newest template" if restarted else "started"
    notices.append(
        Notice("Normal", "RolloutStarted", f"revision {revision}: rollout {why} (stable {new.get('stableRevision')})")
    )
    if spec.analysis is not None and spec.strategy.canary is not None:
        problem = _add_analysis(new, spec.analysis, "background", revision, seen)
        if problem:
            new["message"] = problem
    _enter(spec, new, 0, seen, notices)


def _end(new: Status, result: str, revision: str, why: str, notices: list[Notice], now: dt.datetime) -> None:
    """Roll back at once: weight 0, the primary untouched, Degraded until a new revision."""
    new["phase"] = "Degraded"
    new["canaryWeight"] = 0
    new["failedRevision"] = revision
    new["message"] = f"revision {revision} {'rolled back' if result == 'RolledBack' else 'aborted'}: {why}"[
        :MAX_MESSAGE
    ]
    new["currentStep"] = 0
    for entry in new.get("analysis") or []:
        if entry.get("phase") == "Running":
            entry["phase"] = "Inconclusive"
            entry["message"] = "stopped: the rollout ended"
    _history(new, revision, result, why, now)
    notices.append(Notice("Warning", "RolledBack" if result == "RolledBack" else "Aborted", new["message"]))


def _settle(new: Status, revision: str, message: str) -> None:
    new.update({"phase": "Healthy", "canaryWeight": 0, "currentStep": 0, "message": message, "failedRevision": ""})
    new["stableRevision"] = revision
    new["canaryRevision"] = revision


def _history(new: Status, revision: str, result: str, message: str, at: dt.datetime) -> None:
    entry = {"revision": revision, "result": result, "at": stamp(at), "message": message[:MAX_MESSAGE]}
    new["history"] = [*(new.get("history") or []), entry][-MAX_HISTORY:]


def _failed_analysis(new: Status, revision: str) -> str:
    for entry in new.get("analysis") or []:
        if entry.get("revision") == revision and entry.get("phase") == "Failed":
            return f"{entry.get('template')}/{entry.get('metric')}: {entry.get('message', '')}"
    return ""


def analysis_entries(
    ref: ro.AnalysisRef, source: str, revision: str, seen: Observed
) -> tuple[list[dict[str, Any]], str]:
    """Running entries for every metric of the referenced templates, or why they cannot run."""
    entries = []
    for template in ref.templates:
        spec = seen.templates.get(template.name)
        if spec is None:
            return [], f"AnalysisTemplate/{template.name}: not found"
        if isinstance(spec, str):
            return [], f"AnalysisTemplate/{template.name}: {spec}"
        for metric in spec.metrics:
            entries.append(
                {
                    "template": template.name,
                    "metric": metric.name,
                    "phase": "Running",
                    "value": "",
                    "measuredAt": "",
                    "message": "",
                    "source": source,
                    "revision": revision,
                    "measurements": 0,
                    "failures": 0,
                    "inconclusive": 0,
                }
            )
    return entries, ""


def _add_analysis(new: Status, ref: ro.AnalysisRef, source: str, revision: str, seen: Observed) -> str:
    entries, problem = analysis_entries(ref, source, revision, seen)
    if problem:  # a missing template fails the analysis (and so rolls back), with the reason
        entries = [
            {
                "template": t.name,
                "metric": "",
                "phase": "Failed",
                "value": "",
                "measuredAt": stamp(seen.now),
                "message": problem,
                "source": source,
                "revision": revision,
            }
            for t in ref.templates[:1]
        ]
    kept = [a for a in new.get("analysis") or [] if a.get("source") != source or a.get("revision") != revision]
    new["analysis"] = (kept + entries)[-(ro.MAX_METRICS * 4) :]
    return problem
