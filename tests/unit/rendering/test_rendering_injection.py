"""Argument injection into the renderers' processes: a repository path that looks like a flag is only
ever a path to kubectl, and a Helm release name or namespace that could carry YAML of its own never
reaches the Helm engine. Real kubectl and Helm, on checkouts written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from rendering_helpers import configmap, names, source, write

from gitward.core.errors import RenderError
from gitward.rendering import Target, kustomize, render
from gitward.rendering.helm import check_release

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n",
}


def test_the_kustomize_directory_comes_after_end_of_options(tmp_path: Path) -> None:
    directory = tmp_path / "--enable-helm"
    command = kustomize.kustomize_command("/usr/bin/kubectl", directory)
    assert command[-2:] == ["--", str(directory)]
    assert command.index("--") == len(command) - 2
    with pytest.raises(RenderError, match="absolute path"):
        kustomize.kustomize_command("/usr/bin/kubectl", Path("--enable-helm"))


@pytest.mark.parametrize(
    "hostile", ["--enable-helm", "-x", "--enable-alpha-plugins", "--load-restrictor=LoadRestrictionsNone"]
)
def test_a_flag_looking_directory_is_rendered_as_a_directory(repo: Path, hostile: str) -> None:
    write(repo, {f"{hostile}/kustomization.yaml": "resources: [cm.yaml]\n", f"{hostile}/cm.yaml": configmap("flagged")})
    assert names(render(repo, source(hostile))) == ["flagged"]


@pytest.mark.parametrize(
    ("release", "namespace", "field"),
    [("x\n  injected: true", "prod", "helm.releaseName"), ("x: y", "prod", "helm.releaseName"),
     ("-x", "prod", "helm.releaseName"), ("Web", "prod", "helm.releaseName"), ("web", "prod\nx: y", "namespace"),
     ("web", "a.b", "namespace"), ("web", "", "namespace")],
)  # fmt: skip
def test_release_names_and_namespaces_that_could_carry_yaml_are_refused(
    release: str, namespace: str, field: str
) -> None:
    with pytest.raises(RenderError, match=field):
        check_release(release, namespace)


def test_a_hostile_release_name_never_reaches_the_helm_engine(repo: Path) -> None:
    write(repo, {f"web/{name}": text for name, text in CHART.items()})
    target = Target(app_name="shop\ndata:\n  injected: 'yes'", namespace="prod")
    with pytest.raises(RenderError, match=r"^helm\.releaseName .shop\\ndata"):
        render(repo, source("web", helm={}), target=target)
    # the same chart renders with a well-formed name
    assert names(render(repo, source("web", helm={}), target=Target(app_name="shop", namespace="prod"))) == ["shop-cm"]
