"""The diff engine of `gitward diff` / `gitward app diff` without a cluster: a fake API client that
serves discovery and live objects, a real render of a directory, the real planning functions."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console

from gitward.cli import app_sessions as sessions
from gitward.cli import diff
from gitward.core.applications import TRACKING_ID, Source
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.planning import comparing

NS = "shop"


class FakeClient:
    """Discovery for v1 ConfigMap/Secret, and the live objects given."""

    def __init__(self, live: list[Manifest]) -> None:
        self.live = {ObjectRef.of(obj): obj for obj in live}

    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        if kind not in ("ConfigMap", "Secret", "Namespace"):
            raise errors.APINotFoundError(f"no {kind}", code=404)
        return kind != "Namespace"

    scopes = KubeClient.scopes  # the real scope lookup, over the discovery above

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        group, _ = split_api_version(api_version)
        return copy.deepcopy(self.live.get(ObjectRef(group, kind, namespace or "", name)))


def application(entries: list[str], **automated: bool) -> diff.Target:
    spec = {"source": {"repoURL": "https://git.example.com/c.git"}, "destination": {"namespace": NS}}
    if automated:
        spec["syncPolicy"] = {"automated": automated}
    status = {"inventory": {"entries": [{"id": e, "v": "v1"} for e in entries]}}
    return diff.Target.of({"metadata": {"name": "web", "namespace": NS}, "spec": spec, "status": status})


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"


def applied(target: diff.Target, manifest: Manifest) -> Manifest:
    """`manifest` as it is live after gitward applied it (owning every field it set)."""
    live = copy.deepcopy(manifest)
    fields = {"f:data": {"f:value": {}}, "f:metadata": {"f:annotations": {}, "f:labels": {}}}
    live["metadata"]["managedFields"] = [{"manager": "gitward", "operation": "Apply", "fieldsV1": fields}]
    return live


async def desired_of(target: diff.Target, root: Path) -> list[Manifest]:
    from gitward import rendering

    objs = [r.manifest for r in rendering.render(root, target.spec.source)]
    return await diff.normalized(cast(KubeClient, FakeClient([])), target, objs)


async def test_plan_finds_creations_changes_and_prunes(tmp_path: Path) -> None:
    target = application([f"{NS}_same__ConfigMap", f"{NS}_changed__ConfigMap", f"{NS}_gone__ConfigMap"])
    (tmp_path / "same.yaml").write_text(configmap("same", "1"))
    (tmp_path / "changed.yaml").write_text(configmap("changed", "1"))
    before = {obj["metadata"]["name"]: obj for obj in await desired_of(target, tmp_path)}
    gone = applied(target, {**before["same"], "metadata": {**before["same"]["metadata"], "name": "gone"}})
    live = [applied(target, before["same"]), applied(target, before["changed"]), gone]
    (tmp_path / "changed.yaml").write_text(configmap("changed", "2"))
    (tmp_path / "new.yaml").write_text(configmap("new", "1"))

    found = await diff.plan(cast(KubeClient, FakeClient(live)), target, tmp_path, target.spec.source)
    assert [(d.ref.name, d.action) for d in found] == [("changed", "update"), ("new", "create"), ("gone", "prune")]
    changed = found[0].text
    assert "-  value: '1'\n" in changed and "+  value: '2'\n" in changed
    assert found[2].text.startswith(f"--- live/ConfigMap/{NS}/gone\n+++ desired/ConfigMap/{NS}/gone\n")
    assert comparing.DESIRED_HASH not in changed


async def test_an_empty_render_prunes_only_with_allow_empty(tmp_path: Path) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone", "namespace": NS}}
    client = cast(KubeClient, FakeClient([cm]))
    refused = application([f"{NS}_gone__ConfigMap"], prune=True)
    assert await diff.plan(client, refused, tmp_path, refused.spec.source) == []
    allowed = application([f"{NS}_gone__ConfigMap"], prune=True, allowEmpty=True)
    assert [d.action for d in await diff.plan(client, allowed, tmp_path, allowed.spec.source)] == ["prune"]


async def test_objects_of_another_application_are_conflicts_and_protected_ones_are_not_pruned(tmp_path: Path) -> None:
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
    found = await diff.plan(cast(KubeClient, FakeClient([taken, kept])), target, tmp_path, target.spec.source)
    assert [(d.ref.name, d.action, d.reason) for d in found] == [
        ("taken", "conflict", "already managed by Application x/other")
    ]


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
