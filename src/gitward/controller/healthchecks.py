"""CEL health checks (SPEC §13, `spec.healthChecks`; Flux's healthCheckExprs semantics).

For a live object whose group and kind has a check: `failed` true → Degraded; else `current` true →
Healthy; else `inProgress` true → Progressing; none true → Progressing. As in Flux, the object's
top-level fields are the expressions' variables (`status.phase == 'Ready'`); `object` is the whole
object too. A field that is not there yet (no such key) counts as false; any other failure, or an
expression over its bounds (`controller.celeval`), makes the health Unknown with the error as message.
Objects of other kinds keep their built-in health (`gitward.health`).

`assessor` builds the callable that `controller.reporting.resource_rows` uses to judge each live
object. It evaluates synchronously (a bounded wait: every evaluation must answer within the
evaluator's step timeout, and an expression over budget is not evaluated again), and remembers
each object's result per resourceVersion, so a status computation re-evaluates only what changed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from gitward import health
from gitward.controller import celeval
from gitward.core.applications import ApplicationSpec, HealthCheck
from gitward.core.manifests import Manifest, ObjectRef

__all__ = ["Assess", "assessor", "judge"]

Assess = Callable[[Manifest], health.Health]

STEP_TIMEOUT = 1.0
MAX_CACHED = 20_000

_evaluator: celeval.Evaluator | None = None
_cache: OrderedDict[tuple[str, ...], health.Health] = OrderedDict()


def evaluator() -> celeval.Evaluator:
    """The health checks' own evaluator (a worker of its own: policy checks never delay them)."""
    global _evaluator
    if _evaluator is None:
        _evaluator = celeval.Evaluator(step_timeout=STEP_TIMEOUT)
    return _evaluator


def _absent(result: celeval.Result) -> bool:
    """A failure only because a field is not there (yet): false, as Flux's checks read it."""
    return result.error.startswith("no such key")


def judge(check: HealthCheck, results: dict[str, celeval.Result]) -> health.Health:
    """The health that the results of `check`'s expressions (by field name) decide (pure)."""
    for field, status in (("failed", health.HealthStatus.Degraded), ("current", health.HealthStatus.Healthy)):
        result = results.get(field)
        if result is None or _absent(result):
            continue
        if result.error:
            return health.Health(health.HealthStatus.Unknown, f"health check {field}: {result.error}"[:400])
        if result.value:
            message = "" if status is health.HealthStatus.Healthy else f"health check failed: {check.failed[:200]}"
            return health.Health(status, message)
    result = results.get("inProgress")
    if result is not None and result.error and not _absent(result):
        return health.Health(health.HealthStatus.Unknown, f"health check inProgress: {result.error}"[:400])
    return health.Health(health.HealthStatus.Progressing, "health check: not current yet")


def assessor(spec: ApplicationSpec, cel: celeval.Evaluator | None = None) -> Assess:
    """The health of a live object: by the Application's CEL check for its kind, else built in."""
    if not spec.health_checks:
        return health.assess
    checks = spec.health_checks

    def assess(live: Manifest) -> health.Health:
        ref = ObjectRef.of(live)
        check = next((c for c in checks if c.kind == ref.kind and (c.group or "") == ref.group), None)
        if check is None:
            return health.assess(live)
        meta = live.get("metadata") or {}
        fields = {"failed": check.failed, "current": check.current, "inProgress": check.in_progress}
        fields = {name: expression for name, expression in fields.items() if expression}
        key = (str(meta.get("uid", "")), str(meta.get("resourceVersion", "")), *fields.values(), *fields)
        known = _cache.get(key)
        if known is not None:
            return known
        names = list(fields)
        results = (cel or evaluator()).run(
            list(fields.values()), [celeval.Item({**live, "object": live}, tuple(range(len(names))))]
        )
        decided = judge(check, dict(zip(names, results[0], strict=True)))
        _cache[key] = decided
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
        return decided

    return assess
