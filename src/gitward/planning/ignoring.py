"""`spec.ignoreDifferences` (SPEC §13): fields of the desired objects that gitward neither applies
over nor counts as drift.

Called by the controller's sync step (`controller.syncing`) once the live objects are known, and by
the diff views. Two kinds of rule, as in Argo CD:

- `jsonPointers` (RFC 6901): the field is taken out of the desired object, so it is neither compared
  nor shown in a diff; when gitward writes the object anyway (something else changed in Git), the
  field is written with the *live* value (`with_live_values`), so server-side apply neither changes
  it nor drops it (dropping a field gitward owned alone would reset it to its default).
- `managedFieldsManagers`: every field that one of those field managers owns on the live object
  (its `managedFields` entry) is taken out of the desired object: that manager keeps it. An HPA
  owning `spec.replicas`, a mutating webhook adding a sidecar, gitward's own Rollout controller
  (`ROLLOUT_MANAGER`, always ignored: it owns the target's replicas and the Service's selector).

Pure: plain data in, plain data out. Hostile input never raises here — a pointer that does not
resolve, or a managedFields entry that is not a mapping, removes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitward.core.applications import MANAGED_BY_LABEL, TRACKING_ID, ApplicationSpec
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import comparing, fieldsets

__all__ = ["ROLLOUT_MANAGER", "Rule", "applies_to", "as_written", "rules_of", "strip"]

ROLLOUT_MANAGER = "gitward-rollout"
"""The field manager of gitward's Rollout controller: what it owns, no Application fights over."""

ALWAYS_IGNORED_MANAGERS = (ROLLOUT_MANAGER,)


@dataclass(frozen=True)
class Rule:
    """One `ignoreDifferences` entry; empty group/name/namespace match any."""

    kind: str
    group: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()

    def matches(self, ref: ObjectRef) -> bool:
        return (
            self.kind in ("*", ref.kind)
            and self.group in ("*", ref.group)
            and self.name in ("", ref.name)
            and self.namespace in ("", ref.namespace)
        )


def rules_of(spec: ApplicationSpec) -> tuple[Rule, ...]:
    """The `spec.ignoreDifferences` of an Application as rules."""
    return tuple(
        Rule(d.kind, d.group, d.name, d.namespace, d.json_pointers, d.managed_fields_managers)
        for d in spec.ignore_differences
    )


def applies_to(rules: Iterable[Rule], ref: ObjectRef) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The JSON pointers and the field managers ignored for `ref` (managers include the Rollout's)."""
    pointers: list[str] = []
    managers: list[str] = list(ALWAYS_IGNORED_MANAGERS)
    for rule in rules:
        if rule.matches(ref):
            pointers += [p for p in rule.json_pointers if p not in pointers]
            managers += [m for m in rule.managers if m not in managers]
    return tuple(pointers), tuple(managers)


def strip(desired: Manifest, live: Manifest | None, pointers: Iterable[str], managers: Iterable[str]) -> Manifest:
    """`desired` without the ignored fields, its desired-hash annotation recomputed; the same object
    (not a copy) when nothing is ignored."""
    pointers = [p for p in pointers if p]
    owned = [fields for m in managers if live is not None and (fields := _fields_of(live, m)) is not None]
    if not pointers and not owned:
        return desired
    out = copy.deepcopy(desired)
    changed = False
    for pointer in pointers:
        changed = _remove_pointer(out, _tokens(pointer)) or changed
    for fields in owned:
        changed = _remove_owned(out, fields) or changed
    if not changed:
        return desired
    annotations = (out.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and comparing.DESIRED_HASH in annotations:
        annotations[comparing.DESIRED_HASH] = comparing.desired_hash(out)
    return out


def as_written(obj: Manifest, original: Manifest, live: Manifest | None, pointers: Iterable[str]) -> Manifest:
    """What to write for `obj` (`original` with the ignored fields stripped): on a create, Git's
    object whole; else the live value of each ignored JSON pointer put back, so that the write leaves
    those fields as they are. Either way with `obj`'s desired hash."""
    if live is None:
        if original is obj:
            return obj
        out = copy.deepcopy(original)
        annotations = (out.get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict) and comparing.DESIRED_HASH in annotations:
            annotations[comparing.DESIRED_HASH] = (obj["metadata"].get("annotations") or {})[comparing.DESIRED_HASH]
        return out
    found = [(tokens, value) for p in pointers if p and (value := _get(live, tokens := _tokens(p))) is not _MISSING]
    if not found:
        return obj
    out = copy.deepcopy(obj)
    for tokens, value in found:
        _set(out, tokens, copy.deepcopy(value))
    return out


# ---------------------------------------------------------------------------------- JSON pointers

_MISSING = object()


def _tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _step(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return _MISSING


def _get(node: Any, tokens: list[str]) -> Any:
    if not tokens:
        return _MISSING
    for token in tokens:
        node = _step(node, token)
        if node is _MISSING:
            return _MISSING
    return node


def _remove_pointer(obj: Manifest, tokens: list[str]) -> bool:
    if not tokens or tokens[0] in ("apiVersion", "kind") or tokens[:2] in (["metadata", "name"], ["metadata"]):
        return False  # never the object's identity
    parent = _get(obj, tokens[:-1]) if len(tokens) > 1 else obj
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]
        return True
    return False


def _set(obj: Manifest, tokens: list[str], value: Any) -> None:
    node: Any = obj
    for token in tokens[:-1]:
        nxt = _step(node, token)
        if nxt is _MISSING:
            if not isinstance(node, dict):
                return
            nxt = node[token] = {}
        node = nxt
    if isinstance(node, dict):
        node[tokens[-1]] = value
    elif isinstance(node, list) and tokens[-1].isdigit() and int(tokens[-1]) < len(node):
        node[int(tokens[-1])] = value


# ---------------------------------------------------------------------------- managed field sets


def _fields_of(live: Manifest, manager: str) -> dict[str, Any] | None:
    """The union of `manager`'s field sets on the main resource (Apply and Update entries alike)."""
    entries = (live.get("metadata") or {}).get("managedFields")
    found: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and entry.get("manager") == manager and not entry.get("subresource"):
            fields = entry.get("fieldsV1")
            if isinstance(fields, dict):
                found.append(fields)
        elif isinstance(entry, dict) and entry.get("manager") == manager and entry.get("subresource") == "scale":
            found.append({"f:spec": {"f:replicas": {}}})  # HPA and `kubectl scale` write replicas through /scale
    if not found:
        return None
    merged: dict[str, Any] = {}
    for fields in found:
        _merge(merged, fields)
    return merged


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, child in other.items():
        if not isinstance(child, dict):
            continue  # not a field set node: owns nothing
        mine = into.get(key)
        if isinstance(mine, dict) and isinstance(child, dict) and mine and child:
            _merge(mine, child)
        elif key not in into or not child:
            into[key] = copy.deepcopy(child)


def _remove_owned(obj: Manifest, fields: dict[str, Any]) -> bool:
    """Remove from `obj` every field `fields` covers (never apiVersion, kind, name, namespace)."""
    changed = False
    for key in list(obj):
        if key in ("apiVersion", "kind"):
            continue
        node = fields.get(f"f:{key}")
        if key == "metadata" and isinstance(obj[key], dict) and isinstance(node, dict):
            changed = _in_map(obj[key], _without_tracking(node), keep=("name", "namespace")) or changed
        elif node is not None:
            changed = _in_field(obj, key, node) or changed
    return changed


def _without_tracking(node: dict[str, Any]) -> dict[str, Any]:
    """A metadata field set without gitward's tracking annotation, desired hash and managed-by label:
    another manager may co-own them, gitward always writes them."""
    node = copy.deepcopy(node)
    for field, names in (("f:annotations", (TRACKING_ID, comparing.DESIRED_HASH)), ("f:labels", (MANAGED_BY_LABEL,))):
        child = node.get(field)
        if isinstance(child, dict) and not {k for k in child if k != "."}:
            del node[field]  # "owned whole" never happens for these granular maps: take nothing
        elif isinstance(child, dict):
            for name in names:
                child.pop(f"f:{name}", None)
            if not {k for k in child if k != "."}:
                del node[field]
    return node


def _in_field(parent: dict[str, Any], key: str, node: Any) -> bool:
    value = parent[key]
    if not isinstance(node, dict):
        return False
    children = {k: v for k, v in node.items() if k != "."}
    if not children:  # owned whole
        del parent[key]
        return True
    if isinstance(value, dict):
        changed = _in_map(value, children)
    elif isinstance(value, list):
        changed = _in_list(value, children)
    else:
        return False
    if changed and not value:
        del parent[key]
    return changed


def _in_map(value: dict[str, Any], node: dict[str, Any], keep: tuple[str, ...] = ()) -> bool:
    changed = False
    for key in list(value):
        if key in keep or (child := node.get(f"f:{key}")) is None:
            continue
        changed = _in_field(value, key, child) or changed
    return changed


def _in_list(items: list[Any], node: dict[str, Any]) -> bool:
    entries = fieldsets.list_entries(node)
    changed = False
    for index in reversed(range(len(items))):
        item = items[index]
        for keys, child in entries.owners(item, index)[:1]:
            children = {k: v for k, v in child.items() if k != "."} if isinstance(child, dict) else {}
            if not children and keys is None:  # a set item, or a positional one owned whole: the manager keeps it
                del items[index]
                changed = True
            elif children and isinstance(item, dict):  # never the merge keys: they name the item
                changed = _in_map(item, children, keep=tuple(keys or ())) or changed
    return changed
