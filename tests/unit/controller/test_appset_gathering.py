"""What the git and clusters generators read, from a real directory tree and plain Secret data: a
hostile checkout (symlinks out of it, oversized files) is listed and read confined; cluster Secrets
give their name, server (never credentials) and labels."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from gitward.controller.appsets import gathering, generators


def test_a_tree_lists_and_reads_only_inside_the_checkout(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "apps" / "a").mkdir(parents=True)
    (root / "apps" / "a" / "config.yaml").write_text("env: a\n")
    (root / "apps" / "big.yaml").write_bytes(b"x: " + b"y" * (gathering.MAX_FILE + 1))
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    os.symlink(tmp_path, root / "apps" / "escape")  # a directory symlink out of the checkout
    os.symlink(secret, root / "apps" / "a" / "leak.yaml")  # a file symlink out of the checkout
    tree = gathering.tree_of(root)
    assert tree.directories == ["apps", "apps/a"]
    assert sorted(tree.files) == ["apps/a/config.yaml", "apps/big.yaml"]
    assert tree.read("apps/a/config.yaml") == b"env: a\n"
    for hostile in ("apps/a/leak.yaml", "../secret.yaml", "apps/escape/secret.yaml", "apps/big.yaml"):
        with pytest.raises(generators.GeneratorError):
            tree.read(hostile)


def test_a_tree_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        (tmp_path / f"d{i}").mkdir()
    monkeypatch.setattr(gathering, "MAX_ENTRIES", 10)
    with pytest.raises(generators.GeneratorError, match="more than 10"):
        gathering.tree_of(tmp_path)


def _kubeconfig(server: str) -> str:
    conf = {
        "clusters": [
            {"name": "other", "cluster": {"server": "https://other"}},
            {"name": "c", "cluster": {"server": server}},
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
        "users": [{"name": "u", "user": {"token": "tok"}}],
    }
    return base64.b64encode(yaml.safe_dump(conf).encode()).decode()


@pytest.mark.parametrize(
    ("data", "server"),
    [
        ({"kubeconfig": _kubeconfig("https://east:6443")}, "https://east:6443"),
        ({"config": _kubeconfig("https://admin:s3cret@east:6443/x")}, "https://east:6443/x"),
        ({"password": base64.b64encode(b"x").decode()}, None),
        ({"kubeconfig": "!!not base64"}, None),
        ({"kubeconfig": base64.b64encode(b"- a list").decode()}, None),
    ],
)
def test_cluster_secrets(data: dict[str, str], server: str | None) -> None:
    assert gathering.server_of(data) == server
