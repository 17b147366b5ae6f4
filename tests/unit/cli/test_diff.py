"""The diff engine of `gitward diff` / `gitward app diff` from plain data: a real render of a
directory, scopes and live objects as dicts, the real planning functions (`diff.normalized`,
`diff.prune_candidates`, `diff.decide`). The I/O around them (discovery, live reads, the CLI) runs
against the real cluster in tests/integration/test_cli_diff.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gitward import rendering
from gitward.cli import app_sessions as sessions
from gitward.cli import diff
from gitward.core.applications import TRACKING_ID, Source
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import comparing, ignoring

NS = "shop"
SCOPES: dict[tuple[str, str], bool | None] = {("", "ConfigMap"): True, ("", "Secret"): True, ("", "Namespace"): False}


def application(entries: list[str], **automated: bool) -> diff.Target:
    spec = {"source": {"repoURL": "https://git.example.com/c.git"}, "destination": {"namespace": NS}}
    if automated:
        spec["syncPolicy"] = {"automated": automated}
    status = {"inventory": {"entries": [{"id": e, "v": "v1"} for e in entries]}}
    return diff.Target.of({"metadata": {"name": "web", "namespace": NS}, "spec": spec, "status": status})


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"


def applied(manifest: Manifest) -> Manifest:
    """`manifest` as it is live after gitward applied it (owning every field it set)."""
    live = copy.deepcopy(manifest)
    fields = {"f:data": {"f:value": {}}, "f:metadata": {"f:annotations": {}, "f:labels": {}}}
    live["metadata"]["managedFields"] = [{"manager": "gitward", "operation": "Apply", "fieldsV1": fields}]
    return live


def desired_of(target: diff.Target, root: Path) -> list[Manifest]:
    objs = [r.manifest for r in rendering.render(root, target.spec.source)]
    return diff.normalized(target, objs, SCOPES)


def by_ref(*objs: Manifest) -> dict[ObjectRef, Manifest | None]:
    return {ObjectRef.of(obj): obj for obj in objs}


def test_decide_finds_creations_changes_and_prunes(tmp_path: Path) -> None:
    target = application([f"{NS}_same__ConfigMap", f"{NS}_changed__ConfigMap", f"{NS}_gone__ConfigMap"])
    (tmp_path / "same.yaml").write_text(configmap("same", "1"))
    (tmp_path / "changed.yaml").write_text(configmap("changed", "1"))
    before = {obj["metadata"]["name"]: obj for obj in desired_of(target, tmp_path)}
    gone = applied({**before["same"], "metadata": {**before["same"]["metadata"], "name": "gone"}})
    live = by_ref(applied(before["same"]), applied(before["changed"]), gone)
    (tmp_path / "changed.yaml").write_text(configmap("changed", "2"))
    (tmp_path / "new.yaml").write_text(configmap("new", "1"))

    found = diff.decide(target, desired_of(target, tmp_path), live)
    assert [(d.ref.name, d.action) for d in found] == [("changed", "update"), ("new", "create"), ("gone", "prune")]
    changed = found[0].text
    assert "-  value: '1'\n" in changed and "+  value: '2'\n" in changed
    assert found[2].text.startswith(f"--- live/ConfigMap/{NS}/gone\n+++ desired/ConfigMap/{NS}/gone\n")
    assert comparing.DESIRED_HASH not in changed


def test_an_empty_render_prunes_only_with_allow_empty() -> None:
    tracked = {TRACKING_ID: f"{NS}/web:/ConfigMap:{NS}/gone"}
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gone", "namespace": NS, "annotations": tracked},
    }
    refused = application([f"{NS}_gone__ConfigMap"], prune=True)
    assert diff.prune_candidates(refused, []) == []
    assert diff.decide(refused, [], by_ref(cm)) == []
    allowed = application([f"{NS}_gone__ConfigMap"], prune=True, allowEmpty=True)
    assert diff.prune_candidates(allowed, []) == [("v1", ObjectRef("", "ConfigMap", NS, "gone"))]
    assert [d.action for d in diff.decide(allowed, [], by_ref(cm))] == ["prune"]


def test_objects_of_another_application_are_conflicts_and_protected_ones_are_not_pruned(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(configmap("taken", "1"))
    taken = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "taken", "namespace": NS, "annotations": {TRACKING_ID: "x/other:/ConfigMap:shop/taken"}},
    }
    kept = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kept", "namespace": NS, "annotations": {"gitward.dev/prune": "disabled"}},
    }
    target = application([f"{NS}_kept__ConfigMap"])
    found = diff.decide(target, desired_of(target, tmp_path), by_ref(taken, kept))
    assert [(d.ref.name, d.action, d.reason) for d in found] == [
        ("taken", "conflict", "already managed by Application x/other")
    ]


def test_what_is_no_longer_live_is_neither_changed_nor_pruned(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(configmap("kept", "1"))
    target = application([f"{NS}_kept__ConfigMap", f"{NS}_gone__ConfigMap"])
    desired = desired_of(target, tmp_path)
    assert diff.prune_candidates(target, desired) == [("v1", ObjectRef("", "ConfigMap", NS, "gone"))]
    assert diff.decide(target, desired, by_ref(applied(desired[0]))) == []  # "gone" is gone already


def test_normalized_places_objects_by_their_scope(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(configmap("settings", "1"))
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n")
    target = application([])
    found = {obj["kind"]: obj for obj in desired_of(target, tmp_path)}
    assert found["ConfigMap"]["metadata"]["namespace"] == NS  # the destination's
    assert "namespace" not in found["Namespace"]["metadata"]  # cluster-scoped
    for obj in found.values():
        assert obj["metadata"]["annotations"][TRACKING_ID].startswith(f"{NS}/web:")
        assert comparing.DESIRED_HASH in obj["metadata"]["annotations"]


def test_show(tmp_path: Path) -> None:
    out = Console(file=(tmp_path / "out").open("w"), highlight=False, soft_wrap=True)
    err = Console(file=(tmp_path / "err").open("w"), highlight=False, soft_wrap=True)
    ref = ObjectRef("", "ConfigMap", NS, "a")
    drift = diff.ObjectDiff(ref, "drift", "drift: data.x is managed by another writer", "--- a\n+++ b\n")
    code = diff.show([drift], out, err)
    out.file.close()
    err.file.close()
    assert code == 1
    assert (tmp_path / "out").read_text() == "--- a\n+++ b\n"
    assert (tmp_path / "err").read_text().splitlines() == [
        f"ConfigMap/{NS}/a: differs from Git (drift: data.x is managed by another writer)",
        "1 object differs: 1 differs from Git",
    ]
    assert diff.show([], out=Console(file=open("/dev/null", "w")), err=Console(file=open("/dev/null", "w"))) == 0  # noqa: SIM115


def test_invalid_spec_is_an_error_with_code_2() -> None:
    with pytest.raises(sessions.CliError) as caught:
        diff.Target.of({"metadata": {"name": "web", "namespace": NS}, "spec": {"source": {}}})
    assert caught.value.code == 2 and "web: invalid spec" in caught.value.message


def test_source_path_override_keeps_the_options() -> None:
    source = Source.model_validate({"repoURL": "x", "path": "a", "directory": {"recurse": False}})
    moved = source.model_copy(update={"path": "b"})
    assert (moved.path, moved.directory and moved.directory.recurse) == ("b", False)


def test_ignored_fields_and_hooks_are_not_differences(tmp_path: Path) -> None:
    spec: dict[str, Any] = {"source": {"repoURL": "https://git.example.com/c.git"}, "destination": {"namespace": NS}}
    plain = diff.Target.of({"metadata": {"name": "web", "namespace": NS}, "spec": spec, "status": {}})
    rule = [{"kind": "ConfigMap", "jsonPointers": ["/data/value"]}]
    ignoring_target = diff.Target.of(
        {"metadata": {"name": "web", "namespace": NS}, "spec": {**spec, "ignoreDifferences": rule}, "status": {}}
    )
    (tmp_path / "cm.yaml").write_text(configmap("settings", "from-git"))
    hook = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {gitward.dev/hook: PreSync}\n"
    (tmp_path / "hook.yaml").write_text(hook)
    desired = desired_of(ignoring_target, tmp_path)
    [cm] = [o for o in desired if o["kind"] == "ConfigMap"]
    stripped = ignoring.strip(cm, None, ["/data/value"], [])
    live = applied(ignoring.as_written(stripped, cm, None, ["/data/value"]))  # as gitward created it
    live["data"]["value"] = "changed-by-someone"
    assert diff.decide(ignoring_target, desired, by_ref(live)) == []  # no drift, and the hook is no creation
    plain_plan = diff.decide(plain, desired_of(plain, tmp_path), by_ref(live))
    assert [d.ref.kind for d in plain_plan] == ["ConfigMap"]  # without the rule: drift; a hook never shows
