"""inventory: entries of objects, diff, merge, and the status round trip."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.core.manifests import ObjectRef
from gitward.planning import inventory
from gitward.planning.inventory import Entry

WEB = Entry("shop_web_apps_Deployment", "v1")
CFG = Entry("shop_cfg__ConfigMap", "v1")
NS = Entry("_shop__Namespace", "v1")


def test_entries_of_objects() -> None:
    objs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}},
    ]
    assert inventory.entries_of(objs) == [NS, CFG, WEB]
    assert WEB.ref == ObjectRef("apps", "Deployment", "shop", "web")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ([], [], []),
        ([WEB, CFG], [WEB], [CFG]),
        ([WEB], [WEB, CFG], []),
        ([WEB], [Entry(WEB.id, "v2")], []),  # a new API version is not a removal
        ([CFG, CFG, NS], [], [NS, CFG]),
    ],
)
def test_diff(old: list[Entry], new: list[Entry], expected: list[Entry]) -> None:
    assert inventory.diff(old, new) == expected


@pytest.mark.parametrize(
    ("new", "kept", "expected"),
    [
        ([WEB], [], [WEB]),
        ([WEB], [CFG], [CFG, WEB]),
        ([Entry(WEB.id, "v2")], [WEB], [Entry(WEB.id, "v2")]),
        ([], [NS], [NS]),
    ],
)
def test_merge(new: list[Entry], kept: list[Entry], expected: list[Entry]) -> None:
    assert inventory.merge(new, kept) == expected


def test_status_round_trip_is_sorted() -> None:
    status = inventory.to_status([WEB, NS, CFG, WEB])
    assert status == {"entries": [{"id": NS.id, "v": "v1"}, {"id": CFG.id, "v": "v1"}, {"id": WEB.id, "v": "v1"}]}
    assert inventory.from_status(status) == [NS, CFG, WEB]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("garbage", []),
        ({"entries": "garbage"}, []),
        ({"entries": [None, 3, "x", {"v": "v1"}, {"id": 5}]}, []),
        ({"entries": [{"id": "no-underscores"}, {"id": "a_b_c"}, {"id": "ns__g_K"}, {"id": "ns_n_g_"}]}, []),
        ({"entries": [{"id": WEB.id}]}, [Entry(WEB.id, "")]),
        ({"entries": [{"id": WEB.id, "v": 2}, {"id": CFG.id, "v": "v1"}]}, [CFG, Entry(WEB.id, "")]),
    ],
)
def test_from_status_tolerates_garbage(value: Any, expected: list[Entry]) -> None:
    assert inventory.from_status(value) == expected


def test_refs_of_skips_unparseable_ids() -> None:
    assert inventory.refs_of([WEB, Entry("broken", "v1")]) == [WEB.ref]
