"""Safe loading of manifest text into Kubernetes object dicts (`Rendered`).

Called by `directory` for every manifest file, by `kustomize` for kustomize's output and by
`kustomizations` for kustomization files. YAML is checked by `scanning` (depth, aliases, size)
before it is built, then built with libyaml's safe loader; timestamps stay strings, duplicate keys
are refused, shared (aliased) values are copied apart. JSON files hold one object. `kind: List` and
other `*List` kinds with `items` are flattened; empty documents are skipped. Every error names the
file, and the line where one is known: `apps/web/deploy.yaml:12: mapping values are not allowed here`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from gitward.core.errors import RenderError
from gitward.rendering import scanning
from gitward.rendering.limits import Limits


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered object and where it came from: a repo-relative file or `kustomize:<path>`."""

    manifest: dict[str, Any]
    file: str


class _Loader(scanning.BaseLoader):
    """The safe loader, minus the surprises: no datetime objects, no silently dropped duplicate keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(None, None, f"duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key)
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep)
        return mapping


def _timestamp_as_string(loader: _Loader, node: ScalarNode) -> str:
    """Dates stay the strings they are in Kubernetes' own YAML handling."""
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def parse_yaml(text: str, label: str, limits: Limits, budget: scanning.Budget) -> list[tuple[int, Any]]:
    """Every document of `text` as plain JSON-like data, with the line it starts on."""
    try:
        starts = scanning.scan(text, label, limits, budget)
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise RenderError(f"{label}{line}: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise RenderError(f"{label}: invalid YAML: {exc}") from None
    depth = limits.max_yaml_depth
    return [(line, _plain(doc, f"{label}:{line}", depth)) for line, doc in zip(starts, documents, strict=True)]


def parse_json(text: str, label: str, limits: Limits) -> list[tuple[int, Any]]:
    """The one document of a JSON file."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(f"{label}:{exc.lineno}: {exc.msg}") from None
    except RecursionError:
        raise RenderError(f"{label}:1: nesting deeper than the limit") from None
    return [(1, _plain(document, f"{label}:1", limits.max_yaml_depth))]


def load(data: bytes, label: str, limits: Limits, budget: scanning.Budget, *, is_json: bool = False) -> list[Rendered]:
    """The Kubernetes objects in file content `data`, validated, labelled `label`."""
    text = decode(data, label)
    documents = parse_json(text, label, limits) if is_json else parse_yaml(text, label, limits, budget)
    rendered: list[Rendered] = []
    for index, (line, document) in enumerate(documents, start=1):
        if document is None:
            continue
        where = f"{label}:{line}: document {index}"
        for obj in _flatten(document, where, limits.max_yaml_depth):
            rendered.append(Rendered(obj, label))
    return rendered


def decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RenderError(f"{label}: not valid UTF-8 (byte {exc.start})") from None


def _flatten(document: Any, where: str, depth: int) -> list[dict[str, Any]]:
    """`document` as objects: a List's items (recursively), or the validated object itself."""
    if not isinstance(document, dict):
        raise RenderError(f"{where} is a {_type_name(document)}, not a Kubernetes object (a mapping)")
    kind, items = document.get("kind"), document.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list) and depth > 0:
        return [obj for i, item in enumerate(items) for obj in _flatten(item, f"{where} item {i}", depth - 1)]
    validate(document, where)
    return [document]


def validate(obj: dict[str, Any], where: str) -> None:
    """Refuse an object without apiVersion, kind or metadata.name; `where` starts the message."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    for field, value in (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")), ("metadata.name", name)):
        if not isinstance(value, str) or not value:
            raise RenderError(f"{where}: object has no {field}")


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _plain(value: Any, where: str, depth: int) -> Any:
    """A JSON-compatible copy of loaded data: string keys, no shared values, no Python-only types."""
    if isinstance(value, dict | list) and depth <= 0:
        raise RenderError(f"{where}: nesting deeper than the limit")
    if isinstance(value, dict):
        return {_key(k): _plain(v, where, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, where, depth - 1) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise RenderError(f"{where}: unsupported YAML value of type {type(value).__name__}")


def _key(key: Any) -> str:
    """Mapping keys as Kubernetes' YAML→JSON conversion writes them."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
