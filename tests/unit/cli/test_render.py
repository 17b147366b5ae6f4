"""`gitward render DIR` in-process (typer's CliRunner): plain directories with the source.directory
options, kustomize overlays, errors naming the file (exit 1), Helm values handling."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gitward.cli import main


def configmap(name: str, **data: str) -> str:
    lines = "".join(f'  {key}: "{value}"\n' for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{lines}"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main.app, ["render", *args])


def names(stream: str) -> list[str]:
    return [doc["metadata"]["name"] for doc in yaml.safe_load_all(stream) if doc]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return write(
        tmp_path / "checkout",
        {
            "apps/web/a.yaml": configmap("a", k="1") + "---\n" + configmap("b", k="2"),
            "apps/web/sub/c.yml": configmap("c", k="3"),
            "apps/web/skip.yaml": configmap("skipped", k="4"),
            "apps/web/notes.txt": "not a manifest",
            "other/d.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}',
        },
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["a", "b", "skipped", "c"]),
        (["--exclude", "skip.yaml"], ["a", "b", "c"]),
        (["--no-recurse"], ["a", "b", "skipped"]),
        (["--include", "*.yml"], ["c"]),
    ],
)
def test_directory_options(checkout: Path, options: list[str], expected: list[str]) -> None:
    result = invoke(str(checkout), "--path", "apps/web", *options)
    assert result.exit_code == 0, result.output
    assert names(result.stdout) == expected


def test_stream_names_each_source_file(checkout: Path) -> None:
    result = invoke(str(checkout))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("---\n# Source: apps/web/a.yaml\napiVersion: v1\n")
    assert result.stdout.count("\n---\n") == 4
    assert "# Source: other/d.json\n" in result.stdout


def test_kustomize_overlay(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "base/cm.yaml": configmap("settings", greeting="hello"),
            "base/kustomization.yaml": "resources:\n  - cm.yaml\n",
            "overlays/prod/kustomization.yaml": (
                "resources:\n  - ../../base\nnamePrefix: prod-\nnamespace: shop\n"
                "patches:\n  - patch: |-\n      apiVersion: v1\n      kind: ConfigMap\n"
                "      metadata:\n        name: settings\n      data:\n        greeting: bonjour\n"
            ),
        },
    )
    result = invoke(str(root), "--path", "overlays/prod")
    assert result.exit_code == 0, result.output
    [doc] = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert doc["metadata"] == {"name": "prod-settings", "namespace": "shop"}
    assert doc["data"] == {"greeting": "bonjour"}


@pytest.mark.parametrize(
    ("files", "path", "message"),
    [
        ({"ok.yaml": configmap("ok"), "broken.yaml": "a: [1, 2\nb: c: d\n"}, ".", "error: broken.yaml:"),
        ({"list.yaml": "- 1\n- 2\n"}, ".", "error: list.yaml:1: document 1 is a list"),
        ({"kustomization.yaml": "resources:\n  - ../../etc\n"}, ".", "kustomization.yaml"),
        ({"a.yaml": configmap("a")}, "../..", "error: ../..:"),
        ({"a.yaml": configmap("a")}, "missing", "error: missing: no such directory"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, files: dict[str, str], path: str, message: str) -> None:
    result = invoke(str(write(tmp_path / "repo", files)), "--path", path)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_not_a_directory(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "not a directory" in result.stderr


def test_helm_values_need_a_chart(tmp_path: Path) -> None:
    root = write(tmp_path, {"plain/cm.yaml": configmap("plain"), "values.yaml": "k: 2\n"})
    result = invoke(str(root), "--path", "plain", "--helm-values", str(root / "values.yaml"))
    assert result.exit_code == 1
    assert "--helm-values is for Helm charts" in result.stderr


def test_a_chart_with_values_files(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "chart/values.yaml": "greeting: chart\ncolor: chart\nsize: chart\n",
            "chart/templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                "  namespace: {{ .Release.Namespace }}\ndata:\n"
                "  greeting: {{ .Values.greeting }}\n  color: {{ .Values.color }}\n  size: {{ .Values.size }}\n"
            ),
            "one.yaml": "greeting: one\ncolor: one\n",
            "two.yaml": "color: two\n",
        },
    )
    values = ["--helm-values", str(root / "one.yaml"), "--helm-values", str(root / "two.yaml")]
    result = invoke(str(root), "--path", "chart", *values, "--release-name", "web", "-n", "shop")
    assert result.exit_code == 0, result.output
    [doc] = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert doc["metadata"] == {"name": "web", "namespace": "shop"}
    assert doc["data"] == {"greeting": "one", "color": "two", "size": "chart"}
    assert "# Source: helm:chart/templates/cm.yaml" in result.stdout

    missing = invoke(str(root), "--path", "chart", "--helm-values", str(root / "nope.yaml"))
    assert missing.exit_code == 1 and "nope.yaml" in missing.stderr


def git_checkout(root: Path, files: dict[str, str]) -> Path:
    write(root, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


OVERLAY_FILES = {
    "apps/podinfo/base/cm.yaml": configmap("settings", greeting="hello"),
    "apps/podinfo/base/kustomization.yaml": "resources:\n  - cm.yaml\n",
    "apps/podinfo/overlays/prod/kustomization.yaml": "resources:\n  - ../../base\nnamePrefix: prod-\n",
    "apps/plain/a.yaml": configmap("a", k="1"),
}


@pytest.mark.parametrize(
    ("where", "args", "expected"),
    [
        ("apps/podinfo/overlays/prod", [], ["prod-settings"]),  # DIR as people type it
        ("apps/podinfo", ["--path", "overlays/prod"], ["prod-settings"]),  # --path is relative to DIR
        ("apps/podinfo/base", ["--path", "../overlays/prod"], ["prod-settings"]),  # may climb inside the checkout
        ("apps/plain", [], ["a"]),
        (".", ["--path", "apps/podinfo/overlays/prod"], ["prod-settings"]),  # as before
    ],
)
def test_a_directory_inside_a_checkout_is_rendered_as_kustomize_build_would(
    tmp_path: Path, where: str, args: list[str], expected: list[str]
) -> None:
    root = git_checkout(tmp_path / "repo", OVERLAY_FILES)
    result = invoke(str(root / where), *args)
    assert result.exit_code == 0, result.output
    assert names(result.stdout) == expected


def test_a_directory_in_no_checkout_is_its_own_repository(tmp_path: Path) -> None:
    write(tmp_path / "loose", OVERLAY_FILES)  # no .git: DIR is the repository, ../../base leaves it
    result = invoke(str(tmp_path / "loose/apps/podinfo/overlays/prod"))
    assert result.exit_code == 1
    assert "kustomization.yaml: resources entry '../../base' leads outside the repository" in result.output


def test_an_escape_from_the_checkout_names_the_file_and_the_entry(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    write(tmp_path / "outside", {"cm.yaml": configmap("stolen", k="1"), "kustomization.yaml": "resources: [cm.yaml]\n"})
    root = git_checkout(tmp_path / "repo", {"apps/x/kustomization.yaml": "resources:\n  - ../../../outside\n"})
    result = invoke(str(root / "apps/x"))
    assert result.exit_code == 1
    assert "apps/x/kustomization.yaml: resources entry '../../../outside' leads outside the repository" in result.output
    assert "stolen" not in result.output
    climbing = invoke(str(root / "apps/x"), "--path", "../../..")
    assert climbing.exit_code == 1 and "stolen" not in climbing.output


def test_only_what_dir_reaches_is_read(tmp_path: Path) -> None:
    """A checkout with a virtualenv-like symlink to elsewhere: DIR and its bases render all the same."""
    (tmp_path / "elsewhere").mkdir()
    root = git_checkout(tmp_path / "repo", OVERLAY_FILES)
    (root / ".venv/bin").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", root / ".venv/bin/python")
    result = invoke(str(root / "apps/podinfo/overlays/prod"))
    assert result.exit_code == 0, result.output
    assert names(result.stdout) == ["prod-settings"]
    assert result.stdout.startswith("---\n# Source: kustomize:apps/podinfo/overlays/prod\n")  # a path of the checkout
    plain = invoke(str(root / "apps/plain"))
    assert plain.stdout.startswith("---\n# Source: apps/plain/a.yaml\n")
    whole = invoke(str(root), "--path", "apps/podinfo/overlays/prod")  # the same from the checkout's root
    assert whole.stdout == result.stdout


def test_errors_name_files_of_the_checkout(tmp_path: Path) -> None:
    root = git_checkout(tmp_path / "repo", {**OVERLAY_FILES, "apps/plain/broken.yaml": "a: [1, 2\n"})
    result = invoke(str(root / "apps/plain"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: apps/plain/broken.yaml:")
