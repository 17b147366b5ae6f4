"""A hostile repository: escapes through paths, symlinks and kustomize references, and resource bombs.

Every case asserts the error and that nothing outside the checkout was read: the files next to the
checkout hold a secret marker that must never appear in a message, and Python never opened them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rendering_helpers import SECRET, configmap, names, source, write

from gitward.core.errors import RenderError
from gitward.rendering import Limits, render

Setup = Callable[[Path, Path], None]


def _link(repo: Path, rel: str, target: str | Path, files: dict[str, str | bytes] | None = None) -> None:
    write(repo, files or {})
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, repo / rel)


def _bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join(f"  {x}" for x in lines)


def _nested(depth: int) -> str:
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[" * depth + "]" * depth + "\n"


def _deep_through_aliases() -> str:
    """60 levels behind an alias, used 41 levels down: only the expansion is too deep."""
    return f"a: &a {'[' * 60}{']' * 60}\nb: &b [*a, *a]\nc: {'[' * 40}*b{']' * 40}\n"


CASES: list[tuple[str, Setup, dict[str, Any], str]] = [
    (
        "symlink-file-to-etc-passwd",
        lambda r, o: _link(r, "app/passwd.yaml", "/etc/passwd", {"app/ok.yaml": configmap("ok")}),
        {"path": "app"},
        r"^app/passwd.yaml: symlink points outside the repository",
    ),
    (
        "symlink-file-to-outside-manifest",
        lambda r, o: _link(r, "app/stolen.yaml", o / "secret.yaml"),
        {"path": "app"},
        r"^app/stolen.yaml: symlink points outside",
    ),
    (
        "relative-symlink-climbing-out",
        lambda r, o: _link(r, "app/stolen.yaml", "../../outside/secret.yaml"),
        {"path": "app"},
        r"^app/stolen.yaml: symlink points outside",
    ),
    (
        "symlink-dir-to-outside",
        lambda r, o: _link(r, "app/secrets", o, {"app/ok.yaml": configmap("ok")}),
        {"path": "app"},
        r"^app/secrets: symlink points outside",
    ),
    (
        "source-path-is-outside-symlink",
        lambda r, o: _link(r, "app", o),
        {"path": "app"},
        r"^app: symlink points outside",
    ),
    (
        "intermediate-symlinked-component",
        lambda r, o: _link(r, "apps", o.parent),
        {"path": "apps/outside"},
        r"^apps: symlink points outside",
    ),
    ("dotdot-path", lambda r, o: None, {"path": "../outside"}, r"^\.\./outside: path leads outside"),
    ("dotdot-inside-path", lambda r, o: None, {"path": "app/../../outside"}, r"^app/\.\./\.\./outside: path leads"),
    ("absolute-path", lambda r, o: None, {"path": "/etc"}, r"^/etc: absolute paths are not allowed"),
    (
        "kustomize-resource-beyond-checkout",
        lambda r, o: write(r, {"app/kustomization.yaml": "resources: [../../outside.yaml]\n"}),
        {"path": "app"},
        r"^app/kustomization.yaml: resources entry '\.\./\.\./outside.yaml' leads outside the repository",
    ),
    (
        "kustomize-base-beyond-checkout",
        lambda r, o: write(r, {"app/kustomization.yaml": "resources: [../../outside]\n"}),
        {"path": "app"},
        r"^app/kustomization.yaml: resources entry '\.\./\.\./outside' leads outside",
    ),
    (
        "kustomize-absolute-resource",
        lambda r, o: write(r, {"app/kustomization.yaml": f"resources: [{o / 'secret.yaml'}]\n"}),
        {"path": "app"},
        r"^app/kustomization.yaml: resources entry '/.*' leads outside",
    ),
    (
        "kustomize-component-beyond-checkout",
        lambda r, o: write(r, {"app/kustomization.yaml": "components: [../../../../../../../etc]\n"}),
        {"path": "app"},
        r"^app/kustomization.yaml: components entry .* leads outside",
    ),
    (
        "kustomize-generator-file-via-symlink",
        lambda r, o: _link(
            r,
            "app/secret.txt",
            o / "secret.txt",
            {"app/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: [secret.txt]\n"},
        ),
        {"path": "app"},
        r"^app/secret.txt: symlink points outside",
    ),
    (
        "kustomize-symlink-elsewhere-in-the-checkout",
        lambda r, o: _link(
            r, "docs/leak", o, {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": configmap("c")}
        ),
        {"path": "app"},
        r"^docs/leak: symlink points outside",
    ),
    (
        "kustomization-file-is-a-symlink",
        lambda r, o: _link(r, "app/kustomization.yaml", o / "kustomization.yaml"),
        {"path": "app"},
        r"^app/kustomization.yaml: symlink points outside",
    ),
    (
        "kustomize-patch-outside-its-root",
        lambda r, o: write(
            r,
            {
                "app/kustomization.yaml": "resources: [cm.yaml]\npatches: [{path: ../shared/patch.yaml}]\n",
                "app/cm.yaml": configmap("c"),
                "shared/patch.yaml": configmap("c", value="patched"),
            },
        ),
        {"path": "app"},
        r"^app/kustomization.yaml: .*security; file 'shared/patch.yaml' is not in or below 'app'",
    ),
]


@pytest.mark.parametrize(("setup", "fields", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_escapes_are_refused_without_reading_outside(
    repo: Path, outside: Path, opened: list[str], setup: Setup, fields: dict[str, Any], message: str
) -> None:
    setup(repo, outside)
    with pytest.raises(RenderError, match=message) as caught:
        render(repo, source(**fields))
    assert SECRET not in str(caught.value)
    assert "gitward-kustomize-" not in str(caught.value)
    assert not [p for p in opened if p.startswith((str(outside), "/etc/passwd", str(outside.parent / "outside.yaml")))]


def test_huge_file_is_refused(repo: Path) -> None:
    write(repo, {"big.yaml": configmap("big", value="x" * 2048)})
    with pytest.raises(RenderError, match=r"^big.yaml: file is larger than the limit of 1024 bytes"):
        render(repo, source(), Limits(max_file_bytes=1024))


def test_total_size_is_bounded(repo: Path) -> None:
    write(repo, {f"cm{i}.yaml": configmap(f"cm{i}", value="x" * 500) for i in range(4)})
    with pytest.raises(RenderError, match=r"^cm2.yaml: manifests exceed the total size limit"):
        render(repo, source(), Limits(max_total_bytes=1500))


def test_too_many_files_are_refused(repo: Path) -> None:
    write(repo, {f"cm{i:02}.yaml": configmap(f"cm{i}") for i in range(11)})
    assert len(render(repo, source(), Limits(max_files=11))) == 11
    with pytest.raises(RenderError, match=r"^\.: more than 10 manifest files"):
        render(repo, source(), Limits(max_files=10))


def test_the_default_limits_take_an_application_of_20000_objects_one_per_file(repo: Path) -> None:
    """SPEC §2 "Size" / issue 11: a 20,000-object Application syncs — also laid out one object per file."""
    write(repo, {f"cm{i:05}.yaml": configmap(f"cm{i}") for i in range(20_000)})
    assert len(render(repo, source(), Limits())) == 20_000


def test_too_many_files_for_kustomize_are_refused(repo: Path) -> None:
    write(repo, {"kustomization.yaml": "resources: []\n", **{f"f{i}.txt": "x" for i in range(10)}})
    with pytest.raises(RenderError, match=r"^\.: the repository has more than 5 files"):
        render(repo, source(), Limits(max_files=5))


@pytest.mark.parametrize("name", ["bomb.yaml", "kustomization.yaml"])
def test_billion_laughs_is_refused_fast(repo: Path, name: str) -> None:
    write(repo, {name: _bomb()})
    started = time.monotonic()
    with pytest.raises(RenderError, match=rf"^{name}:\d+: more than 1000 aliases once expanded"):
        render(repo, source())
    assert time.monotonic() - started < 2


def test_alias_expansion_is_bounded_by_size(repo: Path) -> None:
    big = "x" * 10_000
    doc = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  a: &a {big}\n"
    doc += "".join(f"  k{i}: *a\n" for i in range(50))
    write(repo, {"cm.yaml": doc})
    with pytest.raises(RenderError, match=r"^cm.yaml:\d+: document expands beyond the size limit"):
        render(repo, source(), Limits(max_total_bytes=100_000))


def test_moderate_aliases_are_fine(repo: Path) -> None:
    write(repo, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a}\ndata: {x: &x y, z: *x}\n"})
    assert names(render(repo, source())) == ["a"]


def test_recursive_alias_is_refused(repo: Path) -> None:
    write(repo, {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: &d\n  self: *d\n"})
    with pytest.raises(RenderError, match=r"^cm.yaml:5: recursive alias \*d"):
        render(repo, source())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep.yaml", _nested(200), r"^deep.yaml:4: nesting deeper than 100 levels"),
        ("huge.yaml", _nested(100_000), r"^huge.yaml:4: (nesting deeper than 100|exceeded maximum nesting)"),
        ("deep.json", '{"a":' * 200 + "1" + "}" * 200, r"^deep.json:1: nesting deeper than the limit"),
        ("huge.json", "[" * 100_000 + "]" * 100_000, r"^huge.json:1: nesting deeper than the limit"),
        ("alias.yaml", _deep_through_aliases(), r"^alias.yaml:3: nesting deeper than 100 levels"),
    ],
)
def test_deep_nesting_is_refused(repo: Path, name: str, content: str, message: str) -> None:
    write(repo, {name: content})
    started = time.monotonic()
    with pytest.raises(RenderError, match=message):
        render(repo, source())
    assert time.monotonic() - started < 2


def test_fifo_is_never_opened(repo: Path) -> None:
    write(repo, {"ok.yaml": configmap("ok")})
    os.mkfifo(repo / "pipe.yaml")
    assert names(render(repo, source())) == ["ok"]
    os.symlink("pipe.yaml", repo / "link.yaml")
    with pytest.raises(RenderError, match=r"^link.yaml: symlink does not lead to a regular file"):
        render(repo, source())


def test_dangling_manifest_symlink_is_an_error_not_a_silent_drop(repo: Path) -> None:
    _link(repo, "gone.yaml", "missing.yaml", {"ok.yaml": configmap("ok")})
    with pytest.raises(RenderError, match=r"^gone.yaml: symlink does not lead to a regular file"):
        render(repo, source())
