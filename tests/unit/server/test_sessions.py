"""Browser sessions and the login rate limiter: lifetimes, and memory bounded under any load."""

from __future__ import annotations

from gitward.server.sessions import RateLimiter, SessionStore


def test_session_round_trip_and_unknown_ids() -> None:
    store = SessionStore()
    session_id, session = store.create("ops", "admin", now=0.0)
    assert len(session_id) >= 40 and session.csrf_token and session.csrf_token != session_id
    assert store.get(session_id, now=1.0) is session
    assert store.get("not-a-session", now=1.0) is None
    assert store.get("", now=1.0) is None
    assert store.get("x" * 10_000, now=1.0) is None
    store.delete(session_id)
    assert store.get(session_id, now=1.0) is None


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    store = SessionStore(max_age=100.0, idle=10.0)
    idle_id, _ = store.create("a", "viewer", now=0.0)
    assert store.get(idle_id, now=10.5) is None  # idle too long
    busy_id, _ = store.create("b", "viewer", now=0.0)
    for t in range(5, 100, 5):
        assert store.get(busy_id, now=float(t)) is not None
    assert store.get(busy_id, now=100.0) is None  # absolute lifetime


def test_session_ids_are_not_kept_in_the_store() -> None:
    store = SessionStore()
    session_id, _ = store.create("a", "viewer", now=0.0)
    assert session_id not in repr(store._sessions)


def test_store_is_bounded_and_evicts_the_least_recently_used() -> None:
    store = SessionStore(max_sessions=100, max_age=1e9, idle=1e9)
    first_id, _ = store.create("first", "viewer", now=0.0)
    ids = [store.create(f"u{i}", "viewer", now=float(i))[0] for i in range(99)]
    assert store.get(first_id, now=200.0) is not None  # touched: now the most recent
    for i in range(10_000):
        store.create(f"flood{i}", "viewer", now=300.0 + i)
        assert len(store) <= 100
    assert store.get(ids[0], now=20_000.0) is None


def test_expired_sessions_are_dropped_on_create() -> None:
    store = SessionStore(idle=10.0)
    for i in range(50):
        store.create(f"u{i}", "viewer", now=0.0)
    store.create("late", "viewer", now=100.0)
    assert len(store) == 1


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(burst=3, rate=0.5)
    assert [limiter.allow("1.2.3.4", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.allow("1.2.3.4", now=0.0)
    assert wait == 2.0
    assert limiter.allow("5.6.7.8", now=0.0) == 0.0  # per client
    assert limiter.allow("1.2.3.4", now=1.0) > 0.0
    assert limiter.allow("1.2.3.4", now=2.1) == 0.0  # one token refilled
    assert limiter.allow("1.2.3.4", now=2.2) > 0.0


def test_rate_limiter_refills_to_at_most_the_burst() -> None:
    limiter = RateLimiter(burst=2, rate=1.0)
    limiter.allow("k", now=0.0)
    assert [limiter.allow("k", now=1000.0) for _ in range(3)] == [0.0, 0.0, 1.0]


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(burst=1, rate=0.01, max_keys=1000)
    for i in range(50_000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", now=float(i))
        assert len(limiter) <= 1000
    limiter.allow("recent", now=60_000.0)
    assert limiter.allow("recent", now=60_000.0) > 0.0  # the most recent key keeps its bucket


def test_rate_limiter_with_a_clock_going_backwards() -> None:
    limiter = RateLimiter(burst=1, rate=1.0)
    assert limiter.allow("k", now=100.0) == 0.0
    assert limiter.allow("k", now=50.0) > 0.0
