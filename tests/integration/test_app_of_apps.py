"""App of apps on the real control plane: an Application whose repository holds Applications and
an ApplicationSet deploys them (they deploy their own objects in turn); a child removed from Git is
pruned with its objects; deleting the parent deletes its children, each following its own deletion
policy (an orphaning child leaves its objects behind)."""

from __future__ import annotations

import functools
from typing import Any

import yaml
from tests.integration.test_appsets_generators import appset, template, wait_names
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '1'\n"


def child(name: str, namespace: str, url: str, **annotations: str) -> str:
    app: dict[str, Any] = apps.application(name, namespace, url, f"apps/{name}")
    if annotations:
        app["metadata"]["annotations"] = annotations
    return yaml.safe_dump(app)


async def _absent(kube: KubeClient, api_version: str, kind: str, name: str, namespace: str) -> bool:
    return await kube.get_or_none(api_version, kind, name, namespace) is None


async def test_a_parent_deploys_prunes_and_deletes_its_children(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    url = git_http_server.url("config.git")
    fleet = appset(
        "fleet", namespace,
        [{"list": {"elements": [{"n": "gen"}]}}],
        template(namespace, url, "{{n}}", "apps/{{n}}"),
    )  # fmt: skip
    repo.commit(
        {
            "parent/one.yaml": child("one", namespace, url),
            "parent/two.yaml": child("two", namespace, url),
            "parent/kept.yaml": child("kept", namespace, url, **{"gitward.dev/deletion-policy": "orphan"}),
            "parent/fleet.yaml": yaml.safe_dump(fleet),
            **{f"apps/{n}/cm.yaml": configmap(f"cm-{n}") for n in ("one", "two", "kept", "gen")},
        }
    )
    git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("parent", namespace, url, "parent"))
    await apps.wait_status(kube, namespace, "parent", apps.synced_at(repo.head()))
    for name in ("one", "two", "kept"):
        await apps.wait_status(kube, namespace, name, apps.all_of(apps.synced_at(repo.head()), apps.healthy))
    await wait_names(kube, namespace, "fleet", {"gen"})
    await apps.wait_status(kube, namespace, "gen", apps.all_of(apps.synced_at(repo.head()), apps.healthy))
    # the parent is healthy once its children are (an Application's health is its Ready condition)
    await apps.wait_status(kube, namespace, "parent", apps.healthy)

    # a child removed from Git is pruned, and its objects with it
    repo.commit({"parent/two.yaml": None})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/parent")
    await apps.wait_for(lambda: _absent(kube, API_VERSION, "Application", "two", namespace), 30, message="two pruned")
    await apps.wait_for(lambda: _absent(kube, "v1", "ConfigMap", "cm-two", namespace), 30, message="cm-two deleted")
    assert await kube.get_or_none("v1", "ConfigMap", "cm-one", namespace) is not None

    # deleting the parent: its children go, each by its own deletion policy
    await kube.delete(API_VERSION, "Application", "parent", namespace)
    for kind, name in (("Application", "parent"), ("Application", "one"), ("Application", "kept"),
                       ("ApplicationSet", "fleet"), ("Application", "gen")):  # fmt: skip
        gone = functools.partial(_absent, kube, API_VERSION, kind, name, namespace)
        await apps.wait_for(gone, 60, message=f"{kind} {name} deleted")
    for name in ("cm-one", "cm-gen"):
        await apps.wait_for(functools.partial(_absent, kube, "v1", "ConfigMap", name, namespace), 30, message=name)
    assert await kube.get_or_none("v1", "ConfigMap", "cm-kept", namespace) is not None, (
        "an orphaning child's objects went"
    )
