"""Variable substitution in rendered objects: `source.substitute` (SPEC §15, Flux's postBuild).

Called by the controller (`controller.desiring`) after the render and before normalisation, with the
variables it read (`controller.inputs`); pure. `${var}` is replaced by the variable's value,
`${var:=default}` by the default when the variable is unset or empty, `$${var}` stands for the text
`${var}`; other `${...}` forms are left alone. An undefined variable without a default becomes ""
unless `strict` is set, then it refuses the render. Precedence as in Flux: entries of `from` in
order (later wins), then the inline `vars` over all of them.

Substitution happens in the string values of the parsed objects, never in YAML text: a value can
never add a key, an object or a document, whatever it holds. Keys are left as they are. An object
annotated `gitward.dev/substitute: disabled` is left whole. The values that came from Secrets are
reported (`Substituted.secret_values`), so diffs and messages can mask them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitward.core.applications import SUBSTITUTE
from gitward.core.errors import RenderError
from gitward.core.identifiers import GRAMMARS
from gitward.core.manifests import Manifest, ObjectRef

__all__ = ["Substituted", "Variables", "from_data", "substitute"]

_REFERENCE = re.compile(r"\$\$(?=\{)|\$\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?P<default>:=[^}]*)?\}")
DISABLED = "disabled"


@dataclass(frozen=True)
class Variables:
    """The variables of one render: name → value, and which names hold a Secret's value."""

    values: Mapping[str, str] = field(default_factory=dict)
    secret_names: frozenset[str] = frozenset()

    def merged(self, other: Variables) -> Variables:
        """`other` over `self` (a later source wins)."""
        secret = (self.secret_names - other.values.keys()) | other.secret_names
        return Variables({**self.values, **other.values}, frozenset(secret))


@dataclass(frozen=True)
class Substituted:
    objects: list[Manifest]
    secret_values: tuple[str, ...]  # the Secret-held values that went into the objects


def from_data(kind: str, label: str, data: Mapping[str, Any]) -> Variables:
    """The variables in a ConfigMap's or Secret's `data` (`label`: `Secret/ns/name`, for messages).

    Secret values are base64-decoded and marked secret; every key must be a variable name."""
    values: dict[str, str] = {}
    for key, raw in data.items():
        if GRAMMARS["variable"].problem(str(key)) is not None:
            raise RenderError(f"{label}: key {str(key)[:80]!r} is not a variable name (letters, digits, '_')")
        values[str(key)] = _decode(label, str(key), raw) if kind == "Secret" else str(raw)
    return Variables(values, frozenset(values) if kind == "Secret" else frozenset())


def _decode(label: str, key: str, raw: Any) -> str:
    try:
        return base64.b64decode(str(raw), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise RenderError(f"{label}: key {key!r} is not base64-encoded UTF-8 text") from None


def substitute(objects: list[Manifest], variables: Variables, *, strict: bool, max_bytes: int) -> Substituted:
    """`objects` with every reference replaced (new objects; the inputs are not changed).

    Raises RenderError naming the object for an undefined variable in strict mode, or when the
    substituted strings grow past `max_bytes` in all."""
    state = _State(variables, strict, max_bytes)
    out = []
    for obj in objects:
        if _disabled(obj):
            out.append(obj)
            continue
        state.ref = ObjectRef.of(obj)
        out.append(state.walk(obj))
    return Substituted(out, tuple(sorted(state.used_secrets)))


def _disabled(obj: Manifest) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return isinstance(annotations, dict) and annotations.get(SUBSTITUTE) == DISABLED


class _State:
    def __init__(self, variables: Variables, strict: bool, max_bytes: int) -> None:
        self.variables, self.strict = variables, strict
        self.budget = max_bytes
        self.ref: ObjectRef | None = None
        self.used_secrets: set[str] = set()

    def walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        if isinstance(value, str) and "${" in value:
            return self.replace(value)
        return value

    def replace(self, text: str) -> str:
        result = _REFERENCE.sub(self._one, text)
        self.budget -= max(len(result) - len(text), 0)
        if self.budget < 0:
            raise RenderError(f"{self.ref}: substituted values exceed the render's size limit")
        return result

    def _one(self, match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return "$"  # `$${` → `${`
        value = self.variables.values.get(name)
        default = match.group("default")
        if default is not None and not value:
            return default[2:]
        if value is None:
            if self.strict:
                raise RenderError(f"{self.ref}: variable {name!r} is not defined (source.substitute.strict)")
            return ""
        if name in self.variables.secret_names:
            self.used_secrets.add(value)
        return value
