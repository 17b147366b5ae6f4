"""Predicates on Application status and helpers shared by the scenario modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.apiserver import Manifest
from bench.watching import Predicate


def status(app: Manifest) -> dict[str, Any]:
    return app.get("status") or {}


def synced_at(sha: str) -> Predicate:
    """Synced at `sha` with the sync operation finished (not a wave still running)."""

    def check(app: Manifest) -> bool:
        st = status(app)
        sync, operation = st.get("sync") or {}, st.get("operationState") or {}
        return sync.get("status") == "Synced" and sync.get("revision") == sha and operation.get("phase") != "Running"

    return check


def synced_and_healthy(sha: str) -> Predicate:
    synced = synced_at(sha)
    return lambda app: synced(app) and (status(app).get("health") or {}).get("status") == "Healthy"


def handled_refresh(value: str) -> Predicate:
    """The reconcile that handled refresh `value` wrote its status (reconciledAt included)."""
    return lambda app: status(app).get("lastHandledRefresh") == value and bool(status(app).get("reconciledAt"))


def data_is(key: str, value: str, after_version: int = 0) -> Callable[[Manifest], bool]:
    """A ConfigMap whose `data[key]` is `value`, in a resourceVersion newer than `after_version`."""

    def check(obj: Manifest) -> bool:
        version = int(obj["metadata"].get("resourceVersion") or 0)
        return version > after_version and (obj.get("data") or {}).get(key) == value

    return check


def ratio(value: float, base: float) -> float:
    return value / base if base > 0 else float("inf")
