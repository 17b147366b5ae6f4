"""Typed, defensive reads of nested fields in a live object, for the family modules of `gitward.health`.

Live objects are untrusted JSON: a field may be missing (read as its default) or of the wrong type.
A wrong type raises `MalformedError`, which `gitward.health.assess` turns into an Unknown health
whose message names the field, so no family module has to check types itself.

    fields.integer(obj, "status", "readyReplicas")           # 0 when absent
    fields.condition(obj, "Ready")                           # Condition | None
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Condition",
    "MalformedError",
    "boolean",
    "condition",
    "conditions",
    "integer",
    "mapping",
    "mappings",
    "optional_integer",
    "string",
    "timestamp",
]

_MISSING: Any = object()


class MalformedError(ValueError):
    """A field of a live object has the wrong type or an unreadable value."""


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}"
    return text.lstrip(".") or "object"


def _type_name(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer"}
    return names.get(type(value), type(value).__name__)


def _malformed(path: Sequence[str | int], expected: str, value: object) -> MalformedError:
    return MalformedError(f"{_dotted(path)} is not {expected} (got {_type_name(value)})")


def _lookup(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at `path`, or `_MISSING` when a key is absent or null on the way."""
    value: Any = obj
    for depth, key in enumerate(path):
        if not isinstance(value, Mapping):
            raise _malformed(path[:depth], "a mapping", value)
        value = value.get(key)
        if value is None:
            return _MISSING
    return value


def mapping(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The mapping at `path`; empty when absent."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return {}
    if not isinstance(value, Mapping):
        raise _malformed(path, "a mapping", value)
    return value


def mappings(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """The list of mappings at `path` (containers, conditions...); empty when absent."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return []
    if not isinstance(value, list):
        raise _malformed(path, "a list", value)
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _malformed([*path, index], "a mapping", item)
    return value


def optional_integer(obj: Mapping[str, Any], *path: str) -> int | None:
    """The integer at `path`, or None when absent (booleans are not integers here)."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(path, "an integer", value)
    return value


def integer(obj: Mapping[str, Any], *path: str, default: int = 0) -> int:
    """The integer at `path`, or `default` when absent."""
    value = optional_integer(obj, *path)
    return default if value is None else value


def string(obj: Mapping[str, Any], *path: str, default: str = "") -> str:
    """The string at `path`, or `default` when absent."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return default
    if not isinstance(value, str):
        raise _malformed(path, "a string", value)
    return value


def boolean(obj: Mapping[str, Any], *path: str, default: bool = False) -> bool:
    """The boolean at `path`, or `default` when absent."""
    value = _lookup(obj, path)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        raise _malformed(path, "a boolean", value)
    return value


def timestamp(obj: Mapping[str, Any], *path: str) -> datetime | None:
    """The RFC 3339 time at `path` (always timezone-aware), or None when absent.

    Accepts a `datetime` as well, as YAML loaders produce for unquoted times.
    """
    value = _lookup(obj, path)
    if value is _MISSING or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = _parse_time(value, path)
    else:
        raise _malformed(path, "a time", value)
    if parsed.tzinfo is None:
        raise MalformedError(f"{_dotted(path)} has no time zone")
    return parsed


def _parse_time(text: str, path: Sequence[str]) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedError(f"{_dotted(path)} is not a time (got {text[:40]!r})") from None


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of `status.conditions` (the `metav1.Condition` shape, every field optional)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None
    last_update_time: datetime | None = None
    last_transition_time: datetime | None = None

    def describe(self) -> str:
        """`Reason: message`, `Reason`, `message` or "", whichever parts are set."""
        return ": ".join(part for part in (self.reason, self.message) if part)


def _condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        type=string(raw, "type"),
        status=string(raw, "status"),
        reason=string(raw, "reason"),
        message=string(raw, "message"),
        observed_generation=optional_integer(raw, "observedGeneration"),
        last_update_time=timestamp(raw, "lastUpdateTime"),
        last_transition_time=timestamp(raw, "lastTransitionTime"),
    )


def conditions(obj: Mapping[str, Any], *path: str) -> dict[str, Condition]:
    """The conditions at `path` (default `status.conditions`) by type; the last one wins a duplicate."""
    where = path or ("status", "conditions")
    found: dict[str, Condition] = {}
    for index, raw in enumerate(mappings(obj, *where)):
        try:
            parsed = _condition(raw)
        except MalformedError as err:
            raise MalformedError(f"{_dotted([*where, index])}.{err}") from None
        found[parsed.type] = parsed
    return found


def condition(obj: Mapping[str, Any], kind: str) -> Condition | None:
    """The `status.conditions` entry of type `kind`, or None."""
    return conditions(obj).get(kind)
