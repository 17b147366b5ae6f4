"""Health outcomes as data: the status codes, their ranking, and the worst of many.

Every family module of `gitward.health` returns a `Health`; the status stage (`gitward.appstatus`) folds
the health of an Application's managed objects with `worst` (SPEC §2: an Application is as healthy
as its least healthy object), and the applier compares waves with `is_worse`.

Ranking, best to worst (SPEC §2):

    Healthy < Suspended < Progressing < Missing < Degraded < Unknown
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "HEALTHY",
    "Health",
    "HealthStatus",
    "degraded",
    "healthy",
    "is_worse",
    "progressing",
    "suspended",
    "unknown",
    "worst",
]


class HealthStatus(str, enum.Enum):
    """The health of one object or of an Application; the value is what status fields carry."""

    Healthy = "Healthy"
    Suspended = "Suspended"
    Progressing = "Progressing"
    Missing = "Missing"
    Degraded = "Degraded"
    Unknown = "Unknown"

    def __str__(self) -> str:
        return self.value


_RANK: dict[HealthStatus, int] = {status: rank for rank, status in enumerate(HealthStatus)}


@dataclass(frozen=True, slots=True)
class Health:
    """A status and a short human message that starts with what is wrong ("" when nothing is)."""

    status: HealthStatus
    message: str = ""


HEALTHY = Health(HealthStatus.Healthy)


def healthy(message: str = "") -> Health:
    return Health(HealthStatus.Healthy, message)


def suspended(message: str) -> Health:
    return Health(HealthStatus.Suspended, message)


def progressing(message: str) -> Health:
    return Health(HealthStatus.Progressing, message)


def degraded(message: str) -> Health:
    return Health(HealthStatus.Degraded, message)


def unknown(message: str) -> Health:
    return Health(HealthStatus.Unknown, message)


def _status_of(value: Health | HealthStatus) -> HealthStatus:
    return value.status if isinstance(value, Health) else value


def is_worse(a: Health | HealthStatus, b: Health | HealthStatus) -> bool:
    """True when `a` ranks strictly worse than `b` (e.g. `is_worse(Degraded, Progressing)`)."""
    return _RANK[_status_of(a)] > _RANK[_status_of(b)]


def worst(healths: Iterable[Health]) -> Health:
    """The worst of `healths`, with its message; Healthy with no message when there are none.

    Among equally bad healths the first one wins, unless it has no message and a later one does:
    "Degraded: CrashLoopBackOff ..." says more than a bare "Degraded".
    """
    result = HEALTHY
    for health in healths:
        if is_worse(health, result) or (health.status is result.status and not result.message and health.message):
            result = health
    return result
