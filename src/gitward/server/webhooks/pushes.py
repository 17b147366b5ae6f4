"""What a provider's webhook parser returns — a `Push` (repository URLs, pushed refs, default
branch) — and the one error a parser may raise, `PayloadError` (answered with 400).

Pure. The accessors (`obj`, `text`, `items`, ...) read untrusted JSON tolerantly: any missing or
wrong-typed field they are asked for becomes a `PayloadError` naming it, never another exception.
Used by the provider modules (github, gitea, gitlab, bitbucket) and by gitward.server.webhooks.matching.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "PayloadError",
    "Provider",
    "Push",
    "items",
    "loose_items",
    "loose_obj",
    "obj",
    "optional_text",
    "ref",
    "text",
    "urls",
]

MAX_URL = 2048
MAX_REF = 1024


class PayloadError(ValueError):
    """The payload is not a push this receiver understands; the message names the field."""


@dataclass(frozen=True)
class Push:
    provider: str
    repo_urls: tuple[str, ...]  # every form the payload names: clone (https, ssh), html
    refs: tuple[str, ...]  # full refs: refs/heads/<branch>, refs/tags/<tag>
    default_branch: str | None = None  # when the payload says

    @property
    def branches(self) -> tuple[str, ...]:
        return tuple(r.removeprefix("refs/heads/") for r in self.refs if r.startswith("refs/heads/"))


class Provider(NamedTuple):
    """One Git hosting provider's webhook conventions."""

    name: str
    event_header: str  # present exactly on this provider's deliveries
    push_events: frozenset[str]  # values of event_header that are pushes
    verify: Callable[[Mapping[str, str], bytes, bytes], bool]  # (lowercase headers, body, secret)
    parse: Callable[[Any], Push]  # raises PayloadError only


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object")
    return value


def loose_obj(value: Any) -> dict[str, Any]:
    """`value` when it is an object, else {} (for fields that only help)."""
    return value if isinstance(value, dict) else {}


def loose_items(value: Any) -> list[Any]:
    """`value` when it is an array, else []."""
    return value if isinstance(value, list) else []


def text(value: Any, where: str, limit: int = MAX_URL) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where}: expected a non-empty string")
    if len(value) > limit:
        raise PayloadError(f"{where}: longer than {limit} characters")
    return value


def optional_text(value: Any, limit: int = MAX_URL) -> str | None:
    """A non-empty string within `limit`, else None (for fields that only help)."""
    return value if isinstance(value, str) and value and len(value) <= limit else None


def items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected an array")
    return value


def urls(candidates: Iterable[Any], where: str) -> tuple[str, ...]:
    """The usable URL strings among `candidates`, in order, without duplicates; at least one."""
    found = tuple(dict.fromkeys(u for u in (optional_text(c) for c in candidates) if u is not None))
    if not found:
        raise PayloadError(f"{where}: no repository URL")
    return found


def ref(value: Any, where: str) -> str:
    """A full ref name (`refs/...`)."""
    name = text(value, where, MAX_REF)
    if not name.startswith("refs/"):
        raise PayloadError(f"{where}: expected a full ref name (refs/heads/..., refs/tags/...)")
    return name
