"""Health of `batch` objects: a Job by its terminal conditions, a CronJob by its suspension.

Called by `gitward.health.assess` (health stage of the pipeline). A Job is Progressing until the
job controller marks it Complete (Healthy) or Failed (Degraded); a suspended Job or CronJob is
Suspended. A CronJob is otherwise Healthy: the Jobs it spawns carry their own health.
"""

from __future__ import annotations

from datetime import datetime

from gitward.core.manifests import Manifest
from gitward.health import fields, outcomes
from gitward.health.outcomes import Health

__all__ = ["cronjob", "job"]


def job(obj: Manifest, now: datetime) -> Health:
    found = fields.conditions(obj)
    for kind in ("Failed", "FailureTarget"):
        failed = found.get(kind)
        if failed is not None and failed.status == "True":
            return outcomes.degraded(f"Job failed: {failed.describe() or 'no reason given'}")
    complete = found.get("Complete")
    if complete is not None and complete.status == "True":
        return outcomes.HEALTHY
    if fields.boolean(obj, "spec", "suspend"):
        return outcomes.suspended("Job is suspended")
    return outcomes.progressing(_running_message(obj))


def _running_message(obj: Manifest) -> str:
    active = fields.integer(obj, "status", "active")
    succeeded = fields.integer(obj, "status", "succeeded")
    failed = fields.integer(obj, "status", "failed")
    counts = f"{active} active, {succeeded} succeeded, {failed} failed"
    return f"Waiting for the job to complete: {counts}"


def cronjob(obj: Manifest, now: datetime) -> Health:
    if fields.boolean(obj, "spec", "suspend"):
        return outcomes.suspended("CronJob is suspended")
    return outcomes.HEALTHY
