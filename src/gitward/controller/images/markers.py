"""Image policy markers in YAML files: find `# {"$imagepolicy": "<ns>:<policy>[:tag|:name]"}` and set
the marked value, changing nothing else in the file (pure text in, text out).

Called by gitward.controller.images.updating for every YAML file under `update.path`. A line-based
setter, as Flux's: a marker sits at the end of the line that holds the value, in one of
`key: value  # {...}` or `- value  # {...}` forms (plain, single- or double-quoted scalars). Only
that value is replaced — indentation, quoting, comments, key order and every other byte of the file
stay as they were — which a YAML round-trip (even ruamel's) cannot promise for every file (it
re-flows long lines and normalises indentation). A marker on a line that holds no plain scalar
(a block scalar, a flow collection) is reported and left alone.

    image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "apps:app"}        → the whole image
    tag: "1.0.0"                 # {"$imagepolicy": "apps:app:tag"}    → the tag only
    repository: ghcr.io/org/app  # {"$imagepolicy": "apps:app:name"}   → the name only
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Change", "image_parts", "rewrite"]

_MARKER = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"(?P<ref>[^"]*)"\s*\}\s*$')
_VALUE = re.compile(
    r"""^(?P<head>\s*(?:-\s+)?(?:(?:[^\s#'"][^#'"]*?|"[^"]*"|'[^']*')\s*:\s+|-\s+))"""
    r"""(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s#'"|>\[\]{}&*!%@`,][^\s#]*)(?P<gap>\s+)$"""
)


@dataclass(frozen=True, slots=True)
class Change:
    """One value set: where, what it was, what it is now, and by which policy."""

    line: int
    policy: str
    old: str
    new: str


def image_parts(image: str) -> tuple[str, str]:
    """(name, tag) of `repo[:port]/path:tag` (the tag after the last ':' that follows the last '/')."""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, ""


def rewrite(text: str, latest: Mapping[str, str]) -> tuple[str, list[Change], list[str]]:
    """Set every marked value whose policy (`ns:name`) is in `latest` (policy → its latestImage).

    Returns the new text, the changes made, and problems (markers that could not be applied: an
    unknown policy is not a problem — it is skipped, as Flux does — but an unreadable line is)."""
    lines = text.splitlines(keepends=True)
    changes: list[Change] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        body, newline = _split_newline(line)
        marker = _MARKER.search(body)
        if marker is None:
            continue
        policy, part = _policy(marker["ref"])
        if policy not in latest:
            continue
        before = body[: marker.start()]
        found = _VALUE.match(before)
        if found is None or part is None:
            problems.append(f"line {number}: the marker for {marker['ref']!r} is not after a plain value")
            continue
        old_raw = found["value"]
        quote = old_raw[0] if old_raw[0] in "'\"" else ""
        old = old_raw[1:-1] if quote else old_raw
        new = _value(latest[policy], part)
        if not new or new == old:
            continue
        lines[number - 1] = f"{found['head']}{quote}{new}{quote}{found['gap']}{body[marker.start() :]}{newline}"
        changes.append(Change(number, policy, old, new))
    return "".join(lines), changes, problems


def _split_newline(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body) :]


def _policy(ref: str) -> tuple[str, str | None]:
    """("ns:policy", part) with part "" (whole image), "tag" or "name"; part None when malformed."""
    pieces = ref.split(":")
    if len(pieces) == 2:
        return ref, ""
    if len(pieces) == 3:
        return f"{pieces[0]}:{pieces[1]}", pieces[2] if pieces[2] in ("tag", "name") else None
    return ref, None


def _value(image: str, part: str) -> str:
    name, tag = image_parts(image)
    if part == "tag":
        return tag
    if part == "name":
        return name
    return image
