"""ImageRepository scans and ImagePolicy choices against the real registry: tag lists read in
full — from Debian's registry (one answer) and, through the controller, from the upstream v3
registry that pages them (250 tags, 100 a page) — wrong registry credentials reported on the
ImageRepository without showing them, `filterTags` with `extract` ordering timestamped tags
numerically; and a `.dockerconfigjson` Secret for an OCI source."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.support import apps
from tests.support.registry import add_tags, paged_registry, push_dir, registry, secret

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, oci
from gitward.testing.registries import Registry

__all__ = ["paged_registry", "registry"]  # fixtures


def obj(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "gitward.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


async def status(kube: KubeClient, namespace: str, kind: str, name: str) -> dict[str, Any]:
    found = await kube.get("gitward.dev/v1alpha1", kind, name, namespace)
    return dict(found.get("status") or {})


async def test_tag_lists_are_read_whole(registry: Registry, tmp_path: Path) -> None:
    """Debian's registry (2.8) sends every tag in one page whatever `n` asks (no Link header): that
    one page is the whole list. Paged lists: the next test, on the upstream registry."""
    tags = [f"1.0.{i}" for i in range(7)]
    for tag in tags:
        push_dir(registry, f"paged/app:{tag}", {"t": tag})
    client = oci.Registries(tmp_path)
    client.page_size = 2
    assert registry.ca_crt is not None
    creds = Credentials(username=registry.username, password=registry.password, ca_cert=registry.ca_crt.read_text())
    found = await client.tags(registry.url("paged/app"), creds)
    assert sorted(found) == sorted(tags)
    assert client.tag_pages >= 1
    artifact = await client.resolve(registry.url("paged/app"), "~1.0", creds)
    assert artifact.tag == "1.0.6"


async def test_an_image_repository_of_250_tags_is_scanned_page_by_page(
    kube: KubeClient, namespace: str, controller: Controller, paged_registry: Registry, tmp_path: Path
) -> None:
    tags = [f"1.0.{i}" for i in range(250)]
    push_dir(paged_registry, f"{namespace}/app:{tags[0]}", {"t": "1"})
    add_tags(paged_registry, f"{namespace}/app:{tags[0]}", tags[1:])
    assert paged_registry.ca_crt is not None
    creds = Credentials(
        username=paged_registry.username, password=paged_registry.password, ca_cert=paged_registry.ca_crt.read_text()
    )
    direct = oci.Registries(tmp_path)
    direct.page_size = 100
    assert sorted(await direct.tags(paged_registry.url(f"{namespace}/app"), creds)) == sorted(tags)
    assert direct.tag_pages == 3  # this registry does page: 100 + 100 + 50

    registries = controller.sources.registries
    registries.page_size = 100
    await kube.create(secret("registry-creds", namespace, paged_registry))
    image = f"{paged_registry.host}/{namespace}/app"
    spec = {"image": image, "interval": "1s", "secretRef": {"name": "registry-creds"}}
    await kube.create(obj("ImageRepository", "app", namespace, spec))
    policy = {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "^1.0"}}}
    await kube.create(obj("ImagePolicy", "app", namespace, policy))

    async def latest() -> str:
        return str((await status(kube, namespace, "ImagePolicy", "app")).get("latestImage") or "")

    # 1.0.249 is on the registry's second page (tags come in text order: 1.0.0, 1.0.1, 1.0.10, 1.0.100, ...)
    assert await apps.wait_for(lambda: _is(latest, f"{image}:1.0.249"), timeout=60, message="the highest tag")
    result = (await status(kube, namespace, "ImageRepository", "app"))["lastScanResult"]
    assert result["tagCount"] == 250
    assert registries.tag_pages >= 3


async def test_wrong_credentials_show_on_the_image_repository(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    push_dir(registry, f"{namespace}/app:1.0.0", {"t": "1"})
    await kube.create(secret("registry-creds", namespace, registry, password="wrong-registry-pass"))
    spec = {"image": f"{registry.host}/{namespace}/app", "interval": "1s", "secretRef": {"name": "registry-creds"}}
    await kube.create(obj("ImageRepository", "app", namespace, spec))

    async def refused() -> dict[str, Any] | None:
        found = await status(kube, namespace, "ImageRepository", "app")
        ready = next((c for c in found.get("conditions") or [] if c["type"] == "Ready"), None)
        return found if ready and ready["status"] == "False" else None

    found = await apps.wait_for(refused, timeout=30, message="a refused scan")
    assert found["conditions"][0]["reason"] == "AuthenticationFailed"
    assert "wrong-registry-pass" not in json.dumps(found)
    assert registry.password not in json.dumps(found)


async def test_filter_tags_extract_orders_timestamps(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    for tag in ("main-aaa-1700000300", "main-bbb-1700000100", "feature-ccc-1900000000", "latest"):
        push_dir(registry, f"{namespace}/app:{tag}", {"t": tag})
    await kube.create(secret("registry-creds", namespace, registry))
    image = f"{registry.host}/{namespace}/app"
    spec = {"image": image, "interval": "1s", "secretRef": {"name": "registry-creds"}}
    await kube.create(obj("ImageRepository", "app", namespace, spec))
    policy = {
        "imageRepositoryRef": {"name": "app"},
        "filterTags": {"pattern": "^main-[a-z]+-(?P<ts>[0-9]+)$", "extract": "$ts"},
        "policy": {"numerical": {"order": "asc"}},
    }
    await kube.create(obj("ImagePolicy", "app", namespace, policy))

    async def latest() -> str:
        return str((await status(kube, namespace, "ImagePolicy", "app")).get("latestImage") or "")

    assert await apps.wait_for(latest, timeout=30, message="latestImage") == f"{image}:main-aaa-1700000300"
    push_dir(registry, f"{namespace}/app:main-ddd-1700000400", {"t": "new"})
    await apps.wait_for(lambda: _is(latest, f"{image}:main-ddd-1700000400"), timeout=30, message="the new tag")
    found = await status(kube, namespace, "ImagePolicy", "app")
    assert found["observedPreviousImage"] == f"{image}:main-aaa-1700000300"
    repo_status = await status(kube, namespace, "ImageRepository", "app")
    assert repo_status["lastScanResult"]["tagCount"] == 5


async def _is(getter: Any, wanted: str) -> bool:
    return bool(await getter() == wanted)


async def test_a_dockerconfigjson_secret_authenticates_an_oci_source(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-docker-config}\ndata: {a: b}\n"
    digest = push_dir(registry, f"{namespace}/config:1.0.0", {"cm.yaml": cm})
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    config = json.dumps({"auths": {registry.host: {"auth": auth}}})
    assert registry.ca_crt is not None
    data = {".dockerconfigjson": config, "ca.crt": registry.ca_crt.read_text()}
    meta = {"name": "pull-secret", "namespace": namespace}
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": meta,
            "data": encoded,
        }
    )
    url = registry.url(f"{namespace}/config")
    source = {"repoURL": url, "targetRevision": "1.0.0", "secretRef": {"name": "pull-secret"}}
    await kube.create(apps.application("web", namespace, url, source=source))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(digest))
    assert await kube.get_or_none("v1", "ConfigMap", "from-docker-config", namespace) is not None
