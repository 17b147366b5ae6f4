"""Unit tests of `gitward.health`: every YAML fixture, the ranking, and robustness to junk input.

Each file in tests/fixtures/health/ is one live object whose header states the expected outcome:

    # expect: Degraded
    # message: CrashLoopBackOff in container "web"      (optional: a substring of the message)

Objects are judged at NOW, so fixtures with times (progress deadlines) are reproducible.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import gitward.health
from gitward.health import Health, HealthStatus, assess, is_worse, worst

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "health"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

H = HealthStatus


def _header(path: Path) -> dict[str, str]:
    """The `# key: value` lines at the top of a fixture."""
    header: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("# ").partition(": ")
        if sep and key in ("expect", "message"):
            header[key] = value.strip()
    return header


FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- fixtures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture(path: Path) -> None:
    header = _header(path)
    assert "expect" in header, f"{path.name}: first line must be '# expect: <HealthStatus>'"
    health = assess(_load(path), now=NOW)
    assert health.status is HealthStatus(header["expect"]), health.message
    if "message" in header:
        assert header["message"] in health.message
    if health.status is not H.Healthy:
        assert health.message, "anything short of Healthy says why"


def test_fixtures_cover_every_family_and_outcome() -> None:
    expected = {HealthStatus(_header(path)["expect"]) for path in FIXTURE_FILES}
    kinds = {_load(path)["kind"] for path in FIXTURE_FILES if path.stem != "not-a-mapping"}
    assert expected == set(HealthStatus) - {H.Missing}  # Missing is for objects that do not exist
    assert {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job", "CronJob"} <= kinds
    assert {"PersistentVolumeClaim", "Service", "Ingress", "CustomResourceDefinition", "APIService"} <= kinds
    assert {"HorizontalPodAutoscaler", "Namespace", "ConfigMap"} <= kinds


# --- time ---------------------------------------------------------------------------------------


def test_progress_deadline_is_judged_against_now() -> None:
    stalled = _load(FIXTURES / "deployment-stalled.yaml")  # last progress at 10:05, deadline 600s
    assert assess(stalled, now=datetime(2024, 6, 1, 10, 10, tzinfo=UTC)).status is H.Progressing
    assert assess(stalled, now=datetime(2024, 6, 1, 10, 16, tzinfo=UTC)).status is H.Degraded


def test_now_defaults_to_the_current_time() -> None:
    assert assess(_load(FIXTURES / "deployment-stalled.yaml")).status is H.Degraded  # 2024 is long gone


def test_naive_now_is_read_as_utc() -> None:
    stalled = _load(FIXTURES / "deployment-stalled.yaml")
    assert assess(stalled, now=datetime(2024, 6, 1, 10, 10)).status is H.Progressing
    assert assess(stalled, now=datetime(2024, 6, 1, 12, 0)).status is H.Degraded


# --- messages -----------------------------------------------------------------------------------


def test_long_messages_are_cut() -> None:
    obj = _load(FIXTURES / "custom-ready-false.yaml")
    obj["status"]["conditions"][0]["message"] = "kustomize build failed: " + "x" * 5000
    health = assess(obj, now=NOW)
    assert health.status is H.Degraded
    assert health.message.startswith("Not ready: BuildFailed: kustomize build failed: xxx")
    assert len(health.message) == gitward.health.MAX_MESSAGE
    assert health.message.endswith("...")


# --- ranking ------------------------------------------------------------------------------------

RANKED = [H.Healthy, H.Suspended, H.Progressing, H.Missing, H.Degraded, H.Unknown]


def test_status_values_are_the_spec_strings() -> None:
    assert [status.value for status in HealthStatus] == [status.name for status in RANKED]
    assert str(H.Degraded) == "Degraded"
    assert H.Degraded == "Degraded"


@pytest.mark.parametrize(("better", "worse"), list(itertools.combinations(RANKED, 2)))
def test_is_worse_follows_the_spec_order(better: HealthStatus, worse: HealthStatus) -> None:
    assert is_worse(worse, better)
    assert not is_worse(better, worse)


@pytest.mark.parametrize("status", list(HealthStatus))
def test_nothing_is_worse_than_itself(status: HealthStatus) -> None:
    assert not is_worse(status, status)
    assert not is_worse(Health(status, "a"), Health(status, "b"))


def test_is_worse_accepts_healths() -> None:
    assert is_worse(Health(H.Unknown), H.Degraded)
    assert is_worse(H.Missing, Health(H.Progressing, "rolling out"))


@pytest.mark.parametrize(
    ("healths", "expected"),
    [
        pytest.param([], Health(H.Healthy, ""), id="empty-is-healthy"),
        pytest.param([Health(H.Healthy)], Health(H.Healthy), id="one"),
        pytest.param(
            [Health(H.Healthy), Health(H.Degraded, "CrashLoopBackOff"), Health(H.Progressing, "rolling")],
            Health(H.Degraded, "CrashLoopBackOff"),
            id="worst-keeps-its-message",
        ),
        pytest.param(
            [Health(H.Unknown, "bad field"), Health(H.Degraded, "crash")],
            Health(H.Unknown, "bad field"),
            id="unknown-beats-degraded",
        ),
        pytest.param(
            [Health(H.Progressing, "rolling"), Health(H.Missing, "not created"), Health(H.Suspended, "paused")],
            Health(H.Missing, "not created"),
            id="missing-beats-progressing",
        ),
        pytest.param(
            [Health(H.Suspended, "paused"), Health(H.Healthy)],
            Health(H.Suspended, "paused"),
            id="suspended-beats-healthy",
        ),
        pytest.param(
            [Health(H.Degraded, "first"), Health(H.Degraded, "second")],
            Health(H.Degraded, "first"),
            id="ties-keep-the-first",
        ),
        pytest.param(
            [Health(H.Degraded), Health(H.Degraded, "says why")],
            Health(H.Degraded, "says why"),
            id="ties-prefer-a-message",
        ),
    ],
)
def test_worst(healths: list[Health], expected: Health) -> None:
    assert worst(healths) == expected
    assert worst(iter(healths)) == expected  # any iterable, read once


def test_health_is_a_frozen_value() -> None:
    health = Health(H.Degraded)
    assert health.message == ""
    assert health == Health(H.Degraded, "")
    with pytest.raises(FrozenInstanceError):
        health.status = H.Healthy  # type: ignore[misc]


def test_public_names() -> None:
    assert sorted(gitward.health.__all__) == ["Health", "HealthStatus", "assess", "is_worse", "worst"]


# --- robustness: live objects are untrusted input -----------------------------------------------

_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside a fixture (dict keys and list indexes)."""
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _replaced(obj: Any, path: tuple[Any, ...], junk: Any) -> Any:
    head, *rest = path
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[head] = _replaced(copy[head], tuple(rest), junk) if rest else junk
    return copy


_MUTATIONS = [
    (path, fixture, where)
    for path in FIXTURE_FILES
    if isinstance(fixture := _load(path), dict)
    for where in _paths(fixture)
]


@settings(max_examples=400, deadline=None)
@given(mutation=st.sampled_from(_MUTATIONS), junk=_JUNK)
def test_junk_anywhere_in_a_fixture_never_raises(
    mutation: tuple[Path, dict[str, Any], tuple[Any, ...]], junk: Any
) -> None:
    _, fixture, where = mutation
    health = assess(_replaced(fixture, where, junk), now=NOW)
    assert isinstance(health.status, HealthStatus)
    if health.status is H.Unknown:
        assert health.message


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(
        [
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("v1", "Pod"),
            ("batch/v1", "Job"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("example.org/v1", "Widget"),
        ]
    ),
    metadata=_JUNK,
    spec=_JUNK,
    status=_JUNK,
)
def test_junk_objects_never_raise(kind: tuple[str, str], metadata: Any, spec: Any, status: Any) -> None:
    obj = {"apiVersion": kind[0], "kind": kind[1], "metadata": metadata, "spec": spec, "status": status}
    assert isinstance(assess(obj, now=NOW), Health)
