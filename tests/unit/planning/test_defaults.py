"""planning.defaults: protocol defaults that server-side apply on older clusters needs."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.planning import defaults


def _deployment(ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": ports}]}}},
    }


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}, ("spec", "ports")),
        (_deployment([{"containerPort": 80}]), ("spec", "template", "spec", "containers")),
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "spec": {"initContainers": [{"name": "i", "ports": [{"containerPort": 1}]}]},
            },
            ("spec", "initContainers"),
        ),
    ],
)
def test_missing_protocol_becomes_tcp(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    defaults.set_protocol_defaults(obj)
    node: Any = obj
    for key in path:
        node = node[key]
    ports = node if path[-1] == "ports" else node[0]["ports"]
    assert ports[0]["protocol"] == "TCP"


def test_existing_protocol_is_kept() -> None:
    obj = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 53, "protocol": "UDP"}]}}
    defaults.set_protocol_defaults(obj)
    assert obj["spec"]["ports"][0]["protocol"] == "UDP"


def test_other_kinds_and_garbage_are_left_alone() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"ports": "x"}}
    defaults.set_protocol_defaults(cm)
    assert cm == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"ports": "x"}}
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": "nope"}}
    defaults.set_protocol_defaults(broken)
    assert broken["spec"] == {"template": "nope"}
