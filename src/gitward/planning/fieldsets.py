"""Does a field set cover a desired object? The drift test behind `comparing.needs_apply`.

Called only by `gitward.planning.comparing`, with the `fieldsV1` that the API server recorded for
gitward's server-side apply (`metadata.managedFields[]`). A field set is structured-merge-diff's
`FieldsV1` trie:

    f:<field>           a field of a map (or struct)
    k:{"name":"web"}    an item of an associative list, by the values of the list's merge keys
    v:"a"               an item of a set (a list of scalars)
    i:3                 an item of a positional list, by index
    .                   the node itself (ignored here)

A node with no children (`f:selector: {}`) is owned whole: an atomic map or list, or a scalar, so
everything below it is covered. A desired item matches a `k:` entry when every merge key the item
states has the entry's value, and it states at least one: keys the server defaulted
(`protocol: TCP` on a port) may be absent from the desired item. Values are compared as JSON, so
`1` never matches `true`. Null desired values are skipped (server-side apply treats them as unset).

Hostile input is never an error here: a node that is not a mapping, or a `k:` key that is not JSON,
simply covers nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

FieldSet = dict[str, Any]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_INVALID = object()


def first_uncovered(obj: dict[str, Any], fields: FieldSet) -> str | None:
    """The path of the first leaf of `obj` that `fields` does not cover, or None.

    The root is always a granular map: an empty field set covers nothing.
    """
    return _in_map(obj, fields if isinstance(fields, dict) else {}, "")


def _in_value(value: Any, node: Any, path: str) -> str | None:
    if not isinstance(node, dict):
        return path
    if not node:  # owned whole
        return None
    if isinstance(value, dict):
        return _in_map(value, node, path)
    if isinstance(value, list):
        return _in_list(value, node, path)
    return None


def _in_map(value: dict[str, Any], node: dict[str, Any], path: str) -> str | None:
    for key, child in value.items():
        if child is None:
            continue
        here = join(path, str(key))
        if f"f:{key}" not in node:
            return here
        found = _in_value(child, node[f"f:{key}"], here)
        if found is not None:
            return found
    return None


def _in_list(items: list[Any], node: dict[str, Any], path: str) -> str | None:
    entries = _Entries.parse(node)
    for index, item in enumerate(items):
        if item is None:
            continue
        found = _in_item(item, index, entries, path)
        if found is not None:
            return found
    return None


def _in_item(item: Any, index: int, entries: _Entries, path: str) -> str | None:
    """Covered when one matching entry covers the item; else the first candidate's uncovered path."""
    first: str | None = None
    for label, child in entries.matching(item, index):
        found = _in_value(item, child, path + label)
        if found is None:
            return None
        first = first or found
    return first or path + _fallback_label(item, index)


@dataclass
class _Entries:
    """The children of a list node, parsed once per list."""

    keyed: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    values: list[tuple[Any, Any]] = field(default_factory=list)
    indexed: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, node: dict[str, Any]) -> _Entries:
        entries = cls()
        for name, child in node.items():
            prefix, _, rest = str(name).partition(":")
            if prefix == "k" and isinstance(keys := _loads(rest), dict) and keys:
                entries.keyed.append((keys, child))
            elif prefix == "v" and (value := _loads(rest)) is not _INVALID:
                entries.values.append((value, child))
            elif prefix == "i" and rest.isdigit():
                entries.indexed[int(rest)] = child
        return entries

    def matching(self, item: Any, index: int) -> list[tuple[str, Any]]:
        """(path label, child node) of every entry that may describe `item`."""
        found: list[tuple[str, Any]] = []
        if isinstance(item, dict):
            found += [(_keys_label(keys), child) for keys, child in self.keyed if _keys_match(keys, item)]
        found += [(f"[v={_dumps(value)}]", child) for value, child in self.values if same(value, item)]
        if index in self.indexed:
            found.append((f"[{index}]", self.indexed[index]))
        return found

    def owners(self, item: Any, index: int) -> list[tuple[dict[str, Any] | None, Any]]:
        """(merge keys or None, child node) of every entry that may describe `item`."""
        found: list[tuple[dict[str, Any] | None, Any]] = []
        if isinstance(item, dict):
            found += [(keys, child) for keys, child in self.keyed if _keys_match(keys, item)]
        found += [(None, child) for value, child in self.values if same(value, item)]
        if index in self.indexed:
            found.append((None, self.indexed[index]))
        return found


def list_entries(node: dict[str, Any]) -> _Entries:
    """The children of a list node of a field set, parsed (for `planning.ignoring`)."""
    return _Entries.parse(node)


def _keys_match(keys: dict[str, Any], item: dict[str, Any]) -> bool:
    stated = [key for key in keys if key in item]
    return bool(stated) and all(same(keys[key], item[key]) for key in stated)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values (so `1` and `True` differ, and key order does not matter)."""
    return _dumps(a) == _dumps(b)


def join(path: str, key: str) -> str:
    """`spec` + `replicas` → `spec.replicas`; keys with dots or slashes are quoted: `labels["a.b/c"]`."""
    if not _PLAIN_KEY.match(key):
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _keys_label(keys: dict[str, Any]) -> str:
    return "[" + ",".join(f"{key}={_scalar(value)}" for key, value in keys.items()) + "]"


def _fallback_label(item: Any, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return f"[name={item['name']}]"
    return f"[{index}]"


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _INVALID


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
