"""Policies as code (SPEC §13): CEL checks of every rendered object before anything is written.

A `Policy` lives in the controller namespace: `match` (kinds, project globs, namespace globs),
`validations` (a CEL `expression` over `object`, and `oldObject` — the live object, or null — with a
`message`) and an `action`. Called by the desired-state stage (`controller.desiring`) once the
Project's bounds passed: a violated `Deny` refuses the revision whole (ValidationError, reason
PolicyViolation, naming object, policy and message); `Warn` lets it sync and records a Warning Event
once per revision; `Audit` only counts. Every violation counts in
`gitward_policy_violations_total{policy,action}`.

An expression that does not compile is reported on its Policy (`status.conditions` Ready=False) and
skipped: it never blocks a sync. An expression that fails on an object (a missing field, a non-bool
result) or exceeds its bounds (`controller.celeval`) is a violation whose message says why: nothing
passes silently. Results are cached per Application, render and Policy generation, so drift and
health re-checks cost no evaluation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, Field

from gitward.controller import celeval, metrics
from gitward.controller.informers import Informer
from gitward.controller.kube_events import Recorder
from gitward.core.applications import API_VERSION, SpecModel
from gitward.core.errors import ValidationError
from gitward.core.identifiers import check
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient

__all__ = ["Policies", "PolicySpec", "Violation", "matches", "violations_message"]

log = get_logger(__name__)

MAX_MESSAGES = 3  # violations named in a refusal; the rest are counted
VARIABLES = ("object", "oldObject")
"""What a validation may read: a misspelt variable does not compile."""
Expression = Annotated[str, Field(min_length=1, max_length=celeval.MAX_EXPRESSION)]


def _grammar(name: str) -> AfterValidator:
    return AfterValidator(lambda value: check(name, value))


class KindMatch(SpecModel):
    group: Annotated[str, _grammar("group")] = ""
    kind: Annotated[str, _grammar("kind")]


class Match(SpecModel):
    kinds: tuple[KindMatch, ...] = Field(default=(), max_length=100)
    projects: tuple[Annotated[str, _grammar("glob")], ...] = Field(default=(), max_length=100)
    namespaces: tuple[Annotated[str, _grammar("glob")], ...] = Field(default=(), max_length=100)


class Validation(SpecModel):
    expression: Expression
    message: Annotated[str, Field(max_length=1024)] = ""


class PolicySpec(SpecModel):
    match: Match = Match()
    validations: tuple[Validation, ...] = Field(min_length=1, max_length=32)
    action: Literal["Deny", "Warn", "Audit"] = "Deny"


@dataclass(frozen=True)
class Violation:
    policy: str  # the Policy's name
    action: str
    ref: ObjectRef
    message: str

    def __str__(self) -> str:
        return f"{self.ref} violates Policy {self.policy}: {self.message}"


def matches(spec: PolicySpec, obj_ref: ObjectRef, project: str, cluster_scoped: bool) -> bool:
    """Whether the Policy applies to an object of `project` (kinds, projects and namespaces; an empty
    list matches everything, except that a cluster-scoped object matches only an empty namespaces list)."""
    match = spec.match
    if match.kinds and not any(
        fnmatch.fnmatchcase(obj_ref.group, k.group or "") and fnmatch.fnmatchcase(obj_ref.kind, k.kind)
        for k in match.kinds
    ):
        return False
    if match.projects and not any(fnmatch.fnmatchcase(project, glob) for glob in match.projects):
        return False
    if match.namespaces:
        if cluster_scoped:
            return False
        return any(fnmatch.fnmatchcase(obj_ref.namespace, glob) for glob in match.namespaces)
    return True


def violations_message(violations: Sequence[Violation]) -> str:
    shown = "; ".join(str(v) for v in violations[:MAX_MESSAGES])
    more = len(violations) - MAX_MESSAGES
    return shown + (f" (and {more} more)" if more > 0 else "")


@dataclass
class _Loaded:
    name: str
    generation: str
    spec: PolicySpec | None
    problem: str  # why the spec is unusable ("" when it is)
    compile_errors: tuple[str | None, ...] = ()  # per validation, once known


@dataclass
class _Cached:
    key: tuple[Any, ...]
    violations: list[Violation]


class Policies:
    """The Policies of the controller namespace, their compiled state, and the checks of revisions."""

    def __init__(
        self,
        client: KubeClient,
        informer: Informer,
        recorder: Recorder,
        evaluator: celeval.Evaluator | None = None,
    ) -> None:
        self.client = client
        self.informer = informer
        self.recorder = recorder
        self.evaluator = evaluator or celeval.Evaluator(declared=VARIABLES)
        self._loaded: dict[str, tuple[str, _Loaded]] = {}  # name → (resourceVersion, loaded)
        self._results: dict[str, _Cached] = {}  # Application key → last evaluation
        self._warned: dict[str, tuple[str, set[Violation]]] = {}  # Application key → (revision, warned)
        self._tasks: set[asyncio.Task[None]] = set()
        informer.handlers.append(self._on_policy)

    # ------------------------------------------------------------------ Policy objects

    def _on_policy(self, event: str, policy: Manifest) -> None:
        name = str((policy.get("metadata") or {}).get("name", ""))
        if event == "DELETED":
            self._loaded.pop(name, None)
            return
        task = asyncio.get_running_loop().create_task(self._report(policy), name=f"policy {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, policy: Manifest) -> _Loaded:
        """The Policy parsed and its expressions compiled, cached per resourceVersion."""
        meta = policy.get("metadata") or {}
        name, version = str(meta.get("name", "")), str(meta.get("resourceVersion", ""))
        known = self._loaded.get(name)
        if known is not None and known[0] == version:
            return known[1]
        generation = f"{meta.get('uid', '')}/{meta.get('generation', version)}"
        try:
            spec = PolicySpec.model_validate(policy.get("spec") or {})
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            loaded = _Loaded(name, generation, None, f"spec.{where}: {first.get('msg', 'invalid')}")
        else:
            expressions = [v.expression for v in spec.validations]
            errors = await asyncio.to_thread(self.evaluator.compile_errors, expressions)
            loaded = _Loaded(name, generation, spec, "", tuple(errors))
        self._loaded[name] = (version, loaded)
        return loaded

    async def _report(self, policy: Manifest) -> None:
        """Write the Policy's Ready condition when it changed (compile errors, invalid spec)."""
        loaded = await self._load(policy)
        problems = [loaded.problem] if loaded.problem else []
        problems += [f"validations[{i}].expression: {error}" for i, error in enumerate(loaded.compile_errors) if error]
        ready = {
            "type": "Ready",
            "status": "False" if problems else "True",
            "reason": ("InvalidSpec" if loaded.problem else "CompileError") if problems else "Compiled",
            "message": "; ".join(problems)[:1024] if problems else "every expression compiles",
        }
        meta = policy.get("metadata") or {}
        status = policy.get("status") or {}
        old = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        unchanged = old is not None and all(old.get(k) == v for k, v in ready.items())
        if unchanged and status.get("observedGeneration") == meta.get("generation"):
            return
        ready["lastTransitionTime"] = _now()
        if problems:
            log.warning("policy not usable", policy=loaded.name, problems=ready["message"])
        patch = {"status": {"observedGeneration": meta.get("generation"), "conditions": [ready]}}
        try:
            await self.client.patch(
                API_VERSION, "Policy", loaded.name, str(meta.get("namespace")), patch, subresource="status"
            )
        except kube_errors.KubeError as exc:
            log.warning("policy status not written", policy=loaded.name, error=exc.message)

    # ------------------------------------------------------------------ checks

    async def check(
        self,
        app: Manifest,
        project: str,
        revision: str,
        render_key: tuple[Any, ...],
        desired: list[Manifest],
        live_of: Callable[[ObjectRef], Manifest | None],
    ) -> None:
        """Check `desired` against every Policy; raise ValidationError (PolicyViolation) on a Deny."""
        meta = app.get("metadata") or {}
        app_key = f"{meta.get('namespace')}/{meta.get('name')}"
        loaded = [await self._load(p) for p in list(self.informer.store.values())]
        usable = [(p, p.spec) for p in loaded if p.spec is not None]
        pairs: list[tuple[int, _Loaded, int, Validation]] = []  # (object index, policy, validation index, ...)
        uses_live: list[int] = []
        for n, obj in enumerate(desired):
            ref = ObjectRef.of(obj)
            for policy, spec in usable:
                if not matches(spec, ref, project, cluster_scoped=not ref.namespace):
                    continue
                for i, validation in enumerate(spec.validations):
                    if policy.compile_errors and policy.compile_errors[i]:
                        continue  # reported on the Policy; never blocks
                    pairs.append((n, policy, i, validation))
                    if "oldObject" in validation.expression:
                        uses_live.append(n)
        live = {n: live_of(ObjectRef.of(desired[n])) for n in set(uses_live)}
        key = (
            render_key,
            project,
            tuple(sorted((p.name, p.generation) for p in loaded)),
            tuple(sorted((n, _rv(obj)) for n, obj in live.items())),
        )
        cached = self._results.get(app_key)
        if cached is not None and cached.key == key:
            violations = cached.violations
        else:
            violations = await self._evaluate(desired, pairs, live)
            self._results[app_key] = _Cached(key, violations)
            for v in violations:
                metrics.POLICY_VIOLATIONS.labels(v.policy, v.action).inc()
        await self._warn(app, app_key, revision, [v for v in violations if v.action == "Warn"])
        denied = [v for v in violations if v.action == "Deny"]
        if denied:
            raise ValidationError(violations_message(denied), reason="PolicyViolation")

    def forget(self, app_key: str) -> None:
        self._results.pop(app_key, None)
        self._warned.pop(app_key, None)

    async def _evaluate(
        self, desired: list[Manifest], pairs: list[tuple[int, _Loaded, int, Validation]], live: dict[int, Any]
    ) -> list[Violation]:
        if not pairs:
            return []
        expressions: list[str] = []
        index_of: dict[str, int] = {}
        runs: dict[int, list[int]] = {}
        for n, _, _, validation in pairs:
            index = index_of.setdefault(validation.expression, len(index_of))
            if index == len(expressions):
                expressions.append(validation.expression)
            runs.setdefault(n, []).append(index)
        objects = sorted(runs)
        items = [
            celeval.Item({"object": desired[n], "oldObject": live.get(n)}, tuple(dict.fromkeys(runs[n])))
            for n in objects
        ]
        results = await asyncio.to_thread(self.evaluator.run, expressions, items)
        by_pair = {
            (n, index): result
            for n, item, item_results in zip(objects, items, results, strict=True)
            for index, result in zip(item.run, item_results, strict=True)
        }
        violations: list[Violation] = []
        for n, policy, _, validation in pairs:
            result = by_pair[(n, index_of[validation.expression])]
            if result.value and not result.error:
                continue
            assert policy.spec is not None
            message = validation.message or f"failed {validation.expression[:200]}"
            if result.error:
                message = f"{message} (expression error: {result.error})"
            violations.append(Violation(policy.name, policy.spec.action, ObjectRef.of(desired[n]), message))
        return violations

    async def _warn(self, app: Manifest, app_key: str, revision: str, warnings: list[Violation]) -> None:
        """A Warning Event per new Warn violation, once per revision."""
        seen_revision, seen = self._warned.get(app_key, ("", set()))
        if seen_revision != revision:
            seen = set()
        fresh = [v for v in warnings if v not in seen]
        self._warned[app_key] = (revision, seen | set(fresh))
        for v in fresh:
            await self.recorder.emit(app, "Warning", "PolicyWarning", str(v))


def _rv(obj: Manifest | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion", ""))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
