"""Reading kustomization files: where they are, and whether their references are acceptable.

Called by `engines` (is this path a kustomization?) and by `kustomize` before it runs kubectl.
`check_references` follows the kustomizations reachable from the source path through `resources`,
`bases`, `components`, `generators`, `transformers` and `validators`, and refuses entries that leave
the repository or, unless remote bases are allowed, point at a remote Git repository or URL.
File references (generator files, patches) are left to kustomize's own root-only load restrictor.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from gitward.core.errors import RenderError
from gitward.rendering import documents, paths, scanning
from gitward.rendering.limits import Limits

FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
_REMOTE_MARKERS = ("://", "github.com/", "git::", "?ref=", "&ref=")
_REMOTE_PREFIXES = ("git@", "gh:", "ssh:")


def find(directory: Path) -> Path | None:
    """The kustomization file in `directory`, if there is one."""
    for name in FILE_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def looks_remote(entry: str) -> bool:
    """Whether a reference names a remote repository or URL rather than a path in the checkout."""
    text = entry.strip().lower()
    return text.startswith(_REMOTE_PREFIXES) or any(marker in text for marker in _REMOTE_MARKERS)


def check_references(root: Path, start: str, limits: Limits, *, allow_remote: bool) -> set[str]:
    """Walk kustomizations from repo path `start` (in resolved `root`), refusing bad references;
    the repo paths of every directory reached (`start` included)."""
    pending, seen = [start], set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue  # a cycle: kustomize reports it with the full chain
        seen.add(directory)
        pending.extend(_local_bases(root, directory, limits, allow_remote=allow_remote))
    return seen


def _local_bases(root: Path, directory: str, limits: Limits, *, allow_remote: bool) -> list[str]:
    """The repo paths of the directories one kustomization references, after checking every entry."""
    found_file = find(paths.resolve_inside(root, directory))
    if found_file is None:
        return []
    rel = posixpath.join(directory, found_file.name) if directory != "." else found_file.name
    found = []
    for field, entry in _references(_read(paths.resolve_inside(root, rel), rel, limits)):
        if looks_remote(entry):
            if allow_remote:
                continue
            raise RenderError(f"{rel}: remote {field} entry {entry!r} refused: remote bases are not allowed")
        target = _inside(entry, directory, rel, field)
        if paths.resolve_inside(root, target).is_dir():
            found.append(target)
    return found


def _inside(entry: str, directory: str, rel: str, field: str) -> str:
    try:
        return paths.normalize(entry, base=directory)
    except RenderError:
        raise RenderError(f"{rel}: {field} entry {entry!r} leads outside the repository") from None


def _read(file: Path, rel: str, limits: Limits) -> Any:
    data = paths.read_bounded(file, rel, limits.max_file_bytes)
    text = documents.decode(data, rel)
    parsed = documents.parse_yaml(text, rel, limits, scanning.Budget(limits.max_file_bytes))
    return parsed[0][1] if parsed else None


def _references(kustomization: Any) -> list[tuple[str, str]]:
    """(field, entry) for every one-line string entry of the reference fields."""
    if not isinstance(kustomization, dict):
        return []  # kustomize explains what is wrong with it
    found = []
    for field in REFERENCE_FIELDS:
        entries = kustomization.get(field)
        if isinstance(entries, list):
            found += [(field, e) for e in entries if isinstance(e, str) and "\n" not in e]
    return found


def relative_file(root: Path, directory: Path) -> str:
    """Repo path of the kustomization file in resolved `directory`, for messages."""
    file = find(directory)
    return paths.relative(file, root) if file else posixpath.join(paths.relative(directory, root), FILE_NAMES[0])
