"""Normalisation of rendered objects: the first step of planning.

Called by the controller right after rendering (`rendering` → **`normalizing`** → `ordering`,
`conflicts`, `comparing` → `applying`). Takes the objects of one revision as the renderer produced
them and returns deep copies ready for server-side apply:

- the namespace is resolved. The scope of a kind comes from `is_namespaced(group, kind)` (API
  discovery); for a kind discovery does not know, from a CustomResourceDefinition in the same
  render, else from a built-in table of cluster-scoped kinds, else the kind is taken as namespaced.
  Namespaced objects without a namespace get `default_namespace`; cluster-scoped ones lose theirs.
  An object of an unknown kind keeps the namespace it states.
- Secret `stringData` is folded into `data` (base64), as the API server does, so that what gitward
  applies is what the server stores and records in managedFields;
- fields that must never be applied are removed: `status`, server-set metadata (resourceVersion,
  uid, creationTimestamp, managedFields, generation, selfLink, deletion*) and the
  `kubectl.kubernetes.io/last-applied-configuration` annotation;
- the tracking annotation, the managed-by label and, last, the desired-hash annotation
  (`comparing.desired_hash`) are set.

Hostile input (not a mapping, a name that is not a string, a numeric annotation value, ...) raises
`RenderError` naming the object; so does the same object rendered twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from gitward.core.applications import MANAGED_BY_LABEL, MANAGED_BY_VALUE, TRACKING_ID
from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.planning import _objects, comparing, defaults

IsNamespaced = Callable[[str, str], bool | None]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SERVER_METADATA = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

CLUSTER_SCOPED_KINDS: frozenset[tuple[str, str]] = frozenset(
    [("", kind) for kind in ("Namespace", "Node", "PersistentVolume", "ComponentStatus")]
    + [("rbac.authorization.k8s.io", kind) for kind in ("ClusterRole", "ClusterRoleBinding")]
    + [("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService")]
    + [("storage.k8s.io", kind) for kind in ("StorageClass", "CSIDriver", "CSINode", "VolumeAttachment")]
    + [("scheduling.k8s.io", "PriorityClass"), ("node.k8s.io", "RuntimeClass")]
    + [
        ("admissionregistration.k8s.io", kind)
        for kind in (
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
        )
    ]
    + [("networking.k8s.io", kind) for kind in ("IngressClass", "IPAddress", "ServiceCIDR")]
    + [("certificates.k8s.io", kind) for kind in ("CertificateSigningRequest", "ClusterTrustBundle")]
    + [("flowcontrol.apiserver.k8s.io", kind) for kind in ("FlowSchema", "PriorityLevelConfiguration")]
    + [("snapshot.storage.k8s.io", "VolumeSnapshotClass"), ("gateway.networking.k8s.io", "GatewayClass")]
    + [("resource.k8s.io", "DeviceClass"), ("policy", "PodSecurityPolicy")]
)
"""Kinds known to be cluster-scoped when discovery cannot tell (group, kind)."""


def normalize(
    objs: list[Manifest],
    *,
    app_namespace: str,
    app_name: str,
    default_namespace: str,
    is_namespaced: IsNamespaced,
) -> list[Manifest]:
    """Deep copies of `objs`, ready to apply (see the module docstring)."""
    scopes = _Scopes(is_namespaced, _crd_scopes(objs))
    seen: set[ObjectRef] = set()
    out: list[Manifest] = []
    for index, raw in enumerate(objs):
        obj = _normalize_one(_checked(raw, index), scopes, default_namespace)
        ref = ObjectRef.of(obj)
        if ref in seen:
            raise RenderError(f"{ref}: rendered more than once")
        seen.add(ref)
        _mark(obj, ref, app_namespace, app_name)
        out.append(obj)
    return out


def tracking_id(app_namespace: str, app_name: str, ref: ObjectRef) -> str:
    """`<app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>` (SPEC §2)."""
    return f"{app_namespace}/{app_name}:{ref.group}/{ref.kind}:{ref.namespace}/{ref.name}"


def parse_tracking_id(value: object) -> tuple[str, str] | None:
    """(app namespace, app name) of a tracking id, or None when it is not one."""
    if not isinstance(value, str):
        return None
    app, sep, rest = value.partition(":")
    namespace, slash, name = app.partition("/")
    if not (sep and rest and slash and namespace and name) or "/" in name:
        return None
    return namespace, name


class _Scopes:
    """Whether a kind is namespaced: discovery first, then CRDs of the render, then the table."""

    def __init__(self, is_namespaced: IsNamespaced, from_crds: dict[tuple[str, str], bool]) -> None:
        self._is_namespaced = is_namespaced
        self._from_crds = from_crds

    def namespaced(self, group: str, kind: str) -> bool | None:
        known = self._is_namespaced(group, kind)
        if known is None:
            known = self._from_crds.get((group, kind))
        if known is None and (group, kind) in CLUSTER_SCOPED_KINDS:
            known = False
        return known


def _crd_scopes(objs: list[Manifest]) -> dict[tuple[str, str], bool]:
    scopes: dict[tuple[str, str], bool] = {}
    for obj in objs:
        if not isinstance(obj, dict) or obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = _objects.mapping(obj, "spec")
        names = spec.get("names")
        kind = names.get("kind") if isinstance(names, dict) else None
        if isinstance(spec.get("group"), str) and isinstance(kind, str):
            scopes[(spec["group"], kind)] = spec.get("scope") != "Cluster"
    return scopes


def _checked(obj: object, index: int) -> Manifest:
    """`obj` as a JSON deep copy, after checking the fields planning relies on."""
    if not isinstance(obj, dict):
        raise RenderError(f"object #{index + 1}: not a mapping but {type(obj).__name__}")
    label = f"{obj.get('kind')}/{_objects.metadata(obj).get('name')}"
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise RenderError(f"{label}: {key} must be a non-empty string")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise RenderError(f"{label}: metadata.name must be a non-empty string (generateName is not supported)")
    if meta.get("namespace") is not None and not isinstance(meta["namespace"], str):
        raise RenderError(f"{label}: metadata.namespace must be a string")
    for key in ("labels", "annotations"):
        _check_strings(meta.get(key), label, f"metadata.{key}")
    return _json_copy(obj, label)


def _check_strings(value: Any, label: str, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise RenderError(f"{label}: {where} must be a mapping")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise RenderError(f"{label}: {where}[{key!r}] must be a string (quote it in YAML)")


def _json_copy(obj: Manifest, label: str) -> Manifest:
    try:
        copied: Manifest = json.loads(json.dumps(obj, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise RenderError(f"{label}: not a JSON-compatible object ({exc})") from exc
    return copied


def _normalize_one(obj: Manifest, scopes: _Scopes, default_namespace: str) -> Manifest:
    meta = obj["metadata"]
    for key in SERVER_METADATA:
        meta.pop(key, None)
    obj.pop("status", None)
    if isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
    _resolve_namespace(obj, scopes, default_namespace)
    if _objects.is_secret(obj):
        _fold_string_data(obj)
    defaults.set_protocol_defaults(obj)
    return obj


def _resolve_namespace(obj: Manifest, scopes: _Scopes, default_namespace: str) -> None:
    meta = obj["metadata"]
    group, _ = split_api_version(obj["apiVersion"])
    namespaced = scopes.namespaced(group, obj["kind"])
    given = meta.pop("namespace", None) or ""
    if namespaced is False:
        return
    namespace = given or default_namespace
    if namespaced and not namespace:
        raise RenderError(
            f"{obj['kind']}/{meta['name']}: namespaced, but has no metadata.namespace "
            "and the Application has no destination.namespace"
        )
    if namespace:
        meta["namespace"] = namespace


def _fold_string_data(secret: Manifest) -> None:
    label = str(ObjectRef.of(secret))
    string_data = secret.pop("stringData", None)
    if secret.get("data") is None:
        secret.pop("data", None)
    _check_strings(secret.get("data"), label, "data")
    _check_strings(string_data, label, "stringData")
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()


def _mark(obj: Manifest, ref: ObjectRef, app_namespace: str, app_name: str) -> None:
    """Set the tracking annotation and managed-by label, then the hash over everything else."""
    meta = obj["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    annotations = {**(meta.get("annotations") or {}), TRACKING_ID: tracking_id(app_namespace, app_name, ref)}
    annotations.pop(comparing.DESIRED_HASH, None)
    meta["annotations"] = annotations
    annotations[comparing.DESIRED_HASH] = comparing.desired_hash(obj)
