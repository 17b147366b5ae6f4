"""The directory engine: which files are read, in which order, and the engine choice."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rendering_helpers import configmap, names, source, write

from gitward.core.errors import RenderError
from gitward.rendering import Limits, render


@pytest.fixture
def tree(repo: Path) -> Path:
    write(
        repo,
        {
            "apps/web/b.yaml": configmap("b"),
            "apps/web/a.yml": configmap("a"),
            "apps/web/c.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            "apps/web/README.md": "# not a manifest",
            "apps/web/values.txt": "not: a manifest",
            "apps/web/sub/d.yaml": configmap("d"),
            "apps/web/sub/deeper/e.yaml": configmap("e"),
            "apps/web/test/f.yaml": configmap("f"),
            "apps/other/x.yaml": configmap("x"),
        },
    )
    return repo


def test_recursive_by_default_in_sorted_path_order(tree: Path) -> None:
    rendered = render(tree, source("apps/web"))
    assert [r.file for r in rendered] == [
        "apps/web/a.yml",
        "apps/web/b.yaml",
        "apps/web/c.json",
        "apps/web/sub/d.yaml",
        "apps/web/sub/deeper/e.yaml",
        "apps/web/test/f.yaml",
    ]


def test_non_recursive_reads_only_the_top_directory(tree: Path) -> None:
    rendered = render(tree, source("apps/web", directory={"recurse": False}))
    assert names(rendered) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ("*.{yaml,yml,json}", "", ["a", "b", "c", "d", "e", "f"]),
        ("*.yaml", "", ["b", "d", "e", "f"]),
        ("{a.yml,sub/*}", "", ["a", "d", "e"]),
        ("*", "test/*", ["a", "b", "c", "d", "e"]),
        ("*.{yaml,json}", "{c.json,sub/deeper/*}", ["b", "d", "f"]),
        ("", "*.yaml", ["a", "c"]),
        ("*.txt", "", []),
    ],
)
def test_include_and_exclude_globs(tree: Path, include: str, exclude: str, expected: list[str]) -> None:
    rendered = render(tree, source("apps/web", directory={"include": include, "exclude": exclude}))
    assert names(rendered) == expected


def test_symlinks_inside_the_checkout_are_followed_for_files(repo: Path) -> None:
    write(repo, {"shared/cm.yaml": configmap("shared"), "app/own.yaml": configmap("own")})
    os.symlink("../shared/cm.yaml", repo / "app" / "link.yaml")
    os.symlink("../shared", repo / "app" / "dirlink")  # directories behind links are not walked
    rendered = render(repo, source("app"))
    assert [(r.file, r.manifest["metadata"]["name"]) for r in rendered] == [
        ("app/link.yaml", "shared"),
        ("app/own.yaml", "own"),
    ]


def test_source_path_through_an_inside_symlink(repo: Path) -> None:
    write(repo, {"real/cm.yaml": configmap("x")})
    os.symlink("real", repo / "alias")
    assert names(render(repo, source("alias"))) == ["x"]


def test_default_path_is_the_checkout_root(repo: Path) -> None:
    write(repo, {"cm.yaml": configmap("root")})
    assert names(render(repo, source(""))) == ["root"]


def test_git_metadata_is_never_read(repo: Path) -> None:
    write(repo, {".git/config.yaml": "not: [valid", "cm.yaml": configmap("x")})
    assert names(render(repo, source())) == ["x"]


def test_missing_path_is_refused(repo: Path) -> None:
    with pytest.raises(RenderError, match=r"^apps/none: no such directory"):
        render(repo, source("apps/none"))


def test_object_count_is_bounded(repo: Path) -> None:
    write(repo, {"many.yaml": "---\n".join(configmap(f"cm{i}") for i in range(5))})
    assert len(render(repo, source(), Limits(max_objects=5))) == 5
    with pytest.raises(RenderError, match=r"^\.: renders more than 4 objects"):
        render(repo, source(), Limits(max_objects=4))
