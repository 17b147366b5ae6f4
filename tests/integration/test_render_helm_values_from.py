"""`source.helm.valuesFrom` (SPEC §15, Flux's valuesFrom) against a real control plane and Git
server: ConfigMap and Secret values merged in order after valueFiles and before inline values; a
missing one refuses (unless optional); a reference can only name the Application's own namespace;
in tenant mode the ServiceAccount's RBAC decides whether a Secret may be read — never the
controller's own rights; Secret values never appear in the status or events."""

from __future__ import annotations

import base64
import textwrap
from typing import Any

from tests.conftest import unique_name
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "greeting: chart\ncolor: chart\nsize: chart\nshape: chart\npassword: none\n",
    "chart/prod.yaml": "greeting: file\ncolor: file\nsize: file\n",
    "chart/templates/cm.yaml": textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-settings
        data:
          greeting: {{ .Values.greeting | quote }}
          color: {{ .Values.color | quote }}
          size: {{ .Values.size | quote }}
          shape: {{ .Values.shape | quote }}
          password: {{ .Values.password | quote }}
        """
    ),
}
PASSWORD = "pw-from-secret-7781"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _values(kube: KubeClient, namespace: str, *, password: str = PASSWORD) -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-values", "namespace": namespace},
            "data": {"values.yaml": "color: configmap\nsize: configmap\n", "other.yaml": "shape: other-key\n"},
        },
        field_manager="test",
    )
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-secret-values", "namespace": namespace},
            "data": {"values.yaml": _b64(f"size: secret\npassword: {password}\n")},
        },
        field_manager="test",
    )


def _helm(**extra: Any) -> dict[str, Any]:
    return {
        "valueFiles": ["prod.yaml"],
        "valuesFrom": [
            {"kind": "ConfigMap", "name": "web-values"},
            {"kind": "ConfigMap", "name": "web-values", "valuesKey": "other.yaml"},
            {"kind": "Secret", "name": "web-secret-values"},
            {"kind": "ConfigMap", "name": "not-there", "optional": True},
        ],
        "values": {"greeting": "inline"},
        **extra,
    }


def _render_error(status: dict[str, Any]) -> str:
    found = apps.condition(status, "RenderError") or {}
    return str(found.get("message", "")) if found.get("status") == "True" else ""


async def test_values_from_configmaps_and_secrets_merge_in_order(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit(CHART)
    url = git_http_server.publish(repo, "chart.git")
    await _values(kube, namespace)
    app = apps.application("web", namespace, url, "chart")
    app["spec"]["source"]["helm"] = _helm()
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    live = await kube.get("v1", "ConfigMap", "web-settings", namespace)
    assert live["data"] == {
        "greeting": "inline",  # inline values last
        "color": "configmap",  # valuesFrom over valueFiles
        "size": "secret",  # later valuesFrom entries win
        "shape": "other-key",  # valuesKey
        "password": PASSWORD,
    }
    events, _ = await kube.list("v1", "Event", namespace)
    assert PASSWORD not in str(status) and PASSWORD not in str(events)

    # a changed Secret is read again on the next full re-check
    await _values(kube, namespace, password="rotated-pw-9911")
    controller.refresh(f"{namespace}/web")

    async def rotated() -> bool:
        return (await kube.get("v1", "ConfigMap", "web-settings", namespace))["data"]["password"] == "rotated-pw-9911"

    await apps.wait_for(rotated, timeout=60)

    # a missing entry that is not optional refuses the revision; the last good stays
    await kube.patch(
        "gitward.dev/v1alpha1",
        "Application",
        "web",
        namespace,
        {"spec": {"source": {"helm": {"valuesFrom": [{"kind": "Secret", "name": "absent-values"}]}}}},
    )
    status = await apps.wait_status(kube, namespace, "web", lambda s: "absent-values" in _render_error(s))
    assert f"Secret/{namespace}/absent-values: not found (source.helm.valuesFrom)" in _render_error(status)
    assert (await kube.get("v1", "ConfigMap", "web-settings", namespace))["data"]["password"] == "rotated-pw-9911"


async def test_a_secret_in_another_namespace_is_never_read(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    other = unique_name("gwt-other")
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        await _values(kube, other, password="other-namespace-pw")
        repo = make_repo()
        repo.commit(CHART)
        url = git_http_server.publish(repo, "chart.git")
        app = apps.application("web", namespace, url, "chart")
        # a reference carries no namespace: the API server prunes the field, the Application's own is used
        app["spec"]["source"]["helm"] = {
            "valuesFrom": [{"kind": "Secret", "name": "web-secret-values", "namespace": other}]
        }
        await kube.create(app)
        stored = await apps.get_app(kube, namespace, "web")
        assert "namespace" not in stored["spec"]["source"]["helm"]["valuesFrom"][0]
        status = await apps.wait_status(kube, namespace, "web", lambda s: _render_error(s) != "")
        assert f"Secret/{namespace}/web-secret-values: not found" in _render_error(status)
        assert await kube.get_or_none("v1", "ConfigMap", "web-settings", namespace) is None
        assert "other-namespace-pw" not in str(status)
    finally:
        await kube.delete("v1", "Namespace", other)


async def _tenant(kube: KubeClient, namespace: str, *, read_secrets: bool) -> None:
    """A ServiceAccount that may manage ConfigMaps (and read Secrets, if asked) in its namespace."""
    await kube.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant", "namespace": namespace}}
    )
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    if read_secrets:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    meta = {"name": "tenant", "namespace": namespace}
    await kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules})
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
        }
    )


async def test_a_tenant_reads_only_the_secrets_its_service_account_may_read(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _tenant(kube, namespace, read_secrets=False)
    await _values(kube, namespace)
    repo = make_repo()
    sha = repo.commit(CHART)
    url = git_http_server.publish(repo, "chart.git")
    app = apps.application("web", namespace, url, "chart", serviceAccountName="tenant")
    app["spec"]["source"]["helm"] = _helm()
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "web", lambda s: "web-secret-values" in _render_error(s))
    message = _render_error(status)
    assert f"Secret/{namespace}/web-secret-values: cannot be read (source.helm.valuesFrom)" in message
    assert "forbidden" in message.lower()
    assert await kube.get_or_none("v1", "ConfigMap", "web-settings", namespace) is None
    assert PASSWORD not in str(status)

    # once its own RBAC lets it read the Secret, the same Application renders
    await kube.patch(
        "rbac.authorization.k8s.io/v1",
        "Role",
        "tenant",
        namespace,
        {
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
            ]
        },
    )
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha), timeout=60)
    assert (await kube.get("v1", "ConfigMap", "web-settings", namespace))["data"]["password"] == PASSWORD
