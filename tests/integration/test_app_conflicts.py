"""Two Applications claiming one object: a conflict is reported, the first keeps it, no tug of war."""

from __future__ import annotations

import asyncio

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def configmap(value: str) -> str:
    return f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  owner: "{value}"\n'


async def test_second_claimant_gets_a_conflict_and_the_first_keeps_the_object(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    first, second = make_repo("first"), make_repo("second")
    sha1 = first.commit({"cm.yaml": configmap("first")})
    second.commit({"cm.yaml": configmap("second"), "own.yaml": configmap("x").replace("shared", "own")})
    url1 = git_http_server.publish(first, "first.git")
    url2 = git_http_server.publish(second, "second.git")
    await kube.create(apps.application("first", namespace, url1))
    await apps.wait_status(kube, namespace, "first", apps.synced_at(sha1))

    await kube.create(apps.application("second", namespace, url2))

    def conflicted(s: apps.Status) -> bool:
        cond = apps.condition(s, "SyncError")
        return cond is not None and cond["reason"] == "Conflict"

    status = await apps.wait_status(kube, namespace, "second", conflicted)
    cond = apps.condition(status, "SyncError")
    assert cond is not None and f"{namespace}/first" in cond["message"]
    assert status["sync"]["status"] == "OutOfSync"
    assert (await kube.get("v1", "ConfigMap", "own", namespace)) is not None, "its other objects still sync"
    assert all(e["id"] != f"{namespace}_shared__ConfigMap" for e in status["inventory"]["entries"])

    await asyncio.sleep(2)  # give a tug of war the chance to happen
    live = await kube.get("v1", "ConfigMap", "shared", namespace)
    assert live["data"] == {"owner": "first"}
    assert live["metadata"]["annotations"]["gitward.dev/tracking-id"].startswith(f"{namespace}/first:")
    first_status = (await apps.get_app(kube, namespace, "first"))["status"]
    assert first_status["sync"]["status"] == "Synced"
    events, _ = await kube.list("v1", "Event", namespace)
    on_first = [e for e in events if e["involvedObject"]["name"] == "first" and e["reason"] == "Conflict"]
    assert on_first, "the conflict is reported on the owner too"
