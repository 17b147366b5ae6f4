"""`gitward app diff NAME` (Git fetched now against the live objects) and `gitward diff DIR --app NAME`
(a local checkout against the live objects), without the controller's help: changed fields, new
objects and prunes as unified diffs, Secret values never shown; exit 0 in sync, 1 when something
differs, 2 on error."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli, configmap, gitward
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

NO_SELF_HEAL = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: {password}
"""


async def test_app_diff_shows_a_live_edit(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
    tmp_path: Path,
) -> None:
    repo = make_repo()
    sha = repo.commit({"app/cm.yaml": configmap("settings", greeting="hello", color="blue")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, "app", syncPolicy=NO_SELF_HEAL))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    cache = ["--cache-dir", str(tmp_path / "cli-cache")]

    clean = await app_cli(test_cluster, namespace, "diff", "web", *cache)
    assert clean.code == 0, clean
    assert clean.stdout == "" and "no differences" in clean.stderr
    assert f"at {sha[:7]}" in clean.stderr

    edit = {"data": {"greeting": "edited"}}
    await kube.patch("v1", "ConfigMap", "settings", namespace, edit, field_manager="someone-else")
    await apps.wait_status(kube, namespace, "web", lambda s: s["sync"]["status"] == "OutOfSync")
    drift = await app_cli(test_cluster, namespace, "diff", "web", *cache)
    assert drift.code == 1, drift
    assert f"--- live/ConfigMap/{namespace}/settings" in drift.stdout
    assert "-  greeting: edited\n" in drift.stdout and "+  greeting: hello\n" in drift.stdout
    assert "color" not in [line[1:].split(":")[0].strip() for line in drift.stdout.splitlines() if line[:1] in "+-"]
    assert f"ConfigMap/{namespace}/settings: differs from Git (drift: data.greeting" in drift.stderr
    assert "1 object differs: 1 differs from Git" in drift.stderr


async def test_diff_of_a_local_checkout(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    files = {
        "app/settings.yaml": configmap("settings", greeting="hello"),
        "app/extra.yaml": configmap("extra", a="b"),
        "app/secret.yaml": SECRET.format(password="first-s3cret"),
    }
    sha = repo.commit(files)
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, "app"))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    args = ("diff", str(repo.path), "--app", "web", "--kubeconfig", test_cluster.kubeconfig, "-n", namespace)

    same = await gitward(*args)
    assert same.code == 0, same
    assert same.stdout == ""

    # a pull request's working tree: one change, one new object, one removal, a new Secret value
    (repo.path / "app/settings.yaml").write_text(configmap("settings", greeting="bonjour"))
    (repo.path / "app/new.yaml").write_text(configmap("new", x="y"))
    (repo.path / "app/extra.yaml").unlink()
    (repo.path / "app/secret.yaml").write_text(SECRET.format(password="second-s3cret"))
    changed = await gitward(*args)
    assert changed.code == 1, changed
    out = changed.stdout
    assert f"+++ desired/ConfigMap/{namespace}/settings" in out
    assert "-  greeting: hello\n" in out and "+  greeting: bonjour\n" in out
    assert f"+++ desired/ConfigMap/{namespace}/new\n@@ -0,0 +1," in out
    assert f"--- live/ConfigMap/{namespace}/extra" in out and "-  a: b\n" in out
    assert "+  password: +++++++++++ (changed)\n" in out
    for secret in ("s3cret", base64.b64encode(b"first-s3cret").decode(), base64.b64encode(b"second-s3cret").decode()):
        assert secret not in out and secret not in changed.stderr
    assert f"ConfigMap/{namespace}/extra: would be pruned" in changed.stderr
    assert f"ConfigMap/{namespace}/new: would be created" in changed.stderr
    assert "4 objects differ" in changed.stderr

    # --path: render another directory of the checkout for the same Application
    (repo.path / "other").mkdir()
    (repo.path / "other/settings.yaml").write_text(configmap("settings", greeting="hello"))
    other = await gitward(*args, "--path", "other")
    assert other.code == 1, other
    assert "greeting" not in other.stdout
    assert f"ConfigMap/{namespace}/extra: would be pruned" in other.stderr
    assert f"Secret/{namespace}/creds: would be pruned" in other.stderr

    # DIR inside the checkout, as people type it: that directory is rendered (kustomize build DIR)
    inside = await gitward("diff", str(repo.path / "other"), *args[2:])
    assert (inside.code, inside.stdout, inside.stderr) == (other.code, other.stdout, other.stderr)


async def test_diff_errors_exit_2(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    missing = await app_cli(test_cluster, namespace, "diff", "nope", "--cache-dir", str(tmp_path))
    assert missing.code == 2, missing
    assert "Application" in missing.stderr and "not found" in missing.stderr
    local = await gitward("diff", str(tmp_path), "--app", "nope", "--kubeconfig", test_cluster.kubeconfig)
    assert local.code == 2, local
    assert "gitward/nope not found" in local.stderr

    (tmp_path / "bad.yaml").write_text("a: [1\n")
    await kube.create(apps.application("web", namespace, "http://127.0.0.1:1/none.git"))
    kubeconfig = ("--kubeconfig", test_cluster.kubeconfig)
    broken = await gitward("diff", str(tmp_path), "--app", "web", *kubeconfig, "-n", namespace)
    assert broken.code == 2, broken
    assert broken.stderr.startswith("error: bad.yaml:")
    unreachable = await app_cli(test_cluster, namespace, "diff", "web", "--cache-dir", str(tmp_path / "cache"))
    assert unreachable.code == 2, unreachable
    assert unreachable.stderr.startswith("error: http://127.0.0.1:1/none.git")
