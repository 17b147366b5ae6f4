"""The directory engine: plain manifest files under the source path (the default source type).

Called by `engines.render` when the path holds no kustomization. Picks `.yaml`, `.yml` and `.json`
files (recursively unless `recurse: false`) that match `include` and not `exclude`, in sorted path
order, and loads each through `documents`. Files reached through symlinks are read only when the
link resolves inside the checkout (`paths.walk` refuses the others); file count and sizes are bounded.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from gitward.core.applications import DirectorySource
from gitward.core.errors import RenderError
from gitward.rendering import documents, globs, parsecache, paths, scanning
from gitward.rendering.limits import Limits

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class _File:
    rel: str
    """Repo-relative path, as messages and `Rendered.file` name it."""
    real: Path
    """Resolved path to read (the target, for a symlink)."""


def render(
    root: Path, base: Path, options: DirectorySource, limits: Limits, *, cache: bool = True
) -> list[documents.Rendered]:
    """The objects in the manifest files under `base` (resolved, inside the resolved `root`);
    `cache=False` (decrypted files) parses without the process-wide parse cache."""
    files = select(root, base, options, limits)
    budget = scanning.Budget(limits.max_total_bytes)
    read = 0
    rendered: list[documents.Rendered] = []
    for file in files:
        data = paths.read_bounded(file.real, file.rel, limits.max_file_bytes)
        read += len(data)
        if read > limits.max_total_bytes:
            raise RenderError(f"{file.rel}: manifests exceed the total size limit of {limits.max_total_bytes} bytes")
        is_json = file.rel.lower().endswith(".json")
        if cache:
            rendered.extend(parsecache.load(data, file.rel, limits, budget, is_json, _parse))
        else:
            rendered.extend(_parse(data, file.rel, limits, budget, is_json))
    return rendered


def _parse(data: bytes, label: str, limits: Limits, budget: scanning.Budget, is_json: bool) -> list[documents.Rendered]:
    return documents.load(data, label, limits, budget, is_json=is_json)


def select(root: Path, base: Path, options: DirectorySource, limits: Limits) -> list[_File]:
    """The manifest files to read, sorted by path; refuses more than `limits.max_files`."""
    include, exclude = globs.Matcher(options.include), globs.Matcher(options.exclude)
    base_rel = paths.relative(base, root)
    selected: list[_File] = []
    for entry in paths.walk(root, base, recurse=options.recurse):
        file = _manifest(entry)
        if file is None:
            continue
        under_base = posixpath.relpath(file.rel, base_rel)
        if (include and not include.matches(under_base)) or (exclude and exclude.matches(under_base)):
            continue
        selected.append(file)
        if len(selected) > limits.max_files:
            raise RenderError(f"{base_rel}: more than {limits.max_files} manifest files")
    return sorted(selected, key=lambda f: f.rel)


def _manifest(entry: paths.Entry) -> _File | None:
    """The file to read for a walked entry, if it is a manifest; a broken manifest link raises."""
    if not entry.rel.lower().endswith(MANIFEST_SUFFIXES):
        return None
    if entry.kind == "file":
        return _File(entry.rel, entry.path)
    if entry.kind == "symlink" and entry.target is not None:
        if entry.target.is_dir():
            return None
        if not paths.is_regular_file(entry.target):
            raise RenderError(f"{entry.rel}: symlink does not lead to a regular file")
        return _File(entry.rel, entry.target)
    return None
