"""The kustomize engine, with the real pinned kubectl: overlays, generators, and the ways it fails."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from rendering_helpers import configmap, source, write

from gitward.core.errors import RenderError
from gitward.rendering import Limits, kustomizations, kustomize, render


@pytest.fixture
def overlay_repo(repo: Path) -> Path:
    write(
        repo,
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": configmap("settings"),
            "overlays/prod/kustomization.yaml": """\
                resources: [../../base]
                namePrefix: prod-
                configMapGenerator:
                - name: generated
                  files: [app.properties]
            """,
            "overlays/prod/app.properties": "color=blue\n",
        },
    )
    return repo


def _assert_clean(message: str) -> None:
    """No path of the private copy (or of the temp dir) leaks into a message."""
    assert "gitward-kustomize-" not in message
    assert tempfile.gettempdir() + "/" not in message


def test_overlay_on_a_base_with_a_generator(overlay_repo: Path) -> None:
    rendered = render(overlay_repo, source("overlays/prod"))
    by_name = {r.manifest["metadata"]["name"]: r.manifest for r in rendered}
    (generated,) = (name for name in by_name if name.startswith("prod-generated-"))  # + content hash
    assert sorted(by_name) == sorted(["prod-settings", generated])
    assert by_name[generated]["data"] == {"app.properties": "color=blue\n"}
    assert by_name["prod-settings"]["data"] == {"key": "v"}
    assert {r.file for r in rendered} == {"kustomize:overlays/prod"}


@pytest.mark.parametrize("file_name", kustomizations.FILE_NAMES)
def test_every_kustomization_file_name_is_detected(repo: Path, file_name: str) -> None:
    write(repo, {f"app/{file_name}": "resources: [cm.yaml]\n", "app/cm.yaml": configmap("x")})
    assert [r.file for r in render(repo, source("app"))] == ["kustomize:app"]


def test_kustomize_without_a_kustomization_names_the_path(repo: Path) -> None:
    write(repo, {"app/cm.yaml": configmap("x")})
    with pytest.raises(RenderError, match=r"^app/kustomization.yaml: unable to find one of") as caught:
        render(repo, source("app", kustomize={}))
    _assert_clean(str(caught.value))


def test_missing_base_is_named(repo: Path) -> None:
    write(repo, {"app/kustomization.yaml": "resources: [../missing-base]\n"})
    with pytest.raises(RenderError, match=r"^app/kustomization.yaml: .*'\.\./missing-base'") as caught:
        render(repo, source("app"))
    assert "missing-base" in str(caught.value)
    _assert_clean(str(caught.value))


def test_cycle_ends_with_an_error(repo: Path) -> None:
    write(repo, {"a/kustomization.yaml": "resources: [../b]\n", "b/kustomization.yaml": "resources: [../a]\n"})
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"^a/kustomization.yaml: .*cycle detected") as caught:
        render(repo, source("a"))
    assert time.monotonic() - started < 10
    _assert_clean(str(caught.value))


def test_broken_kustomization_names_file_and_line(repo: Path) -> None:
    write(repo, {"app/kustomization.yaml": "resources:\n- a: b: c\n"})
    with pytest.raises(RenderError, match=r"^app/kustomization.yaml:2: mapping values are not allowed"):
        render(repo, source("app"))


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0",
        "http://example.com/manifests.yaml",
        "github.com/org/repo//deploy?ref=main",
        "git@github.com:org/repo.git//deploy",
        "ssh://git@example.com/org/repo.git",
        "git::https://example.com/org/repo.git",
        "example.com/org/repo//deploy?ref=v1",
    ],
)
@pytest.mark.parametrize("field", ["resources", "bases", "components"])
def test_remote_bases_are_refused(repo: Path, entry: str, field: str) -> None:
    write(repo, {"app/kustomization.yaml": f"{field}:\n- {entry}\n"})
    with pytest.raises(RenderError, match=r"^app/kustomization.yaml: remote .* refused"):
        render(repo, source("app"))


def test_remote_bases_are_refused_in_local_bases_too(repo: Path) -> None:
    write(
        repo,
        {
            "app/kustomization.yaml": "resources: [../base]\n",
            "base/kustomization.yaml": "resources: [https://example.com/x.yaml]\n",
        },
    )
    with pytest.raises(RenderError, match=r"^base/kustomization.yaml: remote resources entry"):
        render(repo, source("app"))


def test_remote_entries_pass_the_check_when_allowed(repo: Path) -> None:
    write(repo, {"app/kustomization.yaml": "resources: [https://example.com/x.yaml, cm.yaml]\n"})
    kustomizations.check_references(repo, "app", Limits(), allow_remote=True)


def test_network_is_closed_to_kustomize_unless_allowed(tmp_path: Path) -> None:
    closed = kustomize.environment(tmp_path, allow_remote=False)
    assert closed["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    assert not Path(closed["PATH"]).exists()  # no git for remote clones
    assert kustomize.environment(tmp_path, allow_remote=True).get("PATH") == os.environ.get("PATH")


def test_plugins_and_helm_are_never_enabled(overlay_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        seen.append(command)
        return real_popen(command, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    render(overlay_repo, source("overlays/prod"))
    (command,) = seen
    assert command[1:4] == ["kustomize", "--load-restrictor", "LoadRestrictionsRootOnly"]
    assert not [arg for arg in command if "plugin" in arg or "helm" in arg or "exec" in arg]


def test_timeout_kills_kustomize(overlay_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "slow-kubectl"
    slow.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")  # kubectl runs with no PATH
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(kustomize, "find_kubectl", lambda _file: str(slow))
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def spy(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(real_popen(command, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spy)
    began = time.monotonic()
    with pytest.raises(RenderError, match=r"^overlays/prod/kustomization.yaml: kustomize timed out after 0.5s"):
        render(overlay_repo, source("overlays/prod"), Limits(render_timeout_seconds=0.5))
    assert time.monotonic() - began < 5
    assert started[0].poll() is not None  # killed and reaped, not left running
