"""Sync hooks taken out of a render, as plain data."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.core.errors import RenderError
from gitward.planning import hooks


def obj(kind: str, name: str, **annotations: str) -> dict[str, Any]:
    api = "batch/v1" if kind == "Job" else "v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "ns", "annotations": annotations}}


def test_hooks_are_split_from_the_objects_and_ordered_by_wave_then_name() -> None:
    found, rest = hooks.split([
        obj("ConfigMap", "settings"),
        obj("Job", "b", **{hooks.HOOK: "PreSync"}),
        obj("Job", "a", **{hooks.HOOK: "PreSync", "gitward.dev/sync-wave": "1"}),
        obj("Pod", "c", **{hooks.HOOK: "PostSync, SyncFail", hooks.DELETE_POLICY: "HookSucceeded,HookFailed"}),
    ])  # fmt: skip
    assert [o["metadata"]["name"] for o in rest] == ["settings"]
    assert [h.ref.name for h in found] == ["b", "c", "a"]
    assert found[1].phases == {hooks.Phase.POST_SYNC, hooks.Phase.SYNC_FAIL}
    assert found[1].delete_policies == {"HookSucceeded", "HookFailed"}
    assert found[0].delete_policies == {"BeforeHookCreation"}
    waves = hooks.of_phase(found, hooks.Phase.PRE_SYNC)
    assert [[h.ref.name for h in wave] for wave in waves] == [["b"], ["a"]]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (obj("ConfigMap", "x", **{hooks.HOOK: "PreSync"}), "only for a Job or a Pod"),
        (obj("Job", "x", **{hooks.HOOK: "BeforeEverything"}), "must be PreSync, PostSync or SyncFail"),
        (obj("Job", "x", **{hooks.HOOK: "PreSync", hooks.DELETE_POLICY: "Never"}), "must be among"),
    ],
)
def test_a_malformed_hook_refuses_the_render(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        hooks.split([bad])


def test_a_hostile_wave_counts_as_zero() -> None:
    found, _ = hooks.split([obj("Job", "x", **{hooks.HOOK: "PreSync", "gitward.dev/sync-wave": "9" * 400})])
    assert found[0].wave == 0
