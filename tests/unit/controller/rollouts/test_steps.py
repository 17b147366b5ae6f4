"""The rollout step machine: plain spec, status and observations in, the next status out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from gitward.controller.rollouts import steps
from gitward.core import rollouts as ro

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)

ERROR_RATE = ro.AnalysisTemplateSpec.model_validate(
    {"metrics": [{"name": "errors", "provider": {"web": {"url": "http://127.0.0.1:1/x"}}}]}
)


def spec(**over: Any) -> ro.RolloutSpec:
    raw: dict[str, Any] = {
        "targetRef": {"name": "web"},
        "service": {"name": "web", "port": 80},
        "strategy": {
            "canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "10s"}}, {"setWeight": 50}, {"pause": {}}]}
        },
        "progressDeadlineSeconds": 60,
    }
    raw.update(over)
    return ro.RolloutSpec.model_validate(raw)


def seen(revision: str | None = "rev2", at: float = 0.0, **over: Any) -> steps.Observed:
    return steps.Observed(now=T0 + dt.timedelta(seconds=at), target_revision=revision, **over)


def healthy(revision: str = "rev1") -> dict[str, Any]:
    return {
        "phase": "Healthy",
        "stableRevision": revision,
        "canaryRevision": revision,
        "currentStep": 0,
        "canaryWeight": 0,
    }


def test_first_sight_makes_the_target_the_stable_revision() -> None:
    status, notices = steps.advance(spec(), {}, seen("rev1"))
    assert (status["phase"], status["stableRevision"], status["canaryWeight"]) == ("Healthy", "rev1", 0)
    assert [n.reason for n in notices] == ["Initialized"]


def test_a_new_template_starts_at_step_zero_with_its_weight() -> None:
    status, notices = steps.advance(spec(), healthy(), seen())
    assert (status["phase"], status["currentStep"], status["canaryWeight"]) == ("Progressing", 0, 20)
    assert (status["stableRevision"], status["canaryRevision"]) == ("rev1", "rev2")
    assert "RolloutStarted" in [n.reason for n in notices]


def test_set_weight_waits_for_the_canary_then_a_timed_pause_then_a_manual_pause() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=1))
    assert status["currentStep"] == 0  # canary not ready yet
    status, _ = steps.advance(s, status, seen(at=2, canary_ready=True))
    assert (status["currentStep"], status["phase"]) == (1, "Progressing")
    status, _ = steps.advance(s, status, seen(at=5, canary_ready=True))
    assert status["currentStep"] == 1  # the pause lasts 10 s
    status, _ = steps.advance(s, status, seen(at=13, canary_ready=True))
    assert (status["currentStep"], status["canaryWeight"]) == (2, 50)
    status, _ = steps.advance(s, status, seen(at=14, canary_ready=True))
    assert (status["currentStep"], status["phase"]) == (3, "Paused")
    status, _ = steps.advance(s, status, seen(at=100, canary_ready=True))
    assert status["phase"] == "Paused"
    status, notices = steps.advance(s, status, seen(at=101, canary_ready=True, requested=frozenset({"promote"})))
    assert status["stableRevision"] == "rev2" and status["phase"] == "Progressing"  # the primary is being updated
    assert status["canaryWeight"] == 50  # traffic stays until the primary runs the new template
    status, notices = steps.advance(s, status, seen(at=102, canary_ready=True, primary_ready=True))
    assert (status["phase"], status["canaryWeight"]) == ("Healthy", 0)
    assert status["history"][-1]["result"] == "Promoted" and status["history"][-1]["revision"] == "rev2"
    assert [n.reason for n in notices] == ["Promoted"]


def test_a_promoted_rollout_is_not_promoted_again() -> None:
    s = spec(strategy={"canary": {"steps": []}})
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=1, primary_ready=True))  # ready at the old revision
    assert (status["phase"], status["stableRevision"]) == ("Progressing", "rev2")
    status, _ = steps.advance(s, status, seen(at=1, primary_ready=True))
    assert status["phase"] == "Healthy"
    again, notices = steps.advance(s, status, seen(at=2, primary_ready=True))
    assert len(again["history"]) == 1 and notices == []


def test_progress_deadline_rolls_back() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, notices = steps.advance(s, status, seen(at=61))
    assert (status["phase"], status["canaryWeight"], status["stableRevision"]) == ("Degraded", 0, "rev1")
    assert status["history"][-1]["result"] == "RolledBack" and "deadline" in status["history"][-1]["message"]
    assert notices[-1].type == "Warning"


def test_a_rolled_back_revision_stays_degraded_until_retry_or_a_new_revision() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=61))
    status, _ = steps.advance(s, status, seen(at=70))
    assert status["phase"] == "Degraded"
    retried, _ = steps.advance(s, status, seen(at=71, requested=frozenset({"retry"})))
    assert (retried["phase"], retried["canaryRevision"], retried["currentStep"]) == ("Progressing", "rev2", 0)
    newer, _ = steps.advance(s, status, seen("rev3", at=72))
    assert (newer["phase"], newer["canaryRevision"]) == ("Progressing", "rev3")
    reverted, _ = steps.advance(s, status, seen("rev1", at=72))
    assert (reverted["phase"], reverted["failedRevision"]) == ("Healthy", "")


def test_abort_ends_the_rollout_as_aborted() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=1, requested=frozenset({"abort"}), operations={"abort": "1"}))
    assert (status["phase"], status["history"][-1]["result"]) == ("Degraded", "Aborted")
    assert status["operations"]["abort"] == "1"


def test_a_new_template_during_a_rollout_restarts_at_step_zero() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=2, canary_ready=True))
    assert status["currentStep"] == 1
    status, notices = steps.advance(s, status, seen("rev3", at=3))
    assert (status["currentStep"], status["canaryRevision"], status["canaryWeight"]) == (0, "rev3", 20)
    assert "newest" in notices[-1].message


def test_promote_full_skips_the_remaining_steps() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=1, requested=frozenset({"promoteFull"})))
    assert status["stableRevision"] == "rev2"


def test_a_failed_analysis_rolls_back_and_a_passed_one_advances() -> None:
    s = spec(strategy={"canary": {"steps": [{"analysis": {"templates": [{"name": "errors"}]}}, {"setWeight": 50}]}})
    templates: dict[str, ro.AnalysisTemplateSpec | str] = {"errors": ERROR_RATE}
    status, _ = steps.advance(s, healthy(), seen(templates=templates))
    assert [(a["metric"], a["phase"]) for a in status["analysis"]] == [("errors", "Running")]
    passed = {**status, "analysis": [{**status["analysis"][0], "phase": "Successful"}]}
    after, _ = steps.advance(s, passed, seen(at=1, templates=templates))
    assert (after["currentStep"], after["canaryWeight"]) == (1, 50)
    failed = {**status, "analysis": [{**status["analysis"][0], "phase": "Failed", "message": "too many errors"}]}
    after, _ = steps.advance(s, failed, seen(at=1, templates=templates))
    assert after["phase"] == "Degraded" and "too many errors" in after["message"]


def test_a_missing_template_fails_the_analysis() -> None:
    s = spec(analysis={"templates": [{"name": "nope"}]})
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=1))
    assert status["phase"] == "Degraded" and "AnalysisTemplate/nope: not found" in status["message"]


def test_blue_green_previews_at_full_size_and_waits_for_promote() -> None:
    s = spec(strategy={"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 30}})
    status, _ = steps.advance(s, healthy(), seen())
    assert steps.world(s, status, 3, T0) == steps.World(0, 3, apex="primary")
    status, _ = steps.advance(s, status, seen(at=1, canary_ready=True))
    assert status["phase"] == "Paused"
    status, _ = steps.advance(s, status, seen(at=2, canary_ready=True, requested=frozenset({"promote"})))
    assert steps.world(s, status, 3, T0).apex == "canary"  # clients switch while the primary updates
    status, _ = steps.advance(s, status, seen(at=3, primary_ready=True))
    assert status["phase"] == "Healthy"
    assert steps.world(s, status, 3, T0 + dt.timedelta(seconds=10)).canary_replicas == 3  # scale-down delay
    assert steps.world(s, status, 3, T0 + dt.timedelta(seconds=40)).canary_replicas == 0


@pytest.mark.parametrize(
    ("weight", "primary", "canary"), [(0, 4, 0), (1, 4, 1), (20, 4, 1), (50, 4, 2), (60, 4, 3), (100, 4, 4)]
)
def test_replica_based_traffic_rounds_up(weight: int, primary: int, canary: int) -> None:
    s = spec()
    assert steps.world(s, {"phase": "Progressing", "canaryWeight": weight}, primary, T0).canary_replicas == canary


@pytest.mark.parametrize(
    "bad",
    [
        {"strategy": {}},
        {"strategy": {"canary": {"steps": [{"setWeight": 20, "pause": {}}]}}},
        {"strategy": {"canary": {"steps": [{"setWeight": 120}]}}},
        {"targetRef": {"name": "../x"}},
        {"strategy": {"canary": {"steps": [{"pause": {"duration": "forever"}}]}}},
    ],
)
def test_invalid_specs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**bad)


def test_without_traffic_routing_the_service_reaches_both_versions_during_a_canary() -> None:
    s = spec()
    assert steps.world(s, {"phase": "Progressing", "canaryWeight": 20}, 4, T0).apex == "both"
    assert steps.world(s, {"phase": "Progressing", "canaryWeight": 0}, 4, T0).apex == "primary"
    assert steps.world(s, {"phase": "Healthy", "canaryWeight": 0}, 4, T0).apex == "primary"
    routed = spec(strategy={"canary": {"steps": [], "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}})
    assert steps.world(routed, {"phase": "Progressing", "canaryWeight": 20}, 4, T0).apex == "primary"


def test_every_weight_change_is_recorded_for_the_chart_and_bounded() -> None:
    s = spec()
    status, _ = steps.advance(s, healthy(), seen())
    status, _ = steps.advance(s, status, seen(at=2, canary_ready=True))
    status, _ = steps.advance(s, status, seen(at=13, canary_ready=True))
    assert [(w["weight"], w["revision"]) for w in status["weights"]] == [(20, "rev2"), (50, "rev2")]
    assert status["weights"][0]["at"] == steps.stamp(T0)
    unchanged, _ = steps.advance(s, status, seen(at=14, canary_ready=True))
    assert len(unchanged["weights"]) == 2  # a pass that keeps the weight records nothing
    crowded = {**healthy(), "weights": [{"at": "x", "weight": 1, "revision": "r"}] * steps.MAX_WEIGHTS}
    status, _ = steps.advance(s, crowded, seen())
    assert len(status["weights"]) == steps.MAX_WEIGHTS
    assert status["weights"][-1]["weight"] == 20


def test_a_new_template_before_the_first_primary_runs_becomes_a_canary_against_it() -> None:
    status, _ = steps.advance(spec(), {}, seen("rev1"))
    status, notices = steps.advance(spec(), status, seen("rev2", at=1, primary_revision="rev1"))
    assert (status["phase"], status["stableRevision"], status["canaryRevision"]) == ("Progressing", "rev1", "rev2")
    assert "RolloutStarted" in [n.reason for n in notices]


def test_a_promotion_whose_template_left_the_target_restarts_on_the_newest_template() -> None:
    s = spec(strategy={"canary": {"steps": [{"setWeight": 50}]}})
    status, _ = steps.advance(s, healthy(), seen("rev2"))
    status, _ = steps.advance(s, status, seen("rev2", at=1, canary_ready=True, primary_revision="rev1"))
    assert status["stableRevision"] == "rev2"  # promoting: the primary is to get rev2 from the target
    # rev3 replaced rev2 in the target before the primary got it: waiting would never end
    status, notices = steps.advance(s, status, seen("rev3", at=2, primary_revision="rev1"))
    assert (status["phase"], status["stableRevision"], status["canaryRevision"]) == ("Progressing", "rev1", "rev3")
    assert status["currentStep"] == 0 and "RolloutStarted" in [n.reason for n in notices]
    # once the primary runs rev2 the promotion finishes as before
    done, _ = steps.advance(s, status, seen("rev3", at=3, canary_ready=True, primary_revision="rev1"))
    assert done["stableRevision"] == "rev3"


def test_a_promotion_the_primary_already_runs_finishes_before_the_next_revision() -> None:
    s = spec(strategy={"canary": {"steps": []}})
    status, _ = steps.advance(s, healthy(), seen("rev2"))
    status, _ = steps.advance(s, status, seen("rev2", at=1, primary_revision="rev1"))
    assert status["stableRevision"] == "rev2"
    status, _ = steps.advance(s, status, seen("rev3", at=1, primary_ready=True, primary_revision="rev2"))
    assert (status["phase"], status["history"][-1]["revision"]) == ("Healthy", "rev2")
    status, _ = steps.advance(s, status, seen("rev3", at=2, primary_revision="rev2"))
    assert (status["phase"], status["canaryRevision"]) == ("Progressing", "rev3")


def test_no_primary_yet_keeps_the_stable_revision_and_delivers_the_newest_as_a_canary() -> None:
    status, _ = steps.advance(spec(), healthy(), seen("rev2", primary_revision=""))
    assert (status["stableRevision"], status["canaryRevision"], status["phase"]) == ("rev1", "rev2", "Progressing")
