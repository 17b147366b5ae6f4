"""Prometheus metrics of the controller (SPEC §4 names). Labels are bounded: per Application at
most, never per object. Recorded by the reconciler and the Kubernetes client hook; exposed by
`gitward.server` on /metrics.
"""

from __future__ import annotations

import contextlib

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

RECONCILE_DURATION = Histogram(
    "gitward_reconcile_duration_seconds",
    "Duration of one reconcile of an Application.",
    ["namespace", "name", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
APP_INFO = Gauge(
    "gitward_app_info",
    "Information about an Application (always 1).",
    ["namespace", "name", "sync_status", "health_status", "revision"],
    registry=REGISTRY,
)
SYNC_TOTAL = Counter(
    "gitward_sync_total", "Sync operations by final phase.", ["namespace", "name", "phase"], registry=REGISTRY
)
OBJECTS_APPLIED = Counter(
    "gitward_objects_applied_total", "Objects written or pruned, by action.", ["action"], registry=REGISTRY
)
DRIFT_CORRECTIONS = Counter(
    "gitward_drift_corrections_total", "Out-of-band changes reverted by selfHeal.", registry=REGISTRY
)
GIT_FETCH_DURATION = Histogram(
    "gitward_git_fetch_duration_seconds",
    "Duration of resolving and fetching a revision.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
POLICY_VIOLATIONS = Counter(
    "gitward_policy_violations_total",
    "Rendered objects that failed a Policy's validation, by Policy name and action (Deny, Warn, Audit).",
    ["policy", "action"],
    registry=REGISTRY,
)
KUBE_REQUESTS = Counter(
    "gitward_kube_requests_total", "Requests to the Kubernetes API.", ["verb", "code"], registry=REGISTRY
)
NOTIFICATIONS = Counter(
    "gitward_notifications_total",
    "Notifications by Provider and result (success, failure, retry, dropped, deduplicated).",
    ["provider", "result"],
    registry=REGISTRY,
)

# progressive delivery (SPEC §10)
ROLLOUT_PHASE = Gauge(
    "gitward_rollout_phase",
    "1 for the current phase of each Rollout (Healthy, Progressing, Paused, Degraded).",
    ["namespace", "name", "phase"],
    registry=REGISTRY,
)
ANALYSIS_RUNS = Counter(
    "gitward_analysis_runs_total",
    "Analysis measurements by result (successful, failed, inconclusive).",
    ["result"],
    registry=REGISTRY,
)
ROLLOUT_PHASES = ("Healthy", "Progressing", "Paused", "Degraded")

_app_info_labels: dict[tuple[str, str], tuple[str, str, str, str, str]] = {}


def record_kube_request(verb: str, code: int) -> None:
    KUBE_REQUESTS.labels(verb, str(code)).inc()


def set_app_info(namespace: str, name: str, sync: str, health: str, revision: str) -> None:
    """Keep exactly one gitward_app_info series per Application."""
    labels = (namespace, name, sync, health, revision)
    old = _app_info_labels.get((namespace, name))
    if old == labels:
        return
    if old is not None:
        APP_INFO.remove(*old)
    APP_INFO.labels(*labels).set(1)
    _app_info_labels[(namespace, name)] = labels


def forget_app(namespace: str, name: str) -> None:
    old = _app_info_labels.pop((namespace, name), None)
    if old is not None:
        APP_INFO.remove(*old)


def set_rollout_phase(namespace: str, name: str, phase: str) -> None:
    for each in ROLLOUT_PHASES:
        ROLLOUT_PHASE.labels(namespace, name, each).set(1 if each == phase else 0)


def forget_rollout(namespace: str, name: str) -> None:
    for each in ROLLOUT_PHASES:
        with contextlib.suppress(KeyError):
            ROLLOUT_PHASE.remove(namespace, name, each)
