"""normalizing.normalize: namespaces, stripped fields, tracking, hash, hostile input."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import comparing, normalizing

NAMESPACED = {("", "ConfigMap"), ("", "Secret"), ("apps", "Deployment")}
CLUSTER = {("", "Namespace"), ("rbac.authorization.k8s.io", "ClusterRole")}


def discovery(group: str, kind: str) -> bool | None:
    if (group, kind) in NAMESPACED:
        return True
    if (group, kind) in CLUSTER:
        return False
    return None


def run(objs: list[Manifest], default_namespace: str = "dest") -> list[Manifest]:
    return normalizing.normalize(
        objs, app_namespace="apps", app_name="shop", default_namespace=default_namespace, is_namespaced=discovery
    )


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **extra: Any) -> Manifest:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def crd(group: str, kind: str, scope: str) -> Manifest:
    spec = {"group": group, "names": {"kind": kind, "plural": kind.lower() + "s"}, "scope": scope}
    return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{kind.lower()}s.{group}", spec=spec)


@pytest.mark.parametrize(
    ("given", "default", "expected"),
    [
        pytest.param(obj("v1", "ConfigMap", "c"), "dest", "dest", id="namespaced-gets-default"),
        pytest.param(obj("v1", "ConfigMap", "c", "own"), "dest", "own", id="namespaced-keeps-own"),
        pytest.param(obj("v1", "Namespace", "n", "dest"), "dest", None, id="cluster-scoped-loses-namespace"),
        pytest.param(obj("example.com/v1", "Widget", "w", "own"), "dest", "own", id="unknown-keeps-own"),
        pytest.param(obj("example.com/v1", "Widget", "w"), "dest", "dest", id="unknown-gets-default"),
        pytest.param(obj("example.com/v1", "Widget", "w"), "", None, id="unknown-no-default"),
        pytest.param(obj("storage.k8s.io/v1", "StorageClass", "fast", "x"), "dest", None, id="builtin-table-cluster"),
        pytest.param(obj("v1", "Node", "n1"), "dest", None, id="builtin-table-node"),
        pytest.param(obj("other.io/v1", "Node", "n1"), "dest", "dest", id="table-is-per-group"),
    ],
)
def test_namespace_resolution(given: Manifest, default: str, expected: str | None) -> None:
    [out] = run([given], default)
    assert out["metadata"].get("namespace") == expected


@pytest.mark.parametrize(
    ("scope", "expected"),
    [("Cluster", None), ("Namespaced", "x")],
)
def test_scope_of_a_crd_in_the_same_render(scope: str, expected: str | None) -> None:
    out = run([crd("certs.io", "Issuer", scope), obj("certs.io/v1", "Issuer", "letsencrypt", "x")])
    issuer = out[1]
    assert issuer["metadata"].get("namespace") == expected


def test_namespaced_without_any_namespace_is_refused() -> None:
    with pytest.raises(RenderError, match="ConfigMap/c: namespaced"):
        run([obj("v1", "ConfigMap", "c")], default_namespace="")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("metadata", "resourceVersion"), "12"),
        (("metadata", "uid"), "abc"),
        (("metadata", "creationTimestamp"), "2024-01-01T00:00:00Z"),
        (("metadata", "managedFields"), [{"manager": "kubectl"}]),
        (("metadata", "generation"), 3),
        (("metadata", "selfLink"), "/api/v1/x"),
        (("status",), {"phase": "Active"}),
    ],
)
def test_server_fields_are_removed(path: tuple[str, ...], value: Any) -> None:
    given = obj("v1", "ConfigMap", "c", data={"a": "1"})
    target = given
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    [out] = run([given])
    target = out
    for key in path[:-1]:
        target = target[key]
    assert path[-1] not in target
    assert out["data"] == {"a": "1"}


def test_marks_tracking_label_and_hash_and_drops_last_applied() -> None:
    given = obj("apps/v1", "Deployment", "web")
    given["metadata"]["labels"] = {"app": "web"}
    given["metadata"]["annotations"] = {normalizing.LAST_APPLIED: "{}", "keep": "me"}
    [out] = run([given])
    meta = out["metadata"]
    assert meta["labels"] == {"app": "web", "app.kubernetes.io/managed-by": "gitward"}
    assert meta["annotations"]["gitward.dev/tracking-id"] == "apps/shop:apps/Deployment:dest/web"
    assert meta["annotations"]["keep"] == "me"
    assert normalizing.LAST_APPLIED not in meta["annotations"]
    assert meta["annotations"][comparing.DESIRED_HASH] == comparing.desired_hash(out)


def test_input_is_not_mutated_and_result_is_stable() -> None:
    given = [obj("v1", "ConfigMap", "c", data={"a": "1"}, status={"x": 1})]
    before = copy.deepcopy(given)
    first = run(given)
    assert given == before
    assert run(first) == first  # normalising twice changes nothing, the hash included


def test_secret_string_data_is_folded_into_data() -> None:
    given = obj("v1", "Secret", "s", data={"a": "YQ=="}, stringData={"b": "b", "a": "z"})
    [out] = run([given])
    assert "stringData" not in out
    assert out["data"] == {"a": "eg==", "b": "Yg=="}


def test_duplicates_are_refused_naming_the_object() -> None:
    with pytest.raises(RenderError, match="ConfigMap/dest/c: rendered more than once"):
        run([obj("v1", "ConfigMap", "c"), obj("v1", "ConfigMap", "c", "dest")])


def _with(meta: dict[str, Any] | None = None, **top: Any) -> Manifest:
    base = obj("v1", "ConfigMap", "c")
    base["metadata"].update(meta or {})
    base.update(top)
    return base


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param(["not", "a", "dict"], "object #1: not a mapping", id="list"),
        pytest.param(_with(kind=7), "kind must be", id="kind-int"),
        pytest.param(_with(apiVersion=""), "apiVersion must be", id="apiversion-empty"),
        pytest.param(_with(metadata="x"), "metadata.name", id="metadata-str"),
        pytest.param(_with({"name": 5}), "metadata.name", id="name-int"),
        pytest.param(_with({"name": None, "generateName": "x-"}), "generateName", id="generate-name"),
        pytest.param(_with({"namespace": ["a"]}), "ConfigMap/c: metadata.namespace", id="namespace-list"),
        pytest.param(_with({"labels": {"v": 1}}), "ConfigMap/c: metadata.labels", id="label-int"),
        pytest.param(_with({"annotations": ["a"]}), "metadata.annotations must be", id="annotations-list"),
        pytest.param(_with(data={"d": datetime.date(2024, 1, 1)}), "ConfigMap/c: not a JSON", id="date"),
        pytest.param(_with(data={"n": float("nan")}), "ConfigMap/c: not a JSON", id="nan"),
        pytest.param(
            {**obj("v1", "Secret", "s"), "stringData": {"a": 1}}, "Secret/dest/s: stringData", id="secret-int"
        ),
    ],
)
def test_hostile_input_raises_render_error(given: Any, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        run([given])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("apps/shop:apps/Deployment:dest/web", ("apps", "shop")),
        ("apps/shop:/Namespace:/dest", ("apps", "shop")),
        ("shop:apps/Deployment:dest/web", None),
        ("apps/shop", None),
        ("/shop:x", None),
        ("a/b/c:x", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_parse_tracking_id(value: object, expected: tuple[str, str] | None) -> None:
    assert normalizing.parse_tracking_id(value) == expected


def test_tracking_id_round_trip() -> None:
    ref = ObjectRef("", "Namespace", "", "dest")
    value = normalizing.tracking_id("apps", "shop", ref)
    assert value == "apps/shop:/Namespace:/dest"
    assert normalizing.parse_tracking_id(value) == ("apps", "shop")
