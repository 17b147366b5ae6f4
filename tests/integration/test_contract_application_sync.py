"""SPEC §2 sync promises checked through the contract: retry with backoff of a sync the API refuses
after validation passed.

A ValidatingAdmissionPolicy that refuses real writes (not dry-runs) of one object stands in for an
API failure that only happens at write time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

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
