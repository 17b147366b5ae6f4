"""Commits that change, add and remove files are applied and pruned; an object annotated
`gitward.dev/prune: disabled` survives its removal from Git; without automated prune the removed
object is kept and reported as awaiting pruning."""

from __future__ import annotations

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def configmap(name: str, value: str, annotations: dict[str, str] | None = None) -> str:
    meta = f"  name: {name}\n"
    if annotations:
        meta += "  annotations:\n" + "".join(f'    {k}: "{v}"\n' for k, v in annotations.items())
    return f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n{meta}data:\n  value: "{value}"\n'


async def test_change_add_remove_and_prune(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(
        {
            "a.yaml": configmap("a", "1"),
            "b.yaml": configmap("b", "1"),
            "keep.yaml": configmap("keep", "1", {"gitward.dev/prune": "disabled"}),
        }
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(repo.head()))

    sha = repo.commit({"a.yaml": configmap("a", "2"), "b.yaml": None, "keep.yaml": None, "c.yaml": configmap("c", "1")})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    assert (await kube.get("v1", "ConfigMap", "a", namespace))["data"] == {"value": "2"}
    assert await kube.get_or_none("v1", "ConfigMap", "c", namespace) is not None
    assert await kube.get_or_none("v1", "ConfigMap", "b", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "keep", namespace) is not None, "prune-disabled object deleted"
    ids = {e["id"] for e in status["inventory"]["entries"]}
    assert ids == {f"{namespace}_a__ConfigMap", f"{namespace}_c__ConfigMap"}
    pruned = [r for r in status["operationState"]["syncResult"]["resources"] if r["action"] == "pruned"]
    assert [r["name"] for r in pruned] == ["b"]


async def test_without_automated_prune_removed_objects_await_pruning(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"a.yaml": configmap("a", "1"), "b.yaml": configmap("b", "1")})
    url = git_http_server.publish(repo, "config.git")
    app = apps.application("app", namespace, url, syncPolicy={"automated": {"prune": False}, "interval": "1m"})
    await kube.create(app)
    await apps.wait_status(kube, namespace, "app", apps.synced_at(repo.head()))

    sha = repo.commit({"b.yaml": None})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(
        kube,
        namespace,
        "app",
        lambda s: (s.get("sync") or {}).get("revision") == sha and s["sync"]["status"] == "OutOfSync",
    )
    assert await kube.get_or_none("v1", "ConfigMap", "b", namespace) is not None
    rows = {r["name"]: r for r in status["resources"]}
    assert rows["b"]["status"] == "OutOfSync"
    assert "pruning" in rows["b"]["message"]

    # a manual sync with prune removes it (the annotation is how the CLI and the API ask)
    await kube.patch(
        "gitward.dev/v1alpha1", "Application", "app", namespace,
        {"metadata": {"annotations": {"gitward.dev/sync": '{"prune": true}'}}},
    )  # fmt: skip
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert await kube.get_or_none("v1", "ConfigMap", "b", namespace) is None
    assert status["lastHandledSync"] == '{"prune": true}'
    assert status["history"][-1]["initiatedBy"] == "manual"


async def test_empty_render_never_prunes_everything_unless_allowed(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"app/a.yaml": configmap("a", "1"), "keep.txt": "x"})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url, "app"))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(repo.head()))

    empty = repo.commit({"app/a.yaml": None, "app/README.md": "nothing here"})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")

    def refused(s: apps.Status) -> bool:
        cond = apps.condition(s, "SyncError")
        return s.get("sync", {}).get("revision") == empty and cond is not None and cond["reason"] == "EmptyRender"

    await apps.wait_status(kube, namespace, "app", refused)
    assert await kube.get_or_none("v1", "ConfigMap", "a", namespace) is not None

    policy = {"automated": {"prune": True, "allowEmpty": True}, "interval": "1m"}
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace, {"spec": {"syncPolicy": policy}})
    await apps.wait_status(kube, namespace, "app", apps.synced_at(empty))
    assert await kube.get_or_none("v1", "ConfigMap", "a", namespace) is None
