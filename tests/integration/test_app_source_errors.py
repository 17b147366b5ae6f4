"""Git unreachable or credentials wrong: a SourceError condition, nothing deleted, and recovery when
the source comes back. Credentials come from the Secret named by source.secretRef and never show
up in the status or events."""

from __future__ import annotations

import base64

from tests.support import apps
from tests.support.fixtures import MakeRepo, StartHttp
from tests.support.gitserver import BasicAuth

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

CONFIGMAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: "{v}"\n'


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _secret(kube: KubeClient, namespace: str, password: str) -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "repo-creds", "namespace": namespace},
            "data": {"username": _b64("deployer"), "password": _b64(password)},
        },
        field_manager="test",
    )


async def test_wrong_credentials_then_recovery(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, start_git_http_server: StartHttp
) -> None:
    server = start_git_http_server(BasicAuth("deployer", "correct-horse-battery"))
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP.format(v="1")})
    url = server.publish(repo, "private.git")
    await _secret(kube, namespace, "correct-horse-battery")
    app = apps.application("app", namespace, url)
    app["spec"]["source"]["secretRef"] = {"name": "repo-creds"}
    await kube.create(app)
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    await _secret(kube, namespace, "wrong-password-123")
    repo.commit({"cm.yaml": CONFIGMAP.format(v="2")})
    server.publish(repo, "private.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", lambda s: _source_error(s) is not None)
    message = str(_source_error(status))
    assert "wrong-password-123" not in message and "correct-horse-battery" not in message
    assert "wrong-password-123" not in str(status)
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "1"}, "last good must stay"

    await _secret(kube, namespace, "correct-horse-battery")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(repo.head()), timeout=60)
    assert apps.condition(status, "SourceError") is None
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "2"}
    events, _ = await kube.list("v1", "Event", namespace)
    assert all("wrong-password-123" not in str(e) for e in events)


async def test_unreachable_server_keeps_objects_and_recovers(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, start_git_http_server: StartHttp
) -> None:
    server = start_git_http_server()
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP.format(v="1")})
    url = server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    server.stop()
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", lambda s: _source_error(s) is not None)
    assert status["sync"]["revision"] == sha
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is not None, "nothing may be deleted"

    server.start()
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(
        kube, namespace, "app", lambda s: _source_error(s) is None and apps.synced_at(sha)(s)
    )
    ready = apps.condition(status, "Ready")
    assert ready is not None and ready["status"] == "True"


def _source_error(status: apps.Status) -> str | None:
    cond = apps.condition(status, "SourceError")
    return cond["message"] if cond and cond["status"] == "True" else None
