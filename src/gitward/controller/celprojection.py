"""What a CEL expression can read of its variables, and the verdicts already known (pure).

Used by `controller.celeval.Evaluator` before anything goes to the worker. Converting a Python value
into CEL values costs the CEL library about as much per node as the evaluation itself, so a
Deployment-sized object costs far more to hand over than `object.spec.replicas <= 10` costs to
evaluate. So:

- `paths` reads the member chains an expression starts from each variable (`object.spec.replicas`,
  `object.metadata.labels` before `.exists(...)`), conservatively: a bare use of the variable (an
  index, a call, an optional `.?`), or anything the scan does not understand, keeps it whole;
- `project` keeps only those subtrees of the variables (a missing field stays missing, so `has()`
  and "no such key" answer as before);
- `digest` names a projection, and `Verdicts` remembers the results per (expression, digest), so an
  unchanged object (or an identical projection of another one) is not evaluated again; `encode`
  writes a projection not known yet as the worker reads it.

A name that also appears as a field (`x.object`) or in a string only makes the projection larger:
the scan can keep too much, never too little.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections import OrderedDict
from typing import Any, Generic, TypeVar

__all__ = ["EACH", "MAX_VERDICTS", "Tree", "Verdicts", "digest", "encode", "paths", "project", "tree"]

MAX_VERDICTS = 100_000
"""Verdicts remembered (least recently used go first)."""

EACH = "*"
"""A path segment for every element of a list, as a macro (`all`, `exists`, `map`...) walks it."""

Path = tuple[str, ...]
Tree = dict[str, "Tree | None"]
"""Paths as a tree: key → the subtree wanted (None: all of it)."""

_SEGMENT = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_CALL = re.compile(r"\s*\(")
_BINDING = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*$")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_MACRO = re.compile(  # `.all(c, `: a one-variable macro (`all(i, v, ...)` binds two: not this)
    rf"\s*\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*({_NAME})\s*,(?!\s*{_NAME}\s*,)"
)

T = TypeVar("T")


def paths(
    expression: str, variable: str, depth: int = 0, seen: dict[str, frozenset[Path] | None] | None = None
) -> frozenset[Path] | None:
    """The member chains `expression` reads from `variable` (empty: it does not read it); None: it may
    read all of it. A chain a one-variable macro walks continues with EACH and what the macro's body
    reads of its variable (each macro variable scanned once: the work stays linear in the uses)."""
    seen = {} if seen is None else seen
    found: set[Path] = set()
    for use in re.finditer(rf"(?<![A-Za-z0-9_]){re.escape(variable)}(?![A-Za-z0-9_])", expression):
        if _BINDING.search(expression, max(0, use.start() - 64), use.start()):
            continue  # `all(c, ...)`: where a macro binds the name, not a use of it
        chain: list[str] = []
        at = use.end()
        while (segment := _SEGMENT.match(expression, at)) is not None:
            if _CALL.match(expression, segment.end()):  # `.exists(`: a method of the value so far
                break
            chain.append(segment.group(1))
            at = segment.end()
        macro = _MACRO.match(expression, at) if depth < 4 else None
        if macro is not None and macro.group(1) != variable:
            name = macro.group(1)
            if name not in seen:
                seen[name] = None  # while it is scanned: a macro variable inside its own body keeps all
                seen[name] = paths(expression, name, depth + 1, seen)
            inner = seen[name]
            if inner is not None:
                found.update((*chain, EACH, *rest) for rest in inner)
                if not inner:
                    found.add((*chain, EACH))
                continue
        if not chain:
            return None
        found.add(tuple(chain))
    return frozenset(found)


def tree(chains: frozenset[Path] | None) -> Tree | None:
    """`chains` as a tree (a chain that is a prefix of another wins: all of it)."""
    if chains is None or () in chains:
        return None
    heads: dict[str, set[Path]] = {}
    for chain in chains:
        heads.setdefault(chain[0], set()).add(chain[1:])
    return {key: tree(frozenset(rest)) for key, rest in heads.items()}


def project(value: Any, wanted: Tree | None) -> Any:
    """`value` with only the subtrees `wanted` (None: all of it). A list is walked by EACH; anything
    else the tree does not fit (a map walked by a macro, fields of a list, a scalar) is kept whole."""
    if wanted is None:
        return value
    if isinstance(value, list):
        if set(wanted) != {EACH}:
            return value
        return [project(element, wanted[EACH]) for element in value]
    if not isinstance(value, dict) or EACH in wanted:
        return value
    return {key: project(value[key], sub) for key, sub in wanted.items() if key in value}


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def encode(variables: dict[str, Any]) -> bytes:
    """The variables as the worker reads them (JSON; what JSON cannot say becomes its str)."""
    return _ENCODER.encode(variables).encode()


def digest(variables: dict[str, Any]) -> str:
    """A name for a projection: equal variables (in the same order), equal digest."""
    return hashlib.blake2b(pickle.dumps(variables, protocol=5), digest_size=16).hexdigest()


class Verdicts(Generic[T]):
    """Results per (expression, digest of the variables), the last `limit` used."""

    def __init__(self, limit: int = MAX_VERDICTS) -> None:
        self.limit = limit
        self._known: OrderedDict[tuple[str, str], T] = OrderedDict()

    def get(self, expression: str, key: str) -> T | None:
        found = self._known.get((expression, key))
        if found is not None:
            self._known.move_to_end((expression, key))
        return found

    def put(self, expression: str, key: str, result: T) -> None:
        self._known[(expression, key)] = result
        self._known.move_to_end((expression, key))
        while len(self._known) > self.limit:
            self._known.popitem(last=False)

    def __len__(self) -> int:
        return len(self._known)
