"""Bounds a YAML stream before anything is built from it: depth, aliases and expanded size.

Called by `documents` ahead of constructing Python objects. It walks the parser's flat event stream
(no recursion, nothing built) and computes, for every anchored node, what an alias to it would
expand to. A "billion laughs" bomb, a recursive alias or a pathologically deep document is refused
after reading a few lines, long before any expansion exists in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from gitward.core.errors import RenderError
from gitward.rendering.limits import Limits

if TYPE_CHECKING:
    from yaml import CSafeLoader as BaseLoader
else:  # libyaml's loader when PyYAML was built with it (fast), the pure-Python one otherwise
    BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["BaseLoader", "Budget", "line_of", "scan"]


class Budget:
    """Bytes of expanded YAML one render may still build, shared by all the files it loads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    @property
    def remaining(self) -> int:
        return self.limit - self.spent

    def spend(self, amount: int, label: str) -> None:
        if amount > self.remaining:
            raise RenderError(f"{label}: manifests expand beyond the size limit of {self.limit} bytes")
        self.spent += amount


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a node expands to: alias dereferences, collection height and size in bytes."""

    aliases: int = 0
    height: int = 0
    weight: int = 0


@dataclass(slots=True)
class _Frame:
    """A collection being read: its anchor and the sum of its children so far."""

    anchor: str | None
    aliases: int = 0
    height: int = 0
    weight: int = 1


@dataclass(slots=True)
class _Scan:
    label: str
    limits: Limits
    budget: Budget
    stack: list[_Frame] = field(default_factory=list)
    anchors: dict[str, _Shape] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)

    def fail(self, event: yaml.Event, problem: str) -> RenderError:
        return RenderError(f"{self.label}:{line_of(event)}: {problem}")

    def open(self, event: yaml.CollectionStartEvent) -> None:
        if len(self.stack) >= self.limits.max_yaml_depth:
            raise self.fail(event, f"nesting deeper than {self.limits.max_yaml_depth} levels")
        self.stack.append(_Frame(event.anchor))

    def close(self, event: yaml.Event) -> None:
        frame = self.stack.pop()
        self.add(event, frame.anchor, _Shape(frame.aliases, frame.height + 1, frame.weight))

    def scalar(self, event: yaml.ScalarEvent) -> None:
        self.add(event, event.anchor, _Shape(weight=len(event.value) + 1))

    def alias(self, event: yaml.AliasEvent) -> None:
        name = event.anchor or ""
        if any(frame.anchor == name for frame in self.stack):
            raise self.fail(event, f"recursive alias *{name} is not allowed")
        shape = self.anchors.get(name)
        if shape is None:
            return  # undefined: the composer reports it with its position
        if len(self.stack) + shape.height > self.limits.max_yaml_depth:
            raise self.fail(event, f"nesting deeper than {self.limits.max_yaml_depth} levels")
        self.add(event, None, _Shape(shape.aliases + 1, shape.height, shape.weight))

    def add(self, event: yaml.Event, anchor: str | None, shape: _Shape) -> None:
        if anchor:
            self.anchors[anchor] = shape
        if not self.stack:
            self.budget.spend(shape.weight, f"{self.label}:{line_of(event)}")
            return
        parent = self.stack[-1]
        parent.aliases += shape.aliases
        parent.height = max(parent.height, shape.height)
        parent.weight += shape.weight
        if parent.aliases > self.limits.max_yaml_aliases:
            raise self.fail(event, f"more than {self.limits.max_yaml_aliases} aliases once expanded")
        if parent.weight > self.budget.remaining:
            raise self.fail(event, f"document expands beyond the size limit of {self.budget.limit} bytes")

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors.clear()
            self.starts.append(line_of(event))
        elif isinstance(event, yaml.CollectionStartEvent):
            self.open(event)
        elif isinstance(event, yaml.CollectionEndEvent):
            self.close(event)
        elif isinstance(event, yaml.ScalarEvent):
            self.scalar(event)
        elif isinstance(event, yaml.AliasEvent):
            self.alias(event)


def line_of(event: yaml.Event) -> int:
    """The 1-based line an event starts on."""
    return event.start_mark.line + 1 if event.start_mark else 0


def scan(text: str, label: str, limits: Limits, budget: Budget) -> list[int]:
    """Check `text` against the limits and charge `budget`; the first line of each document.

    Raises `yaml.YAMLError` for syntax errors (the caller turns it into a `RenderError`).
    """
    state = _Scan(label, limits, budget)
    for event in yaml.parse(text, Loader=BaseLoader):
        state.feed(event)
    return state.starts
