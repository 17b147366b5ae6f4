"""`gitward render DIR` as a real process, offline (no cluster): a plain directory and a kustomize
overlay to stdout as a YAML stream, and a broken file named on stderr with exit 1. The options
and error cases in detail are in tests/unit/cli/test_render.py."""

from __future__ import annotations

from pathlib import Path

import yaml
from tests.support.cli import configmap, gitward


async def test_render_a_directory_and_a_kustomize_overlay(tmp_path: Path) -> None:
    files = {
        "apps/web/a.yaml": configmap("a", k="1") + "---\n" + configmap("b", k="2"),
        "apps/web/sub/c.yml": configmap("c", k="3"),
        "base/cm.yaml": configmap("settings", greeting="hello"),
        "base/kustomization.yaml": "resources:\n  - cm.yaml\n",
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\nnamePrefix: prod-\nnamespace: shop\n",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)

    plain = await gitward("render", str(tmp_path), "--path", "apps/web")
    assert plain.code == 0, plain
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(plain.stdout)] == ["a", "b", "c"]
    assert plain.stdout.startswith("---\n# Source: apps/web/a.yaml\n")

    overlay = await gitward("render", str(tmp_path), "--path", "overlays/prod")
    assert overlay.code == 0, overlay
    [doc] = list(yaml.safe_load_all(overlay.stdout))
    assert doc["metadata"] == {"name": "prod-settings", "namespace": "shop"}

    (tmp_path / "apps/web/broken.yaml").write_text("a: [1, 2\n")
    broken = await gitward("render", str(tmp_path), "--path", "apps/web")
    assert broken.code == 1, broken
    assert broken.stdout == "" and broken.stderr.startswith("error: apps/web/broken.yaml:")
