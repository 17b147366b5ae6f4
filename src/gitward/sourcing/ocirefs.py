"""OCI references and tag selection, as plain data (no I/O).

Used by gitward.sourcing.oci (Application sources with `repoURL: oci://host/repo`), by the image
automation controllers (gitward.controller.images: `ImageRepository.spec.image`, `ImagePolicy`) and by
`gitward push artifact`. A reference is hostile input: the host, the repository path, tags and
digests are held to the OCI distribution specification's grammars before any request is made.

`select_tag` is the ImagePolicy choice (Flux's image-reflector-controller): `semver` (the highest
version in a range; a pre-release only when the range names one, as Masterminds/semver does, with
Flux's tie-breaks), `numerical` and `alphabetical` (`asc` or `desc`), after `filter_tags`
(`pattern` a regular expression; `extract` a replacement such as `$ts` the policy then orders on).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitward.core.errors import SourceError
from gitward.core.regexes import RegexError, compile_regex, error_message
from gitward.sourcing import chartversions

__all__ = [
    "DIGEST", "TAG", "Reference", "Tag", "filter_tags", "is_digest", "next_page", "parse", "pick_semver",
    "select_tag",
]  # fmt: skip

_HOST = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:]+\])(?::[0-9]{1,5})?$"
)
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_MAX_REPOSITORY = 255


@dataclass(frozen=True, slots=True)
class Reference:
    """`host/repository` plus an optional tag or digest (`reference`)."""

    host: str
    repository: str
    reference: str = ""

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def url(self) -> str:
        sep = "@" if is_digest(self.reference) else ":"
        return f"oci://{self.name}" + (f"{sep}{self.reference}" if self.reference else "")

    def at(self, reference: str) -> Reference:
        return Reference(self.host, self.repository, reference)


def is_digest(text: str) -> bool:
    return bool(DIGEST.fullmatch(text))


def parse(text: str, *, scheme: bool = True, with_reference: bool = False) -> Reference:
    """Validate `oci://host/repo` (or `host/repo` without `scheme`), with `:tag` or `@sha256:…` when
    `with_reference`; SourceError (reason InvalidRepoURL) saying why, otherwise."""
    shown = repr(text[:200])
    rest = text
    if scheme:
        if not text.startswith("oci://"):
            raise SourceError(f"{shown}: an OCI reference starts with oci://", reason="InvalidRepoURL")
        rest = text.removeprefix("oci://")
    host, slash, path = rest.partition("/")
    reference = ""
    if with_reference:
        path, reference = _split_reference(path)
    if not slash or not _HOST.fullmatch(host):
        raise SourceError(
            f"{shown}: not a registry host (lower-case name or IP, optional :port)", reason="InvalidRepoURL"
        )
    if len(path) > _MAX_REPOSITORY or not _REPOSITORY.fullmatch(path):
        raise SourceError(
            f"{shown}: not a repository name (lower-case letters, digits, '.', '_', '-', '/'-separated)",
            reason="InvalidRepoURL",
        )
    if with_reference and reference and not (is_digest(reference) or TAG.fullmatch(reference)):
        raise SourceError(f"{shown}: not a tag or sha256 digest", reason="InvalidRepoURL")
    return Reference(host, path, reference)


def next_page(link: str, ref: Reference) -> str | None:
    """The path of the next tag-list page from a `Link: </v2/<repo>/tags/list?…>; rel="next"` header
    (the distribution spec's pagination), or None; a link elsewhere than this repository's tag list
    is ignored (credentials are never sent to a place the registry names)."""
    for part in link.split(","):
        target, _, params = part.partition(";")
        target = target.strip()
        if 'rel="next"' in params.replace(" ", "") and target.startswith("<") and target.endswith(">"):
            path = target[1:-1]
            if path.startswith(f"/v2/{ref.repository}/tags/list?") and not any(c in path for c in " \r\n"):
                return path
    return None


def _split_reference(path: str) -> tuple[str, str]:
    if "@" in path:
        name, _, digest = path.partition("@")
        return name, digest
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = path.rpartition(":")
        return name, tag
    return path, ""


# ---------------------------------------------------------------- tag selection


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag and the text a policy orders it by (the tag itself, or what `extract` made of it)."""

    tag: str
    key: str


def filter_tags(tags: list[str], pattern: str = "", extract: str = "") -> list[Tag]:
    """The tags matching `pattern` (all when empty), each keyed by `extract` (`$name`/`${name}`/`$1`
    expanded from the match; the tag itself when empty). ValueError for a bad pattern."""
    if not pattern:
        return [Tag(t, t) for t in tags]
    try:
        regex = compile_regex(pattern)  # RE2: linear time whatever the pattern and the registry's tags
    except RegexError as exc:
        raise ValueError(f"filterTags.pattern {pattern[:200]!r}: {error_message(exc)}") from None
    found = []
    for tag in tags:
        match = regex.search(tag)
        if match is not None:
            found.append(Tag(tag, _expand(extract, match) if extract else tag))
    return found


_TEMPLATE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _expand(template: str, match: Any) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        try:
            group = match.group(int(name) if name.isdigit() else name)
        except IndexError:  # an unknown group name or number
            return ""
        return group or ""

    return _TEMPLATE.sub(one, template)


def pick_semver(tags: list[Tag], constraint: str) -> Tag | None:
    """The tag whose key is the highest version within `constraint` (ValueError: invalid range).

    Tags that are not versions are ignored; a leading `v` is allowed. When two tags are the same
    version (`1.0` and `1.0.0`), the longer original text wins, then the alphabetically last (stable)."""
    best: tuple[object, int, str] | None = None
    chosen: Tag | None = None
    chartversions.matches(constraint, "0.0.0")  # raises ValueError for an invalid range, even with no tags
    for tag in tags:
        version = chartversions.parse_version(tag.key)
        if version is None or not chartversions.matches(constraint, tag.key):
            continue
        rank = (version, len(tag.key), tag.key)
        if best is None or rank > best:
            best, chosen = rank, tag
    return chosen


def _numeric(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def select_tag(tags: list[Tag], policy: Mapping[str, Any]) -> Tag | None:
    """The tag `policy` (`{semver: {range}}`, `{numerical: {order}}` or `{alphabetical: {order}}`;
    order `asc` = the highest wins, `desc` = the lowest) selects, or None. ValueError: bad policy."""
    if "semver" in policy:
        spec = policy["semver"] if isinstance(policy["semver"], dict) else {}
        return pick_semver(tags, str(spec.get("range") or ""))
    for kind in ("numerical", "alphabetical"):
        if kind in policy:
            spec = policy[kind] if isinstance(policy[kind], dict) else {}
            order = str(spec.get("order") or "asc")
            if order not in ("asc", "desc"):
                raise ValueError(f"policy.{kind}.order must be asc or desc (got {order!r})")
            return _ordered(tags, kind, order)
    raise ValueError("policy must be one of semver, numerical or alphabetical")


def _ordered(tags: list[Tag], kind: str, order: str) -> Tag | None:
    if kind == "numerical":
        keyed = [(n, t.tag, t) for t in tags if (n := _numeric(t.key)) is not None]
    else:
        keyed = [(t.key, t.tag, t) for t in tags]  # type: ignore[misc]
    if not keyed:
        return None
    keyed.sort(key=lambda k: (k[0], k[1]))
    return keyed[-1][2] if order == "asc" else keyed[0][2]
