"""prune.prune_set: only inventory entries, never disabled or foreign objects, never an empty render."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import prune
from gitward.planning.inventory import Entry

WEB = ObjectRef("apps", "Deployment", "shop", "web")
CFG = ObjectRef("", "ConfigMap", "shop", "cfg")
NS = ObjectRef("", "Namespace", "", "shop")
ALL = [WEB, CFG, NS]


def entries(*refs: ObjectRef) -> list[Entry]:
    return [Entry(ref.inventory_id, "v1") for ref in refs]


def live(ref: ObjectRef, **annotations: Any) -> Manifest:
    """The live object, tracked by this Application (apps/shop) unless `annotations` say otherwise."""
    tracking = f"apps/shop:{ref.group}/{ref.kind}:{ref.namespace}/{ref.name}"
    meta = {"name": ref.name, "namespace": ref.namespace, "annotations": {TRACKING: tracking, **annotations}}
    return {"kind": ref.kind, "metadata": meta}


def live_all(**overrides: Manifest) -> dict[ObjectRef, Manifest]:
    by_ref = {ref: live(ref) for ref in ALL}
    by_ref.update({ref: overrides[ref.name] for ref in ALL if ref.name in overrides})
    return by_ref


TRACKING = "gitward.dev/tracking-id"
TRACKED_ELSEWHERE = live(CFG, **{TRACKING: "team/other:/ConfigMap:shop/cfg"})
TRACKED_HERE = live(CFG, **{TRACKING: "apps/shop:/ConfigMap:shop/cfg"})
UNTRACKED: Manifest = {"kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}}


@pytest.mark.parametrize(
    ("old", "new", "live_by_ref", "rendered", "delete", "skipped"),
    [
        pytest.param(ALL, ALL, live_all(), 3, [], [], id="nothing-removed"),
        pytest.param(ALL, [WEB], live_all(), 1, [CFG, NS], [], id="removed-in-prune-order"),
        pytest.param([CFG], [], live_all(), 5, [CFG], [], id="only-inventory-entries"),
        pytest.param(
            [WEB, CFG],
            [],
            live_all(cfg=live(CFG, **{"gitward.dev/prune": "disabled"})),
            1,
            [WEB],
            [(CFG, "pruning disabled by annotation gitward.dev/prune")],
            id="prune-disabled",
        ),
        pytest.param(
            [CFG],
            [],
            live_all(cfg=live(CFG, **{"gitward.dev/prune": " False "})),
            1,
            [],
            [(CFG, "pruning disabled by annotation gitward.dev/prune")],
            id="prune-false",
        ),
        pytest.param(
            [CFG],
            [],
            live_all(cfg=TRACKED_ELSEWHERE),
            1,
            [],
            [(CFG, "managed by Application team/other")],
            id="other-app",
        ),
        pytest.param([CFG], [], live_all(cfg=TRACKED_HERE), 1, [CFG], [], id="tracked-here"),
        pytest.param(
            [CFG],
            [],
            live_all(cfg=UNTRACKED),
            1,
            [],
            [(CFG, "not tracked by this Application (no gitward.dev/tracking-id annotation)")],
            id="untracked-inventory-entry",
        ),
        pytest.param([WEB, CFG], [], {WEB: live(WEB)}, 1, [WEB], [(CFG, "not found in the cluster")], id="gone"),
        pytest.param([], [], live_all(), 0, [], [], id="empty-inventory-empty-render"),
    ],
)
def test_prune_set(
    old: list[ObjectRef],
    new: list[ObjectRef],
    live_by_ref: dict[ObjectRef, Manifest],
    rendered: int,
    delete: list[ObjectRef],
    skipped: list[tuple[ObjectRef, str]],
) -> None:
    plan = prune.prune_set(
        entries(*old),
        entries(*new),
        live_by_ref,
        allow_empty=False,
        rendered_count=rendered,
        app_namespace="apps",
        app_name="shop",
    )
    assert plan == prune.PrunePlan(delete, skipped)
    assert not plan.refused


@pytest.mark.parametrize(("allow_empty", "delete"), [(False, []), (True, [WEB, CFG, NS])])
def test_empty_render_never_prunes_everything_unless_allowed(allow_empty: bool, delete: list[ObjectRef]) -> None:
    plan = prune.prune_set(
        entries(*ALL), [], live_all(), allow_empty=allow_empty, rendered_count=0, app_namespace="apps", app_name="shop"
    )
    assert plan.delete == delete
    assert plan.refused is not allow_empty
    if not allow_empty:
        assert plan.refused_reason.startswith("the revision rendered no objects; refusing to prune 3 object(s)")
