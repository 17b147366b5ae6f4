"""The test bed: a real control plane for the session, Kubernetes clients, per-test namespaces.

By default the session starts its own embedded control plane (`gitward dev up` code) in a temporary
state dir and stops it at the end. With GITWARD_TEST_KUBECONFIG set, tests run against that cluster
instead and clean up after themselves in namespaces of their own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitward.devcluster import cluster as devcluster
from gitward.kube.client import KubeClient

pytest_plugins = ["tests.support.fixtures"]


@dataclass(frozen=True)
class TestCluster:
    kubeconfig: str
    user_kubeconfig: str | None  # an unprivileged user, when the test bed made the cluster
    state_dir: Path | None  # None for an existing cluster
    embedded: bool


@pytest.fixture(scope="session")
def test_cluster() -> Iterator[TestCluster]:
    existing = os.environ.get("GITWARD_TEST_KUBECONFIG")
    if existing:
        yield TestCluster(existing, None, None, embedded=False)
        return
    state = Path(tempfile.mkdtemp(prefix="gitward-test-cluster-"))
    try:
        info = devcluster.up(state, log=False)
        yield TestCluster(info.kubeconfig, info.user_kubeconfig, state, embedded=True)
    finally:
        devcluster.down(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
async def kube(test_cluster: TestCluster) -> AsyncIterator[KubeClient]:
    client = KubeClient.connect(test_cluster.kubeconfig)
    yield client
    await client.close()


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = unique_name("gwt")
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # the ServiceAccount admission needs the default SA before pods can be created
    for _ in range(100):
        if await kube.get_or_none("v1", "ServiceAccount", "default", name):
            break
        await asyncio.sleep(0.05)
    yield name
    await kube.delete("v1", "Namespace", name)
