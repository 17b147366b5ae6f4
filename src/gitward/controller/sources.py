"""Revisions and renders, shared by all Applications of one controller.

Called by the reconciler: `revision()` resolves an Application's targetRevision and fetches it (one
fetch per repository and revision, whatever the number of Applications, thanks to the Fetcher);
`render()` checks the commit out once per (repository, revision) and renders each (path, options)
once, caching the result, so a re-check with nothing changed costs no Git work and no parsing.

Chart sources (`source.chart`: `repoURL` is a Helm repository) take the other road: `revision()`
resolves `targetRevision` (a version or a semver range) in the repository's index, and the
"revision" is the chart version; `render()` downloads, verifies and unpacks that version once
(`sourcing.helmrepo`) and renders it.

OCI sources (`repoURL: oci://host/repo`, SPEC §12) resolve `targetRevision` (a tag, a semver range
or a digest) to a manifest digest, the "revision"; `render()` unpacks that artifact once per digest
(`sourcing.oci`) and renders `path` inside it. With `chart`, `oci://host/charts` is a chart registry:
the chart `oci://host/charts/<chart>` at the highest tag within the range, unpacked from its
digest-checked chart layer.

Charts, from Git or from a chart repository, are rendered for an Application (release name,
destination namespace) and for the destination cluster's capabilities (a provider called only for
charts); both are part of the render's cache key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gitward import rendering
from gitward.core.applications import Source
from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest
from gitward.sourcing import Credentials, Fetcher, Revision, helmrepo, oci

K = TypeVar("K")
V = TypeVar("V")

CapabilitiesProvider = Callable[[], Awaitable[rendering.Capabilities]]
"""What the destination cluster serves (`controller.capabilities.Discovery(client).get`)."""


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
        charts: helmrepo.ChartRepositories | None = None,
        capabilities: CapabilitiesProvider | None = None,
        registries: oci.Registries | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.registries = registries or oci.Registries(work_dir / "oci")
        self._artifacts: dict[tuple[str, str, str], oci.Artifact] = {}  # (repoURL, chart, digest)
        self.charts = charts or helmrepo.ChartRepositories(work_dir / "charts")
        self.capabilities = capabilities
        """Used for charts when `render()` is given no provider of its own."""
        self.work_dir = work_dir
        self.limits = limits
        self.allow_remote_bases = allow_remote_bases
        self.max_checkouts, self.max_renders = max_checkouts, max_renders
        self._checkouts: OrderedDict[tuple[str, str], Path] = OrderedDict()
        self._checkout_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._in_use: dict[Path, int] = {}  # checkouts a render is reading: never evicted meanwhile
        self._renders: OrderedDict[tuple[str, ...], list[rendering.Rendered]] = OrderedDict()
        self._render_locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._secrets: dict[tuple[str, ...], tuple[str, ...]] = {}  # values a cached SOPS render decrypted
        self.render_count = 0
        self._chart_versions: dict[tuple[str, str, str], helmrepo.ChartVersion] = {}
        self._is_chart: dict[tuple[str, str, str], bool] = {}
        self._targets: dict[tuple[str, str, str], str] = {}  # (repo, sha, options) → last target key
        work_dir.mkdir(parents=True, exist_ok=True)

    async def revision(self, source: Source, creds: Credentials | None, not_before: float | None = None) -> Revision:
        """Resolve and fetch; `not_before` (monotonic) demands an answer from Git no older than that."""
        if source.is_oci:
            return await self._oci_revision(source, creds, not_before)
        if source.chart:
            return await self._chart_revision(source, creds, not_before)
        return await self.fetcher.resolve_and_fetch(
            source.repo_url, source.target_revision, creds, not_before=not_before
        )

    async def render(
        self,
        source: Source,
        sha: str,
        creds: Credentials | None,
        *,
        app_name: str = "",
        namespace: str = "",
        capabilities: CapabilitiesProvider | None = None,
        inputs: rendering.Inputs | None = None,
        secrets_out: list[str] | None = None,
    ) -> list[Manifest]:
        """The objects `source` renders to at commit (or chart version) `sha` (cached; do not mutate).

        `app_name` is a chart's default release name and `namespace` its `.Release.Namespace`;
        `capabilities` (else the provider given at construction) is asked only for charts. `inputs`
        (what the render takes from the cluster) are part of the cache key by their fingerprint;
        the values a SOPS render decrypted are added to `secrets_out` (also on a cache hit).
        """
        target = await self._target(source, sha, creds, app_name, namespace, capabilities)
        key = self._key(source, sha, target, inputs)
        cached = self._renders.get(key)
        if cached is None:
            lock = self._render_locks.setdefault(key, asyncio.Lock())
            async with lock:
                cached = self._renders.get(key)
                if cached is None:
                    found: list[str] = []
                    root, source_in_root = await self._root(source, sha, creds)
                    self._in_use[root] = self._in_use.get(root, 0) + 1
                    try:
                        cached = await asyncio.to_thread(
                            rendering.render,
                            root,
                            source_in_root,
                            self.limits,
                            allow_remote_bases=self.allow_remote_bases,
                            target=target,
                            inputs=inputs,
                            secrets_out=found,
                        )
                    finally:
                        self._release(root)
                    self.render_count += 1
                    self._renders[key] = cached
                    self._secrets[key] = tuple(found)
                    while len(self._renders) > self.max_renders:
                        self._secrets.pop(self._renders.popitem(last=False)[0], None)
            self._render_locks.pop(key, None)
        self._renders.move_to_end(key)
        if secrets_out is not None:
            secrets_out.extend(self._secrets.get(key, ()))
        return [r.manifest for r in cached]

    def cached_render(self, source: Source, sha: str) -> list[Manifest] | None:
        """The last render of `source` at `sha`, if it is still cached (for whichever Application)."""
        base = (source.repo_url, sha, _options_key(source))
        target = self._targets.get(base)
        cached = self._renders.get((*base, str(self.allow_remote_bases), target)) if target is not None else None
        return None if cached is None else [r.manifest for r in cached]

    @contextlib.asynccontextmanager
    async def files(self, url: str, sha: str, creds: Credentials | None) -> AsyncIterator[Path]:
        """The checkout of `url` at `sha` (shared with renders; never evicted while the caller reads
        it): for the ApplicationSet git generators."""
        root = await self._checkout(url, sha, creds)
        self._in_use[root] = self._in_use.get(root, 0) + 1
        try:
            yield root
        finally:
            self._release(root)

    # ------------------------------------------------------------------ charts

    async def _chart_revision(self, source: Source, creds: Credentials | None, not_before: float | None) -> Revision:
        """The chart version `targetRevision` selects in the repository's index, as a Revision."""
        version = await self.charts.resolve(source.repo_url, source.chart, source.target_revision, creds, not_before)
        _remember(self._chart_versions, (source.repo_url, source.chart, version.version), version, self.max_renders)
        return Revision(
            sha=version.version,
            author="",
            author_email="",
            message=f"chart {version.name} {version.version}",
            committed_at=version.created,
            ref=f"chart:{version.name}",
        )

    # ------------------------------------------------------------------ OCI

    async def _oci_revision(self, source: Source, creds: Credentials | None, not_before: float | None) -> Revision:
        """The artifact (or chart) `targetRevision` selects, as a Revision whose sha is its digest."""
        artifact = await self.registries.resolve(
            _oci_url(source), source.target_revision, creds, insecure=source.insecure, not_before=not_before
        )
        _remember(self._artifacts, (source.repo_url, source.chart, artifact.digest), artifact, self.max_renders)
        notes = artifact.annotations
        origin = notes.get("org.opencontainers.image.source", "")
        origin_revision = notes.get("org.opencontainers.image.revision", "")
        what = f"chart {source.chart} {artifact.tag}" if source.chart else f"{artifact.ref.name}:{artifact.tag or '-'}"
        built_from = f" from {origin}@{origin_revision}" if origin or origin_revision else ""
        return Revision(
            sha=artifact.digest,
            author=notes.get("org.opencontainers.image.authors", ""),
            author_email="",
            message=f"{what}{built_from}"[:1024],
            committed_at=notes.get("org.opencontainers.image.created", ""),
            ref=f"oci:{artifact.tag}",
        )

    async def _oci_root(self, source: Source, digest: str, creds: Credentials | None) -> Path:
        """The unpacked artifact (or chart directory) at `digest`, pulled once."""
        artifact = self._artifacts.get((source.repo_url, source.chart, digest))
        if artifact is None:  # e.g. the digest came from the status of an earlier controller
            artifact = await self.registries.resolve(_oci_url(source), digest, creds, insecure=source.insecure)
        if source.chart:
            return await self.registries.chart(artifact, source.chart, creds, insecure=source.insecure)
        return await self.registries.fetch(artifact, creds, insecure=source.insecure)

    async def _root(self, source: Source, sha: str, creds: Credentials | None) -> tuple[Path, Source]:
        """Where to render `source` from: the Git checkout, the artifact, or the unpacked chart (path ".")."""
        if source.is_oci:
            root = await self._oci_root(source, sha, creds)
            return root, source.model_copy(update={"path": "."}) if source.chart else source
        if not source.chart:
            return await self._checkout(source.repo_url, sha, creds), source
        version = self._chart_versions.get((source.repo_url, source.chart, sha))
        if version is None:  # e.g. the version came from the status of an earlier controller
            version = await self.charts.resolve(source.repo_url, source.chart, sha, creds)
        return await self.charts.fetch(version, creds), source.model_copy(update={"path": "."})

    async def _target(
        self,
        source: Source,
        sha: str,
        creds: Credentials | None,
        app_name: str,
        namespace: str,
        capabilities: CapabilitiesProvider | None,
    ) -> rendering.Target | None:
        """The chart's release context, or None when `source` is not a chart (nothing to ask)."""
        if not await self._renders_chart(source, sha, creds):
            return None
        provider = capabilities or self.capabilities
        found = await provider() if provider is not None else rendering.Capabilities()
        return rendering.Target(app_name, namespace, found)

    async def _renders_chart(self, source: Source, sha: str, creds: Credentials | None) -> bool:
        """Whether `source` at `sha` is a chart: asked for, or a Chart.yaml at its path (remembered)."""
        if source.chart or source.helm is not None:
            return True
        key = (source.repo_url, sha, source.path)
        if key not in self._is_chart:
            root = await (
                self._oci_root(source, sha, creds) if source.is_oci else self._checkout(source.repo_url, sha, creds)
            )
            _remember(self._is_chart, key, _has_chart(root, source.path), self.max_renders)
        return self._is_chart.get(key, False)

    def _key(
        self, source: Source, sha: str, target: rendering.Target | None, inputs: rendering.Inputs | None = None
    ) -> tuple[str, ...]:
        base = (source.repo_url, sha, _options_key(source))
        target_key = "" if target is None else _target_key(target)
        if inputs is not None and inputs != rendering.Inputs():
            target_key += "|inputs:" + inputs.fingerprint()
        _remember(self._targets, base, target_key, self.max_renders)
        return (*base, str(self.allow_remote_bases), target_key)

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
                self._evict(keep=key)
        return self._checkouts[key]

    def _evict(self, keep: tuple[str, str] | None = None) -> None:
        """Drop the least recently used checkouts beyond `max_checkouts`, but none a render reads
        (nor `keep`, the one just made)."""
        idle = [k for k, path in self._checkouts.items() if k != keep and not self._in_use.get(path)]
        while len(self._checkouts) > self.max_checkouts and idle:
            path = self._checkouts.pop(idle.pop(0))
            shutil.rmtree(path.parent, ignore_errors=True)

    def _release(self, root: Path) -> None:
        left = self._in_use.get(root, 1) - 1
        if left > 0:
            self._in_use[root] = left
        else:
            self._in_use.pop(root, None)
            self._evict()

    def close(self) -> None:
        for path in self._checkouts.values():
            shutil.rmtree(path.parent, ignore_errors=True)
        self._checkouts.clear()


def _remember(memory: dict[K, V], key: K, value: V, limit: int) -> None:
    """Store `key` in a small memory of facts about revisions, forgetting the oldest beyond `limit`."""
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > limit:
        del memory[next(iter(memory))]


def _oci_url(source: Source) -> str:
    """The artifact's repository: `repoURL` itself, or `repoURL/<chart>` for a chart registry."""
    return f"{source.repo_url.rstrip('/')}/{source.chart}" if source.chart else source.repo_url


def _has_chart(root: Path, path: str) -> bool:
    try:
        return rendering.has_chart(root, path)
    except RenderError:
        return False  # the render reports the bad path


def _target_key(target: rendering.Target) -> str:
    return json.dumps([target.app_name, target.namespace, target.capabilities.fingerprint()])


def _options_key(source: Source) -> str:
    return json.dumps(
        source.model_dump(include={"path", "directory", "kustomize", "helm", "chart"}, by_alias=True),
        sort_keys=True,
        default=str,
    )
