"""Apply order (stages and waves) and prune order of normalised objects.

Called by the applier after `normalizing` and `conflicts`: it applies `plan_steps(objs)` one step
at a time, waiting for each step to be healthy (and CRDs Established) before the next; and by the
pruner, which deletes in `prune_order(refs)`.

Stages come first, waves order objects within a stage (SPEC §2):

    stage 0  Namespaces and CustomResourceDefinitions
    stage 1  the other cluster-scoped objects (PriorityClass, StorageClass, ClusterRole, ...)
    stage 2  namespaced objects (ServiceAccount, Secret, ConfigMap, PVC, Role, Service, workloads,
             Ingress, ..., custom resources)
    stage 3  admission webhook configurations and APIServices

Stage 3 exists because these kinds route requests to a Service of the same render: applied earlier,
a webhook with `failurePolicy: Fail` would refuse the objects of stage 2 (its own backend included)
and an APIService would never become Available while the readiness wait blocks stage 2 (Flux's
ReconcileOrder puts them last for the same reason).

Within a stage, `gitward.dev/sync-wave` (an integer, default 0) orders objects, lower first; a wave
never moves an object to another stage, so wave -5 of stage 2 still follows wave 9 of stage 1. One
`Step` is one (stage, wave); inside it objects follow a kind order like Flux's and Helm's, then group,
kind, namespace and name, so the order is deterministic. Deletion runs in the reverse order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from gitward.core.applications import SYNC_WAVE
from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import _objects


class Stage(IntEnum):
    FOUNDATIONS = 0
    CLUSTER = 1
    NAMESPACED = 2
    LAST = 3


@dataclass(frozen=True, slots=True)
class Step:
    """Objects applied together; the next step waits until these are healthy."""

    stage: int
    wave: int
    objects: tuple[Manifest, ...]


_FOUNDATIONS = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})
_LAST = frozenset(
    {
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("apiregistration.k8s.io", "APIService"),
    }
)
_KIND_ORDER = (
    # stage 0
    "Namespace",
    "CustomResourceDefinition",
    # stage 1
    "PriorityClass",
    "RuntimeClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    # stage 2
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Job",
    "CronJob",
    "Ingress",
    "Gateway",
    "HTTPRoute",
)
_RANK = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}
_WAVE = re.compile(r"^[+-]?\d{1,9}$")

SortKey = tuple[int, int, int, str, str, str, str]


def plan_steps(objs: Iterable[Manifest]) -> list[Step]:
    """The objects grouped into steps, in apply order. Raises RenderError for an invalid wave."""
    keyed = sorted(((_sort_key(obj), obj) for obj in objs), key=lambda pair: pair[0])
    return [
        Step(stage, wave, tuple(obj for _, obj in group))
        for (stage, wave), group in itertools.groupby(keyed, key=lambda pair: pair[0][:2])
    ]


def prune_order(refs: Iterable[ObjectRef]) -> list[ObjectRef]:
    """`refs` in deletion order: the reverse of the apply order (Namespaces and CRDs last)."""
    return sorted(refs, key=lambda ref: (-stage_of(ref), -_rank(ref.kind), ref))


def stage_of(ref: ObjectRef) -> Stage:
    if (ref.group, ref.kind) in _FOUNDATIONS:
        return Stage.FOUNDATIONS
    if (ref.group, ref.kind) in _LAST:
        return Stage.LAST
    return Stage.NAMESPACED if ref.namespace else Stage.CLUSTER


def wave_of(obj: Manifest) -> int:
    """The `gitward.dev/sync-wave` annotation as an int (default 0)."""
    annotations = _objects.metadata(obj).get("annotations")
    value = annotations.get(SYNC_WAVE) if isinstance(annotations, dict) else None
    if value is None:
        return 0
    if isinstance(value, str) and _WAVE.match(value.strip()):
        return int(value.strip())
    raise RenderError(f"{_objects.ref_of(obj)}: annotation {SYNC_WAVE} must be an integer like '-1', not {value!r}")


def _sort_key(obj: Manifest) -> SortKey:
    ref = _objects.ref_of(obj)
    return (stage_of(ref), wave_of(obj), _rank(ref.kind), ref.group, ref.kind, ref.namespace, ref.name)


def _rank(kind: str) -> int:
    return _RANK.get(kind, len(_KIND_ORDER))
