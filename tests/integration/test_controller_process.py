"""`gitward run` as a process: HTTP probes and metrics, leader election between two replicas, and
restart safety (SIGKILL in the middle of a 500-object sync converges with no orphans)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.controller.leadership import LEASE_API
from gitward.kube.client import KubeClient

CONFIGMAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: "{i}"\n'


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[GitwardProcess]]:
    started: list[GitwardProcess] = []
    yield started
    for proc in started:
        proc.kill()


def _many(count: int) -> dict[str, str]:
    return {f"cms/cm-{i}.yaml": CONFIGMAP.format(i=i) for i in range(count)}


async def _count_managed(kube: KubeClient, namespace: str) -> int:
    items, _ = await kube.list("v1", "ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=gitward")
    return len(items)


async def test_probes_and_metrics(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP.format(i=0)})
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(proc)
    proc.wait_http()
    await kube.create(apps.application("app", namespace, f"file://{repo.path}"))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert proc.get("/healthz")[0] == 200
    code, body = proc.get("/readyz")
    assert code == 200 and '"leader":true' in body.replace(" ", "")
    code, metrics = proc.get("/metrics")
    assert code == 200
    for name in (
        "gitward_reconcile_duration_seconds_bucket",
        "gitward_app_info{",
        "gitward_sync_total",
        "gitward_objects_applied_total{",
        "gitward_drift_corrections_total",
        "gitward_git_fetch_duration_seconds_bucket",
        "gitward_kube_requests_total{",
        "process_resident_memory_bytes",
    ):
        assert name in metrics, name
    assert f'gitward_app_info{{health_status="Healthy",name="app",namespace="{namespace}"' in metrics
    assert proc.stop() == 0


async def test_only_the_lease_holder_writes(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP.format(i=0)})
    first = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(first)
    first.wait_http()
    lease = await apps.wait_for(lambda: kube.get_or_none(LEASE_API, "Lease", "gitward-controller", namespace))
    holder = lease["spec"]["holderIdentity"]
    second = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(second)
    second.wait_http()
    assert '"leader":false' in second.get("/readyz")[1].replace(" ", "")

    await kube.create(apps.application("app", namespace, f"file://{repo.path}"))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(repo.head()))
    cm = await kube.get("v1", "ConfigMap", "cm-0", namespace)
    managers = [m for m in cm["metadata"]["managedFields"] if m["manager"] == "gitward"]
    assert len(managers) == 1
    # the standby reconciled nothing: no reconcile metric for this app
    standby_metrics = second.get("/metrics")[1]
    assert f'gitward_reconcile_duration_seconds_count{{name="app",namespace="{namespace}"' not in standby_metrics
    leader_metrics = first.get("/metrics")[1]
    assert f'gitward_reconcile_duration_seconds_count{{name="app",namespace="{namespace}"' in leader_metrics
    lease = await kube.get(LEASE_API, "Lease", "gitward-controller", namespace)
    assert lease["spec"]["holderIdentity"] == holder

    # the leader stops: the standby takes over and keeps reconciling
    assert first.stop() == 0
    await apps.wait_for(lambda: _leader(second), timeout=30, message="standby took over")
    sha = repo.commit({"cm2.yaml": CONFIGMAP.format(i=2)})
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "after-takeover"}}})  # fmt: skip
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(sha), timeout=60)
    assert status["lastHandledRefresh"] == "after-takeover"


def _leader(proc: GitwardProcess) -> bool:
    return '"leader":true' in proc.get("/readyz")[1].replace(" ", "")


async def test_sigkill_mid_sync_converges_without_orphans(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    repo = make_repo()
    sha = repo.commit(_many(500))
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(proc)
    proc.wait_http()
    await kube.create(apps.application("big", namespace, f"file://{repo.path}"))
    await apps.wait_for(lambda: _at_least(kube, namespace, 20), timeout=60, interval=0.02, message="sync started")
    proc.kill()
    written = await _count_managed(kube, namespace)
    status = (await apps.get_app(kube, namespace, "big")).get("status") or {}
    assert written < 500 or status.get("sync", {}).get("status") != "Synced", "killed too late to test anything"

    restarted = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(restarted)
    status = await apps.wait_status(kube, namespace, "big", apps.synced_at(sha), timeout=120)
    assert len(status["inventory"]["entries"]) == 500
    assert await _count_managed(kube, namespace) == 500

    # prune half: only the inventory decides, and nothing is left behind
    sha = repo.commit({f"cms/cm-{i}.yaml": None for i in range(250, 500)})
    await kube.patch("gitward.dev/v1alpha1", "Application", "big", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "1"}}})  # fmt: skip
    status = await apps.wait_status(kube, namespace, "big", apps.synced_at(sha), timeout=120)
    assert len(status["inventory"]["entries"]) == 250
    await apps.wait_for(lambda: _exactly(kube, namespace, 250), timeout=30, message="250 objects left")


async def _at_least(kube: KubeClient, namespace: str, count: int) -> bool:
    return await _count_managed(kube, namespace) >= count


async def _exactly(kube: KubeClient, namespace: str, count: int) -> bool:
    return await _count_managed(kube, namespace) == count
