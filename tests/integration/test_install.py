"""`gitward install`: prints or applies the CRDs and the in-cluster controller (SPEC §3)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import yaml
from tests.conftest import ClusterUnderTest

from gitward.kube.client import KubeClient
from gitward.server import tokens


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
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["run", "--namespace", "ops"]
    assert args[args.index("--auth-file") + 1] == "/etc/gitward/auth.yaml"
    assert args[args.index("--probe-listen") + 1] == "0.0.0.0:8081"
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


def test_print_includes_the_auth_secret_and_shows_its_token_once(tmp_path: Path) -> None:
    result = _gitward("install", "--print", "--namespace", "ops")
    every = list(yaml.safe_load_all(result.stdout))
    secret = next(o for o in every if o["kind"] == "Secret")
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("gitward-auth", "ops")
    token = result.stderr.strip().splitlines()[-1]
    assert token not in result.stdout  # only its hash is in the manifests
    auth_file = tmp_path / "auth.yaml"
    auth_file.write_text(secret["stringData"]["auth.yaml"])
    table = tokens.TokenTable(tokens.load(auth_file).tokens)
    assert table.find(token) is not None and table.find(token + "x") is None


def test_shards_render_a_statefulset() -> None:
    every = list(yaml.safe_load_all(_gitward("install", "--print", "--shards", "3").stdout))
    assert not [o for o in every if o["kind"] == "Deployment"]
    sts = next(o for o in every if o["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == "gitward"
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard") + 1] == "auto/3"
    assert _gitward("install", "--print", "--shards", "0").returncode != 0


async def test_install_creates_the_auth_secret_once(kube: KubeClient, test_cluster: ClusterUnderTest) -> None:
    namespace = "gitward-auth-test"
    try:
        first = _gitward("install", "--kubeconfig", test_cluster.kubeconfig, "--namespace", namespace)
        assert first.returncode == 0, first.stderr
        token = first.stdout.strip()
        assert token and token not in first.stderr
        secret = await kube.get("v1", "Secret", "gitward-auth", namespace)
        text = base64.b64decode(secret["data"]["auth.yaml"]).decode()
        assert token not in text and tokens.hash_token(token) in text
        again = _gitward("install", "--kubeconfig", test_cluster.kubeconfig, "--namespace", namespace)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == "" and "kept the existing Secret" in again.stderr
        kept = await kube.get("v1", "Secret", "gitward-auth", namespace)
        assert kept["data"] == secret["data"]  # never overwritten: the token printed first still works
    finally:
        await kube.delete("v1", "Namespace", namespace)
        for name in ("gitward-controller", "gitward-deployer"):
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name)
            await kube.delete("rbac.authorization.k8s.io/v1", "ClusterRole", name)
