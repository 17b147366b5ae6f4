"""`gitward run` as a process: HTTP probes and metrics, leader election between two replicas, and
restart safety (SIGKILL in the middle of a 500-object sync converges with no orphans)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.controller.leadership import LEASE_API
from gitward.kube.client import KubeClient

CONFIGMAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: "{i}"\n'


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
    await apps.wait_status(kube, namespace, "app", apps.all_of(apps.synced_at(sha), apps.healthy))
    assert proc.get("/healthz")[0] == 200
    code, body = proc.get("/readyz")
    assert code == 200 and '"leader":true' in body.replace(" ", "")
    assert "identity" not in body and socket.gethostname() not in body  # anonymous: never who leads
    # the reconcile is observed once it returned, after its status write: wait for the series, not the status
    app_info = f'gitward_app_info{{health_status="Healthy",name="app",namespace="{namespace}"'
    metrics = await _metrics_with(proc, app_info, _reconciled("app", namespace))
    for name in (
        "gitward_reconcile_duration_seconds_bucket",
        "gitward_sync_total",
        "gitward_objects_applied_total{",
        "gitward_drift_corrections_total",
        "gitward_git_fetch_duration_seconds_bucket",
        "gitward_kube_requests_total{",
        "process_resident_memory_bytes",
    ):
        assert name in metrics, name
    assert proc.stop() == 0


async def _metrics_with(proc: GitwardProcess, *series: str) -> str:
    """The process's /metrics once every one of `series` is in it (a bounded wait: fails only on a hang)."""

    def check() -> str | None:
        code, text = proc.get("/metrics")
        return text if code == 200 and all(s in text for s in series) else None

    found: str = await apps.wait_for(check, timeout=30, message=f"metrics {series}")
    return found


def _reconciled(name: str, namespace: str) -> str:
    """The reconcile-duration series of one Application: present once a reconcile of it returned."""
    return f'gitward_reconcile_duration_seconds_count{{name="{name}",namespace="{namespace}"'


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
    # the leader's reconcile has returned (its metric is there); the standby reconciled nothing
    await _metrics_with(first, _reconciled("app", namespace))
    assert _reconciled("app", namespace) not in second.get("/metrics")[1]
    lease = await kube.get(LEASE_API, "Lease", "gitward-controller", namespace)
    assert lease["spec"]["holderIdentity"] == holder

    # the leader stops: the standby takes over and keeps reconciling
    assert first.stop() == 0
    await apps.wait_for(lambda: _leader(second), timeout=30, message="standby took over")
    sha = repo.commit({"cm2.yaml": CONFIGMAP.format(i=2)})
    await kube.patch("gitward.dev/v1alpha1", "Application", "app", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "after-takeover"}}})  # fmt: skip
    # the new leader's first full re-check may reach the new commit before it handles the refresh
    # annotation: wait for both, then check what the new leader wrote
    ready = apps.all_of(apps.synced_at(sha), apps.refreshed("after-takeover"))
    await apps.wait_status(kube, namespace, "app", ready, timeout=60)
    cm2 = await kube.get("v1", "ConfigMap", "cm-2", namespace)
    assert [m["manager"] for m in cm2["metadata"]["managedFields"] if m["manager"] == "gitward"] == ["gitward"]
    await _metrics_with(second, _reconciled("app", namespace))


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


async def test_shards_lead_their_own_leases_and_a_standby_takes_over(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    """`--shard 0/2` and `--shard 1/2` both lead (one Lease each) and together reconcile every
    Application; SIGKILL of shard 1's leader hands its Applications to shard 1's standby."""
    repo = make_repo()
    repo.commit({f"app-{i}/cm.yaml": CONFIGMAP.format(i=i) for i in range(6)})
    shard0 = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path, "--shard", "0/2").start()
    shard1 = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path, "--shard", "1/2").start()
    processes.extend([shard0, shard1])
    for proc in (shard0, shard1):
        proc.wait_http()
        await apps.wait_for(lambda p=proc: _leader(p), timeout=30, message="each shard leads")  # type: ignore[misc]
    leases = {
        index: await kube.get(LEASE_API, "Lease", f"gitward-controller-shard-{index}-of-2", namespace)
        for index in (0, 1)
    }
    assert leases[0]["spec"]["holderIdentity"] != leases[1]["spec"]["holderIdentity"]
    assert await kube.get_or_none(LEASE_API, "Lease", "gitward-controller", namespace) is None

    names = [f"app-{i}" for i in range(6)]
    for name in names:
        await kube.create(apps.application(name, namespace, f"file://{repo.path}", name))
    for name in names:
        await apps.wait_status(kube, namespace, name, apps.synced_at(repo.head()), timeout=60)

    def by_shard() -> dict[int, str] | None:
        """Both shards' metrics once every Application's reconcile has returned in one of them."""
        owned = {index: proc.get("/metrics")[1] for index, proc in ((0, shard0), (1, shard1))}
        done = all(_reconciled(name, namespace) in owned[0] + owned[1] for name in names)
        return owned if done else None

    owned = await apps.wait_for(by_shard, timeout=30, message="every reconcile observed")
    for name in names:
        series = _reconciled(name, namespace)
        assert (series in owned[0]) != (series in owned[1]), f"{name} must be reconciled by exactly one shard"

    # a standby for shard 1 waits; the leader dies by SIGKILL; the standby takes the shard's Lease
    standby = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path, "--shard", "1/2").start()
    processes.append(standby)
    standby.wait_http()
    assert not _leader(standby)
    shard1.kill()
    await apps.wait_for(lambda: _leader(standby), timeout=60, message="the standby of shard 1 took over")
    sha = repo.commit({f"app-{i}/cm.yaml": CONFIGMAP.format(i=i).replace('value: "', 'value: "v2-') for i in range(6)})
    for name in names:
        await kube.patch("gitward.dev/v1alpha1", "Application", name, namespace,
                         {"metadata": {"annotations": {"gitward.dev/refresh": "after-kill"}}})  # fmt: skip
    for name in names:
        await apps.wait_status(kube, namespace, name, apps.synced_at(sha), timeout=60)


async def test_a_shard_count_change_moves_only_the_applications_it_must(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    """2 shards, then 3: every Application is reconciled by the shard of the same index as before,
    or by the new shard 2 — none moves between the old shards."""
    count = 9
    repo = make_repo()
    repo.commit({f"app-{i}/cm.yaml": CONFIGMAP.format(i=i) for i in range(count)})
    names = [f"app-{i}" for i in range(count)]
    for name in names:
        await kube.create(apps.application(name, namespace, f"file://{repo.path}", name))

    async def owners(shards: int, refresh: str) -> dict[str, int]:
        started = [
            GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path, "--shard", f"{i}/{shards}").start()
            for i in range(shards)
        ]
        processes.extend(started)
        try:
            for proc in started:
                proc.wait_http()
            for name in names:
                await kube.patch("gitward.dev/v1alpha1", "Application", name, namespace,
                                 {"metadata": {"annotations": {"gitward.dev/refresh": refresh}}})  # fmt: skip
            for name in names:
                await apps.wait_status(kube, namespace, name, apps.refreshed(refresh), timeout=90)

            def seen() -> dict[str, int] | None:
                text = [proc.get("/metrics")[1] for proc in started]
                found = {n: [i for i, t in enumerate(text) if _reconciled(n, namespace) in t] for n in names}
                return {n: found[n][0] for n in names} if all(len(f) == 1 for f in found.values()) else None

            return await apps.wait_for(seen, timeout=30, message=f"each app reconciled by one of {shards}")  # type: ignore[no-any-return]
        finally:
            for proc in started:
                assert proc.stop() == 0

    before = await owners(2, "two-shards")
    after = await owners(3, "three-shards")
    moved = [name for name in names if before[name] != after[name]]
    assert all(after[name] == 2 for name in moved), (before, after)
    assert set(after.values()) <= {0, 1, 2}
