"""The test bed: a real control plane for the session, Kubernetes clients, per-test namespaces.

By default the session starts its own embedded control plane (`gitward dev up` code) in a temporary
state dir and stops it at the end; GITWARD_TEST_KUBERNETES picks its release (`1.20` or the current
one, e.g. `1.37`; the devcluster code reads it too, so `gitward dev up` run by a test matches). With
GITWARD_TEST_KUBECONFIG set, tests run against that cluster instead and clean up after themselves in
namespaces of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitward.cli import install
from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.devcluster import cluster as devcluster
from gitward.kube import errors
from gitward.kube.client import KubeClient
from tests.support import apps
from tests.support.process import GitwardProcess

pytest_plugins = ["tests.support.fixtures"]


@dataclass(frozen=True)
class ClusterUnderTest:
    kubeconfig: str
    user_kubeconfig: str | None  # an unprivileged user, when the test bed made the cluster
    state_dir: Path | None  # None for an existing cluster
    embedded: bool
    kubernetes: str = ""  # the version the embedded control plane runs ("v1.37.2"); "" for an existing one


@pytest.fixture(scope="session")
def test_cluster() -> Iterator[ClusterUnderTest]:
    existing = os.environ.get("GITWARD_TEST_KUBECONFIG")
    if existing:
        yield ClusterUnderTest(existing, None, None, embedded=False)
        return
    state = Path(tempfile.mkdtemp(prefix="gitward-test-cluster-"))
    try:
        info = devcluster.up(state, log=False, kubernetes=os.environ.get("GITWARD_TEST_KUBERNETES") or None)
        yield ClusterUnderTest(info.kubeconfig, info.user_kubeconfig, state, embedded=True, kubernetes=info.kubernetes)
    finally:
        devcluster.down(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
async def kube(test_cluster: ClusterUnderTest) -> AsyncIterator[KubeClient]:
    client = KubeClient.connect(test_cluster.kubeconfig)
    yield client
    await client.close()


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
async def crds(kube: KubeClient) -> None:
    """gitward's CRDs, installed once per session (as `gitward install --crds-only` does)."""
    await install.apply_all(kube, install.manifests("gitward", crds_only=True))


@pytest.fixture
async def controller(kube: KubeClient, namespace: str, crds: None, tmp_path: Path) -> AsyncIterator[Controller]:
    """A controller watching the test's namespace, running in the test's event loop."""
    async with apps.running_controller(kube, namespace, tmp_path / "cache", allow_file=True) as running:
        yield running


@pytest.fixture(scope="session")
async def token_secrets(kube: KubeClient) -> bool:
    """Whether the cluster still makes a token Secret for each ServiceAccount (before 1.24)."""
    version = await kube.server_version()
    minor = int("".join(c for c in str(version.get("minor", "")) if c.isdigit()) or 0)
    return str(version.get("major")) == "1" and minor < 24


@pytest.fixture
async def namespace(kube: KubeClient, token_secrets: bool) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = unique_name("gwt")
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # the ServiceAccount admission needs the default SA before pods can be created
    # (and, on clusters before 1.24, its token Secret)
    for attempt in range(100):
        account = await kube.get_or_none("v1", "ServiceAccount", "default", name)
        if account and (not token_secrets or account.get("secrets") or attempt > 40):
            break
        await asyncio.sleep(0.05)
    yield name
    await _drop_finalizers(kube, name)
    await kube.delete("v1", "Namespace", name)


async def _drop_finalizers(kube: KubeClient, namespace: str) -> None:
    """Let the namespace go even when no controller is left to finalize its Applications and Rollouts."""
    for kind in ("Application", "Rollout"):
        try:
            items, _ = await kube.list(API_VERSION, kind, namespace)
        except errors.KubeError:
            continue
        for obj in items:
            if obj["metadata"].get("finalizers"):
                patch = {"metadata": {"finalizers": None}}
                with contextlib.suppress(errors.APINotFoundError):
                    await kube.patch(API_VERSION, kind, obj["metadata"]["name"], namespace, patch)


@pytest.fixture
def processes() -> Iterator[list[GitwardProcess]]:
    """`gitward run` processes a test starts (append them): killed when the test ends, whatever happens."""
    started: list[GitwardProcess] = []
    yield started
    for proc in started:
        proc.kill()
