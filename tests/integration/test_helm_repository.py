"""Charts from a Helm repository served by a real HTTP server: an Application pinned to a chart
version installs it, upgrades when the version changes and follows a semver range; a tampered
archive is refused (SourceError); `Sources` renders a chart for an Application (release name,
destination namespace) and for the destination cluster's capabilities."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support import apps
from tests.support.helmrepo import ChartRepoServer

from gitward.controller.capabilities import Discovery
from gitward.controller.manager import Controller
from gitward.controller.sources import Sources
from gitward.core.applications import API_VERSION, Source
from gitward.core.errors import SourceError
from gitward.kube.client import KubeClient
from gitward.sourcing import Fetcher

DEPLOYMENT = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {{ .Release.Name }}
      labels: {chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"}
    spec:
      replicas: {{ .Values.replicas }}
      selector:
        matchLabels: {app: "{{ .Release.Name }}"}
      template:
        metadata:
          labels: {app: "{{ .Release.Name }}"}
        spec:
          containers:
            - name: web
              image: "nginx:{{ .Values.tag }}"
    """
CONFIGMAP = """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-legacy
      {{- if .Values.explicitNamespace }}
      namespace: {{ .Release.Namespace }}
      {{- end }}
    data:
      kube: {{ .Capabilities.KubeVersion.Version | quote }}
    """


def chart_files(tag: str, *, legacy: bool) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "values.yaml": f"replicas: 1\ntag: '{tag}'\n",
        "templates/deployment.yaml": textwrap.dedent(DEPLOYMENT),
    }
    if legacy:
        files["templates/legacy.yaml"] = textwrap.dedent(CONFIGMAP)
    return files


@pytest.fixture
def charts() -> Iterator[ChartRepoServer]:
    with ChartRepoServer() as server:
        server.publish("web", "1.0.0", chart_files("1.26", legacy=True))
        server.publish("web", "1.1.0", chart_files("1.27", legacy=False))
        yield server


def chart_application(name: str, namespace: str, url: str, version: str, **helm: Any) -> dict[str, Any]:
    source = {"repoURL": url, "chart": "web", "targetRevision": version, "helm": {"releaseName": name, **helm}}
    return apps.application(name, namespace, url, source=source)


async def set_version(kube: KubeClient, namespace: str, name: str, version: str) -> None:
    patch = {"spec": {"source": {"targetRevision": version}}}
    await kube.patch(API_VERSION, "Application", name, namespace, patch)


async def test_a_pinned_chart_version_installs_and_upgrades(
    kube: KubeClient, namespace: str, controller: Controller, charts: ChartRepoServer
) -> None:
    await kube.create(chart_application("web", namespace, charts.url, "1.0.0", values={"replicas": 2}))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at("1.0.0"))
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert deployment["spec"]["replicas"] == 2
    assert await kube.get_or_none("v1", "ConfigMap", "web-legacy", namespace) is not None
    assert status["history"][-1]["revision"] == "1.0.0"
    assert status["history"][-1]["message"] == "chart web 1.0.0"
    await apps.wait_status(kube, namespace, "web", apps.healthy, timeout=60)

    await set_version(kube, namespace, "web", "1.1.0")
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at("1.1.0"))
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["metadata"]["labels"]["chart"] == "web-1.1.0"
    assert await kube.get_or_none("v1", "ConfigMap", "web-legacy", namespace) is None  # pruned with 1.1.0
    assert charts.fetched("web-1.0.0.tgz") == 1
    assert charts.fetched("web-1.1.0.tgz") == 1


async def test_a_range_follows_new_versions_in_the_index(
    kube: KubeClient, namespace: str, controller: Controller, charts: ChartRepoServer
) -> None:
    await kube.create(chart_application("web", namespace, charts.url, "~1.1"))
    await apps.wait_status(kube, namespace, "web", apps.synced_at("1.1.0"))
    charts.publish("web", "1.1.1", chart_files("1.27.1", legacy=False))
    charts.publish("web", "1.2.0", chart_files("1.28", legacy=False))
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at("1.1.1"))
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.1"


async def test_a_tampered_archive_is_refused(
    kube: KubeClient, namespace: str, controller: Controller, charts: ChartRepoServer
) -> None:
    charts.write_index(digests={"1.0.0": hashlib.sha256(b"another archive").hexdigest()})
    await kube.create(chart_application("web", namespace, charts.url, "1.0.0"))

    def refused(status: apps.Status) -> bool:
        condition = apps.condition(status, "SourceError")
        return condition is not None and condition["status"] == "True" and condition["reason"] == "DigestMismatch"

    await apps.wait_status(kube, namespace, "web", refused)
    assert await kube.get_or_none("apps/v1", "Deployment", "web", namespace) is None


async def test_sources_render_a_chart_for_an_application_and_its_cluster(
    kube: KubeClient, charts: ChartRepoServer, tmp_path: Path
) -> None:
    sources = Sources(Fetcher(tmp_path / "git"), tmp_path / "work")
    helm = {"values": {"explicitNamespace": True}}
    source = Source.model_validate({"repoURL": charts.url, "chart": "web", "targetRevision": "<1.1", "helm": helm})
    revision = await sources.revision(source, None)
    assert revision.sha == "1.0.0"
    discovery = Discovery(kube)
    objs = await sources.render(
        source, revision.sha, None, app_name="shop", namespace="prod", capabilities=discovery.get
    )
    names = {(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs}
    assert names == {("Deployment", "shop", None), ("ConfigMap", "shop-legacy", "prod")}
    legacy = next(o for o in objs if o["kind"] == "ConfigMap")
    assert legacy["data"]["kube"] == (await kube.server_version())["gitVersion"]

    again = await sources.render(
        source, revision.sha, None, app_name="shop", namespace="prod", capabilities=discovery.get
    )
    assert again == objs and sources.render_count == 1  # cached per (chart version, Application, capabilities)
    other = await sources.render(
        source, revision.sha, None, app_name="cart", namespace="prod", capabilities=discovery.get
    )
    assert {o["metadata"]["name"] for o in other} == {"cart", "cart-legacy"}
    assert charts.fetched("web-1.0.0.tgz") == 1

    with pytest.raises(SourceError, match="no version matches"):
        await sources.revision(source.model_copy(update={"target_revision": "9.9.9"}), None)
    sources.close()
