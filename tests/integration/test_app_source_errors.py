"""Git unreachable or credentials wrong: a SourceError condition, nothing deleted, and recovery when
the source comes back. Credentials come from the Secret named by source.secretRef and never show
up in the status or events; in tenant mode that Secret is read as the Application's ServiceAccount,
so a tenant cannot send a Secret it may not read to a server of its choosing."""

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


async def _tenant(kube: KubeClient, namespace: str, *, read_secrets: bool) -> None:
    """A ServiceAccount that may manage ConfigMaps (and read Secrets, if asked) in its namespace."""
    meta = {"name": "tenant", "namespace": namespace}
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    if read_secrets:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    rbac = "rbac.authorization.k8s.io/v1"
    await kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}, field_manager="test")
    await kube.apply({"apiVersion": rbac, "kind": "Role", "metadata": meta, "rules": rules}, field_manager="test")
    binding = {
        "apiVersion": rbac,
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
    }
    await kube.apply(binding, field_manager="test")


async def test_a_tenant_cannot_lend_itself_credentials_it_may_not_read(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, start_git_http_server: StartHttp
) -> None:
    """SPEC §6: every read for an Application with a ServiceAccount goes through impersonation —
    the repository credentials too. The server below stands for one the tenant controls: it must
    never see the password of a Secret the tenant's ServiceAccount may not `get`."""
    server = start_git_http_server(BasicAuth("deployer", "correct-horse-battery"))
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP.format(v="1")})
    url = server.publish(repo, "private.git")
    await _secret(kube, namespace, "correct-horse-battery")
    await _tenant(kube, namespace, read_secrets=False)
    app = apps.application("app", namespace, url, serviceAccountName="tenant")
    app["spec"]["source"]["secretRef"] = {"name": "repo-creds"}
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "app", lambda s: _source_error(s) is not None)
    message = str(_source_error(status))
    assert f"Secret/{namespace}/repo-creds: cannot be read (source.secretRef)" in message
    assert "forbidden" in message.lower()
    assert "correct-horse-battery" not in str(status)
    assert server.count(repo="private.git") == 0, "the controller must not have used the Secret"
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None

    # once its own RBAC lets the ServiceAccount read the Secret, the same Application syncs
    await _tenant(kube, namespace, read_secrets=True)
    controller.refresh(f"{namespace}/app")
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha), timeout=60)
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "1"}
    assert server.count(repo="private.git") > 0, "the count above counts this repository's requests"


def _source_error(status: apps.Status) -> str | None:
    cond = apps.condition(status, "SourceError")
    return cond["message"] if cond and cond["status"] == "True" else None
