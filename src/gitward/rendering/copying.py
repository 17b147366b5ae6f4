"""The private copy of a checkout that kustomize runs on.

Called by `kustomize` before it starts `kubectl kustomize`. The copy holds the whole checkout (so
`../base` references elsewhere in the repository still work) minus `.git`. Symlinks are checked
before anything is copied and recreated as relative links inside the copy; one that leads outside
the checkout refuses the whole render, so kustomize can never follow a link out of the repository.
FIFOs, sockets and devices are left out; file count and total size are bounded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gitward.core.errors import RenderError
from gitward.rendering import paths
from gitward.rendering.limits import Limits


def copy_checkout(root: Path, dest: Path, limits: Limits) -> None:
    """Copy resolved checkout `root` into the new directory `dest`."""
    entries = list(paths.walk(root, root))  # every symlink is checked before the first copy
    _check_size([e for e in entries if e.kind == "file"], limits)
    dest.mkdir()
    for entry in entries:
        _copy_entry(root, dest, entry)


def _check_size(files: list[paths.Entry], limits: Limits) -> None:
    if len(files) > limits.max_files:
        raise RenderError(f".: the repository has more than {limits.max_files} files")
    total = 0
    for file in files:
        total += file.path.lstat().st_size
        if total > limits.max_total_bytes:
            raise RenderError(f"{file.rel}: the repository exceeds the size limit of {limits.max_total_bytes} bytes")


def _copy_entry(root: Path, dest: Path, entry: paths.Entry) -> None:
    """Recreate one entry under `dest`: directories, regular files and (checked) symlinks."""
    target = dest / entry.rel
    if entry.kind == "dir":
        target.mkdir()
    elif entry.kind == "file":
        shutil.copyfile(entry.path, target, follow_symlinks=False)
    elif entry.kind == "symlink" and entry.target is not None:
        mirrored = dest / paths.relative(entry.target, root)
        os.symlink(os.path.relpath(mirrored, target.parent), target)
