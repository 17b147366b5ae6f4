"""Helpers for the rendering tests: a checkout in tmp_path, a secret outside it, and a file-open audit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rendering_helpers import SECRET, configmap

_opened: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str | bytes | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path Python opens during the test (kubectl runs in its own process and is not seen)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty checkout (a Git working tree without .git)."""
    root = tmp_path / "checkout"
    root.mkdir()
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the checkout holding secrets a hostile repository would like to read."""
    secrets = tmp_path / "outside"
    secrets.mkdir()
    (secrets / "secret.yaml").write_text(configmap("stolen", value=SECRET))
    (secrets / "secret.txt").write_text(SECRET)
    (secrets / "kustomization.yaml").write_text("resources: [secret.yaml]\n")
    (tmp_path / "outside.yaml").write_text(configmap("stolen-too", value=SECRET))
    return secrets
