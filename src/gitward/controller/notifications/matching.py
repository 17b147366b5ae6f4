"""Which Alerts a notice matches, which repeats are dropped, how fast a Provider is sent to, and how
long a failed delivery waits: plain data and an injected clock, no I/O (pure).
"""

from __future__ import annotations

import fnmatch
from collections import OrderedDict
from dataclasses import dataclass

from gitward.core.notifications import AlertSpec, Notice, Severity
from gitward.core.regexes import compile_regex


def matches(alert_namespace: str, spec: AlertSpec, notice: Notice) -> bool:
    """Whether `notice` is for the Alert: severity, one of its sources, its inclusion and exclusion
    lists (RE2 regexes searched in the message: linear time, whatever the pattern)."""
    if spec.suspend:
        return False
    if spec.event_severity == "error" and notice.severity != "error":
        return False
    if not any(_source_matches(alert_namespace, s.kind, s.name, s.namespace, notice) for s in spec.event_sources):
        return False
    if spec.inclusion_list and not any(compile_regex(p).search(notice.message) for p in spec.inclusion_list):
        return False
    return not any(compile_regex(p).search(notice.message) for p in spec.exclusion_list)


def _source_matches(alert_namespace: str, kind: str, name: str, namespace: str, notice: Notice) -> bool:
    if kind != notice.kind:
        return False
    if not fnmatch.fnmatchcase(notice.namespace, namespace or alert_namespace):
        return False
    return fnmatch.fnmatchcase(notice.name, name or "*")


class Deduplicator:
    """Drops a notice seen within `window` seconds for the same provider (same object, reason,
    message and revision). Remembers at most `capacity` keys (the oldest are forgotten first)."""

    def __init__(self, window: float, capacity: int = 10_000) -> None:
        self.window = window
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()

    def first(self, provider: str, notice: Notice, now: float) -> bool:
        """True when `notice` is new for `provider` (and remember it); False for a repeat."""
        key = (provider, notice.kind, notice.namespace, notice.name, notice.reason, notice.message, notice.revision)
        seen = self._seen.get(key)
        if seen is not None and now - seen < self.window:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True


class TokenBucket:
    """At most `burst` deliveries at once, then `rate` per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = now

    def reserve(self, now: float) -> float:
        """Take a token; the seconds to wait before using it (0 when one was available)."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5  # in all, the first one included
    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait after failed attempt number `attempt` (1-based): exponential, or the receiver's
        Retry-After when it said one — never more than `cap`."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.cap))
        return float(min(self.base * self.factor ** (attempt - 1), self.cap))


def health_notice(old: str, new: str, message: str) -> tuple[Severity, str, str] | None:
    """(severity, reason, message) for a change of an Application's health, or None: degraded,
    recovered from Degraded, or healthy after progressing (not on first sight)."""
    if not old or old == new:
        return None
    if new == "Degraded":
        return "error", "HealthDegraded", f"health degraded (was {old})" + (f": {message}" if message else "")
    if new not in ("Healthy", "Suspended"):
        return None
    if old == "Degraded":
        return "info", "HealthRecovered", f"health recovered: {new}"
    if old in ("Progressing", "Missing", "Unknown"):
        return "info", "Healthy", f"healthy (was {old})"
    return None
