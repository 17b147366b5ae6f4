"""Path safety and glob helpers, and the public surface of `gitward.rendering`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rendering_helpers import configmap, source, write

import gitward.rendering
from gitward.core.errors import RenderError
from gitward.rendering import globs, paths, render


def test_public_names() -> None:
    assert sorted(gitward.rendering.__all__) == [
        "Capabilities",
        "DEFAULT_LIMITS",
        "Inputs",
        "Limits",
        "Rendered",
        "Target",
        "ValuesDocument",
        "checkout_of",
        "has_chart",
        "locate",
        "render",
    ]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [(".", "."), ("", "."), ("a/b", "a/b"), ("a/./b/", "a/b"), ("a/../b", "b"), ("a/b/..", "a")],
)
def test_normalize_keeps_paths_inside(relative: str, expected: str) -> None:
    assert paths.normalize(relative) == expected


@pytest.mark.parametrize("relative", ["..", "../x", "a/../../x", "/etc/passwd", "/", "a/\x00b"])
def test_normalize_refuses_escapes(relative: str) -> None:
    with pytest.raises(RenderError):
        paths.normalize(relative)


def test_normalize_relative_to_a_base() -> None:
    assert paths.normalize("../base", base="overlays/prod") == "overlays/base"
    with pytest.raises(RenderError):
        paths.normalize("../../../x", base="overlays/prod")


def test_resolve_inside_follows_inside_links_and_refuses_outside_ones(repo: Path, tmp_path: Path) -> None:
    write(repo, {"real/sub/f.yaml": "x: 1"})
    os.symlink("real", repo / "inside")
    os.symlink(tmp_path, repo / "escape")
    os.symlink("escape", repo / "chained")  # a link to a link that leaves
    assert paths.resolve_inside(repo, "inside/sub/f.yaml") == paths.real_root(repo) / "real/sub/f.yaml"
    for rel in ("escape", "escape/checkout", "chained/x"):
        with pytest.raises(RenderError, match=r"symlink points outside the repository"):
            paths.resolve_inside(repo, rel)


def test_walk_reports_entries_and_refuses_escaping_links(repo: Path, tmp_path: Path) -> None:
    write(repo, {"b/x.yaml": "", "a.yaml": "", ".git/HEAD": ""})
    os.symlink("a.yaml", repo / "c.yaml")
    root = paths.real_root(repo)
    assert [(e.rel, e.kind) for e in paths.walk(root, root)] == [
        ("a.yaml", "file"),
        ("b", "dir"),
        ("c.yaml", "symlink"),
        ("b/x.yaml", "file"),
    ]
    os.symlink(tmp_path, repo / "b" / "out")
    with pytest.raises(RenderError, match=r"^b/out: symlink points outside"):
        list(paths.walk(root, root))


@pytest.mark.parametrize(
    ("pattern", "expanded"),
    [
        ("*.{yaml,yml,json}", ["*.yaml", "*.yml", "*.json"]),
        ("{a,b}/{c,d}", ["a/c", "a/d", "b/c", "b/d"]),
        ("{a,{b,c}}.yaml", ["a.yaml", "b.yaml", "c.yaml"]),
        ("{single}.yaml", ["{single}.yaml"]),
        ("{unclosed,x", ["{unclosed,x"]),
        ("plain", ["plain"]),
    ],
)
def test_brace_expansion(pattern: str, expanded: list[str]) -> None:
    assert globs.expand_braces(pattern) == expanded


def test_brace_expansion_is_bounded() -> None:
    with pytest.raises(RenderError, match="more than 1000 alternatives"):
        globs.expand_braces("{a,b,c,d}" * 6)


def test_audit_hook_sees_what_rendering_opens(repo: Path, opened: list[str]) -> None:
    write(repo, {"cm.yaml": configmap("x")})
    render(repo, source())
    assert str(paths.real_root(repo) / "cm.yaml") in opened


def test_checkout_of(tmp_path: Path) -> None:
    (tmp_path / "repo/.git").mkdir(parents=True)
    (tmp_path / "repo/apps/web").mkdir(parents=True)
    (tmp_path / "loose/apps").mkdir(parents=True)
    root = tmp_path.resolve() / "repo"
    assert paths.checkout_of(tmp_path / "repo/apps/web") == (root, "apps/web")
    assert paths.checkout_of(tmp_path / "repo") == (root, ".")
    assert paths.checkout_of(tmp_path / "loose/apps") == (tmp_path.resolve() / "loose/apps", ".")
