"""Secret values never leave: a Secret managed by gitward and then drifted (values changed live)
shows its values — plain or base64 — in none of: the diff API, the resources API, the Application
API, the dashboard, the CLI diff, the status, the events, the metrics, the controller's logs."""

from __future__ import annotations

import base64

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps, http_api
from tests.support.cli import gitward
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

GIT_VALUE = "git-s3cret-Qv7x2"
LIVE_VALUE = "live-s3cret-Zp9k4"
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {GIT_VALUE}
"""


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def _assert_clean(text: str, where: str) -> None:
    for value in (GIT_VALUE, LIVE_VALUE):
        for form in _forms(value):
            assert form not in text, f"a Secret value leaked into {where}"


async def test_drifted_secret_values_appear_nowhere(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
    capfd: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo()
    sha = repo.commit({"secret.yaml": SECRET})
    url = git_http_server.publish(repo, "secrets.git")
    policy = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}
    await kube.create(apps.application("app", namespace, url, syncPolicy=policy))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    await kube.patch("v1", "Secret", "db", namespace, {"data": {"password": _forms(LIVE_VALUE)[1]}})
    status = await apps.wait_status(kube, namespace, "app", lambda s: s["sync"]["status"] == "OutOfSync")
    _assert_clean(str(status), "the status")

    async with http_api.serving(kube, namespace, controller) as api, api.client("admin") as http:
        base = f"/api/v1/applications/{namespace}/app"
        diff = await http.get(f"{base}/diff")
        assert diff.status_code == 200
        assert diff.json()["items"], "the drifted Secret must be listed as a diff"
        for path in ("", "/resources", "/history", "/diff"):
            resp = await http.get(base + path)
            assert resp.status_code == 200
            _assert_clean(resp.text, f"GET {base}{path}")
        _assert_clean((await http.get("/metrics")).text, "/metrics")
        for page in ("/", f"/applications/{namespace}/app"):
            resp = await http.get(page)
            assert resp.status_code == 200
            _assert_clean(resp.text, f"the dashboard page {page}")
        assert "Secret" in resp.text and "db" in resp.text, "the Secret is listed, without its values"

    ran = await gitward("app", "diff", "app", "-n", namespace, "--kubeconfig", test_cluster.kubeconfig)
    assert ran.code == 1, ran
    assert "password" in ran.stdout
    _assert_clean(ran.stdout + ran.stderr, "gitward app diff")

    events, _ = await kube.list("v1", "Event", namespace)
    _assert_clean(str(events), "events")
    out, err = capfd.readouterr()
    _assert_clean(out + err, "the controller's logs")
