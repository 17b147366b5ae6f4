"""Health of a HorizontalPodAutoscaler, from its AbleToScale and ScalingActive conditions.

Called by `gitward.health.assess` (health stage of the pipeline). An autoscaler that cannot read
its target's scale or its metrics (condition False with a Failed*/Invalid* reason) is Degraded;
otherwise it is Healthy: scaling is its ordinary, continuous work. `autoscaling/v1` objects keep
their conditions in an annotation, read here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["horizontalpodautoscaler"]

_V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
_WHAT_FAILS = {"AbleToScale": "Cannot scale", "ScalingActive": "Scaling is not active"}


def _is_failure(reason: str) -> bool:
    return reason.startswith(("Failed", "Invalid"))


def horizontalpodautoscaler(obj: Manifest, now: datetime) -> Health:
    found = _conditions(obj)
    for kind, what in _WHAT_FAILS.items():
        condition = found.get(kind)
        if condition is not None and condition.status == "False" and _is_failure(condition.reason):
            return outcomes.degraded(f"{what}: {condition.describe()}")
    return outcomes.HEALTHY


def _conditions(obj: Manifest) -> dict[str, fields.Condition]:
    if fields.mappings(obj, "status", "conditions"):
        return fields.conditions(obj)
    annotation = fields.string(obj, "metadata", "annotations", _V1_CONDITIONS)
    if not annotation:
        return {}
    try:
        entries: Any = json.loads(annotation)
    except ValueError:
        raise fields.MalformedError(f"annotation {_V1_CONDITIONS} is not JSON") from None
    holder: Mapping[str, Any] = {"conditions": entries}
    return fields.conditions(holder, "conditions")
