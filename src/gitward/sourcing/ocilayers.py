"""Artifact layers: pack a directory into a tar+gzip layer, and unpack a hostile one within limits.

Called by gitward.sourcing.oci: `unpack` for every layer of an artifact an Application deploys,
`pack` for `gitward push artifact`. An artifact is hostile input like a Git repository (SPEC §6):
the gzip stream is capped (no bombs), and every member is checked before it is written — regular
files, directories and symlinks only; no absolute path, no `..` leaving the artifact, no symlink
pointing outside it (or absolute), no hard links or devices; bounded file count, file size and total
size. Then tarfile's own "data" filter extracts it, a second line of defence.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from gitward.core.errors import SourceError

__all__ = ["LayerLimits", "pack", "unpack"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LayerLimits:
    """Bounds on one artifact (the Git Fetcher's checkout bounds, by default)."""

    max_manifest_bytes: int = 4 * MiB
    max_layers: int = 16
    max_layer_bytes: int = 64 * MiB
    """One compressed layer blob."""
    max_unpacked_bytes: int = 256 * MiB
    """All layers once decompressed (tar headers included)."""
    max_files: int = 50_000
    max_file_bytes: int = 64 * MiB
    max_tags: int = 10_000
    max_tag_pages: int = 1_000
    """Pages of one tag list: a registry that links page after empty page is not followed for ever."""
    timeout_seconds: float = 30.0


class _Capped:
    """A readable stream that fails once more than `left` bytes came out of it (gzip bombs)."""

    def __init__(self, raw: IO[bytes], left: int, label: str) -> None:
        self.raw, self.left, self.label = raw, left, label

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise _refused(self.label, "unpacks to more than the size limit", "TooLarge")
        return data


@dataclass
class _Budget:
    files: int
    bytes: int


def unpack(layer: Path, dest: Path, label: str, limits: LayerLimits, budget: _Budget | None = None) -> _Budget:
    """Extract the tar+gzip `layer` into `dest` (created when missing); the budget left afterwards."""
    budget = budget or _Budget(limits.max_files, limits.max_unpacked_bytes)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with gzip.open(layer, "rb") as raw:
            capped = _Capped(cast(IO[bytes], raw), budget.bytes, label)
            with tarfile.open(fileobj=cast(IO[bytes], capped), mode="r|") as tar:
                for member in tar:
                    budget.files -= 1
                    _check(member, label, limits, budget)
                    tar.extract(member, dest, filter="data")
            budget.bytes = capped.left
    except (tarfile.TarError, OSError, EOFError) as exc:
        detail = str(exc) if isinstance(exc, tarfile.FilterError) else type(exc).__name__
        raise _refused(label, f"not a valid tar+gzip layer: {detail}", "InvalidArtifact") from None
    return budget


def _check(member: tarfile.TarInfo, label: str, limits: LayerLimits, budget: _Budget) -> None:
    name = member.name
    where = f"{label}: {name[:200]!r}"
    if budget.files < 0:
        raise _refused(label, f"more than {limits.max_files} files", "TooLarge")
    if not (member.isreg() or member.isdir() or member.issym()):
        raise _refused(where, "only files, directories and symlinks may be in an artifact", "InvalidArtifact")
    if name.startswith("/") or any(ord(c) < 0x20 for c in name):
        raise _refused(where, "absolute paths and control characters are refused", "InvalidArtifact")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise _refused(where, "path leads outside the artifact", "InvalidArtifact")
    if member.size > limits.max_file_bytes:
        raise _refused(where, f"larger than the limit of {limits.max_file_bytes} bytes", "TooLarge")
    if member.issym():
        target = member.linkname
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(normal), target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise _refused(where, "symlink points outside the artifact", "InvalidArtifact")


def pack(directory: Path) -> bytes:
    """A reproducible tar+gzip of `directory` (sorted; no owners, times or modes beyond 0644/0755);
    symlinks are kept as symlinks, other special files are refused."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=cast(IO[bytes], gz), mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(directory.rglob("*")):
            rel = path.relative_to(directory).as_posix()
            if any(part == ".git" for part in rel.split("/")):
                continue
            tar.addfile(*_entry(path, rel))
    return buffer.getvalue()


def _entry(path: Path, rel: str) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    info = tarfile.TarInfo(rel)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if path.is_symlink():
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, str(path.readlink()), 0o777
        return info, None
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return info, None
    if not path.is_file():
        raise SourceError(f"{path}: only files, directories and symlinks can be pushed", reason="InvalidArtifact")
    data = path.read_bytes()
    info.size, info.mode = len(data), 0o755 if path.stat().st_mode & 0o100 else 0o644
    return info, io.BytesIO(data)


def _refused(where: str, why: str, reason: str) -> SourceError:
    return SourceError(f"{where}: {why}", reason=reason)
