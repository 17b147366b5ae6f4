"""conflicts: live objects tracked by another Application."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import conflicts

DESIRED: Manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}}
REF = ObjectRef("", "ConfigMap", "shop", "cfg")


def live(annotations: Any) -> Manifest:
    return {**DESIRED, "metadata": {**DESIRED["metadata"], "annotations": annotations}}


@pytest.mark.parametrize(
    ("live_by_ref", "expected"),
    [
        pytest.param({}, [], id="not-live"),
        pytest.param({REF: live(None)}, [], id="untracked"),
        pytest.param({REF: live({"gitward.dev/tracking-id": "apps/shop:/ConfigMap:shop/cfg"})}, [], id="ours"),
        pytest.param(
            {REF: live({"gitward.dev/tracking-id": "team/other:/ConfigMap:shop/cfg"})},
            [conflicts.Conflict(REF, "team/other")],
            id="other-app",
        ),
        pytest.param({REF: live({"gitward.dev/tracking-id": "garbage"})}, [], id="unparseable"),
        pytest.param({REF: live({"gitward.dev/tracking-id": 7})}, [], id="not-a-string"),
        pytest.param({REF: live(["a"])}, [], id="annotations-garbage"),
    ],
)
def test_find_conflicts(live_by_ref: dict[ObjectRef, Manifest], expected: list[conflicts.Conflict]) -> None:
    assert conflicts.find_conflicts([DESIRED], live_by_ref, "apps", "shop") == expected


def test_conflict_message_names_object_and_owner() -> None:
    assert (
        conflicts.Conflict(REF, "team/other").message == "ConfigMap/shop/cfg: already managed by Application team/other"
    )
