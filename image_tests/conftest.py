"""Tests of the image `make image` builds (`make image-test`; docs/image.md).

They live outside tests/ so that `make test` never collects them: they need the image (the archive
dist/gitward-<version>.oci.tar, or the one GITWARD_IMAGE names; built with scripts/build-image when
absent) and root (umoci unpack keeping owners, mount and chroot namespaces). The dev cluster, the
Git servers and the per-test namespaces are the test bed's own fixtures (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from image_tests.container import Image

pytest_plugins = ["tests.conftest"]

REPO = Path(__file__).resolve().parent.parent
VERSION: str = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
_loaded: list[Image] = []


@pytest.fixture(scope="session")
def image_archive() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the image tests need root: umoci unpack keeping owners, mount namespaces, chroot")
    named = os.environ.get("GITWARD_IMAGE")
    archive = Path(named) if named else REPO / "dist" / f"gitward-{VERSION}.oci.tar"
    if not archive.exists():
        if named:
            pytest.fail(f"GITWARD_IMAGE={named}: no such file")
        subprocess.run([str(REPO / "scripts" / "build-image")], check=True, cwd=REPO)
    return archive


@pytest.fixture(scope="session")
def image(image_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    """The image unpacked once for the session (about 400 MiB; removed at the end)."""
    work = tmp_path_factory.mktemp("image")
    try:
        loaded = Image.load(image_archive, VERSION, work)
        _loaded.append(loaded)
        yield loaded
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for loaded in _loaded:
        mib = 1024 * 1024
        sizes = loaded.sizes
        layers = " + ".join(f"{size / mib:.1f}" for size in sizes.layers)
        terminalreporter.write_line(
            f"image {loaded.archive.name}: {sizes.archive / mib:.1f} MiB archive (layers {layers} MiB, gzip), "
            f"{sizes.unpacked / mib:.1f} MiB unpacked"
        )
