"""The objects around a Rollout, built from plain data: the primary, the track labels, the route."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.controller.rollouts import objects
from gitward.core import rollouts as ro

SPEC = ro.RolloutSpec.model_validate(
    {"targetRef": {"name": "web"}, "service": {"name": "web", "port": 80}, "strategy": {"canary": {"steps": []}}}
)
ROLLOUT = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"}}


def target(**template_labels: str) -> dict[str, Any]:
    labels = {"app": "web", **template_labels}
    return {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"team": "a", "app.kubernetes.io/managed-by": "gitward"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "w:1"}]}},
        },
    }


def test_the_primary_copies_the_template_under_the_primary_track() -> None:
    primary = objects.primary(SPEC, ROLLOUT, target(), "abc", 3)
    assert primary["metadata"]["name"] == "web-primary"
    assert primary["metadata"]["labels"] == {"team": "a"}  # not the Application's object
    assert primary["spec"]["selector"]["matchLabels"] == {"app": "web", "gitward.dev/track": "primary"}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "web", "gitward.dev/track": "primary"}
    assert primary["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert primary["metadata"]["annotations"][ro.REVISION_ANNOTATION] == "abc"


def test_the_track_label_is_not_part_of_the_revision() -> None:
    assert objects.revision_of(target()) == objects.revision_of(target(**{"gitward.dev/track": "canary"}))
    changed = target()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "w:2"
    assert objects.revision_of(changed) != objects.revision_of(target())


def test_selectors_for_each_track() -> None:
    assert objects.selector_of(target()) == {"app": "web"}
    assert objects.canary_selector(target()) == {"app": "web", "gitward.dev/track": "canary"}
    assert objects.target_fields(ROLLOUT, target(), 2)["spec"] == {
        "replicas": 2,
        "template": {"metadata": {"labels": {"gitward.dev/track": "canary"}}},
    }


def test_match_expressions_are_refused() -> None:
    bad = target()
    bad["spec"]["selector"]["matchExpressions"] = [{"key": "app", "operator": "Exists"}]
    with pytest.raises(objects.RolloutObjectError, match="matchExpressions"):
        objects.selector_of(bad)


def test_route_rules_weight_only_the_first_rule() -> None:
    route = {
        "spec": {
            "rules": [
                {"matches": [{"path": {"value": "/"}}], "backendRefs": [{"name": "web", "port": 80}]},
                {"backendRefs": [{"name": "other", "port": 81}]},
            ]
        }
    }
    rules = objects.route_rules(route, SPEC, 30)
    assert rules is not None and rules[1] == {"backendRefs": [{"name": "other", "port": 81}]}
    assert rules[0]["matches"] == [{"path": {"value": "/"}}]
    weighted = {**route, "spec": {"rules": rules}}
    assert objects.route_weights(weighted) == {"web-primary": 70, "web-canary": 30}
    assert objects.route_rules(weighted, SPEC, 30) is None  # unchanged: no write
