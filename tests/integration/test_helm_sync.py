"""Helm charts from Git, end to end: a chart with templates, helpers, value files and a vendored
dependency syncs and prunes like a directory; a value change in Git rolls the Deployment; a
pre-install hook Job runs (to completion, through the node simulator) before the Deployment exists;
`.Capabilities` answers for the real cluster; a value file outside the repository is a RenderError."""

from __future__ import annotations

import textwrap
from typing import Any

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.capabilities import Discovery
from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def dedent(files: dict[str, str | None]) -> dict[str, str | None]:
    return {name: None if text is None else textwrap.dedent(text) for name, text in files.items()}


CHART = dedent(
    {
        "charts/shop/Chart.yaml": """\
            apiVersion: v2
            name: shop
            version: 0.1.0
            dependencies:
              - name: cache
                version: 0.1.0
                condition: cache.enabled
            """,
        "charts/shop/values.yaml": """\
            replicas: 1
            image: {repository: nginx, tag: "1.26"}
            cache: {enabled: true}
            """,
        "charts/shop/templates/_helpers.tpl": """\
            {{- define "shop.name" -}}{{ .Release.Name }}-web{{- end -}}
            {{- define "shop.selector" -}}
            app: {{ include "shop.name" . }}
            {{- end -}}
            """,
        "charts/shop/templates/deployment.yaml": """\
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: {{ include "shop.name" . }}
            spec:
              replicas: {{ .Values.replicas }}
              selector:
                matchLabels: {{- include "shop.selector" . | nindent 6 }}
              template:
                metadata:
                  labels: {{- include "shop.selector" . | nindent 8 }}
                spec:
                  containers:
                    - name: web
                      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
            """,
        "charts/shop/templates/service.yaml": """\
            apiVersion: v1
            kind: Service
            metadata:
              name: {{ include "shop.name" . }}
            spec:
              selector: {{- include "shop.selector" . | nindent 4 }}
              ports: [{port: 80, targetPort: 80}]
            """,
        "charts/shop/templates/capabilities.yaml": """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-capabilities
            data:
              kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
              applications: {{ .Capabilities.APIVersions.Has "gitward.dev/v1alpha1/Application" | quote }}
            """,
        "charts/shop/templates/NOTES.txt": "Installed {{ .Release.Name }}.\n",
        "charts/shop/charts/cache/Chart.yaml": "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
        "charts/shop/charts/cache/templates/configmap.yaml": """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-cache
            data:
              size: {{ .Values.size | default "small" | quote }}
            """,
        "envs/prod/values.yaml": """\
            replicas: 2
            cache: {size: large}
            """,
    }
)

HOOK_JOB = dedent(
    {
        "charts/shop/templates/migrate.yaml": """\
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: {{ .Release.Name }}-migrate
              annotations:
                helm.sh/hook: pre-install,pre-upgrade
                helm.sh/hook-weight: "-1"
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: migrate, image: "busybox:1.36"}]
            """,
        "charts/shop/templates/smoke-test.yaml": """\
            apiVersion: v1
            kind: Pod
            metadata:
              name: {{ .Release.Name }}-smoke-test
              annotations: {helm.sh/hook: test}
            spec:
              containers: [{name: test, image: busybox}]
            """,
    }
)

HELM = {"releaseName": "shop", "valueFiles": ["../../envs/prod/values.yaml"]}


def chart_application(name: str, namespace: str, url: str, **helm: Any) -> dict[str, Any]:
    return apps.application(name, namespace, url, "charts/shop", source=_source(url, helm))


def _source(url: str, helm: dict[str, Any]) -> dict[str, Any]:
    return {"repoURL": url, "targetRevision": "main", "path": "charts/shop", "helm": {**HELM, **helm}}


def image(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_chart_syncs_and_prunes_like_a_directory(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    controller.sources.capabilities = Discovery(kube).get  # what the reconciler hands over for the destination
    repo = make_repo()
    sha = repo.commit(CHART, message="Add the shop chart")
    url = git_http_server.publish(repo, "config.git")
    await kube.create(chart_application("shop", namespace, url))

    status = await apps.wait_status(kube, namespace, "shop", apps.synced_at(sha))
    assert {(r["kind"], r["name"]) for r in status["resources"]} == {
        ("Deployment", "shop-web"),
        ("Service", "shop-web"),
        ("ConfigMap", "shop-capabilities"),
        ("ConfigMap", "shop-cache"),
    }
    deployment = await kube.get("apps/v1", "Deployment", "shop-web", namespace)
    assert deployment["spec"]["replicas"] == 2  # envs/prod/values.yaml over the chart's values.yaml
    assert deployment["metadata"]["annotations"]["gitward.dev/tracking-id"] == (
        f"{namespace}/shop:apps/Deployment:{namespace}/shop-web"
    )
    assert (await kube.get("v1", "ConfigMap", "shop-cache", namespace))["data"] == {"size": "large"}
    capabilities = (await kube.get("v1", "ConfigMap", "shop-capabilities", namespace))["data"]
    assert capabilities == {"kubeVersion": (await kube.server_version())["gitVersion"], "applications": "true"}
    await apps.wait_status(kube, namespace, "shop", apps.healthy, timeout=60)

    values = "replicas: 2\ncache: {enabled: false}\n"
    sha = repo.commit({"envs/prod/values.yaml": values, "charts/shop/templates/service.yaml": None})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/shop")
    status = await apps.wait_status(kube, namespace, "shop", apps.synced_at(sha))
    assert await kube.get_or_none("v1", "ConfigMap", "shop-cache", namespace) is None
    assert await kube.get_or_none("v1", "Service", "shop-web", namespace) is None
    pruned = sorted(r["name"] for r in status["operationState"]["syncResult"]["resources"] if r["action"] == "pruned")
    assert pruned == ["shop-cache", "shop-web"]
    assert len(status["inventory"]["entries"]) == 2


async def test_a_value_change_in_git_rolls_the_deployment(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(CHART)
    url = git_http_server.publish(repo, "config.git")
    await kube.create(chart_application("shop", namespace, url))
    await apps.wait_status(kube, namespace, "shop", apps.healthy, timeout=60)
    before = await kube.get("apps/v1", "Deployment", "shop-web", namespace)
    assert image(before) == "nginx:1.26"

    sha = repo.commit({"envs/prod/values.yaml": "replicas: 2\nimage: {tag: '1.27'}\n"}, message="nginx 1.27")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/shop")
    await apps.wait_status(kube, namespace, "shop", apps.synced_at(sha))
    after = await kube.get("apps/v1", "Deployment", "shop-web", namespace)
    assert image(after) == "nginx:1.27"
    assert after["metadata"]["generation"] > before["metadata"]["generation"]

    async def two_replica_sets() -> list[str] | None:
        sets, _ = await kube.list("apps/v1", "ReplicaSet", namespace)
        images = sorted(image(rs) for rs in sets)
        return images if images == ["nginx:1.26", "nginx:1.27"] else None

    await apps.wait_for(two_replica_sets, timeout=30, message="a new ReplicaSet for the new image")
    await apps.wait_status(kube, namespace, "shop", apps.healthy, timeout=60)


async def test_a_pre_install_hook_completes_before_the_main_objects(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit({**CHART, **HOOK_JOB})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(chart_application("shop", namespace, url))
    status = await apps.wait_status(kube, namespace, "shop", apps.synced_at(sha), timeout=60)

    job = await kube.get("batch/v1", "Job", "shop-migrate", namespace)
    assert job["metadata"]["annotations"]["gitward.dev/sync-wave"] == "-1"
    deployment = await kube.get("apps/v1", "Deployment", "shop-web", namespace)
    assert job["status"]["completionTime"] <= deployment["metadata"]["creationTimestamp"]
    assert job["metadata"]["creationTimestamp"] <= deployment["metadata"]["creationTimestamp"]
    assert await kube.get_or_none("v1", "Pod", "shop-smoke-test", namespace) is None  # test hooks are skipped
    assert ("Pod", "shop-smoke-test") not in {(r["kind"], r["name"]) for r in status["resources"]}


async def test_a_value_file_outside_the_repository_is_refused(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(CHART)
    url = git_http_server.publish(repo, "config.git")
    app = chart_application("shop", namespace, url, valueFiles=["../../../../../../etc/passwd"])
    await kube.create(app)

    def refused(status: apps.Status) -> bool:
        condition = apps.condition(status, "RenderError")
        return condition is not None and condition["status"] == "True"

    status = await apps.wait_status(kube, namespace, "shop", refused)
    message = apps.condition(status, "RenderError")["message"]  # type: ignore[index]
    assert "path leads outside the repository" in message
    assert "root:" not in message
    assert await kube.get_or_none("apps/v1", "Deployment", "shop-web", namespace) is None
