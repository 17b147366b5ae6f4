"""The OCI registry test bed for tests: fixtures and pushes through the `oras` SDK.

Imported by tests/integration/test_oci_*.py and test_image_automation.py (`from tests.support.registry
import registry, plain_registry` makes the fixtures available to a module). The registries are real
`docker-registry` processes (`gitward.testing.registries`), one HTTPS + htpasswd and one plain-HTTP
per test module; every test pushes under a repository name of its own. `paged_registry` is the
upstream v3 registry (HTTPS + htpasswd too), built once from its Go module
(`gitward.testing.upstream_registry`), for tag lists that come in pages.

    push_dir(reg, "repo:tag", files)     an artifact of files (Flux's media types), pushed with oras
    push_layer(reg, "repo:tag", bytes)   an artifact whose one layer is the given tar+gzip (hostile ones)
    push_chart(reg, "charts/web", "1.0.0", files)   a Helm chart with Helm's OCI media types
    add_tags(reg, "repo:tag", tags)      the same manifest under more tags (one PUT each, with oras)
    secret(name, namespace, reg)         a Secret with the registry's username, password and ca.crt
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward.testing import upstream_registry
from gitward.testing.registries import Registry

__all__ = [
    "add_tags", "paged_registry", "plain_registry", "push_chart", "push_dir", "push_layer", "registry", "secret",
    "tar_gz",
]  # fmt: skip

ARTIFACT = "application/vnd.cncf.flux.content.v1.tar+gzip"
ARTIFACT_CONFIG = "application/vnd.cncf.flux.config.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("plain-registry"), tls=False) as reg:
        yield reg


@pytest.fixture(scope="module")
def paged_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = str(upstream_registry.ensure())
    with Registry(tmp_path_factory.mktemp("paged-registry"), binary=binary) as reg:
        yield reg


def tar_gz(files: dict[str, str | bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    """A tar+gzip of `files` (path → dedented text or bytes) and `symlinks` (path → target), as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else textwrap.dedent(content).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def push_layer(
    reg: Registry,
    target: str,
    layer: bytes,
    *,
    media_type: str = ARTIFACT,
    config_type: str = ARTIFACT_CONFIG,
    config: bytes = b"{}",
    annotations: dict[str, str] | None = None,
) -> str:
    """Push `layer` as the one layer of `host/target` with oras; the manifest digest."""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "layer.tgz").write_bytes(layer)
        (Path(work) / "config.json").write_bytes(config)
        response = reg.oras_client().push(
            target=f"{reg.host}/{target}",
            files=[f"{work}/layer.tgz:{media_type}"],
            manifest_config=f"{work}/config.json:{config_type}",
            manifest_annotations=annotations or {},
            disable_path_validation=True,
            quiet=True,
        )
    response.raise_for_status()
    return str(response.headers["Docker-Content-Digest"])


def push_dir(reg: Registry, target: str, files: dict[str, str | bytes], **kw: Any) -> str:
    return push_layer(reg, target, tar_gz(files), **kw)


def add_tags(reg: Registry, source: str, tags: list[str]) -> None:
    """Tag the manifest of `host/source` (`repo:tag`) as each of `tags` too."""
    client = reg.oras_client()
    repository = source.rsplit(":", 1)[0]
    manifest = client.get_manifest(f"{reg.host}/{source}")
    for tag in tags:
        client.upload_manifest(manifest, client.get_container(f"{reg.host}/{repository}:{tag}")).raise_for_status()


def push_chart(reg: Registry, repository: str, version: str, files: dict[str, str | bytes]) -> str:
    """A Helm chart `<repository's last segment>` at `version`, with Helm's OCI media types."""
    name = repository.rsplit("/", 1)[-1]
    chart_yaml = f"apiVersion: v2\nname: {name}\nversion: {version}\n"
    archive = tar_gz({f"{name}/Chart.yaml": chart_yaml, **{f"{name}/{k}": v for k, v in files.items()}})
    config = json.dumps({"apiVersion": "v2", "name": name, "version": version}).encode()
    return push_layer(
        reg, f"{repository}:{version}", archive, media_type=HELM_CHART, config_type=HELM_CONFIG, config=config
    )


def secret(name: str, namespace: str, reg: Registry, *, password: str | None = None) -> dict[str, Any]:
    assert reg.ca_crt is not None
    data = {"username": reg.username, "password": reg.password if password is None else password}
    data["ca.crt"] = reg.ca_crt.read_text()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
