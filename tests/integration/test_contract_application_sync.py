"""SPEC §2 sync promises checked through the contract: retry with backoff of a sync the API refuses
after validation passed.

A ValidatingAdmissionPolicy that refuses real writes (not dry-runs) of one object stands in for an
API failure that only happens at write time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

ADMISSION = "admissionregistration.k8s.io/v1"


def configmap(name: str, value: str = "1") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}})


@pytest.fixture
async def refusing_writes(kube: KubeClient, namespace: str) -> AsyncIterator[str]:
    """Real (not dry-run) writes of ConfigMaps named `refused` in the test's namespace are denied."""
    name = f"refuse-{namespace}"
    policy = {
        "apiVersion": ADMISSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "request.dryRun == true || object.metadata.name != 'refused'",
                    "message": "refused by test policy",
                }
            ],
        },
    }
    binding = {
        "apiVersion": ADMISSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
        },
    }
    await kube.create(policy)
    await kube.create(binding)
    await asyncio.sleep(2)  # the API server loads new policies asynchronously
    try:
        yield name
    finally:
        await kube.delete(ADMISSION, "ValidatingAdmissionPolicyBinding", name)
        await kube.delete(ADMISSION, "ValidatingAdmissionPolicy", name)


async def test_a_failing_sync_is_retried_with_backoff_up_to_the_limit(
    kube: KubeClient,
    namespace: str,
    refusing_writes: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo = make_repo()
    repo.commit({"ok.yaml": configmap("ok"), "refused.yaml": configmap("refused")})
    url = git_http_server.publish(repo, "config.git")
    policy = {
        "automated": {"prune": True, "selfHeal": True},
        "interval": "1m",
        "retry": {"limit": 2, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "2s"}},
    }
    await kube.create(apps.application("app", namespace, url, syncPolicy=policy))

    def stalled(s: apps.Status) -> bool:
        cond = apps.condition(s, "Stalled")
        return cond is not None and cond["status"] == "True"

    status = await apps.wait_status(kube, namespace, "app", stalled, timeout=30)
    stall = apps.condition(status, "Stalled")
    assert stall is not None and stall["reason"] == "RetriesExhausted" and "3 failed attempts" in stall["message"]
    error = apps.condition(status, "SyncError")
    assert error is not None and error["status"] == "True" and "refused by test policy" in error["message"]
    assert status["operationState"]["phase"] == "Failed"
    failed = [r for r in status["operationState"]["syncResult"]["resources"] if r["action"] == "failed"]
    assert [(r["name"], "refused by test policy" in r["message"]) for r in failed] == [("refused", True)]
    assert status["history"][-1]["result"] == "Failed"
    assert (await kube.get("v1", "ConfigMap", "ok", namespace))["data"] == {"value": "1"}

    # spent retries stay spent (no new attempt at the next re-check) and stay reported
    started = status["operationState"]["startedAt"]
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace, _refresh("after-stall"))
    status = await apps.wait_status(kube, namespace, "app", apps.refreshed("after-stall"))
    assert status["operationState"]["startedAt"] == started
    assert stalled(status) and apps.condition(status, "SyncError") is not None

    # a new revision is a new operation with retries of its own; once it syncs, nothing is stalled
    fixed = repo.commit({"ok.yaml": configmap("ok", "2"), "refused.yaml": None}, message="drop the refused object")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(fixed))
    assert apps.condition(status, "Stalled") is None and apps.condition(status, "SyncError") is None


def _refresh(value: str) -> dict[str, object]:
    return {"metadata": {"annotations": {"gitward.dev/refresh": value}}}


async def test_deleting_an_application_deletes_its_cluster_scoped_objects_too_and_prunes_only_its_inventory(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """An object that merely carries the Application's tracking id and label (made by hand, never in
    its inventory) is neither pruned nor deleted with it; the cluster-scoped objects it made are."""
    role = f"gwt-contract-{namespace}"
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role}}
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("cm"), "role.yaml": json.dumps(cluster_role)})
    url = git_http_server.publish(repo, "config.git")
    stranger = json.loads(configmap("stranger"))
    stranger["metadata"]["namespace"] = namespace
    stranger["metadata"]["annotations"] = {
        "gitward.dev/tracking-id": f"{namespace}/app:/ConfigMap:{namespace}/stranger"
    }
    stranger["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "gitward"}
    await kube.create(stranger)
    try:
        await kube.create(apps.application("app", namespace, url))
        await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
        await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", role)

        pruned = repo.commit({"cm.yaml": None}, message="drop cm")
        git_http_server.publish(repo, "config.git")
        controller.refresh(f"{namespace}/app")
        status = await apps.wait_status(kube, namespace, "app", apps.synced_at(pruned))
        assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None
        assert await kube.get_or_none("v1", "ConfigMap", "stranger", namespace) is not None
        assert [r["name"] for r in status["operationState"]["syncResult"]["resources"]] == ["cm"]

        await kube.delete("gitward.dev/v1alpha1", "Application", "app", namespace)
        await apps.wait_for(
            lambda: _absent(kube, "rbac.authorization.k8s.io/v1", "ClusterRole", role),
            message="the cluster-scoped object deleted with its Application",
        )
        assert await kube.get_or_none("v1", "ConfigMap", "stranger", namespace) is not None
    finally:
        if await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRole", role):
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", role)


async def _absent(kube: KubeClient, api_version: str, kind: str, name: str) -> bool:
    return await kube.get_or_none(api_version, kind, name) is None


SUSPENDED_CRONJOB = json.dumps(
    {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": True,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}
                    }
                }
            },
        },
    }
)

UNADDRESSED_LOAD_BALANCER = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "front"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "none"}},
    }
)


async def test_suspended_ranks_between_healthy_and_progressing(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = repo.commit({"cron.yaml": SUSPENDED_CRONJOB, "cm.yaml": configmap("cm")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))

    def health_is(expected: str, sha: str) -> Callable[[apps.Status], bool]:
        return apps.all_of(apps.synced_at(sha), lambda s: (s.get("health") or {}).get("status") == expected)

    status = await apps.wait_status(kube, namespace, "app", health_is("Suspended", first))
    assert "suspended" in status["health"]["message"].lower()
    row = next(r for r in status["resources"] if r["kind"] == "CronJob")
    assert row["health"]["status"] == "Suspended"

    second = repo.commit({"svc.yaml": UNADDRESSED_LOAD_BALANCER}, message="a load balancer")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    await apps.wait_status(kube, namespace, "app", health_is("Progressing", second))


async def test_target_revision_takes_a_tag_or_a_full_sha_and_a_missing_path_keeps_the_last_good(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    tagged = repo.commit({"app/cm.yaml": configmap("cm", "tagged")}, message="release")
    repo.tag("v1.0.0")
    pinned = repo.commit({"app/cm.yaml": configmap("cm", "pinned")}, message="pinned")
    repo.commit({"app/cm.yaml": configmap("cm", "newest")}, message="newest")
    url = git_http_server.publish(repo, "config.git")
    source = {"repoURL": url, "targetRevision": "v1.0.0", "path": "app"}
    await kube.create(apps.application("app", namespace, url, source=source))
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(tagged))
    assert status["history"][-1]["message"] == "release"
    assert await _value_of(kube, namespace, "cm") == "tagged"

    patch = {"spec": {"source": {"targetRevision": pinned}}}
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace, patch)
    await apps.wait_status(kube, namespace, "app", apps.synced_at(pinned))
    assert await _value_of(kube, namespace, "cm") == "pinned"

    patch = {"spec": {"source": {"path": "no/such/dir"}}}
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace, patch)

    def refused(s: apps.Status) -> bool:
        failing = [c for c in s.get("conditions") or [] if c["type"].endswith("Error") and c["status"] == "True"]
        return s.get("observedGeneration") == 3 and bool(failing)

    status = await apps.wait_status(kube, namespace, "app", refused)
    failing = next(c for c in status["conditions"] if c["type"].endswith("Error") and c["status"] == "True")
    assert "no/such/dir" in failing["message"], failing
    assert status["lastAttemptedRevision"] == pinned and status["lastSyncedRevision"] == pinned
    assert await _value_of(kube, namespace, "cm") == "pinned"


async def _value_of(kube: KubeClient, namespace: str, name: str) -> str:
    return str((await kube.get("v1", "ConfigMap", name, namespace))["data"]["value"])


async def test_an_application_held_by_its_dependencies_still_answers_each_refresh(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """reconciledAt is the end of the last completed re-check, changed or not: waiting for a
    dependency that does not exist yet is such a re-check."""
    repo = make_repo()
    repo.commit({"cm.yaml": configmap("cm")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url, dependsOn=[{"name": "absent"}]))
    status = await apps.wait_status(kube, namespace, "app", lambda s: bool(s.get("reconciledAt")))
    for request in ("r1", "r2"):
        await asyncio.sleep(1.1)  # reconciledAt has a resolution of one second
        await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace, _refresh(request))
        later = await apps.wait_status(kube, namespace, "app", apps.refreshed(request))
        assert later["reconciledAt"] > status["reconciledAt"], (status["reconciledAt"], later["reconciledAt"])
        assert apps.condition(later, "Reconciling") is not None
        status = later
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None
