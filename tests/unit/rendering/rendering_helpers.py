"""Plain helpers shared by the rendering tests (fixtures live in conftest.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pydantic

from gitward.core.applications import HelmSource, Source

SECRET = "TOP-SECRET-MARKER-d41d8cd98f"
"""Content of files placed outside the checkout: it must never show up in any output or message."""


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Create `files` (repo-relative path → dedented text, or raw bytes) under `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))


def configmap(name: str, value: str = "v") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"


def source(path: str = ".", **fields: Any) -> Source:
    """A Source as an Application would carry it; values the model refuses (an absolute or climbing
    path, a remote value file) are set without validation, to test the renderer's own defences."""
    try:
        return Source.model_validate({"repoURL": "https://git.example.com/org/config.git", "path": path, **fields})
    except pydantic.ValidationError:
        base = Source.model_validate({"repoURL": "https://git.example.com/org/config.git", **fields, "helm": None})
        helm = fields.get("helm")
        update: dict[str, Any] = {"path": path}
        if helm is not None:
            update["helm"] = HelmSource.model_construct(value_files=tuple(helm.get("valueFiles", ())))
        return base.model_copy(update=update)


def names(rendered: list[Any]) -> list[str]:
    return [r.manifest["metadata"]["name"] for r in rendered]
