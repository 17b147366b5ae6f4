"""ignoreDifferences as plain data: JSON pointers, field managers, the live values written back."""

from __future__ import annotations

from typing import Any

from gitward.core.manifests import ObjectRef
from gitward.planning import comparing, ignoring


def _deployment(replicas: int = 3, image: str = "web:1", **annotations: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app": "web", "app.kubernetes.io/managed-by": "gitward"},
            "annotations": {"gitward.dev/tracking-id": "ns/app:apps/Deployment:shop/web", **annotations},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }
    obj["metadata"]["annotations"][comparing.DESIRED_HASH] = comparing.desired_hash(obj)
    return obj


def _with_manager(obj: dict[str, Any], manager: str, fields: dict[str, Any], subresource: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"manager": manager, "operation": "Update", "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    obj["metadata"]["managedFields"] = [*obj["metadata"].get("managedFields", []), entry]
    return obj


REF = ObjectRef("apps", "Deployment", "shop", "web")


def test_rules_match_by_kind_group_name_and_namespace() -> None:
    rules = [
        ignoring.Rule(kind="Deployment", group="apps", json_pointers=("/spec/replicas",)),
        ignoring.Rule(kind="Deployment", group="apps", name="other", json_pointers=("/spec/paused",)),
        ignoring.Rule(kind="*", group="*", namespace="shop", managers=("kubectl-edit",)),
        ignoring.Rule(kind="Service", json_pointers=("/spec/clusterIP",)),
    ]
    pointers, managers = ignoring.applies_to(rules, REF)
    assert pointers == ("/spec/replicas",)
    assert managers == (ignoring.ROLLOUT_MANAGER, "kubectl-edit")


def test_a_json_pointer_is_removed_and_the_hash_follows() -> None:
    desired = _deployment()
    stripped = ignoring.strip(desired, None, ["/spec/replicas"], [])
    assert "replicas" not in stripped["spec"]
    assert desired["spec"]["replicas"] == 3  # the input is left alone
    annotations = stripped["metadata"]["annotations"]
    assert annotations[comparing.DESIRED_HASH] == comparing.desired_hash(stripped)
    assert annotations[comparing.DESIRED_HASH] != desired["metadata"]["annotations"][comparing.DESIRED_HASH]


def test_pointer_escapes_and_list_indexes() -> None:
    desired = _deployment()
    desired["metadata"]["annotations"]["example.com/a~b"] = "x"
    stripped = ignoring.strip(
        desired, None, ["/metadata/annotations/example.com~1a~0b", "/spec/template/spec/containers/0/image"], []
    )
    assert "example.com/a~b" not in stripped["metadata"]["annotations"]
    assert stripped["spec"]["template"]["spec"]["containers"][0] == {"name": "web", "ports": [{"containerPort": 80}]}


def test_pointers_that_resolve_nowhere_or_name_the_identity_remove_nothing() -> None:
    desired = _deployment()
    for pointer in [
        "/spec/nope/deeper",
        "/spec/template/spec/containers/7",
        "spec/replicas",
        "/kind",
        "/metadata/name",
    ]:
        assert ignoring.strip(desired, None, [pointer], []) is desired


def test_fields_of_a_manager_are_left_to_it() -> None:
    desired = _deployment()
    live = _with_manager(_deployment(replicas=7), "hpa-controller", {"f:spec": {"f:replicas": {}}})
    stripped = ignoring.strip(desired, live, [], ["hpa-controller"])
    assert "replicas" not in stripped["spec"]
    assert stripped["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_scale_subresource_writers_own_the_replicas() -> None:
    live = _with_manager(_deployment(replicas=7), "kube-controller-manager", {"f:spec": {"f:replicas": {}}}, "scale")
    stripped = ignoring.strip(_deployment(), live, [], ["kube-controller-manager"])
    assert "replicas" not in stripped["spec"]


def test_a_managers_container_field_goes_but_the_item_keeps_its_key() -> None:
    fields = {
        "f:spec": {
            "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}}}}}
        }
    }
    live = _with_manager(_deployment(image="web:2"), "image-updater", fields)
    stripped = ignoring.strip(_deployment(), live, [], ["image-updater"])
    assert stripped["spec"]["template"]["spec"]["containers"] == [{"name": "web", "ports": [{"containerPort": 80}]}]


def test_the_rollout_controllers_fields_are_always_ignored_but_never_gitwards_tracking() -> None:
    fields = {
        "f:metadata": {
            "f:annotations": {"f:gitward.dev/tracking-id": {}, f"f:{comparing.DESIRED_HASH}": {}},
            "f:labels": {"f:app.kubernetes.io/managed-by": {}, "f:app": {}},
        },
        "f:spec": {"f:replicas": {}},
    }
    live = _with_manager(_deployment(replicas=0), ignoring.ROLLOUT_MANAGER, fields)
    pointers, managers = ignoring.applies_to([], REF)
    stripped = ignoring.strip(_deployment(), live, pointers, managers)
    assert "replicas" not in stripped["spec"]
    meta = stripped["metadata"]
    assert meta["labels"] == {"app.kubernetes.io/managed-by": "gitward"}
    assert meta["annotations"]["gitward.dev/tracking-id"] == "ns/app:apps/Deployment:shop/web"
    assert meta["name"] == "web"
    assert meta["namespace"] == "shop"


def test_nothing_owned_by_others_means_the_same_object() -> None:
    desired = _deployment()
    live = _with_manager(_deployment(), "someone", {"f:spec": {"f:paused": {}}})
    assert ignoring.strip(desired, live, [], ["someone", "nobody"]) is desired


def test_hostile_managed_fields_remove_nothing_and_never_raise() -> None:
    desired = _deployment()
    live = _deployment()
    live["metadata"]["managedFields"] = [
        "junk",
        {"manager": "m", "fieldsV1": "not a map"},
        {"manager": "m", "fieldsV1": {"f:spec": "x", "f:kind": {}, "f:apiVersion": {}}},
        {"manager": "m", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:not json": {}}}}}}},
    ]
    assert ignoring.strip(desired, live, [], ["m"]) is desired


def test_set_items_owned_by_a_manager_are_left_to_it() -> None:
    desired = _deployment()
    desired["metadata"]["finalizers"] = ["a.example/x", "b.example/y"]
    live = _with_manager(_deployment(), "m", {"f:metadata": {"f:finalizers": {'v:"b.example/y"': {}}}})
    assert ignoring.strip(desired, live, [], ["m"])["metadata"]["finalizers"] == ["a.example/x"]


def test_live_values_are_written_back_for_ignored_pointers() -> None:
    original = _deployment()
    pointers = ["/spec/replicas", "/spec/paused"]
    stripped = ignoring.strip(original, None, pointers, [])
    written = ignoring.as_written(stripped, original, _deployment(replicas=9), pointers)
    assert written["spec"]["replicas"] == 9
    assert "paused" not in written["spec"]  # not live either: stays unset
    assert "replicas" not in stripped["spec"]


def test_a_create_writes_gits_values_with_the_stripped_hash() -> None:
    original = _deployment()
    stripped = ignoring.strip(original, None, ["/spec/replicas"], [])
    created = ignoring.as_written(stripped, original, None, ["/spec/replicas"])
    assert created["spec"]["replicas"] == 3
    hashes = {o["metadata"]["annotations"][comparing.DESIRED_HASH] for o in (created, stripped)}
    assert hashes == {comparing.desired_hash(stripped)}
