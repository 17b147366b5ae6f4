"""The objects around a Rollout (pure): what gitward applies to `<target>-primary`, the Services and
the HTTPRoute, built from the live target and the Rollout's status.

Called by `controller.rollouts.reconciling`, which applies each result server-side with the field
manager `gitward-rollout` (forced). Writes to objects an Application deploys carry only the fields
the rollout owns (the target's `spec.replicas`, `<service>`'s `spec.selector`, the HTTPRoute's
rules), so the Application's own fields stay its own.

The versions are told apart by one label, `gitward.dev/track`: the primary is a copy of the target
whose selector and pods add `gitward.dev/track: primary`; the target's pod template gets
`gitward.dev/track: canary` (a field of the rollout's, like its replicas). Git's own labels are never
changed, so `<service>` can select the primary (`app: web` + track primary), the canary (+ track
canary) or both versions (Git's selector alone, for replica-based traffic) without ever taking a
value the Application sets.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest

__all__ = [
    "RolloutObjectError",
    "canary_selector",
    "primary",
    "revision_of",
    "route_rules",
    "selector_of",
    "service",
    "target_fields",
]

TRACK_LABEL = "gitward.dev/track"
"""`primary` on the primary's pods, `canary` on the target's (the rollout's own field of its template)."""


class RolloutObjectError(ValueError):
    """The target cannot be delivered this way (e.g. a selector with matchExpressions)."""


def revision_of(deployment: Manifest) -> str:
    """The revision of a Deployment's pod template: a short hash of `spec.template` (without the
    track label, which the rollout adds)."""
    template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TRACK_LABEL, None)
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def selector_of(deployment: Manifest) -> dict[str, str]:
    """The target's `matchLabels` (as Git has them): a Service selecting them reaches both versions."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    if selector.get("matchExpressions"):
        raise RolloutObjectError("Deployment selectors with matchExpressions are not supported")
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict) or not labels:
        raise RolloutObjectError("the target Deployment has no spec.selector.matchLabels")
    return {str(k): str(v) for k, v in labels.items() if k != TRACK_LABEL}


def primary_selector(target: Manifest) -> dict[str, str]:
    return {**selector_of(target), TRACK_LABEL: "primary"}


def canary_selector(target: Manifest) -> dict[str, str]:
    return {**selector_of(target), TRACK_LABEL: "canary"}


def _owner(rollout: Manifest) -> list[dict[str, Any]]:
    meta = rollout.get("metadata") or {}
    return [
        {
            "apiVersion": ro.API_VERSION,
            "kind": "Rollout",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]


def primary(spec: ro.RolloutSpec, rollout: Manifest, target: Manifest, revision: str, replicas: int) -> Manifest:
    """`<target>-primary`: the target's template under the primary selector, at `replicas`."""
    meta = target.get("metadata") or {}
    selector = primary_selector(target)
    template = copy.deepcopy((target.get("spec") or {}).get("template") or {})
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **selector}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("app.kubernetes.io/managed-by")}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": spec.primary_name,
            "namespace": meta.get("namespace"),
            "labels": labels,
            "annotations": {ro.REVISION_ANNOTATION: revision},
            "ownerReferences": _owner(rollout),
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": template},
    }


def target_fields(rollout: Manifest, target: Manifest, replicas: int) -> Manifest:
    """The rollout's fields of the target: its replicas and the canary track label on its pods."""
    meta = target.get("metadata") or {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": {TRACK_LABEL: "canary"}}}},
    }


def ports_of(spec: ro.RolloutSpec, apex: Manifest | None) -> list[dict[str, Any]]:
    ports = ((apex or {}).get("spec") or {}).get("ports") or []
    kept = [
        {k: p[k] for k in ("name", "port", "targetPort", "protocol") if k in p} for p in ports if isinstance(p, dict)
    ]
    return kept or [{"name": "http", "port": spec.service.port, "targetPort": spec.service.port, "protocol": "TCP"}]


def service(
    spec: ro.RolloutSpec, rollout: Manifest, name: str, selector: dict[str, str], apex: Manifest | None, *, owned: bool
) -> Manifest:
    """A Service `name` selecting `selector`; `owned` ones (-primary, -canary) belong to the Rollout."""
    namespace = (rollout.get("metadata") or {}).get("namespace")
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    body: dict[str, Any] = {"selector": selector}
    if owned or apex is None:
        body["ports"] = ports_of(spec, apex)
    if owned:
        meta["ownerReferences"] = _owner(rollout)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def route_rules(route: Manifest, spec: ro.RolloutSpec, weight: int) -> list[dict[str, Any]] | None:
    """The HTTPRoute's rules with the first rule sending `weight`% to the canary; None: unchanged."""
    rules = copy.deepcopy(((route.get("spec") or {}).get("rules")) or [{}])
    first = rules[0] if isinstance(rules[0], dict) else {}
    name = spec.service.name
    wanted = [
        {"group": "", "kind": "Service", "name": f"{name}-primary", "port": spec.service.port, "weight": 100 - weight},
        {"group": "", "kind": "Service", "name": f"{name}-canary", "port": spec.service.port, "weight": weight},
    ]
    if _plain_refs(first.get("backendRefs")) == _plain_refs(wanted):
        return None
    first["backendRefs"] = wanted
    rules[0] = first
    return rules


def route_weights(route: Manifest) -> dict[str, int]:
    """Backend name → weight of the first rule (for status, tests and the dashboard)."""
    rules = (route.get("spec") or {}).get("rules") or [{}]
    refs = rules[0].get("backendRefs") or [] if isinstance(rules[0], dict) else []
    return {str(r.get("name")): int(r.get("weight", 1)) for r in refs if isinstance(r, dict)}


def _plain_refs(refs: Any) -> list[tuple[str, int, int]]:
    if not isinstance(refs, list):
        return []
    return [(str(r.get("name")), int(r.get("port") or 0), int(r.get("weight", 1))) for r in refs if isinstance(r, dict)]
