"""`gitward app list | get | history` against the real control plane: tables and `-o json|yaml` with
names, sync/health, short SHAs and authors; a missing Application and Kubernetes failures exit 1
with one line and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli, configmap, gitward
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

HISTORY_HEADER = ["ID", "REVISION", "AUTHOR", "MESSAGE", "COMMITTED", "DEPLOYED", "INITIATED", "BY", "RESULT"]


@pytest.fixture
async def deployed(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> tuple[str, str, str]:
    """Application `web` deployed twice (two authors); returns (url, first sha, second sha)."""
    repo = make_repo()
    first = repo.commit(
        {"app/cm.yaml": configmap("settings", greeting="hello")},
        message="First settings\n\nwith a body",
        author=("Ada Lovelace", "ada@example.com"),
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, "app"))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = repo.commit(
        {"app/cm.yaml": configmap("settings", greeting="hi")},
        message="Friendlier greeting",
        author=("Grace Hopper", "grace@example.com"),
    )
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", lambda s: apps.synced_at(second)(s) and len(s["history"]) == 2)
    return url, first, second


async def test_list(test_cluster: ClusterUnderTest, namespace: str, deployed: tuple[str, str, str]) -> None:
    url, _, second = deployed
    table = await app_cli(test_cluster, namespace, "list")
    assert table.code == 0, table
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "SYNC", "HEALTH", "REVISION", "LAST", "SYNC"]
    assert row.split()[:4] == ["web", "Synced", "Healthy", second[:7]]
    assert f"{url} app" in row

    everywhere = await app_cli(test_cluster, namespace, "list", "-A")
    assert everywhere.code == 0, everywhere
    assert "NAMESPACE" in everywhere.stdout.splitlines()[0]
    assert any(line.split()[:2] == ["web", namespace] for line in everywhere.stdout.splitlines())

    as_json = json.loads((await app_cli(test_cluster, namespace, "list", "-o", "json")).stdout)
    assert [a["metadata"]["name"] for a in as_json] == ["web"]
    assert as_json[0]["status"]["sync"] == {"status": "Synced", "revision": second}
    assert "managedFields" not in as_json[0]["metadata"]
    as_yaml = yaml.safe_load((await app_cli(test_cluster, namespace, "list", "-o", "yaml")).stdout)
    assert as_yaml[0]["status"]["health"]["status"] == "Healthy"


async def test_get(test_cluster: ClusterUnderTest, namespace: str, deployed: tuple[str, str, str]) -> None:
    url, _, second = deployed
    summary = await app_cli(test_cluster, namespace, "get", "web")
    assert summary.code == 0, summary
    text = summary.stdout
    for expected in (f"{namespace}/web", url, "automated (prune, selfHeal)", "Conditions", "Resources"):
        assert expected in text, text
    assert f"Synced  {second[:7]}" in text
    ready = next(line for line in text.splitlines() if line.startswith("Ready"))
    assert ready.split()[:2] == ["Ready", "True"]
    resource = next(line for line in text.splitlines() if line.startswith("ConfigMap"))
    assert resource.split()[:5] == ["ConfigMap", namespace, "settings", "Synced", "Healthy"]

    obj = json.loads((await app_cli(test_cluster, namespace, "get", "web", "-o", "json")).stdout)
    assert obj["kind"] == "Application" and obj["status"]["lastSyncedRevision"] == second
    obj = yaml.safe_load((await app_cli(test_cluster, namespace, "get", "web", "-o", "yaml")).stdout)
    assert obj["spec"]["source"]["repoURL"] == url


async def test_history(test_cluster: ClusterUnderTest, namespace: str, deployed: tuple[str, str, str]) -> None:
    _, first, second = deployed
    table = await app_cli(test_cluster, namespace, "history", "web")
    assert table.code == 0, table
    lines = table.stdout.splitlines()
    assert lines[0].split() == HISTORY_HEADER
    assert lines[1].split()[:4] == ["1", first[:7], "Ada", "Lovelace"]
    assert "First settings" in lines[1] and "with a body" not in lines[1]
    assert lines[2].split()[:4] == ["2", second[:7], "Grace", "Hopper"]
    assert lines[2].split()[-2:] == ["automated", "Succeeded"]

    entries = json.loads((await app_cli(test_cluster, namespace, "history", "web", "-o", "json")).stdout)
    assert [(e["id"], e["revision"], e["author"]) for e in entries] == [
        (1, first, "Ada Lovelace"),
        (2, second, "Grace Hopper"),
    ]
    as_yaml = yaml.safe_load((await app_cli(test_cluster, namespace, "history", "web", "-o", "yaml")).stdout)
    assert as_yaml == entries


@pytest.mark.parametrize(
    "args",
    [("get", "nope"), ("history", "nope"), ("sync", "nope"), ("refresh", "nope"), ("suspend", "nope")],
)
async def test_missing_application(
    args: tuple[str, ...], test_cluster: ClusterUnderTest, namespace: str, crds: None
) -> None:
    ran = await app_cli(test_cluster, namespace, *args)
    assert ran.code == 1, ran
    assert ran.stdout == ""
    assert ran.stderr.strip() == f"error: Application {namespace}/nope not found (choose the namespace with -n)"


async def test_empty_list(test_cluster: ClusterUnderTest, namespace: str, crds: None) -> None:
    ran = await app_cli(test_cluster, namespace, "list")
    assert ran.code == 0, ran
    assert "no Applications" in ran.stderr
    assert json.loads((await app_cli(test_cluster, namespace, "list", "-o", "json")).stdout) == []


async def test_kubernetes_errors_are_one_line(test_cluster: ClusterUnderTest, tmp_path: Path, crds: None) -> None:
    missing = await gitward("app", "list", "--kubeconfig", str(tmp_path / "nope.kubeconfig"))
    assert missing.code == 1, missing
    assert missing.stderr.startswith("error: cannot load Kubernetes configuration")
    assert len(missing.stderr.strip().splitlines()) == 1

    config = yaml.safe_load(Path(test_cluster.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:1"
    unreachable = tmp_path / "unreachable.kubeconfig"
    unreachable.write_text(yaml.safe_dump(config))
    down = await gitward("app", "get", "web", "--kubeconfig", str(unreachable))
    assert down.code == 1, down
    assert down.stderr.startswith("error: ") and len(down.stderr.strip().splitlines()) == 1

    if test_cluster.user_kubeconfig is not None:  # an unprivileged user: RBAC says no
        forbidden = await gitward("app", "list", "--kubeconfig", test_cluster.user_kubeconfig)
        assert forbidden.code == 1, forbidden
        assert "forbidden" in forbidden.stderr.lower() and len(forbidden.stderr.strip().splitlines()) == 1
