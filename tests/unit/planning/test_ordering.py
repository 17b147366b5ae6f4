"""ordering: stages, waves and kind order of the apply; the reverse order of the prune."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import ordering

GROUPS = {
    "Deployment": "apps",
    "ClusterRole": "rbac.authorization.k8s.io",
    "CustomResourceDefinition": "apiextensions.k8s.io",
    "ValidatingWebhookConfiguration": "admissionregistration.k8s.io",
    "APIService": "apiregistration.k8s.io",
    "StorageClass": "storage.k8s.io",
    "Widget": "example.com",
}


def obj(spec: str, wave: Any = None) -> Manifest:
    """`Kind/name` (cluster-scoped) or `Kind/namespace/name`."""
    kind, *rest = spec.split("/")
    namespace, name = rest if len(rest) == 2 else ("", rest[0])
    group = GROUPS.get(kind, "")
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if wave is not None:
        meta["annotations"] = {"gitward.dev/sync-wave": wave}
    return {"apiVersion": f"{group}/v1" if group else "v1", "kind": kind, "metadata": meta}


def steps_of(objs: list[Manifest]) -> list[tuple[int, int, list[str]]]:
    return [(step.stage, step.wave, [str(ObjectRef.of(o)) for o in step.objects]) for step in ordering.plan_steps(objs)]


@pytest.mark.parametrize(
    ("objs", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param(
            [obj("Deployment/ns/web"), obj("Namespace/ns"), obj("ClusterRole/r"), obj("CustomResourceDefinition/w")],
            [
                (0, 0, ["Namespace/ns", "CustomResourceDefinition/w"]),
                (1, 0, ["ClusterRole/r"]),
                (2, 0, ["Deployment/ns/web"]),
            ],
            id="stages",
        ),
        pytest.param(
            [
                obj("Deployment/ns/web"),
                obj("Service/ns/web"),
                obj("ConfigMap/ns/cfg"),
                obj("Secret/ns/s"),
                obj("ServiceAccount/ns/sa"),
                obj("Widget/ns/w"),
                obj("Ingress/ns/web"),
                obj("PersistentVolumeClaim/ns/data"),
            ],
            [
                (
                    2,
                    0,
                    [
                        "ServiceAccount/ns/sa",
                        "Secret/ns/s",
                        "ConfigMap/ns/cfg",
                        "PersistentVolumeClaim/ns/data",
                        "Service/ns/web",
                        "Deployment/ns/web",
                        "Ingress/ns/web",
                        "Widget/ns/w",
                    ],
                )
            ],
            id="kind-order-in-a-step",
        ),
        pytest.param(
            [
                obj("Deployment/ns/a", "-1"),
                obj("ConfigMap/ns/b", "2"),
                obj("ConfigMap/ns/c"),
                obj("ClusterRole/r", "9"),
            ],
            [
                (1, 9, ["ClusterRole/r"]),
                (2, -1, ["Deployment/ns/a"]),
                (2, 0, ["ConfigMap/ns/c"]),
                (2, 2, ["ConfigMap/ns/b"]),
            ],
            id="waves-within-stages",
        ),
        pytest.param(
            [obj("ValidatingWebhookConfiguration/v"), obj("APIService/v1.metrics"), obj("Deployment/ns/hook")],
            [(2, 0, ["Deployment/ns/hook"]), (3, 0, ["ValidatingWebhookConfiguration/v", "APIService/v1.metrics"])],
            id="webhooks-and-apiservices-last",
        ),
        pytest.param(
            [obj("ConfigMap/b/x"), obj("ConfigMap/a/y"), obj("ConfigMap/a/x")],
            [(2, 0, ["ConfigMap/a/x", "ConfigMap/a/y", "ConfigMap/b/x"])],
            id="namespace-then-name",
        ),
        pytest.param([obj("Widget/w", " +3 ")], [(1, 3, ["Widget/w"])], id="cluster-scoped-custom-resource"),
    ],
)
def test_plan_steps(objs: list[Manifest], expected: list[tuple[int, int, list[str]]]) -> None:
    assert steps_of(objs) == expected


def test_plan_steps_is_deterministic() -> None:
    objs = [obj(f"ConfigMap/ns/c{i}", str(i % 3)) for i in range(20)] + [obj("Namespace/ns"), obj("Role/ns/r")]
    shuffled = objs[:]
    random.Random(7).shuffle(shuffled)
    assert steps_of(shuffled) == steps_of(objs)


@pytest.mark.parametrize("wave", ["one", "1.5", "", "1e3", "9" * 20, 3, True, ["1"]])
def test_invalid_wave_names_the_object(wave: Any) -> None:
    with pytest.raises(RenderError, match=r"ConfigMap/ns/c: annotation gitward\.dev/sync-wave must be an integer"):
        ordering.plan_steps([obj("ConfigMap/ns/c", wave)])


def test_prune_order_reverses_apply_order() -> None:
    refs = [
        ObjectRef("", "Namespace", "", "ns"),
        ObjectRef("apps", "Deployment", "ns", "web"),
        ObjectRef("apiextensions.k8s.io", "CustomResourceDefinition", "", "w"),
        ObjectRef("", "ConfigMap", "ns", "b"),
        ObjectRef("", "ConfigMap", "ns", "a"),
        ObjectRef("rbac.authorization.k8s.io", "ClusterRole", "", "r"),
        ObjectRef("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "", "v"),
    ]
    assert [str(ref) for ref in ordering.prune_order(refs)] == [
        "ValidatingWebhookConfiguration/v",
        "Deployment/ns/web",
        "ConfigMap/ns/a",
        "ConfigMap/ns/b",
        "ClusterRole/r",
        "CustomResourceDefinition/w",
        "Namespace/ns",
    ]


def test_malformed_metadata_does_not_crash() -> None:
    garbage: Manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["x"]}
    assert [step.stage for step in ordering.plan_steps([garbage])] == [1]
