"""What a CEL expression reads of its variables, the projections, and the verdicts remembered
(`controller.celprojection`), with plain data; and that a projection never changes a result (the CEL
library evaluates the same expressions over whole and projected objects, in process)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cel_expr_python import cel
from cel_expr_python.ext.ext_optional import ExtOptional

from gitward.controller import celeval
from gitward.controller.celprojection import EACH, Verdicts, digest, encode, paths, project, tree


def deployment(image: str = "web:v1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web", "team": "shop"}},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 80}]}]}},
            **spec,
        },
    }


def test_member_chains_stop_before_methods_and_macros() -> None:
    assert paths("object.spec.replicas <= 10", "object") == {("spec", "replicas")}
    assert paths("object.metadata.name.startsWith('a') && object . kind == 'X'", "object") == {
        ("metadata", "name"),
        ("kind",),
    }
    assert paths("object.metadata.labels.exists(k, k == 'team')", "object") == {("metadata", "labels")}
    assert paths("true", "object") == frozenset()  # not read at all


def test_a_one_variable_macro_over_a_list_keeps_only_what_its_body_reads_of_each_element() -> None:
    found = paths("object.spec.containers.all(c, c.image.endsWith(':v1') && has(c.ports))", "object")
    assert found == {("spec", "containers", EACH, "image"), ("spec", "containers", EACH, "ports")}
    assert paths("object.spec.containers.all(c, true)", "object") == {("spec", "containers", EACH)}


@pytest.mark.parametrize(
    "expression",
    [
        "object['spec'].replicas > 1",  # an index
        "size(object) > 2",  # a bare use
        "object.?spec.orValue({}) != {}",  # an optional field
        "object.spec.containers.all(c, c == {})",  # the element used whole: the chain stays whole
        "object.spec.containers.all(object, object.image != '')",  # the name bound again: all of it
    ],
)
def test_anything_the_scan_does_not_understand_keeps_more(expression: str) -> None:
    found = paths(expression, "object")
    assert found is None or all(EACH not in chain or chain[-1] == EACH for chain in found)


def test_a_two_variable_macro_keeps_the_list_whole() -> None:
    assert paths("object.spec.containers.all(i, c, c.image != '')", "object") == {("spec", "containers")}


def test_projection_keeps_the_wanted_subtrees_and_missing_stays_missing() -> None:
    obj = deployment()
    wanted = tree(frozenset({("spec", "replicas"), ("spec", "paused"), ("metadata", "labels")}))
    assert project(obj, wanted) == {"spec": {"replicas": 3}, "metadata": {"labels": {"app": "web", "team": "shop"}}}
    each = tree(frozenset({("spec", "template", "spec", "containers", EACH, "image")}))
    assert project(obj, each) == {"spec": {"template": {"spec": {"containers": [{"image": "web:v1"}]}}}}
    assert project(obj, None) is obj
    assert project({"spec": "not a map"}, wanted) == {"spec": "not a map"}  # a scalar is kept as it is
    assert project({"metadata": {"labels": {"a": "b"}}}, tree(frozenset({("metadata", "labels", EACH)}))) == {
        "metadata": {"labels": {"a": "b"}}  # a map walked by a macro: whole
    }
    assert tree(frozenset({("spec",), ("spec", "replicas")})) == {"spec": None}  # a prefix wins


EXPRESSIONS = [
    "object.spec.replicas <= 10",
    "has(object.spec.paused)",
    "object.spec.paused == true",  # no such key on both
    "object.metadata.labels.exists(k, k == 'team')",
    "'team' in object.metadata.labels && object.metadata.labels.team == 'shop'",
    "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
    "object.spec.template.spec.containers.exists(c, has(c.ports) && c.ports.all(p, p.containerPort < 1024))",
    "object.spec.template.spec.containers.map(c, c.name).size() == 1",
    "size(object.metadata) > 1 && object.kind == 'Deployment'",
    "object['spec']['replicas'] == 3",
    "oldObject == null || oldObject.spec.replicas == object.spec.replicas",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize(
    "obj",
    [deployment(), deployment("web:latest", paused=True, replicas=20), {"kind": "Deployment", "metadata": {}}],
)
def test_a_projection_never_changes_the_result(expression: str, obj: dict[str, Any]) -> None:
    env = cel.NewEnv(variables={"object": cel.Type.DYN, "oldObject": cel.Type.DYN}, extensions=[ExtOptional()])

    def outcome(variables: dict[str, Any]) -> Any:
        value = env.compile(expression).eval(data=variables)
        return value.type().name(), value.plain_value()

    whole = {"object": obj, "oldObject": deployment()}
    projected = {name: project(value, tree(paths(expression, name))) for name, value in whole.items()}
    assert outcome(projected) == outcome(whole)


def test_the_scan_stays_linear_on_a_hostile_expression() -> None:
    expression = " && ".join(["object.a.all(c, c.b.all(d, d.e.all(f, f.g.all(h, h.x))))"] * 60)
    assert celeval.expression_problem(expression) is None
    assert paths(expression, "object") == {("a", EACH, "b", EACH, "e", EACH, "g", EACH, "x")}


def test_digests_tell_contents_apart() -> None:
    assert digest({"object": deployment()}) == digest({"object": deployment()})
    assert digest({"object": deployment()}) != digest({"object": deployment("web:v2")})
    assert digest({"object": {"a": "1"}}) != digest({"object": {"a": 1}})
    assert digest({"object": {"a": None}}) != digest({"object": {}})


def test_an_encoding_is_what_the_worker_reads_and_says_what_json_cannot_as_text() -> None:
    when = datetime.datetime(2026, 12, 3, 8, 0, tzinfo=datetime.UTC)
    assert (
        encode({"object": {"a": [1, "x\n"], "t": when}})
        == b'{"object":{"a":[1,"x\\n"],"t":"2026-12-03 08:00:00+00:00"}}'
    )


def test_verdicts_remember_the_last_ones_used() -> None:
    verdicts: Verdicts[str] = Verdicts(limit=2)
    verdicts.put("e", "a", "yes")
    verdicts.put("e", "b", "no")
    assert verdicts.get("e", "a") == "yes"  # now the most recent
    verdicts.put("f", "a", "maybe")
    assert (verdicts.get("e", "b"), verdicts.get("e", "a"), verdicts.get("f", "a")) == (None, "yes", "maybe")
    assert len(verdicts) == 2


def test_the_evaluator_answers_each_projection_once_and_remembers_it() -> None:
    evaluator = celeval.Evaluator(step_timeout=5.0)
    try:
        rules = ["object.spec.replicas <= 10", "object.spec.template.spec.containers.all(c, c.image != 'bad')"]
        same = [celeval.Item({"object": deployment(), "oldObject": None}, (0, 1)) for _ in range(3)]
        other = celeval.Item({"object": deployment("bad", replicas=11), "oldObject": None}, (1, 0))
        first = evaluator.run(rules, [*same, other])
        assert [[r.value for r in results] for results in first] == [[True, True]] * 3 + [[False, False]]
        assert len(evaluator.verdicts) == 4  # two projections × two rules
        again = evaluator.run(rules, [other])
        assert [r.value for r in again[0]] == [False, False] and len(evaluator.verdicts) == 4
    finally:
        evaluator.close()
