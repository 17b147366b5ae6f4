"""Helm chart repositories over HTTP(S): resolve a chart version from `index.yaml`, fetch, verify, unpack.

Called by the controller's `Sources` for Applications with `source.chart`: `resolve()` reads the repository's index
(shared by all Applications for a few seconds, like `git ls-remote`) and picks the highest version matching
`targetRevision` (an exact version or a semver range such as `^1.2`, `~1.2.0`, `>=1 <2`, `1.x`; empty or HEAD = the
latest stable version); `fetch()` downloads that archive once per version, checks its sha256 against the index
digest and unpacks it into the cache, where rendering finds `<chart>/Chart.yaml`.

A chart repository is hostile input, like a Git repository (SPEC §6):
- bodies are streamed and refused once they pass a byte cap, before anything is parsed;
- the index is read as a YAML event stream: only the wanted chart's entries are built, anchors and aliases are
  refused, nesting and the number of versions are capped;
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urljoin, urlsplit

import httpx2
import yaml

from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.sourcing.credentials import Credentials, authorization_header

__all__ = [
    "ChartRepositories", "ChartVersion", "RepoLimits", "check_chart_name", "matches", "parse_index", "pick", "unpack",
]  # fmt: skip

MiB = 1024 * 1024
_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_LATEST = frozenset({"", "HEAD", "*", "latest"})
_CHART_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.(?!\.))*")
"""A chart name: one path segment, no `..`, never `-…` (it names a cache directory and index entries)."""
_VERSION_TEXT = re.compile(r"[0-9A-Za-z_+](?:[0-9A-Za-z_+-]|\.(?!\.))*")
"""What a listed version may look like at all (it becomes a status revision and part of a cache path)."""


@dataclass(frozen=True, slots=True)
class RepoLimits:
    max_index_bytes: int = 64 * MiB
    max_versions: int = 10_000
    """Entries of the wanted chart in one index."""
    max_index_depth: int = 12
    max_archive_bytes: int = 16 * MiB
    max_unpacked_bytes: int = 64 * MiB
    max_files: int = 5_000
    timeout_seconds: float = 30.0
    index_ttl_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class ChartVersion:
    """One version of a chart as the index lists it."""

    repo_url: str
    name: str
    version: str
    digest: str
    """sha256 of the archive, lowercase hex."""
    urls: tuple[str, ...]
    created: str = ""


# ---------------------------------------------------------------- versions and ranges


@dataclass(frozen=True, slots=True, order=True)
class _Version:
    major: int
    minor: int
    patch: int
    release: int  # 1 for a release, 0 for a pre-release (which sorts first)
    pre: tuple[tuple[int, int, str], ...] = ()


_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_BOUND = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_COMPARATOR = re.compile(r"(!=|>=|=>|<=|=<|~>|[=<>~^])?\s*(v?[0-9xX*][0-9A-Za-z.+*-]*)")
_HYPHEN = re.compile(r"(\S+)\s+-\s+(\S+)")


def _pre_key(pre: str | None) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()


def parse_version(text: str) -> _Version | None:
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return _Version(int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, _pre_key(pre))


def _comparator(op: str, bound: str) -> tuple[Callable[[_Version], bool], bool]:
    """A predicate for `op bound` and whether the bound names a pre-release."""
    match = _BOUND.match(bound)
    if match is None:
        raise ValueError(f"invalid version {bound!r}")
    parts = [None if p is None or p in "xX*" else int(p) for p in match.groups()[:3]]
    fixed = next((i for i, p in enumerate(parts) if p is None), 3)
    nums = [p or 0 for p in parts[:fixed]] + [0] * (3 - fixed)
    pre = match.group(4)
    low = _Version(nums[0], nums[1], nums[2], 0 if pre else 1, _pre_key(pre))
    bump = {0: None, 1: (nums[0] + 1, 0, 0), 2: (nums[0], nums[1] + 1, 0), 3: None}[fixed]
    upper = _Version(*bump, 0, ()) if bump else None
    exact = fixed == 3

    def within(v: _Version) -> bool:
        return v == low if exact else (fixed == 0 or (low <= v and (upper is None or v < upper)))

    if op in ("", "="):
        return within, bool(pre)
    if op == "!=":
        return (lambda v: not within(v)), bool(pre)
    if op == ">":
        return (lambda v: v > low) if exact or upper is None else (lambda v: v >= upper), bool(pre)
    if op in (">=", "=>"):
        return (lambda v: v >= low), bool(pre)
    if op == "<":
        return (lambda v: v < low), bool(pre)
    if op in ("<=", "=<"):
        return (lambda v: v <= low) if exact or upper is None else (lambda v: v < upper), bool(pre)
    if op in ("~", "~>"):
        top = _Version(nums[0] + 1, 0, 0, 0) if fixed == 1 else _Version(nums[0], nums[1] + 1, 0, 0)
        return (lambda v: fixed == 0 or low <= v < top), bool(pre)
    # "^": the left-most non-zero part may not change
    if nums[0] > 0 or fixed <= 1:
        top = _Version(nums[0] + 1, 0, 0, 0)
    elif nums[1] > 0 or fixed == 2:
        top = _Version(0, nums[1] + 1, 0, 0)
    else:
        top = _Version(0, 0, nums[2] + 1, 0)
    return (lambda v: fixed == 0 or low <= v < top), bool(pre)


def matches(constraint: str, version: str) -> bool:
    """Whether `version` satisfies the semver `constraint` (Masterminds/Helm syntax: `||`, `,`, ranges).

    Pre-releases match only a constraint group that names a pre-release. Raises ValueError for an
    invalid constraint.
    """
    parsed = parse_version(version)
    if parsed is None:
        return False
    for group in constraint.split("||"):
        text = _HYPHEN.sub(r">=\1 <=\2", group.replace(",", " ")).strip()
        tokens = _COMPARATOR.findall(text)
        if not tokens or _COMPARATOR.sub("", text).strip():
            raise ValueError(f"invalid version constraint {constraint!r}")
        checks = [_comparator(op, bound) for op, bound in tokens]
        if parsed.release == 0 and not any(pre for _, pre in checks):
            continue
        if all(check(parsed) for check, _ in checks):
            return True
    return False


def pick(versions: list[ChartVersion], constraint: str) -> ChartVersion | None:
    """The highest version matching `constraint` (the latest stable one for "", HEAD, * or latest)."""
    wanted = constraint.strip()
    exact = [v for v in versions if v.version.removeprefix("v") == wanted.removeprefix("v")]
    if exact and wanted not in _LATEST:
        return exact[0]
    rule = ">=0.0.0" if wanted in _LATEST else wanted
    found = [(parsed, v) for v in versions if (parsed := parse_version(v.version)) and matches(rule, v.version)]
    return max(found, key=lambda pair: pair[0])[1] if found else None


# ---------------------------------------------------------------- the index


class _Events:
    """A YAML event stream that refuses anchors, aliases and deep nesting."""

    def __init__(self, text: str, label: str, limits: RepoLimits) -> None:
        self._events: Iterator[yaml.Event] = yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.label, self.limits = label, limits

    def next(self) -> yaml.Event:
        event = next(self._events)
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise SourceError(f"{self.label}: anchors and aliases are not allowed in a repository index")
        return event

    def skip(self, event: yaml.Event) -> None:
        depth = 1 if isinstance(event, yaml.CollectionStartEvent) else 0
        while depth:
            event = self.next()
            depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
            if depth > self.limits.max_index_depth:
                raise SourceError(f"{self.label}: the repository index nests too deeply")

    def build(self, event: yaml.Event, depth: int = 0) -> Any:
        if depth > self.limits.max_index_depth:
            raise SourceError(f"{self.label}: the repository index nests too deeply")
        if isinstance(event, yaml.ScalarEvent):
            return event.value
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            while not isinstance(event := self.next(), yaml.SequenceEndEvent):
                items.append(self.build(event, depth + 1))
                if depth == 0 and len(items) > self.limits.max_versions:
                    raise SourceError(f"{self.label}: the index lists more than {self.limits.max_versions} versions")
            return items
        mapping: dict[str, Any] = {}
        while not isinstance(key := self.next(), yaml.MappingEndEvent):
            mapping[str(self.build(key, depth + 1))] = self.build(self.next(), depth + 1)
        return mapping

    def entries(self, chart: str) -> list[Any]:
        """The raw entries of `chart` in the first document's top-level `entries` mapping."""
        for _ in range(2):
            self.next()  # stream start, document start
        top = self.next()
        if not isinstance(top, yaml.MappingStartEvent):
            raise SourceError(f"{self.label}: not a Helm repository index (no mapping)")
        found: list[Any] = []
        while not isinstance(key := self.next(), yaml.MappingEndEvent):
            value = self.next()
            if (
                isinstance(key, yaml.ScalarEvent)
                and key.value == "entries"
                and isinstance(value, yaml.MappingStartEvent)
            ):
                while not isinstance(name := self.next(), yaml.MappingEndEvent):
                    listed = self.next()
                    if isinstance(name, yaml.ScalarEvent) and name.value == chart:
                        built = self.build(listed)
                        found = built if isinstance(built, list) else []
                    else:
                        self.skip(listed)
            else:
                self.skip(value)
        return found


def check_chart_name(chart: str, repo_url: str) -> str:
    """`chart` when it is a plain chart name; SourceError naming `chart` otherwise (before any request)."""
    if len(chart) > 250 or not _CHART_NAME.fullmatch(chart):
        shown = repr(chart[:80]) + ("…" if len(chart) > 80 else "")
        raise SourceError(
            f"chart {shown} ({redact(repo_url)}): not a chart name (letters, digits, '_', '-', '.'; "
            "no '/' or '..'; not starting with '-' or '.')",
            reason="InvalidChart",
        )
    return chart


def parse_index(data: bytes, repo_url: str, chart: str, limits: RepoLimits) -> list[ChartVersion]:
    """The versions of `chart` listed by index `data` (already capped in size); entries whose
    version is not version-like text (`-x`, `../x`, spaces, control characters) are skipped."""
    label = f"{chart} ({redact(repo_url)})"
    try:
        raw = _Events(data.decode("utf-8-sig"), label, limits).entries(chart)
    except (yaml.YAMLError, UnicodeDecodeError, StopIteration, RecursionError) as exc:
        raise SourceError(f"{label}: invalid repository index: {type(exc).__name__}", reason="InvalidIndex") from None
    versions = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
            continue
        if len(entry["version"]) > 128 or not _VERSION_TEXT.fullmatch(entry["version"]):
            continue
        urls = entry.get("urls")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            continue
        match = _DIGEST.match(str(entry.get("digest") or ""))
        digest = match.group(1).lower() if match else ""
        versions.append(
            ChartVersion(repo_url, chart, entry["version"], digest, tuple(urls), str(entry.get("created") or ""))
        )
    return versions


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

    def __init__(self, cache_dir: Path, limits: RepoLimits = RepoLimits()) -> None:
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
