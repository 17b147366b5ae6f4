"""status.conditions and status.history: transition times and bounded history."""

from __future__ import annotations

import json

from gitward.appstatus import conditions, history


def test_transition_time_moves_only_when_status_changes() -> None:
    first = conditions.apply([], [conditions.Condition("Ready", False, "Progressing", "wait")], "t1")
    again = conditions.apply(first, [conditions.Condition("Ready", False, "Progressing", "still")], "t2")
    flipped = conditions.apply(again, [conditions.Condition("Ready", True, "Succeeded", "ok")], "t3")
    assert first[0]["lastTransitionTime"] == "t1"
    assert again[0]["lastTransitionTime"] == "t1"
    assert again[0]["message"] == "still"
    assert flipped[0] == {
        "type": "Ready",
        "status": "True",
        "reason": "Succeeded",
        "message": "ok",
        "lastTransitionTime": "t3",
    }
    assert conditions.apply("garbage", [], "t") == []


def test_history_is_bounded_with_increasing_ids() -> None:
    entries: list[dict[str, object]] = []
    for n in range(5):
        entry = history.Deployment(f"sha{n}", "a", "m", "c", f"d{n}", "automated", "Succeeded")
        entries = history.append(entries, entry, limit=3)
    assert [e["id"] for e in entries] == [3, 4, 5]
    assert [e["revision"] for e in entries] == ["sha2", "sha3", "sha4"]
    assert history.find(entries, 4)["revision"] == "sha3"  # type: ignore[index]
    assert history.find(entries, 1) is None
    assert history.append(None, entry, limit=0)[0]["id"] == 1


def test_history_of_hostile_commits_stays_small_whatever_the_limit() -> None:
    entries: list[dict[str, object]] = []
    huge = "𝔛" * 100_000  # four bytes each in UTF-8
    for n in range(1000):
        entry = history.Deployment(f"{n:040x}", huge, huge, "c", f"d{n}", "automated", "Succeeded")
        entries = history.append(entries, entry, limit=1000)
    size = len(json.dumps(entries, ensure_ascii=False).encode())
    assert size <= history.MAX_BYTES
    assert entries[-1]["id"] == 1000 and len(entries) > 1  # the newest kept, and more than one
    assert len(str(entries[-1]["author"])) == history.MAX_AUTHOR
    assert len(str(entries[-1]["message"])) == history.MAX_MESSAGE
    alone = history.append([], history.Deployment("x", "a", "m" * 10**6, "c", "d", "manual", "Failed"), 10)
    assert len(alone) == 1
