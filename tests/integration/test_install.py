"""`gitward install`: prints or applies the CRDs and the in-cluster controller (SPEC §3)."""

from __future__ import annotations

import subprocess
import sys

import yaml
from tests.conftest import ClusterUnderTest

from gitward.kube.client import KubeClient


def _gitward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitward", *args], capture_output=True, text=True, check=False)


def test_print_everything_and_crds_only() -> None:
    every = list(yaml.safe_load_all(_gitward("install", "--print", "--namespace", "ops").stdout))
    kinds = {(o["kind"], o["metadata"]["name"]) for o in every}
    assert ("CustomResourceDefinition", "applications.gitward.dev") in kinds
    assert ("CustomResourceDefinition", "projects.gitward.dev") in kinds
    assert ("Deployment", "gitward-controller") in kinds
    assert ("Namespace", "ops") in kinds
    deployment = next(o for o in every if o["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "ops"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][:3] == ["run", "--namespace", "ops"]
    crb = next(o for o in every if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == "gitward-controller")
    assert crb["subjects"][0]["namespace"] == "ops"
    role = next(o for o in every if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "gitward-controller")
    assert any("impersonate" in rule["verbs"] for rule in role["rules"])
    crds_only = list(yaml.safe_load_all(_gitward("install", "--crds-only", "--print").stdout))
    assert {o["kind"] for o in crds_only} == {"CustomResourceDefinition"}
    app_crd = next(o for o in crds_only if o["metadata"]["name"] == "applications.gitward.dev")
    version = app_crd["spec"]["versions"][0]
    assert app_crd["spec"]["names"]["shortNames"][0] == "gwapp"
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Sync", "Health", "Revision", "Age"]
    assert version["subresources"] == {"status": {}}


async def test_install_applies_to_the_cluster(kube: KubeClient, test_cluster: ClusterUnderTest) -> None:
    namespace = "gitward-install-test"
    result = _gitward("install", "--kubeconfig", test_cluster.kubeconfig, "--namespace", namespace)
    assert result.returncode == 0, result.stderr
    try:
        assert await kube.get_or_none("apps/v1", "Deployment", "gitward-controller", namespace) is not None
        crd = await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "applications.gitward.dev")
        assert any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
        out = subprocess.run(["kubectl", "--kubeconfig", test_cluster.kubeconfig, "get", "gwapp", "-A"],
                             capture_output=True, text=True, check=True)  # fmt: skip
        assert out.returncode == 0
    finally:
        await kube.delete("v1", "Namespace", namespace)
        for name in ("gitward-controller", "gitward-deployer"):
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name)
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", name)
