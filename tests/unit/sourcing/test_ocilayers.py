"""Artifact layers (gitward.sourcing.ocilayers): a packed directory unpacks to the same files; hostile
layers (escapes, absolute paths, outward symlinks, links, devices, bombs, too many files) are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import ocilayers
from gitward.sourcing.ocilayers import LayerLimits


def layer(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path = tmp_path / "layer.tgz"
    path.write_bytes(buffer.getvalue())
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_pack_then_unpack_gives_the_same_tree(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "apps" / "web").mkdir(parents=True)
    (source / "apps" / "web" / "cm.yaml").write_text("a: 1\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    (source / "link.yaml").symlink_to("apps/web/cm.yaml")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: x\n")
    packed = ocilayers.pack(source)
    assert packed == ocilayers.pack(source)  # reproducible
    (tmp_path / "l.tgz").write_bytes(packed)
    ocilayers.unpack(tmp_path / "l.tgz", tmp_path / "out", "test", LayerLimits())
    out = tmp_path / "out"
    assert (out / "apps" / "web" / "cm.yaml").read_text() == "a: 1\n"
    assert (out / "link.yaml").is_symlink()
    assert (out / "run.sh").stat().st_mode & 0o100
    assert not (out / ".git").exists()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([(member("../x.yaml"), b"x")], "outside the artifact"),
        ([(member("a/../../x.yaml"), b"x")], "outside the artifact"),
        ([(member("/etc/x.yaml"), b"x")], "absolute paths"),
        ([(member("l", tarfile.SYMTYPE, "../../etc"), b"")], "symlink points outside"),
        ([(member("l", tarfile.SYMTYPE, "/etc/passwd"), b"")], "symlink points outside"),
        ([(member("h", tarfile.LNKTYPE, "x"), b"")], "only files, directories and symlinks"),
        ([(member("dev", tarfile.CHRTYPE), b"")], "only files, directories and symlinks"),
        ([(member(f"f{i}"), b"") for i in range(6)], "more than 5 files"),
        ([(member("big"), b"x" * 2000)], "larger than the limit of 1000 bytes"),
    ],
)
def test_hostile_layers_are_refused(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], message: str) -> None:
    path = layer(tmp_path, *members)
    with pytest.raises(SourceError, match=message):
        ocilayers.unpack(path, tmp_path / "out", "test", LayerLimits(max_files=5, max_file_bytes=1000))
    assert not (tmp_path / "x.yaml").exists()


def test_a_gzip_bomb_stops_at_the_unpacked_size_limit(tmp_path: Path) -> None:
    path = layer(tmp_path, *[(member(f"f{i}"), b"\0" * 100_000) for i in range(20)])
    assert path.stat().st_size < 100_000
    with pytest.raises(SourceError, match="size limit"):
        ocilayers.unpack(path, tmp_path / "out", "test", LayerLimits(max_unpacked_bytes=500_000))


def test_garbage_is_not_a_layer(tmp_path: Path) -> None:
    (tmp_path / "l.tgz").write_bytes(gzip.compress(b"not a tar at all" * 100))
    with pytest.raises(SourceError, match="not a valid tar"):
        ocilayers.unpack(tmp_path / "l.tgz", tmp_path / "out", "test", LayerLimits())
