"""Safe path handling inside a checkout: nothing a repository names may lead outside of it.

Called by `engines` (the Application's `source.path`), `directory` (walking and reading manifest
files), `copying` (the private copy made for kustomize) and `kustomizations` (references between
kustomizations). Paths given by the repository or the Application are repo-relative POSIX strings;
`..` that escapes, absolute paths and symlinks whose target resolves outside the root are refused
with a `RenderError` whose message starts with the offending repo-relative path.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from gitward.core.errors import RenderError

SKIPPED_NAMES = frozenset({".git"})
"""Entries never walked or copied: Git metadata is not part of the desired state."""

EntryKind = Literal["dir", "file", "symlink", "other"]


def real_root(root: Path) -> Path:
    """The checkout root with its own symlinks resolved: the reference every check compares with."""
    return Path(os.path.realpath(root))


def checkout_of(directory: Path) -> tuple[Path, str]:
    """Where a local `directory` lies: (the root of the Git checkout holding it, its repo-relative
    path), as `kustomize build DIR` sees it — `../base` may reach anywhere in the checkout, never
    out of it. A directory in no checkout is its own root. Used by `gitward render` / `gitward diff`."""
    real = real_root(directory)
    for candidate in (real, *real.parents):
        if (candidate / ".git").exists():
            return candidate, relative(real, candidate)
    return real, "."


def is_inside(path: Path, root: Path) -> bool:
    """Whether the (already resolved) `path` is `root` or below it."""
    return path == root or path.is_relative_to(root)


def normalize(relative: str, *, base: str = ".") -> str:
    """`relative` joined to the repo-relative `base` and normalized; refuses escapes and absolutes."""
    if relative.startswith("/") or "\x00" in relative:
        raise RenderError(f"{relative}: absolute paths are not allowed, only paths inside the repository")
    joined = posixpath.normpath(posixpath.join(base, relative))
    if joined == ".." or joined.startswith("../"):
        raise RenderError(f"{relative}: path leads outside the repository")
    return joined


def resolve_inside(root: Path, relative: str | PurePath) -> Path:
    """The real path of repo-relative `relative`, checking every symlink on the way stays inside."""
    root = real_root(root)
    current = root
    walked = "."
    for part in PurePath(normalize(PurePath(relative).as_posix())).parts:
        current = current / part
        walked = posixpath.join(walked, part) if walked != "." else part
        if current.is_symlink():
            current = resolve_link(root, current, walked)
    return current


def resolve_link(root: Path, link: Path, rel: str) -> Path:
    """The resolved target of symlink `link` (repo path `rel`); refused when it leaves `root`."""
    target = Path(os.path.realpath(link))
    if not is_inside(target, root):
        raise RenderError(f"{rel}: symlink points outside the repository")
    return target


def relative(path: Path, root: Path) -> str:
    """Repo-relative POSIX form of a resolved `path` inside `root` ("." for the root itself)."""
    return path.relative_to(root).as_posix() or "."


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry met by `walk`: its repo-relative path, where it is, and what it is."""

    rel: str
    path: Path
    kind: EntryKind
    target: Path | None = None
    """For symlinks: the resolved target, always inside the root."""


def walk(root: Path, start: Path, *, recurse: bool = True) -> Iterator[Entry]:
    """Entries below `start` (a resolved directory inside the resolved `root`), parents first.

    Symlinks are reported, never descended into; one whose target leaves the root raises.
    Names in each directory come sorted; `.git` is skipped.
    """
    pending = [start]
    while pending:
        current = pending.pop()
        subdirs = []
        for entry in _list(root, current):
            yield entry
            if entry.kind == "dir" and recurse:
                subdirs.append(entry.path)
        pending.extend(reversed(subdirs))


def _list(root: Path, directory: Path) -> list[Entry]:
    with os.scandir(directory) as scan:
        found = sorted((e for e in scan if e.name not in SKIPPED_NAMES), key=lambda e: e.name)
    return [_classify(root, Path(e.path), e) for e in found]


def _classify(root: Path, path: Path, entry: os.DirEntry[str]) -> Entry:
    rel = relative(path, root)
    if entry.is_symlink():
        return Entry(rel, path, "symlink", resolve_link(root, path, rel))
    if entry.is_dir(follow_symlinks=False):
        return Entry(rel, path, "dir")
    if entry.is_file(follow_symlinks=False):
        return Entry(rel, path, "file")
    return Entry(rel, path, "other")


def is_regular_file(path: Path) -> bool:
    """Whether `path` (symlinks followed) is a regular file: never a FIFO, device or socket."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_bounded(path: Path, rel: str, max_bytes: int) -> bytes:
    """The bytes of regular file `path` (already resolved), refusing more than `max_bytes`."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise RenderError(f"{rel}: cannot read file: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RenderError(f"{rel}: not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RenderError(f"{rel}: file is larger than the limit of {max_bytes} bytes")
    return data
