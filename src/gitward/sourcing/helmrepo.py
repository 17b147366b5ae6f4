"""Helm chart repositories over HTTP(S): read a chart's versions from `index.yaml`, fetch, verify, unpack.

Called by the controller's `Sources` for Applications with `source.chart`: `resolve()` reads the repository's index
(shared by all Applications for a few seconds, like `git ls-remote`) and picks the highest version matching
`targetRevision` (parsing and choosing: `gitward.sourcing.chartversions`); `fetch()` downloads that archive once
per version, checks its sha256 against the index digest and unpacks it into the cache, where rendering finds
`<chart>/Chart.yaml`. `unpack` is also called by `gitward.sourcing.oci` for charts stored in OCI registries.

A chart repository is hostile input, like a Git repository (SPEC §6):
- bodies are streamed and refused once they pass a byte cap, before anything is parsed;
- the index is read under limits (`chartversions.parse_index`);
- archives are checked against the index's sha256 digest and unpacked from a capped gzip stream with tarfile's
  "data" filter (regular files and directories, one top directory, nothing leaving it, bounded count and sizes).
Credentials (`secretRef`: basic or bearer) go only to the repository's own origin. Errors name the redacted URL.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, cast
from urllib.parse import urljoin, urlsplit

import httpx2

from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.sourcing.chartversions import ChartVersion, RepoLimits, check_chart_name, parse_index, pick
from gitward.sourcing.credentials import Credentials, authorization_header
from gitward.sourcing.urls import parse as parse_url

__all__ = ["ChartRepositories", "ChartVersion", "RepoLimits", "unpack"]  # ChartVersion, RepoLimits: of its API

DEFAULT_LIMITS = RepoLimits()


# ---------------------------------------------------------------- URLs


def check_repo_url(repo_url: str) -> None:
    """An http(s) URL held to the repoURL grammar (`sourcing.urls.parse`): no password, no `..`, `.`
    or encoded `/` that httpx would resolve to another repository than the Project allowed."""
    if urlsplit(repo_url).scheme.lower() not in ("http", "https"):
        shown = redact(repo_url)
        raise SourceError(f"{shown}: only http and https chart repositories are supported", reason="InvalidRepoURL")
    parse_url(repo_url)


def index_url(repo_url: str) -> str:
    base = repo_url.rstrip("/")
    return base if base.endswith(("/index.yaml", "/index.json")) else f"{base}/index.yaml"


def archive_url(repo_url: str, url: str) -> str:
    base = index_url(repo_url).rsplit("/", 1)[0] + "/"
    return urljoin(base, url)


# ---------------------------------------------------------------- archives


class _Capped:
    """A readable stream that fails once more than `limit` bytes came out of it (gzip bombs)."""

    def __init__(self, raw: gzip.GzipFile, limit: int, label: str) -> None:
        self.raw, self.left, self.label = raw, limit, label

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise SourceError(
                f"{self.label}: the chart archive unpacks to more than the size limit", reason="InvalidChart"
            )
        return data


def unpack(archive: Path, dest: Path, chart: str, limits: RepoLimits) -> Path:
    """Unpack chart archive `archive` into the new directory `dest`; the chart's directory in it."""
    label = f"{chart} archive"
    dest.mkdir(parents=True)
    try:
        with gzip.open(archive, "rb") as raw:
            stream = cast(IO[bytes], _Capped(raw, limits.max_unpacked_bytes, label))
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                top = _extract(tar, dest, label, limits)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SourceError(f"{label}: not a valid chart archive: {type(exc).__name__}", reason="InvalidChart") from None
    if top is None or not (dest / top / "Chart.yaml").is_file():
        raise SourceError(f"{label}: no Chart.yaml in the chart archive", reason="InvalidChart")
    return dest / top


def _extract(tar: tarfile.TarFile, dest: Path, label: str, limits: RepoLimits) -> str | None:
    """Extract member by member (a stream: nothing is listed first); the one top directory's name."""
    top: str | None = None
    for count, member in enumerate(tar, start=1):
        first = _check_member(member, label, count, limits)
        top = top or first
        if first != top:
            raise SourceError(f"{label}: {member.name}: a chart archive holds one top directory", reason="InvalidChart")
        tar.extract(member, dest, filter="data")
    return top


def _check_member(member: tarfile.TarInfo, label: str, count: int, limits: RepoLimits) -> str:
    if count > limits.max_files:
        raise SourceError(f"{label}: more than {limits.max_files} files in the chart archive", reason="InvalidChart")
    name = posixpath.normpath(member.name)
    if not (member.isreg() or member.isdir()):
        raise SourceError(
            f"{label}: {member.name}: only files and directories may be in a chart archive", reason="InvalidChart"
        )
    if name.startswith(("/", "..")) or name == ".":
        raise SourceError(f"{label}: {member.name}: path leads outside the chart", reason="InvalidChart")
    return name.split("/", 1)[0]


# ---------------------------------------------------------------- the client


class ChartRepositories:
    """Index look-ups (briefly shared) and verified, unpacked archives (cached per version on disk)."""

    def __init__(self, cache_dir: Path, limits: RepoLimits = DEFAULT_LIMITS) -> None:
        self.cache_dir, self.limits = cache_dir, limits
        self._indexes: dict[tuple[str, str, str], tuple[float, list[ChartVersion]]] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self.index_fetches = 0

    async def resolve(
        self, repo_url: str, chart: str, constraint: str, creds: Credentials | None, not_before: float | None = None
    ) -> ChartVersion:
        """The version of `chart` that `constraint` selects in the repository's index right now."""
        versions = await self.versions(repo_url, chart, creds, not_before)
        label = f"{chart} ({redact(repo_url)})"
        if not versions:
            raise SourceError(f"{label}: the repository index lists no chart {chart!r}", reason="RevisionNotFound")
        try:
            found = pick(versions, constraint)
        except ValueError as exc:
            raise SourceError(f"{label}: {exc}", reason="RevisionNotFound") from None
        if found is None:
            raise SourceError(f"{label}: no version matches {constraint!r}", reason="RevisionNotFound")
        return found

    async def versions(
        self, repo_url: str, chart: str, creds: Credentials | None, not_before: float | None = None
    ) -> list[ChartVersion]:
        check_repo_url(repo_url)
        check_chart_name(chart, repo_url)
        key = (repo_url, chart, (creds or Credentials()).identity())
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._indexes.get(key)
            now = time.monotonic()
            if (
                cached
                and now - cached[0] < self.limits.index_ttl_seconds
                and (not_before is None or cached[0] >= not_before)
            ):
                return cached[1]
            data = await self._download(index_url(repo_url), repo_url, creds, self.limits.max_index_bytes, None)
            self.index_fetches += 1
            versions = await asyncio.to_thread(parse_index, data, repo_url, chart, self.limits)
            self._indexes[key] = (now, versions)
            return versions

    async def fetch(self, version: ChartVersion, creds: Credentials | None) -> Path:
        """The unpacked chart directory of `version`, downloaded and verified once."""
        check_chart_name(version.name, version.repo_url)
        label = f"{version.name} {version.version}"
        if not version.digest:
            raise SourceError(
                f"{label}: the repository index gives no sha256 digest to verify the chart", reason="InvalidIndex"
            )
        repo_key = hashlib.sha256(version.repo_url.encode()).hexdigest()[:16]
        home = self.cache_dir / repo_key / f"{_safe(version.name)}-{_safe(version.version)}-{version.digest[:16]}"
        async with self._locks.setdefault((str(home),), asyncio.Lock()):
            if (home / "chart").is_dir():
                return _chart_dir(home / "chart")
            url = archive_url(version.repo_url, version.urls[0])
            data = await self._download(url, version.repo_url, creds, self.limits.max_archive_bytes, version.digest)
            return await asyncio.to_thread(self._store, data, home, version.name)

    def _store(self, data: bytes, home: Path, chart: str) -> Path:
        home.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home.parent))
        try:
            (staging / "chart.tgz").write_bytes(data)
            unpack(staging / "chart.tgz", staging / "chart", chart, self.limits)
            (staging / "chart.tgz").unlink()
            os.replace(staging, home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _chart_dir(home / "chart")

    async def _download(
        self, url: str, repo_url: str, creds: Credentials | None, cap: int, digest: str | None
    ) -> bytes:
        shown = redact(url)
        secrets = creds.secrets() if creds else ()
        if urlsplit(url).scheme not in ("http", "https"):
            raise SourceError(f"{shown}: only http and https chart repositories are supported")
        headers = _auth(creds) if _same_origin(url, repo_url) else {}
        client = httpx2.AsyncClient(timeout=self.limits.timeout_seconds, follow_redirects=True)
        try:
            async with client, client.stream("GET", url, headers=headers) as response:
                _check_status(response.status_code, shown)
                data = await _read_capped(response, cap, shown)
        except httpx2.HTTPError as exc:
            message = f"{shown}: cannot reach the chart repository: {type(exc).__name__}"
            raise SourceError(redact(message, secrets)) from None
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise SourceError(f"{shown}: the archive's sha256 does not match the index digest", reason="DigestMismatch")
        return data


def _check_status(code: int, shown: str) -> None:
    if code in (401, 403):
        raise SourceError(f"{shown}: authentication failed (HTTP {code})", reason="AuthenticationFailed")
    if code != 200:
        raise SourceError(f"{shown}: HTTP {code}", reason="FetchFailed")


async def _read_capped(response: httpx2.Response, cap: int, shown: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise SourceError(f"{shown}: larger than the limit of {cap} bytes", reason="TooLarge")
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise SourceError(f"{shown}: larger than the limit of {cap} bytes", reason="TooLarge")
        chunks.append(chunk)
    return b"".join(chunks)


def _auth(creds: Credentials | None) -> dict[str, str]:
    if creds is None or creds.kind not in ("basic", "bearer"):
        return {}
    if creds.kind == "bearer":
        return {"Authorization": authorization_header(creds)}
    pair = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


def _same_origin(url: str, repo_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(repo_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)[:100]


def _chart_dir(unpacked: Path) -> Path:
    return next(p for p in unpacked.iterdir() if p.is_dir())
