"""SPEC §2 (the Application resource) checked through its contract only: defaults, the status fields,
directory globs, destination namespace, sync waves, health of the built-in kinds, history limits.

Black-box: each test drives a real controller with a real Git server and a real control plane, and
reads back only what SPEC promises (the Application's status and the live objects).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def configmap(name: str, value: str = "1", **annotations: str) -> str:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"value": value}})


def crashing_deployment(name: str, wave: str, phase: str = "CrashLoopBackOff") -> str:
    pod_annotations = {"nodesim.gitward.dev/phase": phase} if phase else {}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "annotations": {"gitward.dev/sync-wave": wave}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": pod_annotations},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                },
            },
        }
    )


def _refresh(value: str) -> dict[str, Any]:
    return {"metadata": {"annotations": {"gitward.dev/refresh": value}}}


async def test_a_minimal_spec_takes_the_documented_defaults_and_fills_every_status_field(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """No project, targetRevision or path: project default, HEAD, "."; the default include globs
    `*.{yaml,yml,json}` recursively; namespaced objects land in destination.namespace, cluster-scoped
    ones get none; inventory ids `<namespace>_<name>_<group>_<kind>` with `v`."""
    role = f"gwt-contract-{namespace}"
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": role},
        "rules": [],
    }
    repo = make_repo()
    sha = repo.commit(
        {
            "a.yaml": configmap("from-yaml"),
            "deep/b.yml": configmap("from-yml"),
            "deep/deeper/c.json": configmap("from-json"),
            "role.yaml": json.dumps(cluster_role),
            "README.md": "not a manifest",
            "notes.txt": configmap("from-txt"),
        },
        message="defaults",
    )
    url = git_http_server.publish(repo, "config.git")
    body = {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": "minimal", "namespace": namespace},
        "spec": {
            "source": {"repoURL": url},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {"prune": True}, "interval": "1m"},
        },
    }
    await kube.create(body)
    try:
        status = await apps.wait_status(kube, namespace, "minimal", apps.all_of(apps.synced_at(sha), apps.healthy))
        names = sorted(r["name"] for r in status["resources"] if r["kind"] == "ConfigMap")
        assert names == ["from-json", "from-yaml", "from-yml"]
        live_role = await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", role)
        assert "namespace" not in live_role["metadata"]
        assert live_role["metadata"]["annotations"]["gitward.dev/tracking-id"] == (
            f"{namespace}/minimal:rbac.authorization.k8s.io/ClusterRole:/{role}"
        )
        assert live_role["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gitward"
        row = next(r for r in status["resources"] if r["kind"] == "ClusterRole")
        assert not row.get("namespace")
        assert row["group"] == "rbac.authorization.k8s.io" and row["version"] == "v1"
        assert row["status"] == "Synced" and row["health"]
        assert (await kube.get("v1", "ConfigMap", "from-yml", namespace))["metadata"]["namespace"] == namespace

        ids = {e["id"]: e["v"] for e in status["inventory"]["entries"]}
        assert ids[f"{namespace}_from-yaml__ConfigMap"] == "v1"
        assert ids[f"_{role}_rbac.authorization.k8s.io_ClusterRole"] == "v1"
        assert len(ids) == 4

        app = await apps.get_app(kube, namespace, "minimal")
        assert status["observedGeneration"] == app["metadata"]["generation"]
        assert status["lastAttemptedRevision"] == sha and status["lastSyncedRevision"] == sha
        assert status["summary"] == {
            "objects": 4,
            "synced": 4,
            "outOfSync": 0,
            "healthy": 4,
            "progressing": 0,
            "degraded": 0,
            "missing": 0,
        }
        for cond in status["conditions"]:
            assert cond["status"] in ("True", "False") and cond["reason"] and cond["lastTransitionTime"]
            assert "message" in cond
        assert apps.condition(status, "Ready")["status"] == "True"  # type: ignore[index]
        operation = status["operationState"]
        assert operation["phase"] == "Succeeded" and operation["startedAt"] and operation["finishedAt"]
        assert operation["syncResult"]["revision"] == sha
        assert operation["syncResult"]["summary"]["created"] == 4
        entry = status["history"][-1]
        assert entry["revision"] == sha and entry["committedAt"] and entry["deployedAt"]
        assert entry["id"] is not None and entry["result"] == "Succeeded" and entry["initiatedBy"] == "automated"

        # the controller never edits metadata or spec, except to add its finalizer
        assert app["metadata"]["finalizers"] == ["gitward.dev/cleanup"]
        assert app["metadata"]["generation"] == 1
        assert app["spec"].get("project", "default") == "default"
        assert app["spec"]["source"].get("targetRevision", "HEAD") == "HEAD"
        assert app["spec"]["source"].get("path", ".") == "."
        assert not (app["metadata"].get("annotations") or {})
    finally:
        await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", role)


async def test_reconciled_at_moves_on_every_completed_recheck_even_without_change(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("one")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    first = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    operation = first["operationState"]
    for request in ("r1", "r2"):
        await asyncio.sleep(1.1)  # reconciledAt has a resolution of one second
        await kube.patch(API_VERSION, "Application", "app", namespace, _refresh(request))
        status = await apps.wait_status(kube, namespace, "app", apps.refreshed(request))
        assert status["reconciledAt"] > first["reconciledAt"], (first["reconciledAt"], status["reconciledAt"])
        assert status["operationState"]["startedAt"] == operation["startedAt"], "nothing to sync: no new operation"
        first = status


async def test_directory_recurse_include_and_exclude(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit(
        {
            "app/keep.yml": configmap("keep"),
            "app/skip-me.yml": configmap("skip"),
            "app/other.yaml": configmap("other"),
            "app/sub/nested.yml": configmap("nested"),
        }
    )
    url = git_http_server.publish(repo, "config.git")
    source = {
        "repoURL": url,
        "targetRevision": "main",
        "path": "app",
        "directory": {"recurse": False, "include": "*.yml", "exclude": "skip-*"},
    }
    await kube.create(apps.application("app", namespace, url, "app", source=source))
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert [r["name"] for r in status["resources"]] == ["keep"]


async def test_each_sync_wave_is_healthy_before_the_next_starts(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit(
        {
            "first.yaml": crashing_deployment("first", "-1"),
            "later.yaml": configmap("later", **{"gitward.dev/sync-wave": "1"}),
        }
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))

    await apps.wait_for(
        lambda: kube.get_or_none("apps/v1", "Deployment", "first", namespace), message="wave -1 applied"
    )
    await apps.wait_status(
        kube, namespace, "app", lambda s: (s.get("operationState") or {}).get("phase") in ("Running", "Failed")
    )
    await asyncio.sleep(2)  # the wave stays unhealthy; the later wave must still be unwritten
    assert await kube.get_or_none("v1", "ConfigMap", "later", namespace) is None

    fixed = repo.commit({"first.yaml": crashing_deployment("first", "-1", phase="")}, message="heal")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.all_of(apps.synced_at(fixed), apps.healthy), 60)
    assert fixed != sha
    assert (await kube.get("v1", "ConfigMap", "later", namespace))["data"] == {"value": "1"}
    assert status["operationState"]["phase"] == "Succeeded"


async def test_revision_history_limit_keeps_the_newest_entries(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    shas = [repo.commit({"cm.yaml": configmap("cm", "0"), "still.yaml": configmap("still")}, message="c0")]
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url, revisionHistoryLimit=2))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(shas[0]))
    for value in ("1", "2"):
        shas.append(repo.commit({"cm.yaml": configmap("cm", value)}, message=f"c{value}"))
        git_http_server.publish(repo, "config.git")
        controller.refresh(f"{namespace}/app")
        status = await apps.wait_status(kube, namespace, "app", apps.synced_at(shas[-1]))
    assert [h["revision"] for h in status["history"]] == shas[1:]
    changed = status["operationState"]["syncResult"]["resources"]
    assert [(r["kind"], r["namespace"], r["name"], r["action"]) for r in changed] == [
        ("ConfigMap", namespace, "cm", "configured")
    ]
    assert status["operationState"]["syncResult"]["summary"] == {"configured": 1, "unchanged": 1}


def _crd(group: str) -> str:
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    return json.dumps(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
                "versions": [version],
            },
        }
    )


LOAD_BALANCER = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "none"}},
    }
)


def _ready(status: str, reason: str, message: str) -> dict[str, str]:
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip


def _health(expected: str) -> Any:
    return lambda s: (s.get("health") or {}).get("status") == expected


async def test_health_is_the_worst_of_the_objects_by_the_documented_order(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """A LoadBalancer without an address is Progressing; a custom object is judged by its Ready
    condition; a deleted object (no selfHeal) is Missing and OutOfSync; Degraded beats Missing."""
    group = f"{namespace}.example.com"
    gadget = json.dumps({"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g"}})
    repo = make_repo()
    sha = repo.commit(
        {"crd.yaml": _crd(group), "gadget.yaml": gadget, "svc.yaml": LOAD_BALANCER, "cm.yaml": configmap("cm")}
    )
    url = git_http_server.publish(repo, "config.git")
    policy = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
    await kube.create(apps.application("app", namespace, url, syncPolicy=policy))
    refreshes = iter(range(100))

    async def recheck(expected: str) -> apps.Status:
        request = f"h{next(refreshes)}"
        await kube.patch(API_VERSION, "Application", "app", namespace, _refresh(request))
        await apps.wait_status(kube, namespace, "app", apps.refreshed(request))
        return await apps.wait_status(kube, namespace, "app", _health(expected))

    try:
        status = await apps.wait_status(
            kube, namespace, "app", apps.all_of(apps.synced_at(sha), _health("Progressing"))
        )
        assert status["health"]["message"], "the health message says what is waited for"
        assert status["summary"]["progressing"] == 1

        patch = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
        await kube.patch("v1", "Service", "front", namespace, patch, subresource="status")
        await recheck("Healthy")

        ready_false = {"status": {"conditions": [_ready("False", "Broken", "gadget broke")]}}
        await kube.patch(f"{group}/v1", "Gadget", "g", namespace, ready_false, subresource="status")
        status = await recheck("Degraded")
        assert status["summary"]["degraded"] == 1
        row = next(r for r in status["resources"] if r["kind"] == "Gadget")
        assert row["health"]["status"] == "Degraded"

        await kube.delete("v1", "ConfigMap", "cm", namespace)
        status = await recheck("Degraded")
        status = await apps.wait_status(kube, namespace, "app", lambda s: s["sync"]["status"] == "OutOfSync")
        row = next(r for r in status["resources"] if r["kind"] == "ConfigMap")
        assert (row["status"], row["health"]["status"]) == ("OutOfSync", "Missing")
        assert status["health"]["status"] == "Degraded", "Degraded is worse than Missing"

        ready_true = {"status": {"conditions": [_ready("True", "Fine", "")]}}
        await kube.patch(f"{group}/v1", "Gadget", "g", namespace, ready_true, subresource="status")
        status = await recheck("Missing")
        assert status["summary"]["missing"] == 1 and status["summary"]["outOfSync"] == 1
        assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None, "no selfHeal: not recreated"
    finally:
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"gadgets.{group}")


async def test_a_manifest_cannot_forge_its_tracking_id_or_managed_by_label(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """Git may claim another Application's tracking id on an object: the owner keeps it, the claim
    is a conflict, and gitward's own annotation and label always win on what it writes."""
    owner_repo, thief_repo = make_repo("owner"), make_repo("thief")
    owned = owner_repo.commit({"cm.yaml": configmap("shared", "owner")})
    owner_url = git_http_server.publish(owner_repo, "owner.git")
    await kube.create(apps.application("owner", namespace, owner_url))
    await apps.wait_status(kube, namespace, "owner", apps.synced_at(owned))

    forged_id = f"{namespace}/owner:/ConfigMap:{namespace}/shared"
    forged = json.loads(configmap("shared", "thief", **{"gitward.dev/tracking-id": forged_id}))
    mine = json.loads(configmap("mine", "thief", **{"gitward.dev/tracking-id": forged_id.replace("shared", "x")}))
    mine["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    thief_repo.commit({"forged.yaml": json.dumps(forged), "mine.yaml": json.dumps(mine)})
    thief_url = git_http_server.publish(thief_repo, "thief.git")
    await kube.create(apps.application("thief", namespace, thief_url))

    def conflicted(s: apps.Status) -> bool:
        cond = apps.condition(s, "SyncError")
        return cond is not None and cond["status"] == "True"

    await apps.wait_status(kube, namespace, "thief", conflicted)
    mine_live = await apps.wait_for(lambda: kube.get_or_none("v1", "ConfigMap", "mine", namespace))
    assert mine_live["metadata"]["annotations"]["gitward.dev/tracking-id"] == (
        f"{namespace}/thief:/ConfigMap:{namespace}/mine"
    )
    assert mine_live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gitward"
    live = await kube.get("v1", "ConfigMap", "shared", namespace)
    assert live["data"] == {"value": "owner"}
    assert live["metadata"]["annotations"]["gitward.dev/tracking-id"] == forged_id

    async def reported_on_owner() -> bool:
        events, _ = await kube.list("v1", "Event", namespace)
        return any(e["involvedObject"]["name"] == "owner" and e["reason"] == "Conflict" for e in events)

    await apps.wait_for(reported_on_owner, message="the conflict reported on the owner too")
    owner = (await apps.get_app(kube, namespace, "owner"))["status"]
    assert owner["sync"]["status"] == "Synced" and owner["lastSyncedRevision"] == owned


async def test_suspend_holds_new_commits_and_observed_generation_follows_the_spec(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("cm", "1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(first))
    await kube.patch(API_VERSION, "Application", "app", namespace, {"spec": {"suspend": True}})
    await apps.wait_status(kube, namespace, "app", lambda s: s.get("observedGeneration") == 2)

    repo.commit({"cm.yaml": configmap("cm", "2")})
    git_http_server.publish(repo, "config.git")
    await kube.patch(API_VERSION, "Application", "app", namespace, _refresh("while-suspended"))
    await asyncio.sleep(2)  # a suspended Application writes nothing, whatever it is asked
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "1"}

    await kube.patch(API_VERSION, "Application", "app", namespace, {"spec": {"suspend": False}})
    status = await apps.wait_status(kube, namespace, "app", lambda s: s.get("observedGeneration") == 3)
    await apps.wait_for(
        lambda: _value_is(kube, namespace, "cm", "2"), message="the held commit deployed after resuming"
    )
    assert status["observedGeneration"] == 3


async def _value_is(kube: KubeClient, namespace: str, name: str, value: str) -> bool:
    live = await kube.get_or_none("v1", "ConfigMap", name, namespace)
    return live is not None and live.get("data") == {"value": value}


async def test_a_sync_wave_that_is_not_an_integer_is_refused_before_any_write(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    good = repo.commit({"cm.yaml": configmap("cm", "1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(good))
    bad = repo.commit({"cm.yaml": configmap("cm", "2"), "w.yaml": configmap("w", **{"gitward.dev/sync-wave": "1e9"})})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", lambda s: s.get("lastAttemptedRevision") == bad)
    refused = [
        c for c in status["conditions"] if c["type"] in ("RenderError", "ValidationError") and c["status"] == "True"
    ]
    assert refused and "sync-wave" in refused[0]["message"]
    assert status["lastSyncedRevision"] == good
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "1"}
    assert await kube.get_or_none("v1", "ConfigMap", "w", namespace) is None
