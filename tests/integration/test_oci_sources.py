"""Applications whose source is an OCI artifact in a real registry (`docker-registry`, HTTPS with
htpasswd, and a plain-HTTP one), pushed with the oras SDK: sync by tag, by semver range and by digest,
follow a moved tag and a new version; the digest is the revision in status and history; wrong
credentials and a plain-HTTP registry without `insecure: true` are refused clearly; hostile
artifacts are refused with the last good revision still deployed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support import apps
from tests.support.registry import plain_registry, push_dir, push_layer, registry, secret, tar_gz

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient
from gitward.sourcing.ocilayers import LayerLimits
from gitward.testing.registries import Registry

__all__ = ["plain_registry", "registry"]  # fixtures


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{value: '{value}'}}\n"


def oci_app(name: str, namespace: str, url: str, revision: str, **source: Any) -> dict[str, Any]:
    spec = {"repoURL": url, "targetRevision": revision, "path": source.pop("path", "."), **source}
    return apps.application(name, namespace, url, source=spec)


async def value_of(kube: KubeClient, namespace: str, name: str) -> str | None:
    found = await kube.get_or_none("v1", "ConfigMap", name, namespace)
    return None if found is None else str(found["data"]["value"])


async def with_secret(kube: KubeClient, namespace: str, reg: Registry, **kw: Any) -> None:
    await kube.create(secret("registry-creds", namespace, reg, **kw))


async def set_revision(kube: KubeClient, namespace: str, name: str, revision: str) -> None:
    await kube.patch(API_VERSION, "Application", name, namespace, {"spec": {"source": {"targetRevision": revision}}})


async def test_a_tag_syncs_and_a_moved_tag_is_followed(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    repo = f"{namespace}/config"
    first = push_dir(
        registry,
        f"{repo}:stable",
        {"apps/cm.yaml": configmap("web", "one")},
        annotations={
            "org.opencontainers.image.source": "https://git.example/config",
            "org.opencontainers.image.revision": "abc123",
        },
    )
    await with_secret(kube, namespace, registry)
    url = registry.url(repo)
    await kube.create(oci_app("web", namespace, url, "stable", path="apps", secretRef={"name": "registry-creds"}))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    assert await value_of(kube, namespace, "web") == "one"
    entry = status["history"][-1]
    assert entry["revision"] == first
    assert "abc123" in entry["message"]

    second = push_dir(registry, f"{repo}:stable", {"apps/cm.yaml": configmap("web", "two")})
    assert second != first
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
    assert await value_of(kube, namespace, "web") == "two"
    assert [h["revision"] for h in status["history"]][-2:] == [first, second]


async def test_a_semver_range_follows_new_versions_and_a_digest_pins(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    repo = f"{namespace}/versions"
    v100 = push_dir(registry, f"{repo}:1.0.0", {"cm.yaml": configmap("web", "1.0.0")})
    push_dir(registry, f"{repo}:2.0.0", {"cm.yaml": configmap("web", "2.0.0")})
    push_dir(registry, f"{repo}:1.1.0-rc.1", {"cm.yaml": configmap("web", "1.1.0-rc.1")})
    await with_secret(kube, namespace, registry)
    creds = {"secretRef": {"name": "registry-creds"}}
    await kube.create(oci_app("web", namespace, registry.url(repo), "^1.0", **creds))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(v100))
    assert await value_of(kube, namespace, "web") == "1.0.0"  # neither 2.0.0 nor the pre-release

    v110 = push_dir(registry, f"{repo}:1.1.0", {"cm.yaml": configmap("web", "1.1.0")})
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(v110))
    assert await value_of(kube, namespace, "web") == "1.1.0"

    await set_revision(kube, namespace, "web", v100)
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(v100))
    assert await value_of(kube, namespace, "web") == "1.0.0"
    assert status["lastSyncedRevision"] == v100


async def test_wrong_credentials_are_refused_without_showing_them(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    repo = f"{namespace}/private"
    push_dir(registry, f"{repo}:1.0.0", {"cm.yaml": configmap("web", "x")})
    wrong = "not-the-password-4242"
    await with_secret(kube, namespace, registry, password=wrong)
    await kube.create(oci_app("web", namespace, registry.url(repo), "1.0.0", secretRef={"name": "registry-creds"}))
    status = await apps.wait_status(kube, namespace, "web", lambda s: apps.condition(s, "SourceError"))
    condition = apps.condition(status, "SourceError")
    assert condition is not None
    assert condition["reason"] == "AuthenticationFailed"
    assert "authentication failed" in condition["message"]
    assert wrong not in json.dumps(status)
    assert registry.password not in json.dumps(status)
    assert await value_of(kube, namespace, "web") is None


async def test_a_plain_http_registry_needs_insecure(
    kube: KubeClient, namespace: str, controller: Controller, plain_registry: Registry
) -> None:
    repo = f"{namespace}/plain"
    digest = push_dir(plain_registry, f"{repo}:1.0.0", {"cm.yaml": configmap("web", "plain")})
    await kube.create(oci_app("web", namespace, plain_registry.url(repo), "1.0.0"))
    status = await apps.wait_status(kube, namespace, "web", lambda s: apps.condition(s, "SourceError"))
    condition = apps.condition(status, "SourceError")
    assert condition is not None
    assert condition["reason"] == "InsecureRegistry"
    assert "insecure: true" in condition["message"]
    assert await value_of(kube, namespace, "web") is None

    await kube.patch(API_VERSION, "Application", "web", namespace, {"spec": {"source": {"insecure": True}}})
    await apps.wait_status(kube, namespace, "web", apps.synced_at(digest))
    assert await value_of(kube, namespace, "web") == "plain"


HOSTILE = {
    "path escape": (tar_gz({"ok.yaml": configmap("web", "bad"), "../escape.yaml": "x: 1\n"}), "outside the artifact"),
    "absolute path": (tar_gz({"/etc/evil.yaml": "x: 1\n"}), "absolute paths"),
    "symlink out": (tar_gz({"ok.yaml": configmap("web", "bad")}, symlinks={"link": "../../../etc"}), "symlink"),
    "too many files": (tar_gz({f"f{i}.yaml": "" for i in range(30)}), "more than 20 files"),
    "huge file": (tar_gz({"big.yaml": b"#" * 300_000}), "larger than the limit"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_hostile_artifact_is_refused_and_the_last_good_one_stays(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry, case: str
) -> None:
    controller.sources.registries.limits = LayerLimits(max_files=20, max_file_bytes=100_000)
    repo = f"{namespace}/hostile"
    good = push_dir(registry, f"{repo}:1.0.0", {"cm.yaml": configmap("web", "good")})
    await with_secret(kube, namespace, registry)
    creds = {"secretRef": {"name": "registry-creds"}}
    await kube.create(oci_app("web", namespace, registry.url(repo), "1.0.0", **creds))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(good))

    layer, expected = HOSTILE[case]
    bad = push_layer(registry, f"{repo}:1.0.1", layer)
    await set_revision(kube, namespace, "web", "1.0.1")
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: s.get("lastAttemptedRevision") == bad and apps.condition(s, "SourceError")
    )
    condition = apps.condition(status, "SourceError")
    assert condition is not None
    assert expected in condition["message"]
    assert status["lastSyncedRevision"] == good
    assert await value_of(kube, namespace, "web") == "good"
