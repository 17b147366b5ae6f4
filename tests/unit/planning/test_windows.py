"""Project sync windows as plain data: which syncs may run at a given moment, and when the next opens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gitward.planning import windows

NIGHT = {"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "applications": ["*"]}
OFFICE = {"kind": "allow", "schedule": "0 9 * * 1-5", "duration": "8h", "applications": ["web-*"]}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)  # 2026-12-03 is a Thursday


def state(entries: list[dict[str, Any]], app: str, now: datetime) -> windows.State:
    found, problems = windows.parse({"syncWindows": entries})
    assert problems == []
    return windows.state(found, app, now)


def test_no_windows_no_limits() -> None:
    assert state([], "web", at(3, 2)) == windows.State(True, True)


def test_a_deny_window_blocks_while_active_and_names_when_it_ends() -> None:
    inside = state([NIGHT], "db", at(3, 2))
    assert not inside.automated
    assert not inside.manual
    assert "deny window '0 22 * * *'" in inside.message
    assert inside.next_open == at(3, 6)
    assert state([NIGHT], "db", at(3, 6)).automated  # the end is exclusive
    assert state([NIGHT], "db", at(3, 21, 59)).automated
    assert not state([NIGHT], "db", at(3, 22)).automated  # the start is inclusive


def test_manual_sync_passes_only_windows_that_allow_it() -> None:
    assert state([{**NIGHT, "manualSync": True}], "db", at(3, 2)).manual
    both = [{**NIGHT, "manualSync": True}, {**NIGHT, "schedule": "0 23 * * *"}]
    assert not state(both, "db", at(3, 2)).manual


def test_allow_windows_limit_only_the_applications_they_name() -> None:
    assert state([OFFICE], "db", at(3, 2)).automated
    outside = state([OFFICE], "web-shop", at(3, 2))
    assert not outside.automated
    assert outside.next_open == at(3, 9)
    assert state([OFFICE], "web-shop", at(3, 10)).automated
    friday_evening = state([OFFICE], "web-shop", at(4, 18))
    assert friday_evening.next_open == at(7, 9)  # Monday


def test_deny_wins_over_allow() -> None:
    late = {**OFFICE, "schedule": "0 20 * * *", "duration": "4h"}
    result = state([late, NIGHT], "web-shop", at(3, 22, 30))
    assert not result.automated
    assert result.next_open == at(4, 20)  # the deny ends at 06:00, but then no allow window is open


def test_an_empty_application_list_applies_to_none() -> None:
    assert state([{**NIGHT, "applications": []}], "db", at(3, 2)).automated


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({**NIGHT, "kind": "maybe"}, "kind"),
        ({**NIGHT, "schedule": "61 * * * *"}, "schedule"),
        ({**NIGHT, "schedule": "@daily"}, "schedule"),
        ({**NIGHT, "schedule": "* * * * * *"}, "schedule"),
        ({**NIGHT, "duration": "soon"}, "duration"),
        ({**NIGHT, "duration": "0s"}, "duration"),
        ({**NIGHT, "duration": "9999h"}, "duration"),
        ("not an object", "not an object"),
    ],
)
def test_a_broken_window_is_reported_and_blocks_nothing(entry: Any, problem: str) -> None:
    found, problems = windows.parse({"syncWindows": [entry]})
    assert found == []
    assert len(problems) == 1
    assert problem in problems[0]


def test_every_minute_windows_stay_bounded() -> None:
    busy = [{"kind": "deny", "schedule": "* * * * *", "duration": "30s", "applications": ["*"]}]
    result = state(busy, "db", at(3, 2, 0))
    assert not result.automated
    assert result.next_open == datetime(2026, 12, 3, 2, 0, 30, tzinfo=UTC)
