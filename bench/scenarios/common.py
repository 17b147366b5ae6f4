"""Predicates on Application status and helpers shared by the scenario modules.

Used by `bench.scenarios.*` and by the peers' scenarios (`bench.peers.flux_scenarios`), so that a
fleet is timed and an idle window sampled the same way for gitward and for its peers:
`time_fleet(watch, ready, names, create)` and `idle_window(rss, start, window)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.apiserver import Manifest
from bench.watching import Predicate, Watch


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


@dataclass(frozen=True)
class FleetTimes:
    created: float  # seconds spent creating the objects
    done: float  # seconds from the first creation to the watch event of the last object that became ready


def time_fleet(
    watch: Watch, ready: Predicate, names: set[str], create: Callable[[], None], timeout: float
) -> FleetTimes:
    """Run `create` (which creates the fleet) and wait until every object of `names` in `watch`
    satisfies `ready` (the scenario's own readiness), at most `timeout` seconds."""
    tracker = watch.track(ready, names)
    started = time.monotonic()
    create()
    created = time.monotonic() - started
    done = watch.wait(tracker, len(names), timeout) - started
    return FleetTimes(created, done)


def idle_window(rss: Callable[[], int], start: int, window: float, every: float = 0.5) -> tuple[float, int]:
    """Sample `rss()` every `every` seconds for `window` seconds, after a first reading `start` taken
    just before: (the seconds that passed, the highest reading)."""
    peak = start
    started = time.monotonic()
    while (left := window - (time.monotonic() - started)) > 0:
        time.sleep(min(left, every))
        peak = max(peak, rss())
    return time.monotonic() - started, peak
