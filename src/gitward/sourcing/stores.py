"""The Fetcher's data: resolved revisions and the cache repositories they live in.

Used by gitward.sourcing.git. A `Store` is one bare cache repository on disk (per normalised repoURL
and credential identity) with what the Fetcher knows it holds; a `RepoHandle` is one exact URL plus
credentials, backed by a shared Store (URL variants of one repository share its objects). No I/O.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from gitward.sourcing.credentials import Credentials
from gitward.sourcing.urls import RepoURL

__all__ = ["RepoHandle", "Revision", "Store", "digest", "tree_stats"]

MAX_AUTHOR = 256
"""Characters of a commit's author name or e-mail kept."""
MAX_MESSAGE = 8192
"""Characters of a commit message kept (the status shows the first 1,024)."""


@dataclass(frozen=True)
class Revision:
    """A resolved, fetched commit. `ref` is the full ref name that was resolved ("" for a SHA)."""

    sha: str
    author: str
    author_email: str
    message: str
    committed_at: str
    ref: str

    def __post_init__(self) -> None:
        # the repository wrote these: bounded once here, for the status, events and notifications
        object.__setattr__(self, "author", self.author[:MAX_AUTHOR])
        object.__setattr__(self, "author_email", self.author_email[:MAX_AUTHOR])
        object.__setattr__(self, "message", self.message[:MAX_MESSAGE])


@dataclass
class Store:
    """One cache repository on disk (per normalised URL and credential identity) and what it holds."""

    key: str
    path: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    present: set[str] = field(default_factory=set)
    commits: dict[str, Revision] = field(default_factory=dict)


@dataclass(frozen=True)
class RepoHandle:
    """One exact URL with its credentials; URL variants of one repository share a store."""

    key: str
    url: RepoURL
    creds: Credentials
    store: Store

    @property
    def subject(self) -> str:
        return self.url.display()

    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def present(self) -> set[str]:
        return self.store.present


def digest(*parts: str) -> str:
    """A short hex digest of `parts` (cache keys and directory names)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def tree_stats(listing: bytes) -> tuple[int, int]:
    """(entries, bytes) of a `git ls-tree -r -l -z` listing."""
    files = size = 0
    for entry in listing.split(b"\0"):
        meta, _, _path = entry.partition(b"\t")
        parts = meta.split()
        if len(parts) == 4:
            files += 1
            size += int(parts[3]) if parts[3].isdigit() else 0
    return files, size
