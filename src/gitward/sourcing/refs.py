"""Revisions and remote refs, as pure data.

Used by the `Fetcher` (gitward.sourcing.git): `check_revision` validates `spec.source.targetRevision`
before it reaches git, `parse_ls_remote` reads `git ls-remote --symref` output, and `pick` chooses the
commit a revision names (a branch wins over a tag of the same name, as in Argo CD; annotated tags are
peeled to their commit). No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gitward.core.errors import SourceError

__all__ = ["RemoteRefs", "check_revision", "is_full_sha", "parse_ls_remote", "pick"]

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


@dataclass(frozen=True)
class RemoteRefs:
    """Refs advertised by a remote: name → commit (peeled), and what HEAD points to."""

    refs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    head_target: str = ""


def is_full_sha(revision: str) -> bool:
    return bool(_FULL_SHA.match(revision))


def check_revision(revision: str) -> str:
    """Return the revision to use (`HEAD` when empty); raise SourceError if git could misread it."""
    revision = revision.strip() or "HEAD"
    if revision == "HEAD" or is_full_sha(revision.lower()):
        return revision if revision == "HEAD" else revision.lower()
    bad = (
        revision.startswith(("-", "/", "."))
        or revision.endswith(("/", ".", ".lock"))
        or _FORBIDDEN.search(revision) is not None
        or len(revision) > 255
    )
    if bad:
        raise SourceError(
            f"targetRevision {revision[:80]!r}: not a valid branch, tag or commit SHA", reason="InvalidRevision"
        )
    return revision


def parse_ls_remote(output: str) -> RemoteRefs:
    """Read `git ls-remote --symref` output; peeled tag lines (`^{}`) replace the tag object id."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    head_target = ""
    for line in output.splitlines():
        left, _, name = line.partition("\t")
        if left.startswith("ref: ") and name == "HEAD":
            head_target = left.removeprefix("ref: ")
        elif name.endswith("^{}"):
            peeled[name.removesuffix("^{}")] = left
        elif is_full_sha(left):
            refs[name] = left
    refs.update({name: sha for name, sha in peeled.items() if name in refs})
    return RemoteRefs(refs=MappingProxyType(refs), head_target=head_target)


def pick(remote: RemoteRefs, revision: str) -> tuple[str, str] | None:
    """The (commit sha, full ref name) `revision` names on the remote, or None."""
    if revision.startswith("refs/") or revision == "HEAD":
        candidates = [revision]
    else:
        candidates = [f"refs/heads/{revision}", f"refs/tags/{revision}"]
    for ref in candidates:
        sha = remote.refs.get(ref)
        if sha is not None:
            return sha, ref
    return None
