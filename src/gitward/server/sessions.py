"""Bounded in-memory state of the browser login: sessions (with their CSRF token) and a per-client
rate limiter of login attempts.

Used by `gitward.server.auth` (the login flow and the session-cookie check). Pure: time is passed in
(monotonic seconds) or read from `time.monotonic`, memory is bounded by LRU eviction, and nothing
here logs. Session ids are random 256-bit values; the store keys sessions by the SHA-256 of the id,
so the id itself is kept only in the browser's cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["RateLimiter", "Session", "SessionStore"]


def _now() -> float:
    return time.monotonic()


@dataclass
class Session:
    user: str
    role: str
    csrf_token: str = field(repr=False)
    created: float
    last_seen: float


class SessionStore:
    """Sessions with an absolute and an idle lifetime, at most `max_sessions` (oldest evicted)."""

    def __init__(self, max_sessions: int = 10_000, max_age: float = 12 * 3600.0, idle: float = 2 * 3600.0) -> None:
        self.max_sessions, self.max_age, self.idle = max_sessions, max_age, idle
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def create(self, user: str, role: str, now: float | None = None) -> tuple[str, Session]:
        """A new session; returns the id (for the cookie) and the session."""
        now = _now() if now is None else now
        self._expire(now)
        session_id = secrets.token_urlsafe(32)
        session = Session(user, role, secrets.token_urlsafe(32), now, now)
        self._sessions[self._key(session_id)] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str, now: float | None = None) -> Session | None:
        """The live session of `session_id` (its idle clock restarts), or None."""
        now = _now() if now is None else now
        if not session_id or len(session_id) > 128:
            return None
        key = self._key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        if self._expired(session, now):
            del self._sessions[key]
            return None
        session.last_seen = now
        self._sessions.move_to_end(key)
        return session

    def delete(self, session_id: str) -> None:
        self._sessions.pop(self._key(session_id), None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.created >= self.max_age or now - session.last_seen >= self.idle

    def _expire(self, now: float) -> None:
        # least recently seen first: stop at the first live one
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if not self._expired(oldest, now):
                return
            del self._sessions[key]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key (client address): `burst` attempts at once, then `rate` per second.
    At most `max_keys` buckets are kept; the least recently used is dropped first."""

    def __init__(self, burst: int = 5, rate: float = 0.2, max_keys: int = 10_000) -> None:
        self.burst, self.rate, self.max_keys = float(burst), rate, max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, now: float | None = None) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds until the next token."""
        now = _now() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + max(now - bucket.updated, 0.0) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else float("inf")
