"""Rollout operations through the CLI (`gitward rollout ...`, the user's kubeconfig) and the REST API
(`POST /api/v1/rollouts/{ns}/{name}/{promote|abort|retry}`, admin token); malformed requests get
4xx; the metrics name the phase and the analysis runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps, http_api
from tests.support import rollouts as r
from tests.support.cli import gitward

from gitward.controller import metrics
from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient

MANUAL = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}, {"pause": {}}]}}


@pytest.fixture
async def api(kube: KubeClient, namespace: str, controller: Controller) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace, controller) as running:
        yield running


async def _paused_rollout(kube: KubeClient, namespace: str) -> dict[str, Any]:
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, MANUAL))
    await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await r.set_version(kube, namespace, "v2")
    return await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))


def _phase_metric(namespace: str, phase: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(
        "gitward_rollout_phase", {"namespace": namespace, "name": "web", "phase": phase}
    )


async def test_cli_lists_promotes_fully_aborts_and_retries(
    kube: KubeClient, namespace: str, controller: Controller, test_cluster: ClusterUnderTest
) -> None:
    paused = await _paused_rollout(kube, namespace)
    await apps.wait_for(lambda: _phase_metric(namespace, "Paused") == 1, message="gitward_rollout_phase Paused")
    assert _phase_metric(namespace, "Healthy") == 0

    async def cli(*args: str) -> Any:
        return await gitward("rollout", *args, "--kubeconfig", test_cluster.kubeconfig, "-n", namespace)

    listed = await cli("list")
    assert listed.code == 0 and "web" in listed.stdout and "Paused" in listed.stdout, str(listed)
    shown = await cli("get", "web")
    assert shown.code == 0 and paused["canaryRevision"] in shown.stdout, str(shown)
    missing = await cli("promote", "nope")
    assert missing.code == 1 and "not found" in missing.stderr, str(missing)

    assert (await cli("abort", "web")).code == 0
    await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert (await cli("retry", "web")).code == 0
    await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    promoted = await cli("promote", "web", "--full")
    assert promoted.code == 0, str(promoted)
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") == paused["canaryRevision"],
    )
    assert [h["result"] for h in done["history"]] == ["Aborted", "Promoted"]
    rollout = await kube.get(ro.API_VERSION, "Rollout", "web", namespace)
    assert set(rollout["metadata"]["annotations"]) >= {ro.ABORT, ro.RETRY, ro.PROMOTE_FULL}


async def test_api_promotes_and_aborts_and_refuses_malformed_requests(
    kube: KubeClient, namespace: str, api: http_api.Api
) -> None:
    paused = await _paused_rollout(kube, namespace)
    base = f"/api/v1/rollouts/{namespace}/web"
    async with api.client("viewer") as http:
        listed = await http.get("/api/v1/rollouts")
        assert listed.status_code == 200 and listed.json()["items"][0]["phase"] == "Paused"
        assert (await http.get(base)).json()["status"]["canaryRevision"] == paused["canaryRevision"]
        assert (await http.post(f"{base}/promote", json={})).status_code == 403  # viewers may not
    async with api.client("admin") as http:
        assert (
            await http.post(f"{base}/promote", content=b"{", headers={"Content-Type": "application/json"})
        ).status_code == 400
        assert (await http.post(f"{base}/promote", json={"full": "sometimes"})).status_code == 422
        assert (await http.post(f"{base}/promote", json={"unknown": 1})).status_code == 422
        assert (await http.post(f"/api/v1/rollouts/{namespace}/nope/abort", json={})).status_code == 404
        assert (await http.post(f"/api/v1/rollouts/{namespace}/NOT..valid/abort", json={})).status_code == 404
        assert (await http.post(f"{base}/rollback", json={})).status_code in (404, 405)
        resp = await http.post(f"{base}/promote", json={})
        assert resp.status_code == 200, resp.text
        assert resp.json()["operation"] == "promote"
        await r.wait_rollout(
            kube, namespace, "web", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 100
        )
        resp = await http.post(f"{base}/abort", json={})
        assert resp.status_code == 200, resp.text
        aborted = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
        assert aborted["history"][-1]["result"] == "Aborted"
        resp = await http.post(f"{base}/retry", json={})
        assert resp.status_code == 200, resp.text
        await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
