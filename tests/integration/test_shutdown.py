"""Graceful shutdown (SPEC §9): on SIGTERM `gitward run` takes no new work, lets the sync in flight
finish, releases its Lease (so a standby takes over at once) and exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.controller.leadership import LEASE_API
from gitward.kube.client import KubeClient

CONFIGMAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: "{i}"\n'
COUNT = 300


async def _managed(kube: KubeClient, namespace: str) -> int:
    items, _ = await kube.list("v1", "ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=gitward")
    return len(items)


async def test_sigterm_finishes_the_sync_in_flight_releases_the_lease_and_exits_0(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    sha = repo.commit({f"cms/cm-{i}.yaml": CONFIGMAP.format(i=i) for i in range(COUNT)})
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    try:
        proc.wait_http()
        await apps.wait_for(
            lambda: kube.get_or_none(LEASE_API, "Lease", "gitward-controller", namespace), message="the Lease"
        )
        await kube.create(apps.application("big", namespace, f"file://{repo.path}"))

        async def started() -> bool:
            return await _managed(kube, namespace) >= 10

        await apps.wait_for(started, timeout=60, interval=0.02, message="the sync to start")
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        returncode = proc.proc.wait(90)  # bounded only against a hang: the drain itself is bounded by 20 s
    finally:
        proc.kill()
    log = proc.log.read_text()
    assert returncode == 0, log[-3000:]
    assert "shutting down" in log and "cancelling them" not in log

    # the sync that was running when SIGTERM came finished: every object, recorded in the status
    assert await _managed(kube, namespace) == COUNT
    status = (await apps.get_app(kube, namespace, "big"))["status"]
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["sync"] == {"status": "Synced", "revision": sha}
    # and the Lease was released, not left to expire
    lease = await kube.get(LEASE_API, "Lease", "gitward-controller", namespace)
    assert not lease["spec"].get("holderIdentity")
