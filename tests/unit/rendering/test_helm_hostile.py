"""A hostile chart: value files and symlinks that leave the repository, memory and time bombs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rendering_helpers import SECRET, source, write

from gitward.core.errors import RenderError
from gitward.rendering import Limits, render
from gitward.rendering.helm_runner import crash_message

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
    "chart/templates/cm.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        data: {{- toYaml .Values.data | nindent 2 }}
        """,
    "chart/values.yaml": "data: {a: b}\n",
}


@pytest.fixture
def chart_repo(repo: Path) -> Path:
    write(repo, CHART)
    return repo


@pytest.mark.parametrize(
    ("value_file", "message"),
    [
        ("../../outside/secret.yaml", r"^value file \.\./\.\./outside/secret.yaml: path leads outside the repository"),
        ("/etc/passwd", r"^value file /etc/passwd: absolute paths are not allowed"),
        ("https://example.com/values.yaml", r"^https://example.com/values.yaml: remote value files are not supported"),
        ("missing.yaml", r"^chart/missing.yaml: value file not found in the repository"),
    ],
)
def test_value_files_stay_in_the_repository(chart_repo: Path, outside: Path, value_file: str, message: str) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        render(chart_repo, source("chart", helm={"valueFiles": [value_file]}))
    assert SECRET not in caught.value.message


def test_a_value_file_symlink_out_of_the_repository_is_refused(chart_repo: Path, outside: Path) -> None:
    os.symlink(outside / "secret.yaml", chart_repo / "chart" / "prod.yaml")
    with pytest.raises(RenderError, match=r"^value file chart/prod.yaml: symlink points outside the repository"):
        render(chart_repo, source("chart", helm={"valueFiles": ["prod.yaml"]}))


def test_a_template_symlink_out_of_the_repository_is_refused(chart_repo: Path, outside: Path) -> None:
    os.symlink(outside / "secret.yaml", chart_repo / "chart" / "templates" / "stolen.yaml")
    with pytest.raises(RenderError, match=r"symlink points outside the repository") as caught:
        render(chart_repo, source("chart"))
    assert SECRET not in caught.value.message


def test_files_get_cannot_read_outside_the_chart(chart_repo: Path, outside: Path) -> None:
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: files}\ndata:\n"
    template += '  x: {{ .Files.Get "../../outside/secret.txt" | quote }}\n'
    template += '  y: {{ .Files.Get "/etc/hostname" | quote }}\n'
    write(chart_repo, {"chart/templates/files.yaml": template})
    rendered = render(chart_repo, source("chart"))
    files = next(r.manifest for r in rendered if r.manifest["metadata"]["name"] == "files")
    assert files["data"] == {"x": "", "y": ""}
    assert SECRET not in repr([r.manifest for r in rendered])


def test_a_symlink_inside_the_repository_is_followed(chart_repo: Path) -> None:
    write(chart_repo, {"shared/values.yaml": "data: {shared: yes}\n"})
    os.symlink("../shared/values.yaml", chart_repo / "chart" / "shared-values.yaml")
    rendered = render(chart_repo, source("chart", helm={"valueFiles": ["shared-values.yaml"]}))
    assert rendered[0].manifest["data"] == {"a": "b", "shared": True}


def test_a_values_alias_bomb_is_refused(chart_repo: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    write(chart_repo, {"chart/bomb.yaml": bomb})
    with pytest.raises(RenderError, match=r"^chart/bomb.yaml:\d+: more than \d+ aliases"):
        render(chart_repo, source("chart", helm={"valueFiles": ["bomb.yaml"]}))


def test_a_memory_bomb_kills_only_the_worker(chart_repo: Path) -> None:
    bomb = 'x: {{ range until 400000000 }}{{ "abcdefghijabcdefghij" }}{{ end }}\n'
    write(chart_repo, {"chart/templates/bomb.yaml": bomb})
    with pytest.raises(RenderError, match=r"^chart: (the Helm engine ran out of memory|.*size limit)"):
        render(chart_repo, source("chart"), Limits(render_timeout_seconds=60))


@pytest.mark.parametrize(
    "stderr",
    [
        b"fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\n",
        b"runtime/cgo: pthread_create failed: Resource temporarily unavailable\nSIGABRT: abort\n",
        b"Traceback (most recent call last):\nMemoryError\n",
    ],
)
def test_every_way_the_capped_worker_runs_out_of_memory_is_told_as_such(stderr: bytes) -> None:
    assert crash_message(stderr, -6).startswith("the Helm engine ran out of memory (limit ")


def test_another_crash_is_told_by_its_first_line() -> None:
    message = crash_message(b"\npanic: assignment to entry in nil map\n\ngoroutine 1\n", 2)
    assert message == "the Helm engine failed (exit status 2): panic: assignment to entry in nil map"


def test_a_slow_chart_times_out(chart_repo: Path) -> None:
    slow = "x: {{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"
    write(chart_repo, {"chart/templates/slow.yaml": slow})
    with pytest.raises(RenderError, match=r"^chart: helm template timed out after 1s"):
        render(chart_repo, source("chart"), Limits(render_timeout_seconds=1))


def test_a_huge_render_is_refused(chart_repo: Path) -> None:
    big = 'x: {{ range until 200000 }}{{ "abcdefghij" }}{{ end }}\n'
    write(chart_repo, {"chart/templates/big.yaml": big})
    with pytest.raises(RenderError, match=r"^chart: the chart renders more than the size limit of 1000000 bytes"):
        render(chart_repo, source("chart"), Limits(max_total_bytes=1_000_000))
