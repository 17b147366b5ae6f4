"""Policies and CEL health checks with plain data: matching, evaluation in the bounded worker, cost
bounds against a hostile expression, and Flux's health-check semantics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from gitward import health
from gitward.controller import celeval, healthchecks, reporting
from gitward.controller.policies import PolicySpec, Violation, matches, violations_message
from gitward.controller.syncing import SyncOutcome
from gitward.core.applications import ApplicationSpec, HealthCheck
from gitward.core.manifests import ObjectRef


@pytest.fixture(scope="module")
def cel() -> Iterator[celeval.Evaluator]:
    evaluator = celeval.Evaluator(step_timeout=1.0)
    yield evaluator
    evaluator.close()


def deployment(name: str, image: str, namespace: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}},
    }


def spec(**match: Any) -> PolicySpec:
    return PolicySpec.model_validate({"match": match, "validations": [{"expression": "true"}]})


# ---------------------------------------------------------------------------------------------- matching

DEPLOYMENT = ObjectRef("apps", "Deployment", "team-a", "web")
NAMESPACE = ObjectRef("", "Namespace", "", "team-a")


@pytest.mark.parametrize(
    ("match", "ref", "project", "expected"),
    [
        ({}, DEPLOYMENT, "default", True),
        ({}, NAMESPACE, "default", True),
        ({"kinds": [{"group": "apps", "kind": "Deployment"}]}, DEPLOYMENT, "default", True),
        ({"kinds": [{"kind": "Deployment"}]}, DEPLOYMENT, "default", False),  # the core group only
        ({"kinds": [{"group": "*", "kind": "*"}]}, DEPLOYMENT, "default", True),
        ({"kinds": [{"group": "apps", "kind": "StatefulSet"}]}, DEPLOYMENT, "default", False),
        ({"projects": ["team-*"]}, DEPLOYMENT, "team-x", True),
        ({"projects": ["team-*"]}, DEPLOYMENT, "default", False),
        ({"namespaces": ["team-?"]}, DEPLOYMENT, "default", True),
        ({"namespaces": ["prod-*"]}, DEPLOYMENT, "default", False),
        ({"namespaces": ["*"]}, NAMESPACE, "default", False),  # cluster-scoped: only an empty list matches
    ],
)
def test_matching(match: dict[str, Any], ref: ObjectRef, project: str, expected: bool) -> None:
    assert matches(spec(**match), ref, project, cluster_scoped=not ref.namespace) is expected


@pytest.mark.parametrize(
    "bad",
    [
        {"validations": []},
        {"validations": [{"expression": ""}]},
        {"validations": [{"expression": "x" * 4097}]},
        {"validations": [{"expression": "true"}], "action": "Allow"},
        {"validations": [{"expression": "true"}], "match": {"kinds": [{"group": "Apps!", "kind": "X"}]}},
        {"validations": [{"expression": "true"}], "match": {"projects": ["a\nb"]}},
    ],
)
def test_invalid_policy_specs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        PolicySpec.model_validate(bad)


def test_refusal_message_names_object_policy_and_message_and_counts_the_rest() -> None:
    violations = [Violation("no-latest", "Deny", DEPLOYMENT, f"pin images {i}") for i in range(5)]
    message = violations_message(violations)
    assert message.startswith("Deployment/team-a/web violates Policy no-latest: pin images 0")
    assert "pin images 2" in message and "pin images 3" not in message
    assert message.endswith("(and 2 more)")


# ---------------------------------------------------------------------------------------------- evaluation


def test_evaluation_over_object_and_old_object(cel: celeval.Evaluator) -> None:
    expressions = [
        "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
        "oldObject == null || oldObject.metadata.name == object.metadata.name",
        "object.spec.replicas > 1",  # no such field: an error, not a pass
        "object.metadata.name",  # not a bool
    ]
    items = [
        celeval.Item({"object": deployment("a", "nginx:1.25"), "oldObject": None}, (0, 1, 2, 3)),
        celeval.Item({"object": deployment("b", "nginx:latest"), "oldObject": deployment("c", "x")}, (0, 1)),
    ]
    first, second = cel.run(expressions, items)
    assert [r.value for r in first[:2]] == [True, True]
    assert "no such key" in first[2].error and not first[2].compile_error
    assert "must evaluate to a bool" in first[3].error
    assert [r.value for r in second] == [False, False] and not any(r.error for r in second)


def test_compile_errors_and_refused_texts(cel: celeval.Evaluator) -> None:
    errors = cel.compile_errors(["object.data.size( >", "true", "(" * 40 + "1" + ")" * 40, "true\x00"])
    assert errors[0] is not None and "Syntax error" in errors[0]
    assert errors[1] is None
    assert errors[2] == f"expression nests brackets deeper than {celeval.MAX_NESTING}"
    assert errors[3] == "expression contains control characters"
    assert celeval.expression_problem("x" * (celeval.MAX_EXPRESSION + 1)) is not None


def test_a_thousand_objects_in_one_batch(cel: celeval.Evaluator) -> None:
    expressions = ["object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))"]
    items = [celeval.Item({"object": deployment(f"d{i}", f"nginx:1.{i}")}, (0,)) for i in range(1000)]
    results = cel.run(expressions, items)
    assert all(r[0].value is True and not r[0].error for r in results)


def test_a_hostile_expression_is_stopped_and_blocked_and_others_still_answer() -> None:
    cel = celeval.Evaluator(step_timeout=0.5)
    try:
        # under the library's iteration budget, each of 8,100 steps builds a 1 MB string: minutes
        x100 = "'" + "x" * 100 + "'"
        megabyte = f"{x100}.replace('x', {x100}).replace('x', {x100})"
        items = "[" + ",".join(str(i) for i in range(90)) + "]"
        hostile = f"{items}.all(a, {items}.all(b, size({megabyte}) > 0))"
        batch = [celeval.Item({"object": {"n": i}}, (0, 1)) for i in range(3)]
        started = time.monotonic()
        results = cel.run([hostile, "object.n >= 0"], batch)
        elapsed = time.monotonic() - started
        assert all("exceeded its time bound" in r[0].error for r in results)
        assert all(r[1].value is True for r in results)
        assert elapsed < 60  # bounded: the hostile expression alone would run for minutes
        assert hostile in cel.blocked
        again = cel.run([hostile], [celeval.Item({"object": {}}, (0,))])  # not evaluated again
        assert "exceeded its time bound" in again[0][0].error
    finally:
        cel.close()


def test_a_comprehension_past_the_iteration_budget_is_an_error_at_once(cel: celeval.Evaluator) -> None:
    items = "[" + ",".join(str(i) for i in range(300)) + "]"
    endless = f"{items}.all(a, {items}.all(b, {items}.all(c, a + b + c >= 0)))"
    [[result]] = cel.run([endless], [celeval.Item({"object": {}}, (0,))])
    assert result.error == "Iteration budget exceeded" and not result.bounded and endless not in cel.blocked


def test_declared_variables_are_checked_when_compiling() -> None:
    cel = celeval.Evaluator(declared=("object", "oldObject"))
    try:
        errors = cel.compile_errors(["objet.spec.replicas > 1", "object.spec.replicas > 1 && oldObject == null"])
        assert errors[0] is not None and errors[0] == "at 1:11: undeclared reference to 'objet.spec.replicas'"
        assert errors[1] is None
    finally:
        cel.close()


def test_the_documented_extensions_are_there(cel: celeval.Evaluator) -> None:
    expressions = [
        "object.csv.split(',').size() == 2 && object.name.lowerAscii() == 'web'",
        "object.?spec.?replicas.orValue(1) == 1",
        "math.greatest(1, object.n) == object.n",
        "base64.decode('aGk=') == b'hi'",
        "object.name.matches('^[A-Z][a-z]+$')",
    ]
    [results] = cel.run(expressions, [celeval.Item({"object": {"csv": "a,b", "name": "Web", "n": 5}}, (0, 1, 2, 3, 4))])
    assert [(r.value, r.error) for r in results] == [(True, "")] * 5


def test_one_failing_expression_of_an_item_does_not_fail_the_others(cel: celeval.Evaluator) -> None:
    expressions = ["object.a == 1", "object.missing == 1", "1 / object.zero == 1", "object.b.lowerAscii() == 'x'"]
    [results] = cel.run(expressions, [celeval.Item({"object": {"a": 1, "zero": 0, "b": "X"}}, (0, 1, 2, 3))])
    assert [(r.value, r.error) for r in results] == [
        (True, ""),
        (False, "no such key: missing"),
        (False, "divide by zero"),
        (True, ""),
    ]


# ---------------------------------------------------------------------------------------------- health checks

CHECK = HealthCheck.model_validate(
    {
        "group": "example.com",
        "kind": "Widget",
        "current": "status.phase == 'Ready'",
        "inProgress": "status.phase == 'Pending'",
        "failed": "status.phase == 'Broken'",
    }
)


def widget(phase: str | None, rv: str = "1") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "ns", "uid": "u1", "resourceVersion": rv},
    }
    if phase is not None:
        obj["status"] = {"phase": phase}
    return obj


def r(value: bool = False, error: str = "") -> celeval.Result:
    return celeval.Result(value=value, error=error)


def test_judge_checks_failed_first_then_current_then_in_progress() -> None:
    assert healthchecks.judge(CHECK, {"failed": r(True), "current": r(True)}).status is health.HealthStatus.Degraded
    assert healthchecks.judge(CHECK, {"failed": r(), "current": r(True)}).status is health.HealthStatus.Healthy
    progressing = healthchecks.judge(CHECK, {"failed": r(), "current": r(), "inProgress": r(True)})
    assert progressing.status is health.HealthStatus.Progressing
    assert healthchecks.judge(CHECK, {"current": r()}).status is health.HealthStatus.Progressing
    unknown = healthchecks.judge(CHECK, {"failed": r(error="division by zero"), "current": r(True)})
    assert unknown.status is health.HealthStatus.Unknown and "division by zero" in unknown.message
    # a field that is not there yet counts as false
    absent = healthchecks.judge(CHECK, {"failed": r(error="no such key: status"), "current": r(True)})
    assert absent.status is health.HealthStatus.Healthy


def test_assessor_uses_the_check_for_its_kind_only(cel: celeval.Evaluator) -> None:
    app = ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://git.example.com/x.git"}, "healthChecks": [CHECK.model_dump(by_alias=True)]}
    )
    assess = healthchecks.assessor(app, cel)
    assert assess(widget("Ready", "1")).status is health.HealthStatus.Healthy
    assert assess(widget("Broken", "2")).status is health.HealthStatus.Degraded
    assert assess(widget("Pending", "3")).status is health.HealthStatus.Progressing
    assert assess(widget(None, "4")).status is health.HealthStatus.Progressing  # no status yet
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}
    assert assess(other) == health.assess(other)


def test_resource_rows_judge_health_with_the_callable_passed_in() -> None:
    desired = [widget("Ready")]
    degraded = health.Health(health.HealthStatus.Degraded, "by the check")
    rows, worst = reporting.resource_rows(desired, SyncOutcome(), lambda ref: widget("Ready"), lambda live: degraded)
    assert rows[0]["health"] == {"status": "Degraded", "message": "by the check"}
    assert worst.status is health.HealthStatus.Degraded
    _, builtin = reporting.resource_rows(desired, SyncOutcome(), lambda ref: widget("Ready"))
    assert builtin.status is health.HealthStatus.Healthy
