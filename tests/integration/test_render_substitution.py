"""`source.substitute` (SPEC §15, Flux postBuild) against a real control plane and Git server:
variables inline and from ConfigMaps and Secrets of the Application's namespace, defaults, escapes,
opt-out; a value that would inject YAML structure stays one string; strict mode and a missing
ConfigMap refuse the revision and keep the last good one; Secret-held values never show in the
status, events or the API's diffs."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps, http_api
from tests.support.cli import gitward
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-${env}
  labels:
    env: ${env}
data:
  region: ${region:=eu-west-1}
  endpoint: https://${host}/api
  token: ${token}
  literal: $${env}
  injected: "a: ${hostile}"
"""
UNTOUCHED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: untouched
  annotations:
    gitward.dev/substitute: disabled
data:
  value: ${env}
"""
TOKEN = "tok-5ecret-value-42"
HOSTILE = "x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: injected\n"
NO_SELF_HEAL = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _inputs(kube: KubeClient, namespace: str, *, host: str = "db.internal") -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cluster-vars", "namespace": namespace},
            "data": {"env": "dev", "host": host, "hostile": HOSTILE},
        },
        field_manager="test",
    )
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "secret-vars", "namespace": namespace},
            "data": {"token": _b64(TOKEN)},
        },
        field_manager="test",
    )


def _substitute(**extra: Any) -> dict[str, Any]:
    return {
        "vars": {"env": "prod"},  # inline vars win over `from`
        "from": [{"kind": "ConfigMap", "name": "cluster-vars"}, {"kind": "Secret", "name": "secret-vars"}],
        **extra,
    }


def _render_error(status: dict[str, Any]) -> str:
    found = apps.condition(status, "RenderError") or {}
    return str(found.get("message", "")) if found.get("status") == "True" else ""


@pytest.fixture
async def api(kube: KubeClient, namespace: str, controller: Controller) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace, controller) as running:
        yield running


async def test_variables_are_substituted_in_strings_only(
    kube: KubeClient,
    namespace: str,
    api: http_api.Api,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    test_cluster: ClusterUnderTest,
) -> None:
    repo = make_repo()
    sha = repo.commit({"settings.yaml": SETTINGS, "untouched.yaml": UNTOUCHED})
    url = git_http_server.publish(repo, "config.git")
    await _inputs(kube, namespace)
    app = apps.application("web", namespace, url, syncPolicy=NO_SELF_HEAL)
    app["spec"]["source"]["substitute"] = _substitute()
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    live = await kube.get("v1", "ConfigMap", "settings-prod", namespace)
    assert live["metadata"]["labels"]["env"] == "prod"
    assert live["data"] == {
        "region": "eu-west-1",
        "endpoint": "https://db.internal/api",
        "token": TOKEN,
        "literal": "${env}",
        "injected": "a: " + HOSTILE,  # one string: no document, key or object was added
    }
    assert (await kube.get("v1", "ConfigMap", "untouched", namespace))["data"] == {"value": "${env}"}
    assert await kube.get_or_none("v1", "ConfigMap", "injected", namespace) is None
    assert {r["name"] for r in status["resources"]} == {"settings-prod", "untouched"}

    # a live edit: the API's diff masks the Secret-held value, wherever it went
    await kube.patch("v1", "ConfigMap", "settings-prod", namespace, {"data": {"token": "edited-by-hand"}})
    await apps.wait_status(
        kube, namespace, "web", lambda s: any(r["status"] == "OutOfSync" for r in s.get("resources", []))
    )
    async with api.client("viewer") as http:
        resp = await http.get(f"/api/v1/applications/{namespace}/web/diff")
    assert resp.status_code == 200, resp.text
    [item] = resp.json()["items"]
    assert "-  token: edited-by-hand" in item["diff"] and "+  token: ***" in item["diff"]
    assert TOKEN not in resp.text
    app_now = await apps.get_app(kube, namespace, "web")
    events = await kube.list("v1", "Event", namespace)
    assert TOKEN not in str(app_now) and TOKEN not in str(events)

    # `gitward diff` of the checkout substitutes the same way, and masks the same value
    args = ("diff", str(repo.path), "--app", "web", "--kubeconfig", test_cluster.kubeconfig, "-n", namespace)
    local = await gitward(*args)
    assert local.code == 1, local
    assert f"ConfigMap/{namespace}/settings-prod: differs from Git" in local.stderr
    assert "+  token: ***" in local.stdout and TOKEN not in local.stdout + local.stderr
    assert "untouched" not in local.stderr  # substituted like the controller does: nothing else differs


async def test_a_changed_configmap_is_picked_up_on_refresh(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({"settings.yaml": SETTINGS})
    url = git_http_server.publish(repo, "config.git")
    await _inputs(kube, namespace)
    app = apps.application("web", namespace, url)
    app["spec"]["source"]["substitute"] = _substitute()
    await kube.create(app)
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    await _inputs(kube, namespace, host="db2.internal")
    controller.refresh(f"{namespace}/web")

    async def endpoint() -> str | None:
        live = await kube.get("v1", "ConfigMap", "settings-prod", namespace)
        value = live["data"]["endpoint"]
        return value if value == "https://db2.internal/api" else None

    assert await apps.wait_for(endpoint, timeout=60) == "https://db2.internal/api"


async def test_strict_mode_and_missing_inputs_refuse_the_revision_and_keep_the_last_good(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    good = repo.commit({"settings.yaml": SETTINGS})
    url = git_http_server.publish(repo, "config.git")
    await _inputs(kube, namespace)
    app = apps.application("web", namespace, url)
    app["spec"]["source"]["substitute"] = _substitute(strict=True)
    await kube.create(app)
    await apps.wait_status(kube, namespace, "web", apps.synced_at(good))

    bad = repo.commit({"settings.yaml": SETTINGS + "  more: ${undefined_variable}\n"})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: s.get("lastAttemptedRevision") == bad and _render_error(s) != ""
    )
    message = _render_error(status)
    assert "ConfigMap/settings-${env}: variable 'undefined_variable' is not defined" in message  # as rendered
    assert status["sync"]["revision"] == good
    assert "more" not in (await kube.get("v1", "ConfigMap", "settings-prod", namespace))["data"]

    # a ConfigMap that is not there refuses too (retried), unless it is optional
    await kube.patch(
        "gitward.dev/v1alpha1",
        "Application",
        "web",
        namespace,
        {"spec": {"source": {"substitute": {"from": [{"kind": "ConfigMap", "name": "nowhere"}], "strict": False}}}},
    )
    status = await apps.wait_status(
        kube,
        namespace,
        "web",
        lambda s: "nowhere" in _render_error(s),
    )
    assert f"ConfigMap/{namespace}/nowhere: not found (source.substitute.from)" in str(status)
    optional = {"from": [{"kind": "ConfigMap", "name": "nowhere", "optional": True}], "vars": {"env": "prod"}}
    await kube.patch(
        "gitward.dev/v1alpha1", "Application", "web", namespace, {"spec": {"source": {"substitute": optional}}}
    )
    await apps.wait_status(kube, namespace, "web", apps.synced_at(bad))
    live = await kube.get("v1", "ConfigMap", "settings-prod", namespace)
    assert live["data"]["more"] == "" and live["data"]["token"] == ""  # undefined, not strict: empty


async def test_an_api_server_error_never_echoes_a_secret_held_value(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        "spec:\n  type: ${token}\n  ports: [{port: 80}]\n  selector: {app: web}\n"
    )
    repo = make_repo()
    repo.commit({"service.yaml": service})
    url = git_http_server.publish(repo, "config.git")
    await _inputs(kube, namespace)
    app = apps.application("web", namespace, url)
    app["spec"]["source"]["substitute"] = {"from": [{"kind": "Secret", "name": "secret-vars"}]}
    await kube.create(app)

    def refused(s: dict[str, Any]) -> bool:
        found = apps.condition(s, "ValidationError") or {}
        return found.get("status") == "True"

    status = await apps.wait_status(kube, namespace, "web", refused)
    message = str((apps.condition(status, "ValidationError") or {}).get("message"))
    assert "Service" in message and "***" in message  # the API server quoted the value: masked
    events, _ = await kube.list("v1", "Event", namespace)
    assert TOKEN not in str(status) and TOKEN not in str(events)
