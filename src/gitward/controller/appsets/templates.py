"""Rendering an ApplicationSet's template with one parameter set, in a sandbox (SPEC §11).

Pure. Called by `gitward.controller.appsets.reconciling` once per parameter set; the unit tests call
it with plain data. Every string of the template (keys and values) may hold `{{ expressions }}`:
parameter names (`{{path.basename}}`, `{{metadata.labels.env}}`), string literals, `~`/`+`
concatenation, comparisons, `x if c else y`, and a few filters (`lower`, `upper`, `title`, `trim`,
`default`, `truncate`). Rendering uses Jinja2's `ImmutableSandboxedEnvironment` with no loader (no
file access) and no globals, and each template is checked before it is compiled: statements
(`{% for %}`, `{% set %}`, macros, includes), calls, attribute names starting with `_`, and the
operators that multiply sizes (`*`, `**`, `%`) are refused, so no expression can run code, read a
file or build a huge value. The output is bounded per string and per Application; the rendered
Application must then pass the Application model (`gitward.core.applications`), else it is a
template error too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pydantic
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.identifiers import GRAMMARS

__all__ = ["Rendered", "TemplateFailure", "render"]

MAX_STRING = 16 * 1024
"""Longest rendered string."""
MAX_OUTPUT = 256 * 1024
"""Most characters of rendered strings in one Application."""
FILTERS = ("lower", "upper", "title", "trim", "default", "d", "truncate")
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Const,
    nodes.Filter, nodes.Concat, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not,
    nodes.Add, nodes.Keyword,
)  # fmt: skip


class TemplateFailure(ValueError):
    """The template cannot be rendered with a parameter set, or renders no valid Application."""


@dataclass(frozen=True)
class Rendered:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]

    def digest(self) -> str:
        """What the set generated, as a short digest (stored on the Application; skips unchanged writes)."""
        data = json.dumps([self.labels, self.annotations, self.spec], sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:32]


class _Env(ImmutableSandboxedEnvironment):
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, _Node) and not attr.startswith("_")


_ENV = _Env(undefined=StrictUndefined, autoescape=False, loader=None)
_ENV.globals.clear()
_ENV.filters = {name: _ENV.filters[name] for name in FILTERS}
_ENV.tests.clear()


class _Node:
    """A parameter that may have dotted children: `{{path}}` is its value, `{{path.basename}}` a child."""

    __slots__ = ("_children", "_value")

    def __init__(self, value: str | None) -> None:
        self._value = value
        self._children: dict[str, _Node] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._children[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: Any) -> Any:
        try:
            return self._children[str(name)]
        except KeyError:
            raise KeyError(name) from None

    def __str__(self) -> str:
        if self._value is None:
            raise TemplateFailure("a parameter group was used as a value")
        return self._value

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, _Node) else other)

    def __hash__(self) -> int:
        return hash(self._value)


def _context(params: dict[str, str]) -> dict[str, Any]:
    root = _Node(None)
    for key, value in params.items():
        node = root
        for part in _parts(key):
            node = node._children.setdefault(part, _Node(None))
        node._value = value
    context: dict[str, Any] = dict(root._children)
    context.update({k: v for k, v in params.items() if k in root._children and not root._children[k]._children})
    return context


def _parts(key: str) -> list[str]:
    """`a.b` → [a, b]; `path[0]` → [path, 0] (so that `{{path[0]}}` works as a subscript)."""
    parts = []
    for part in key.split("."):
        base, bracket, index = part.partition("[")
        parts.append(base)
        if bracket and index.endswith("]"):
            parts.append(index[:-1])
    return parts


_compiled: dict[str, Any] = {}


def _compile(text: str) -> Any:
    template = _compiled.get(text)
    if template is None:
        try:
            tree = _ENV.parse(text)
        except TemplateError as exc:
            raise TemplateFailure(f"{_show(text)}: {exc.message or exc}") from None
        _check(tree, text)
        template = _ENV.from_string(tree)
        if len(_compiled) > 4096:
            _compiled.clear()
        _compiled[text] = template
    return template


def _check(tree: nodes.Node, text: str) -> None:
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateFailure(f"{_show(text)}: {type(node).__name__} is not allowed in a template")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise TemplateFailure(f"{_show(text)}: attribute {node.attr[:40]!r} is not allowed")
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateFailure(f"{_show(text)}: filter {node.name[:40]!r} is not allowed")


class _Renderer:
    def __init__(self, params: dict[str, str]) -> None:
        self.context = _context(params)
        self.total = 0

    def text(self, text: str) -> str:
        if "{" not in text:
            return self._count(text)
        template = _compile(text)
        out: list[str] = []
        size = 0
        try:
            for chunk in template.generate(self.context):
                size += len(chunk)
                if size > MAX_STRING:
                    raise TemplateFailure(f"{_show(text)}: renders more than {MAX_STRING} characters")
                out.append(chunk)
        except TemplateError as exc:
            raise TemplateFailure(f"{_show(text)}: {exc.message or type(exc).__name__}") from None
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise TemplateFailure(f"{_show(text)}: {str(exc)[:200] or type(exc).__name__}") from None
        return self._count("".join(out))

    def _count(self, text: str) -> str:
        self.total += len(text)
        if self.total > MAX_OUTPUT:
            raise TemplateFailure(f"the rendered Application is over {MAX_OUTPUT} characters")
        return text

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > 32:
            raise TemplateFailure("the template is nested too deep")
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value


def render(template: sets.Template, params: dict[str, str]) -> Rendered:
    """The Application `template` describes for `params`; raises TemplateFailure."""
    renderer = _Renderer(params)
    name = renderer.text(template.metadata.name)
    _hold("subdomain", name, "metadata.name")
    labels = _strings(renderer, template.metadata.labels, "label")
    annotations = _strings(renderer, template.metadata.annotations, "")
    spec = renderer.value(template.spec)
    try:
        apps.ApplicationSpec.model_validate(spec)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise TemplateFailure(f"Application {name}: spec.{where}: {message}") from None
    return Rendered(name, labels, annotations, spec)


def _strings(renderer: _Renderer, mapping: dict[str, str], grammar: str) -> dict[str, str]:
    out = {}
    for key, value in mapping.items():
        k, v = renderer.text(key), renderer.text(value)
        _hold("label-key", k, "metadata key")
        if grammar:
            _hold("label-value", v, f"label {k}")
        out[k] = v
    return out


def _hold(grammar: str, value: str, what: str) -> None:
    problem = GRAMMARS[grammar].problem(value)
    if problem is not None:
        raise TemplateFailure(f"{what} {problem}")


def _show(text: str) -> str:
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for name in names:
        (dup if name in seen else seen).add(name)
    return sorted(dup)
