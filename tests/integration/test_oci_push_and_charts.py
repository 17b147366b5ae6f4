"""`gitward push artifact` against the real registry (read back with oras, then deployed), one pull
per artifact digest for every Application, and Helm charts from an OCI registry (pushed with Helm's
media types by oras) selected by a semver range."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.cli import app_cli
from tests.support.registry import plain_registry, push_chart, push_dir, registry, secret

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION, SYNC
from gitward.kube.client import KubeClient
from gitward.sourcing import oci
from gitward.testing.registries import Registry

__all__ = ["plain_registry", "registry"]  # fixtures

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pushed}\ndata: {value: from-cli}\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}", labels: {chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: "{{ .Release.Name }}"}}
  template:
    metadata: {labels: {app: "{{ .Release.Name }}"}}
    spec: {containers: [{name: web, image: "nginx:{{ .Values.tag }}"}]}
"""


async def push_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gitward", "push", "artifact", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_push_artifact_publishes_a_directory_that_deploys(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    (content / "apps").mkdir(parents=True)
    (content / "apps" / "cm.yaml").write_text(CONFIGMAP)
    target = registry.url(f"{namespace}/pushed", "v1")
    assert registry.ca_crt is not None
    wrong = {"GITWARD_REGISTRY_USERNAME": registry.username, "GITWARD_REGISTRY_PASSWORD": "wrong-password"}
    code, _, err = await push_cli(target, "--path", str(content), "--ca-file", str(registry.ca_crt), env=wrong)
    assert code == 1
    assert "authentication failed" in err
    assert "wrong-password" not in err

    good = {"GITWARD_REGISTRY_USERNAME": registry.username, "GITWARD_REGISTRY_PASSWORD": registry.password}
    args = ["--path", str(content), "--source", "https://git.example/config.git", "--revision", "0123abc"]
    code, out, err = await push_cli(target, *args, "--ca-file", str(registry.ca_crt), env=good)
    assert code == 0, err
    digest = out.strip().rsplit("@", 1)[1]
    manifest = registry.oras_client().get_manifest(f"{registry.host}/{namespace}/pushed:v1")
    assert manifest["annotations"]["org.opencontainers.image.source"] == "https://git.example/config.git"
    assert manifest["annotations"]["org.opencontainers.image.revision"] == "0123abc"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.cncf.flux.content.v1.tar+gzip"

    await kube.create(secret("registry-creds", namespace, registry))
    source = {"repoURL": registry.url(f"{namespace}/pushed"), "targetRevision": "v1", "path": "apps"}
    source["secretRef"] = {"name": "registry-creds"}
    await kube.create(apps.application("web", namespace, source["repoURL"], source=source))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(digest))
    assert "git.example/config.git@0123abc" in status["history"][-1]["message"]
    found = await kube.get("v1", "ConfigMap", "pushed", namespace)
    assert found["data"]["value"] == "from-cli"


async def test_push_artifact_to_a_plain_http_registry_needs_insecure(plain_registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIGMAP)
    target = plain_registry.url("cli/plain", "v1")
    code, _, err = await push_cli(target, "--path", str(tmp_path), env={})
    assert code == 1
    assert "insecure" in err
    code, _, err = await push_cli(target, "--path", str(tmp_path), "--insecure", env={})
    assert code == 0, err
    assert plain_registry.oras_client().get_tags(f"{plain_registry.host}/cli/plain") == ["v1"]


async def test_applications_share_one_pull_per_digest(
    kube: KubeClient, namespace: str, controller: Controller, plain_registry: Registry
) -> None:
    repo = f"{namespace}/shared"
    files = {f"{n}/cm.yaml": CONFIGMAP.replace("pushed", f"cm-{n}") for n in ("a", "b", "c")}
    digest = push_dir(plain_registry, f"{repo}:1.0.0", files)
    pulls = controller.sources.registries.pulls
    for name in ("a", "b", "c"):
        source = {"repoURL": plain_registry.url(repo), "targetRevision": "1.0.0", "path": name, "insecure": True}
        await kube.create(apps.application(f"app-{name}", namespace, source["repoURL"], source=source))
    for name in ("a", "b", "c"):
        await apps.wait_status(kube, namespace, f"app-{name}", apps.synced_at(digest))
    assert controller.sources.registries.pulls == pulls + 1


def chart_app(name: str, namespace: str, url: str, revision: str, **extra: Any) -> dict[str, Any]:
    source = {"repoURL": url, "chart": "web", "targetRevision": revision, "helm": {"releaseName": name}, **extra}
    return apps.application(name, namespace, url, source=source)


async def test_a_helm_chart_from_an_oci_registry_follows_a_semver_range(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    charts = f"{namespace}/charts"
    first = push_chart(
        registry, f"{charts}/web", "1.0.0", {"values.yaml": "tag: '1.26'\n", "templates/d.yaml": DEPLOYMENT}
    )
    push_chart(registry, f"{charts}/web", "2.0.0", {"values.yaml": "tag: '2.0'\n", "templates/d.yaml": DEPLOYMENT})
    await kube.create(secret("registry-creds", namespace, registry))
    url = registry.url(charts)
    await kube.create(chart_app("web", namespace, url, "^1.0", secretRef={"name": "registry-creds"}))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["metadata"]["labels"]["chart"] == "web-1.0.0"
    assert status["history"][-1]["message"] == "chart web 1.0.0"

    newer = push_chart(
        registry, f"{charts}/web", "1.1.0", {"values.yaml": "tag: '1.27'\n", "templates/d.yaml": DEPLOYMENT}
    )
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(newer))
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


async def test_an_artifact_that_is_not_a_chart_is_refused_as_one(
    kube: KubeClient, namespace: str, controller: Controller, plain_registry: Registry
) -> None:
    push_dir(plain_registry, f"{namespace}/charts/web:1.0.0", {"cm.yaml": CONFIGMAP})
    url = plain_registry.url(f"{namespace}/charts")
    await kube.create(chart_app("web", namespace, url, "1.0.0", insecure=True))
    status = await apps.wait_status(kube, namespace, "web", lambda s: apps.condition(s, "SourceError"))
    condition = apps.condition(status, "SourceError")
    assert condition is not None
    assert "not a Helm chart artifact" in condition["message"]


async def test_idle_unpacked_artifacts_are_removed_beyond_the_cache_size(
    plain_registry: Registry, tmp_path: Path
) -> None:
    client = oci.Registries(tmp_path / "cache")
    client.max_cached, client.idle_seconds = 2, 0.0
    paths = []
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        push_dir(plain_registry, f"evict/app:{version}", {"cm.yaml": CONFIGMAP.replace("from-cli", version)})
        artifact = await client.resolve(plain_registry.url("evict/app"), version, None, insecure=True)
        paths.append(await client.fetch(artifact, None, insecure=True))
    assert [p.is_dir() for p in paths] == [False, True, True]
    again = await client.resolve(plain_registry.url("evict/app"), "1.0.0", None, insecure=True)
    assert (await client.fetch(again, None, insecure=True)).is_dir()  # pulled again when asked for
    assert client.pulls == 4


async def test_app_diff_fetches_an_oci_source(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    plain_registry: Registry,
    test_cluster: ClusterUnderTest,
    tmp_path: Path,
) -> None:
    repo = f"{namespace}/diffed"
    digest = push_dir(plain_registry, f"{repo}:stable", {"cm.yaml": CONFIGMAP})
    source = {"repoURL": plain_registry.url(repo), "targetRevision": "stable", "insecure": True}
    manual = {"interval": "1h"}  # no automated sync: the new artifact waits for a sync
    await kube.create(apps.application("web", namespace, source["repoURL"], source=source, syncPolicy=manual))
    await kube.patch(API_VERSION, "Application", "web", namespace, {"metadata": {"annotations": {SYNC: "{}"}}})
    await apps.wait_status(kube, namespace, "web", apps.synced_at(digest))
    push_dir(plain_registry, f"{repo}:stable", {"cm.yaml": CONFIGMAP.replace("from-cli", "newer")})
    ran = await app_cli(test_cluster, namespace, "diff", "web", "--cache-dir", str(tmp_path / "cli-cache"))
    assert ran.code == 1, ran
    assert "-  value: from-cli\n" in ran.stdout
    assert "+  value: newer\n" in ran.stdout


async def test_helm_build_metadata_tags_count_as_versions(plain_registry: Registry, tmp_path: Path) -> None:
    for tag in ("1.0.0", "1.1.0_build.5", "2.0.0"):
        push_dir(plain_registry, f"buildmeta/web:{tag}", {"t": tag})
    client = oci.Registries(tmp_path)
    artifact = await client.resolve(plain_registry.url("buildmeta/web"), "^1.0", None, insecure=True)
    assert artifact.tag == "1.1.0_build.5"  # Helm's `1.1.0+build.5`
