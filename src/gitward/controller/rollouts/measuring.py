"""Analysis bookkeeping (pure): when a metric is measured next, and what a measurement does to it.

Called by `controller.rollouts.reconciling` for each Running entry of a Rollout's
`status.analysis`: `due` says whether to measure now, the provider (`providers`) measures, and
`record` folds the outcome into the entry. A metric is Successful after `count` measurements with
at most `failureLimit` failed ones, Failed as soon as failures pass `failureLimit`, and Failed too
when provider errors (Inconclusive measurements, retried at the next interval) pass
`inconclusiveLimit` — a separate count, so a flaky Prometheus is not a bad canary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gitward.controller.rollouts.steps import parse_stamp, stamp
from gitward.core import rollouts as ro

__all__ = ["Outcome", "due", "record", "seconds_until_due"]

MAX_VALUE = 256


@dataclass(frozen=True)
class Outcome:
    """One measurement: `passed` None means inconclusive (the provider could not answer)."""

    passed: bool | None
    value: str = ""
    message: str = ""


def seconds_until_due(entry: dict[str, Any], metric: ro.Metric, now: dt.datetime) -> float:
    """Seconds until the entry's next measurement (0: now)."""
    last = parse_stamp(entry.get("measuredAt"))
    if last is None or (not entry.get("measurements") and not entry.get("inconclusive")):
        return 0.0
    interval = ro.seconds(metric.interval) or 0.0
    return max(0.0, interval - (now - last).total_seconds())


def due(entry: dict[str, Any], metric: ro.Metric, now: dt.datetime) -> bool:
    return entry.get("phase") == "Running" and seconds_until_due(entry, metric, now) <= 0


def record(entry: dict[str, Any], metric: ro.Metric, outcome: Outcome, now: dt.datetime) -> dict[str, Any]:
    """The entry after one measurement."""
    new = dict(entry)
    new["measuredAt"] = stamp(now)
    new["value"] = outcome.value[:MAX_VALUE]
    new["message"] = outcome.message[:MAX_VALUE]
    if outcome.passed is None:
        new["inconclusive"] = int(new.get("inconclusive") or 0) + 1
        if new["inconclusive"] > metric.inconclusive_limit:
            new["phase"] = "Failed"
            new["message"] = f"inconclusive {new['inconclusive']} times: {outcome.message}"[:MAX_VALUE]
        return new
    new["measurements"] = int(new.get("measurements") or 0) + 1
    if not outcome.passed:
        new["failures"] = int(new.get("failures") or 0) + 1
    if int(new.get("failures") or 0) > metric.failure_limit:
        new["phase"] = "Failed"
        new["message"] = (outcome.message or f"result {outcome.value} does not meet {metric.success_condition!r}")[
            :MAX_VALUE
        ]
    elif new["measurements"] >= metric.count:
        new["phase"] = "Successful"
    return new
