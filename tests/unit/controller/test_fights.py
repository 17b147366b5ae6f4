"""controller.fights: drift corrections counted per object, back-off only for an object another
writer keeps changing back, the requeue at the end of a back-off, and the end of a fight. Plain data
and clock readings: no cluster."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gitward.controller import fights
from gitward.core.manifests import ObjectRef

A, B, C, D = (ObjectRef("", "ConfigMap", "ns", name) for name in "abcd")


def correct(guard: fights.FightGuard, now: float, *refs: ObjectRef, writer: str = "intruder") -> list[fights.Fight]:
    """One self-heal sync that found `refs` drifted and wrote them."""
    return guard.record(dict.fromkeys(refs, writer), refs, now)


def test_a_person_editing_several_objects_is_not_a_fight() -> None:
    guard = fights.FightGuard()
    for i, ref in enumerate([A, B, C, D, A, B]):  # two edits each of A and B, one of C and D, within seconds
        assert guard.held(float(i)) == frozenset()
        assert correct(guard, float(i), ref) == []
    assert guard.fights() == [] and guard.wake(6.0) is None


def test_one_object_changed_back_limit_times_backs_off_alone() -> None:
    guard = fights.FightGuard()
    assert correct(guard, 0.0, A) == [] and correct(guard, 1.0, A) == []
    started = correct(guard, 2.0, A)
    assert [(f.ref, f.writer, f.corrections, f.backoff) for f in started] == [(A, "intruder", 3, fights.BASE)]
    assert guard.held(2.1) == {A}, "only the fought object is held"
    assert correct(guard, 2.1, B) == [] and guard.held(2.2) == {A}
    assert guard.wake(2.0) == pytest.approx(fights.BASE), "requeue at the end of the back-off"
    assert guard.held(2.0 + fights.BASE) == frozenset()


def test_back_off_doubles_per_correction_in_the_fight_up_to_the_cap() -> None:
    """The other writer changes A back at once after every correction; the reconciler runs when
    the guard asks (`wake`) and corrects A whenever it is not held."""
    guard = fights.FightGuard()
    now, corrected_at = 0.0, []
    while len(corrected_at) < fights.LIMIT + 10:
        if A in guard.held(now):
            guard.record({A: "intruder"}, [], now)  # still drifted, held
        else:
            correct(guard, now, A)
            corrected_at.append(now)
        assert guard.settle(now) == [], "A never stays in sync: the fight goes on"
        wake = guard.wake(now)
        now += 0.5 if wake is None else wake + 0.05
    gaps = [later - earlier for earlier, later in itertools.pairwise(corrected_at)]
    expected = [0.5] * (fights.LIMIT - 1) + [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]
    assert gaps == [pytest.approx(gap, abs=0.2) for gap in expected]
    [fight] = guard.fights()
    assert (fight.corrections, fight.backoff) == (fights.LIMIT + 10, fights.CAP)


def test_corrections_grow_sub_linearly_against_a_writer_that_never_stops() -> None:
    """The intruder changes A back every half second for ten minutes; gitward corrects A only when
    A is not held, and B, edited once a minute by a person, is corrected every time."""
    guard = fights.FightGuard()
    corrections = {A: 0, B: 0}
    for step in range(1200):
        now = step * 0.5
        drifted = {A: "intruder"} | ({B: "person"} if step % 120 == 0 else {})
        written = [ref for ref in drifted if ref not in guard.held(now)]
        guard.record(drifted, written, now)
        for ref in written:
            corrections[ref] += 1
        guard.settle(now)
    assert corrections[B] == 10
    assert corrections[A] < 20, corrections  # 1200 changes: 3, then 5 s, 10 s, 20 s ... 300 s apart
    assert [fight.ref for fight in guard.fights()] == [A]


def test_suspects_are_the_objects_whose_next_correction_is_part_of_a_fight() -> None:
    guard = fights.FightGuard()
    correct(guard, 0.0, A, B)
    assert guard.suspects(1.0) == frozenset()
    correct(guard, 1.0, A)
    assert guard.suspects(2.0) == {A}, "a third correction would start the fight: name its writer"
    assert guard.suspects(0.0 + fights.WINDOW + 0.5) == frozenset(), "the first correction left the window"
    correct(guard, 2.0, A)
    assert guard.suspects(100.0) == {A}, "in a fight until it ends"


def test_a_fight_ends_once_the_object_stayed_in_sync_for_the_window() -> None:
    guard = fights.FightGuard()
    for t in (0.0, 1.0, 2.0):
        correct(guard, t, A)
    assert guard.settle(2.0 + fights.WINDOW - 1) == []
    assert [f.ref for f in guard.fights()] == [A]
    assert guard.wake(2.0) == pytest.approx(fights.BASE)
    assert guard.wake(2.0 + fights.BASE + 1) == pytest.approx(fights.WINDOW - fights.BASE - 1), "to clear it"
    assert guard.settle(2.0 + fights.WINDOW) == [A]
    assert guard.fights() == [] and guard.wake(40.0) is None
    assert correct(guard, 40.0, A) == [], "a fresh start: one correction is no fight"


def test_an_object_held_and_still_drifted_stays_in_the_fight() -> None:
    guard = fights.FightGuard(base=100.0)
    for t in (0.0, 1.0, 2.0):
        correct(guard, t, A)
    for t in (20.0, 40.0, 60.0, 80.0):  # reconciles (held objects' events, wakes) that find A drifted, held
        assert A in guard.held(t)
        guard.record({A: "intruder"}, [], t)
        assert guard.settle(t) == []
    assert guard.wake(80.0) == pytest.approx(22.0), "the back-off ends at 102 s"
    assert A not in guard.held(102.0)
    assert correct(guard, 102.0, A) == [], "the same fight goes on: no new start"
    assert guard.fights()[0].backoff == 200.0


def test_a_fight_names_the_other_writer_in_its_message() -> None:
    guard = fights.FightGuard()
    correct(guard, 0.0, A, writer="intruder")
    correct(guard, 1.0, A, writer="")  # unknown this time: the last known writer stays
    [fight] = correct(guard, 2.0, A, writer="")
    assert fight.writer == "intruder"
    assert fight.message.startswith('ConfigMap/ns/a: changed back repeatedly by field manager "intruder"')
    assert "5s" in fight.message
    assert "another writer" in fights.Fight(B, "", 3, 5.0).message


def entry(manager: str, time: str, **extra: Any) -> dict[str, Any]:
    return {"manager": manager, "operation": "Update", "time": time, "fieldsV1": {}, **extra}


@pytest.mark.parametrize(
    ("entries", "writer"),
    [
        ([], ""),
        ([entry("gitward", "2026-01-01T00:00:05Z")], ""),
        ([entry("gitward", "2026-01-01T00:00:05Z"), entry("intruder", "2026-01-01T00:00:01Z")], "intruder"),
        ([entry("kubectl-edit", "2026-01-01T00:00:01Z"), entry("intruder", "2026-01-01T00:00:03Z")], "intruder"),
        ([entry("intruder", "2026-01-01T00:00:03Z"), entry("kubectl-edit", "2026-01-01T00:00:01Z")], "intruder"),
        ([entry("a", "2026-01-01T00:00:03Z"), entry("b", "2026-01-01T00:00:03Z")], "b"),  # a tie: the later entry
        ([entry("kubectl", "2026-01-01T00:00:04Z", subresource="scale"), entry("helm", "2026-01-01T00:00:01Z")],
         "kubectl"),
        (["junk", {"time": "2026-01-01T00:00:09Z"}, entry("intruder", "")], "intruder"),
        ("not a list", ""),
    ],
)  # fmt: skip
def test_last_writer(entries: Any, writer: str) -> None:
    assert fights.last_writer({"metadata": {"managedFields": entries}}) == writer
