"""Chart versions: Helm's semver ranges, and the versions of one chart that a repository's `index.yaml` lists.

Called by `gitward.sourcing.helmrepo` (`ChartRepositories.resolve` parses the downloaded index with
`parse_index` and chooses with `pick`; every chart name passes `check_chart_name` before a request) and by
`gitward.sourcing.ocirefs` (`matches` and `parse_version` choose among an OCI repository's tags). Pure: no I/O.

Versions and ranges follow Masterminds/semver as Helm uses it: an exact version or a range such as `^1.2`,
`~1.2.0`, `>=1 <2`, `1.x`, `1.0 - 2.0`, groups joined by `||`; empty, HEAD, `*` or latest = the latest stable
version. Pre-releases match only a range that names one.

An index is hostile input (SPEC §6), already capped in size by the caller: it is read as a YAML event stream,
only the wanted chart's entries are built, anchors and aliases are refused, nesting and the number of versions
are capped (`RepoLimits`), and entries whose version could not be a revision or a cache path are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from gitward.core.errors import SourceError
from gitward.core.redaction import redact

__all__ = ["ChartVersion", "RepoLimits", "check_chart_name", "matches", "parse_index", "parse_version", "pick"]

MiB = 1024 * 1024
_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")
_LATEST = frozenset({"", "HEAD", "*", "latest"})
_CHART_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.(?!\.))*")
"""A chart name: one path segment, no `..`, never `-…` (it names a cache directory and index entries)."""
_VERSION_TEXT = re.compile(r"[0-9A-Za-z_+](?:[0-9A-Za-z_+-]|\.(?!\.))*")
"""What a listed version may look like at all (it becomes a status revision and part of a cache path)."""


@dataclass(frozen=True, slots=True)
class RepoLimits:
    """The caps on one chart repository: its index (read here) and its archives and requests (`helmrepo`)."""

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
