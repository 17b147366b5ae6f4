"""Revisions and renders, shared by all Applications of one controller.

Called by the reconciler: `revision()` resolves an Application's targetRevision and fetches it (one
fetch per repository and revision, whatever the number of Applications, thanks to the Fetcher);
`render()` checks the commit out once per (repository, revision) and renders each (path, options)
once, caching the result, so a re-check with nothing changed costs no Git work and no parsing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

from gitward import rendering
from gitward.core.applications import Source
from gitward.core.manifests import Manifest
from gitward.sourcing import Credentials, Fetcher, Revision


class Sources:
    def __init__(
        self,
        fetcher: Fetcher,
        work_dir: Path,
        *,
        limits: rendering.Limits = rendering.DEFAULT_LIMITS,
        allow_remote_bases: bool = False,
        max_checkouts: int = 8,
        max_renders: int = 4096,
    ) -> None:
        self.fetcher = fetcher
        self.work_dir = work_dir
        self.limits = limits
        self.allow_remote_bases = allow_remote_bases
        self.max_checkouts, self.max_renders = max_checkouts, max_renders
        self._checkouts: OrderedDict[tuple[str, str], Path] = OrderedDict()
        self._checkout_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._renders: OrderedDict[tuple[str, ...], list[rendering.Rendered]] = OrderedDict()
        self._render_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.render_count = 0
        work_dir.mkdir(parents=True, exist_ok=True)

    async def revision(self, source: Source, creds: Credentials | None, not_before: float | None = None) -> Revision:
        """Resolve and fetch; `not_before` (monotonic) demands an answer from Git no older than that."""
        return await self.fetcher.resolve_and_fetch(
            source.repo_url, source.target_revision, creds, not_before=not_before
        )

    async def render(self, source: Source, sha: str, creds: Credentials | None) -> list[Manifest]:
        """The objects `source` renders to at commit `sha` (cached; callers must not mutate them)."""
        key = (source.repo_url, sha, _options_key(source), str(self.allow_remote_bases))
        cached = self._renders.get(key)
        if cached is None:
            lock = self._render_locks.setdefault(key, asyncio.Lock())
            async with lock:
                cached = self._renders.get(key)
                if cached is None:
                    root = await self._checkout(source.repo_url, sha, creds)
                    cached = await asyncio.to_thread(
                        rendering.render, root, source, self.limits, allow_remote_bases=self.allow_remote_bases
                    )
                    self.render_count += 1
                    self._renders[key] = cached
                    while len(self._renders) > self.max_renders:
                        self._renders.popitem(last=False)
            self._render_locks.pop(key, None)
        self._renders.move_to_end(key)
        return [r.manifest for r in cached]

    def cached_render(self, source: Source, sha: str) -> list[Manifest] | None:
        key = (source.repo_url, sha, _options_key(source), str(self.allow_remote_bases))
        cached = self._renders.get(key)
        return None if cached is None else [r.manifest for r in cached]

    async def _checkout(self, url: str, sha: str, creds: Credentials | None) -> Path:
        key = (url, sha)
        if key in self._checkouts:
            self._checkouts.move_to_end(key)
            return self._checkouts[key]
        lock = self._checkout_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._checkouts:
                dest = Path(tempfile.mkdtemp(prefix="checkout-", dir=self.work_dir)) / "tree"
                try:
                    await self.fetcher.checkout(url, sha, dest, creds)
                except BaseException:
                    shutil.rmtree(dest.parent, ignore_errors=True)
                    raise
                self._checkouts[key] = dest
                while len(self._checkouts) > self.max_checkouts:
                    _, old = self._checkouts.popitem(last=False)
                    shutil.rmtree(old.parent, ignore_errors=True)
        return self._checkouts[key]

    def close(self) -> None:
        for path in self._checkouts.values():
            shutil.rmtree(path.parent, ignore_errors=True)
        self._checkouts.clear()


def _options_key(source: Source) -> str:
    return json.dumps(
        source.model_dump(include={"path", "directory", "kustomize", "helm", "chart"}, by_alias=True),
        sort_keys=True,
        default=str,
    )
