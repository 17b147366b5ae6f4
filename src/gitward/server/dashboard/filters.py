"""Jinja filters of the dashboard: safe links, short revisions, times, badge tones, diff lines.

Pure. Registered on the template environment by gitward.server.dashboard.templating; unit-tested in
tests/unit/dashboard. Everything shown comes from Applications, Git commits and live objects, so
all of it is untrusted: only http(s) URLs ever become links (`link`), credentials in URLs are
masked, and every string is escaped by the templates' autoescape or by `markupsafe.escape` here.
"""

from __future__ import annotations

import re
import urllib.parse
from datetime import UTC, datetime

from markupsafe import Markup, escape

from gitward.core.applications import short_revision
from gitward.core.redaction import redact

__all__ = [
    "absolute",
    "diff_lines",
    "display_url",
    "first_line",
    "http_url",
    "link",
    "parse_time",
    "relative",
    "short_sha",
    "short_url",
    "tone",
]

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\<>\"'`]")
_HOST = re.compile(r"^[a-z0-9.-]+$|^[0-9a-f:.]+$")  # urlsplit lowercases hostnames

TONES = {
    # sync
    "Synced": "ok",
    "OutOfSync": "warn",
    "Pruned": "muted",
    "Failed": "bad",
    # health
    "Healthy": "ok",
    "Progressing": "info",
    "Suspended": "paused",
    "Missing": "warn",
    "Degraded": "bad",
    # operations and conditions
    "Succeeded": "ok",
    "Running": "info",
    "Error": "bad",
    "True": "ok",
    "False": "bad",
}


def http_url(value: object) -> str | None:
    """`value` as an http(s) URL that is safe in an `href` (credentials and query masked), or None.

    Anything else — `javascript:`, `data:`, `//host`, scp-like `git@host:x`, URLs with spaces,
    control characters, quotes or backslashes — is None and is shown as text."""
    if not isinstance(value, str) or not value or len(value) > 2048 or _UNSAFE.search(value):
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        _ = parts.port  # raises for a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.match(parts.hostname or ""):
        return None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path, "", ""))


def display_url(value: object) -> str:
    """A URL as text, with userinfo and query strings masked (`https://***@host/x`)."""
    return redact(value) if isinstance(value, str) else ""


def short_url(value: object) -> str:
    """A URL for a narrow column: credentials masked, `http(s)://` left out."""
    text = display_url(value)
    scheme, sep, rest = text.partition("://")
    return rest if sep and scheme.lower() in ("http", "https") else text


def link(value: object, text: object = None) -> Markup:
    """An `<a>` for an http(s) URL, else the escaped text: hostile URLs never become links."""
    label = display_url(value) if text is None else str(text)
    href = http_url(value)
    if href is None:
        return escape(label)
    return Markup('<a href="{}" rel="noopener noreferrer nofollow">{}</a>').format(href, label)


def short_sha(value: object, length: int = 7) -> str:
    """A commit SHA shortened to `length` characters; other revisions (branch, tag) as they are."""
    text = value if isinstance(value, str) else ""
    digest = text.startswith("sha256:") and _SHA.match(text[7:])  # an OCI artifact's digest (SPEC §12)
    return short_revision(text, length) if digest or _SHA.match(text) else text


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time from the API server or the controller; None for anything else."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def relative(value: object, now: datetime | None = None) -> str:
    """`just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago` ("" for no time)."""
    moment = parse_time(value)
    if moment is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 0:
        return "in the future" if seconds < -60 else "just now"
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (10**12, "d", 86400)):
        if seconds < limit:
            return "just now" if seconds < 5 else f"{seconds // size} {unit} ago"
    return ""


def absolute(value: object) -> str:
    """`2030-01-02 03:04:05 UTC` ("" for no time)."""
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


def tone(status: object) -> str:
    """The badge colour family of a status: ok, warn, bad, info, paused, muted or unknown."""
    return TONES.get(status, "unknown") if isinstance(status, str) else "unknown"


def first_line(value: object, limit: int = 90) -> str:
    """The first line of a commit message, cut at `limit` characters."""
    text = value.strip().splitlines()[0] if isinstance(value, str) and value.strip() else ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def diff_lines(text: object) -> list[tuple[str, str]]:
    """The lines of a unified diff with their CSS class: file, hunk, add, del or ctx."""
    lines = []
    for line in (text if isinstance(text, str) else "").splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append((kind, line))
    return lines
