"""comparing: desired_hash, needs_apply and fields_of_manager against hand-written managedFields."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest
from gitward.planning import comparing

DEPLOYMENT = yaml.safe_load(
    """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, app.kubernetes.io/managed-by: gitward}
  annotations: {gitward.dev/tracking-id: "apps/shop:apps/Deployment:shop/web"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      creationTimestamp: null
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: [--port, "80"]
        ports: [{containerPort: 80}]
        resources: {}
"""
)

GITWARD_FIELDS = yaml.safe_load(
    """
f:metadata:
  f:annotations:
    f:gitward.dev/desired-hash: {}
    f:gitward.dev/tracking-id: {}
  f:labels:
    f:app: {}
    f:app.kubernetes.io/managed-by: {}
f:spec:
  f:replicas: {}
  f:selector: {}
  f:template:
    f:metadata:
      f:labels:
        f:app: {}
    f:spec:
      f:containers:
        k:{"name":"web"}:
          .: {}
          f:args: {}
          f:image: {}
          f:name: {}
          f:ports:
            k:{"containerPort":80,"protocol":"TCP"}:
              .: {}
              f:containerPort: {}
          f:resources: {}
"""
)


def desired_of(obj: Manifest) -> Manifest:
    out = copy.deepcopy(obj)
    out["metadata"]["annotations"][comparing.DESIRED_HASH] = comparing.desired_hash(out)
    return out


def live_of(desired: Manifest, fields: dict[str, Any], *others: dict[str, Any]) -> Manifest:
    live = copy.deepcopy(desired)
    live["metadata"]["managedFields"] = [
        {
            "manager": "gitward",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        },
        *others,
    ]
    live["status"] = {"replicas": 2}
    return live


def without(fields: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(fields)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


CONTAINER = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}')
KUBECTL_EDIT = {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}

Case = Callable[[Manifest], tuple[Manifest, Manifest | None]]


def fully_covered(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, live_of(d, GITWARD_FIELDS)


def replicas_edited(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, without(GITWARD_FIELDS, "f:spec", "f:replicas"), KUBECTL_EDIT)
    live["spec"]["replicas"] = 5
    return d, live


def label_removed(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, live_of(d, without(GITWARD_FIELDS, "f:metadata", "f:labels", "f:app"))


def image_edited(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, live_of(d, without(GITWARD_FIELDS, *CONTAINER, "f:image"))


def port_replaced(d: Manifest) -> tuple[Manifest, Manifest | None]:
    # gitward lost its only port item, so the server dropped the whole f:ports node from its set
    return d, live_of(d, without(GITWARD_FIELDS, *CONTAINER, "f:ports"))


def second_port_replaced(d: Manifest) -> tuple[Manifest, Manifest | None]:
    d = copy.deepcopy(d)
    d["spec"]["template"]["spec"]["containers"][0]["ports"].append({"containerPort": 81, "protocol": "UDP"})
    return desired_of(d), live_of(desired_of(d), GITWARD_FIELDS)


def empty_map_not_owned(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, live_of(d, without(GITWARD_FIELDS, *CONTAINER, "f:resources"))


def hash_changed(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    live["metadata"]["annotations"][comparing.DESIRED_HASH] = "0" * 32
    return d, live


def missing(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, None


def no_gitward_manager(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    live["metadata"]["managedFields"][0]["manager"] = "kubectl-client-side-apply"
    return d, live


def gitward_update_only(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    live["metadata"]["managedFields"][0]["operation"] = "Update"
    return d, live


def status_subresource_ignored(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    status_entry = {"manager": "gitward", "operation": "Apply", "subresource": "status", "fieldsV1": {}}
    live["metadata"]["managedFields"].insert(0, status_entry)
    return d, live


def managed_fields_garbage(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    live["metadata"]["managedFields"] = "garbage"
    return d, live


def fields_v1_garbage(d: Manifest) -> tuple[Manifest, Manifest | None]:
    return d, live_of(d, "garbage")  # type: ignore[arg-type]


def annotations_garbage(d: Manifest) -> tuple[Manifest, Manifest | None]:
    live = live_of(d, GITWARD_FIELDS)
    live["metadata"]["annotations"] = ["not", "a", "map"]
    return d, live


def bad_merge_key_json(d: Manifest) -> tuple[Manifest, Manifest | None]:
    fields = copy.deepcopy(GITWARD_FIELDS)
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    containers['k:{"name":web}'] = containers.pop('k:{"name":"web"}')
    return d, live_of(d, fields)


@pytest.mark.parametrize(
    ("case", "action", "reason"),
    [
        (fully_covered, "none", "in sync"),
        (replicas_edited, "drift", "drift: spec.replicas is managed by another writer"),
        (label_removed, "drift", "drift: metadata.labels.app is managed by another writer"),
        (image_edited, "drift", "drift: spec.template.spec.containers[name=web].image is managed"),
        (port_replaced, "drift", "spec.template.spec.containers[name=web].ports is managed"),
        (second_port_replaced, "drift", "containers[name=web].ports[1] is managed"),
        (empty_map_not_owned, "drift", "containers[name=web].resources is managed"),
        (hash_changed, "update", "changed in Git"),
        (missing, "create", "not found in the cluster"),
        (no_gitward_manager, "drift", "not managed by gitward"),
        (gitward_update_only, "drift", "not managed by gitward"),
        (status_subresource_ignored, "none", "in sync"),
        (managed_fields_garbage, "drift", "not managed by gitward"),
        (fields_v1_garbage, "drift", "drift: metadata is managed by another writer"),
        (annotations_garbage, "update", "changed in Git"),
        (bad_merge_key_json, "drift", "containers[name=web] is managed"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_needs_apply_deployment(case: Case, action: str, reason: str) -> None:
    desired, live = case(desired_of(DEPLOYMENT))
    decision = comparing.needs_apply(desired, live)
    assert (decision.action, reason in decision.reason) == (action, True), decision.reason


def test_needs_apply_computes_the_hash_when_the_annotation_is_missing() -> None:
    desired = desired_of(DEPLOYMENT)
    live = live_of(desired, GITWARD_FIELDS)
    del desired["metadata"]["annotations"][comparing.DESIRED_HASH]
    assert comparing.needs_apply(desired, live).action == "none"


def pod_spec_case(spec: dict[str, Any], fields: dict[str, Any]) -> tuple[Manifest, Manifest]:
    desired = desired_of({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {}}})
    desired["spec"] = spec
    desired = desired_of(desired)
    meta_fields: dict[str, Any] = {"f:metadata": {"f:annotations": {"f:gitward.dev/desired-hash": {}}}}
    return desired, live_of(desired, {**meta_fields, "f:spec": fields})


@pytest.mark.parametrize(
    ("spec", "fields", "expected"),
    [
        pytest.param({"args": ["a", "b"]}, {"f:args": {}}, None, id="atomic-list-owned-whole"),
        pytest.param({"selector": {"a": "b"}}, {"f:selector": {}}, None, id="atomic-map-owned-whole"),
        pytest.param({"finalizers": ["a"]}, {"f:finalizers": {'v:"a"': {}}}, None, id="set-covered"),
        pytest.param({"finalizers": ["a"]}, {"f:finalizers": {'v:"b"': {}}}, "spec.finalizers[0]", id="set-other"),
        pytest.param({"ports": [1, 2]}, {"f:ports": {"i:0": {}, "i:1": {}}}, None, id="positional"),
        pytest.param({"ports": [1, 2]}, {"f:ports": {"i:0": {}}}, "spec.ports[1]", id="positional-missing"),
        pytest.param({"list": []}, {"f:list": {}}, None, id="empty-list-covered"),
        pytest.param({"list": []}, {"f:other": {}}, "spec.list", id="empty-list-not-owned"),
        pytest.param({"x": None, "y": 1}, {"f:y": {}}, None, id="null-is-unset"),
        pytest.param({"flag": True}, {"f:flag": {}}, None, id="scalar"),
        pytest.param({"m": {"a": 1}}, {"f:m": "garbage"}, "spec.m", id="node-garbage"),
        pytest.param(
            {"items": [{"port": 1}]},
            {"f:items": {'k:{"port":true}': {".": {}, "f:port": {}}}},
            "spec.items[0]",
            id="merge-key-json-types-differ",
        ),
        pytest.param(
            {"items": [{"port": 80}]},
            {"f:items": {'k:{"port":80,"protocol":"UDP"}': {"f:port": {}}, 'k:{"port":80,"protocol":"TCP"}': {}}},
            None,
            id="two-defaulted-candidates-second-covers",
        ),
    ],
)
def test_coverage_rules(spec: dict[str, Any], fields: dict[str, Any], expected: str | None) -> None:
    desired, live = pod_spec_case(spec, fields)
    decision = comparing.needs_apply(desired, live)
    if expected is None:
        assert decision.action == "none", decision.reason
    else:
        assert decision == comparing.Decision("drift", f"drift: {expected} is managed by another writer")


SECRET_FIELDS = {
    "f:metadata": {"f:annotations": {"f:gitward.dev/desired-hash": {}}},
    "f:data": {"f:password": {}, "f:user": {}},
    "f:type": {},
}


def secret(data: dict[str, str]) -> Manifest:
    meta = {"name": "s", "namespace": "shop", "annotations": {}}
    return desired_of({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": data})


@pytest.mark.parametrize(
    ("desired_data", "live_data", "fields", "action", "reason"),
    [
        pytest.param({"user": "YQ==", "password": "cA=="}, None, SECRET_FIELDS, "none", "in sync", id="same"),
        pytest.param(
            {"user": "YQ==", "password": "bmV3"},
            None,
            SECRET_FIELDS,
            "update",
            "Secret data changed in Git",
            id="value-changed-in-git",
        ),
        pytest.param(
            {"user": "YQ=="}, None, SECRET_FIELDS, "update", "Secret data changed in Git", id="key-removed-in-git"
        ),
        pytest.param(
            {"user": "YQ==", "password": "cA==", "token": "dA=="},
            None,
            SECRET_FIELDS,
            "update",
            "Secret data changed in Git",
            id="key-added-in-git",
        ),
        pytest.param(
            {"user": "YQ==", "password": "cA=="},
            {"user": "YQ==", "password": "ZWRpdGVk"},
            without(SECRET_FIELDS, "f:data", "f:password"),
            "drift",
            "drift: data.password is managed by another writer",
            id="value-edited-by-other",
        ),
        pytest.param(
            {"user": "YQ==", "password": "cA=="},
            {"user": "YQ==", "password": "cA==", "extra": "eA=="},
            SECRET_FIELDS,
            "none",
            "in sync",
            id="other-writer-key-ignored",
        ),
        pytest.param(
            {"user": "YQ==", "password": "cA=="},
            {"user": "YQ==", "password": "cA"},
            SECRET_FIELDS,
            "update",
            "Secret data changed in Git",
            id="garbage-base64-compared-as-text",
        ),
    ],
)
def test_needs_apply_secret(
    desired_data: dict[str, str],
    live_data: dict[str, str] | None,
    fields: dict[str, Any],
    action: str,
    reason: str,
) -> None:
    desired = secret(desired_data)
    live = live_of(secret({"user": "YQ==", "password": "cA=="}), fields)
    live["metadata"]["annotations"] = desired["metadata"]["annotations"]  # data is not in the hash
    if live_data is not None:
        live["data"] = live_data
    decision = comparing.needs_apply(desired, live)
    assert (decision.action, decision.reason) == (action, reason)
    assert "cA==" not in decision.reason


def test_secret_string_data_is_compared_as_data() -> None:
    desired = secret({"user": "YQ=="})
    desired["stringData"] = {"password": "p"}
    live = live_of(secret({"user": "YQ==", "password": "cA=="}), SECRET_FIELDS)
    live["metadata"]["annotations"] = desired["metadata"]["annotations"]
    assert comparing.needs_apply(desired, live).action in ("none", "drift")  # data equal: not an update
    assert comparing.needs_apply(desired, live).reason != "Secret data changed in Git"


def _hash(obj: Manifest) -> str:
    return comparing.desired_hash(obj)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param(secret({"p": "YQ=="}), secret({"p": "Yg=="}), True, id="secret-data-excluded"),
        pytest.param(
            {"kind": "ConfigMap", "data": {"p": "a"}},
            {"kind": "ConfigMap", "data": {"p": "b"}},
            False,
            id="configmap-data-included",
        ),
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, id="key-order"),
        pytest.param(DEPLOYMENT, desired_of(DEPLOYMENT), True, id="hash-annotation-excluded"),
        pytest.param({"metadata": {"annotations": {}}}, {"metadata": {}}, True, id="empty-annotations"),
    ],
)
def test_desired_hash(a: Manifest, b: Manifest, equal: bool) -> None:
    assert (_hash(a) == _hash(b)) is equal
    assert len(_hash(a)) == comparing.HASH_LENGTH
    assert int(_hash(a), 16) >= 0


def test_desired_hash_of_non_json_names_the_object() -> None:
    with pytest.raises(RenderError, match="ConfigMap/c: not a JSON-compatible object"):
        _hash({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": {1, 2}}})


@pytest.mark.parametrize(
    ("managed", "expected"),
    [
        ([{"manager": "gitward", "operation": "Apply", "fieldsV1": {"f:a": {}}}], {"f:a": {}}),
        ([{"manager": "gitward", "operation": "Apply"}], {}),
        ([{"manager": "gitward", "operation": "Update", "fieldsV1": {"f:a": {}}}], None),
        ([{"manager": "other", "operation": "Apply", "fieldsV1": {"f:a": {}}}], None),
        ([None, 3, {"manager": "gitward", "operation": "Apply", "fieldsV1": []}], {}),
        ("garbage", None),
        (None, None),
    ],
)
def test_fields_of_manager(managed: Any, expected: dict[str, Any] | None) -> None:
    live = {"metadata": {"name": "x", "managedFields": managed}}
    assert comparing.fields_of_manager(live, "gitward") == expected


def test_desired_hash_names_an_object_with_malformed_metadata() -> None:
    with pytest.raises(RenderError, match="ConfigMap/: not a JSON-compatible object"):
        _hash({"kind": "ConfigMap", "metadata": ["x"], "data": {"x": {1, 2}}})


def test_needs_apply_tolerates_garbage_field_names() -> None:
    desired = secret({"user": "YQ=="})
    live = live_of(secret({"user": "YQ=="}), {**SECRET_FIELDS, "f:data": {1: {}, "f:user": {}}})
    live["metadata"]["annotations"] = desired["metadata"]["annotations"]
    assert comparing.needs_apply(desired, live).action == "none"
