"""status.compaction and the compressed inventory: a status that stays small at any size, and every
object visible again through expand_rows."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from gitward.appstatus import compaction
from gitward.planning import inventory


def _row(i: int, status: str = "Synced", health: str = "Healthy") -> dict[str, Any]:
    return {
        "group": "", "version": "v1", "kind": "ConfigMap", "namespace": "ns", "name": f"cm-{i}",
        "status": status, "health": {"status": health},
    }  # fmt: skip


def _entries(count: int) -> list[inventory.Entry]:
    return [inventory.Entry(f"ns_cm-{i}__ConfigMap", "v1") for i in range(count)]


def test_small_statuses_list_every_object() -> None:
    rows = [_row(i) for i in range(compaction.FULL_ROWS)]
    assert compaction.compact_rows(rows) == rows
    assert inventory.to_status(_entries(10)) == {"entries": [{"id": e.id, "v": "v1"} for e in sorted(_entries(10))]}


def test_large_statuses_keep_only_rows_that_say_something() -> None:
    rows = [_row(i) for i in range(20_000)]
    rows[5] = _row(5, "OutOfSync", "Healthy")
    rows[7] = _row(7, "Synced", "Degraded")
    rows.append({"group": "", "kind": "ConfigMap", "namespace": "ns", "name": "gone", "status": "Pruned"})
    kept = compaction.compact_rows(rows)
    assert [r["name"] for r in kept] == ["cm-5", "cm-7", "gone"]
    counts = compaction.summary(rows)
    assert counts == {
        "objects": 20_000, "synced": 19_999, "outOfSync": 1, "healthy": 19_999,
        "progressing": 0, "degraded": 1, "missing": 0,
    }  # fmt: skip


def test_a_20000_object_status_stays_far_below_the_limit_and_expands_back() -> None:
    rows = [_row(i) for i in range(20_000)]
    rows[3] = _row(3, "OutOfSync", "Missing")
    status = {
        "resources": compaction.compact_rows(rows),
        "summary": compaction.summary(rows),
        "inventory": inventory.to_status(_entries(20_000)),
        "operationState": {
            "syncResult": compaction.sync_result(
                "abc", ({"kind": "ConfigMap", "name": f"cm-{i}", "action": "created"} for i in range(20_000))
            )
        },
    }
    assert len(json.dumps(status)) < 512 * 1024
    expanded = compaction.expand_rows(status)
    assert len(expanded) == 20_000
    by_name = {r["name"]: r for r in expanded}
    assert by_name["cm-3"]["status"] == "OutOfSync" and by_name["cm-3"]["health"] == {"status": "Missing"}
    assert by_name["cm-19999"] == _row(19_999)


def test_expand_rows_of_a_full_status_adds_nothing() -> None:
    rows = [_row(i) for i in range(3)]
    status = {"resources": rows, "summary": compaction.summary(rows), "inventory": inventory.to_status(_entries(5))}
    assert compaction.expand_rows(status) == rows  # no compaction happened: the rows are the truth
    assert compaction.expand_rows({}) == []


def test_sync_result_lists_changes_and_counts_every_action() -> None:
    changes = [{"name": f"cm-{i}", "action": "unchanged"} for i in range(5000)]
    changes += [{"name": "a", "action": "configured"}, {"name": "b", "action": "failed", "message": "no"}]
    result = compaction.sync_result("sha", changes)
    assert [c["name"] for c in result["resources"]] == ["a", "b"]
    assert result["summary"] == {"configured": 1, "failed": 1, "unchanged": 5000}
    many = compaction.sync_result("sha", ({"name": str(i), "action": "created"} for i in range(5000)))
    assert len(many["resources"]) == compaction.FULL_ROWS and many["summary"] == {"created": 5000}
    in_sync = compaction.sync_result("sha", [{"name": "a", "action": "configured"}], unchanged=3)
    assert in_sync["summary"] == {"configured": 1, "unchanged": 3} and len(in_sync["resources"]) == 1


def test_compressed_inventory_round_trips_deterministically() -> None:
    entries = _entries(5000)
    first, second = inventory.to_status(entries), inventory.to_status(list(reversed(entries)))
    assert first == second and set(first) == {"compressed", "count"} and first["count"] == 5000
    assert inventory.from_status(first) == sorted(entries)


def test_a_hostile_compressed_inventory_is_no_bomb_and_no_error() -> None:
    bomb = base64.b64encode(zlib.compress(b"[" + b" " * (inventory.MAX_INFLATED + 10) + b"]", 9)).decode()
    assert inventory.from_status({"compressed": bomb, "count": 1}) == []
    for junk in (
        "not base64!",
        base64.b64encode(b"not zlib").decode(),
        base64.b64encode(zlib.compress(b"{}")).decode(),
    ):
        assert inventory.from_status({"compressed": junk}) == []
    odd = base64.b64encode(zlib.compress(json.dumps([["ns_a__ConfigMap", "v1"], ["bad"], [1, 2], "x"]).encode()))
    assert inventory.from_status({"compressed": odd.decode()}) == [inventory.Entry("ns_a__ConfigMap", "v1")]
