"""ApplicationSet generators over plain data: each turns its inputs into a list of parameter sets.

Pure. Called by `gitward.controller.appsets.reconciling` with the Git trees and cluster Secrets it
gathered (`Inputs`); the unit tests call it with plain data. Parameters are flat `{name: string}`
maps: nested keys of list elements and of git files become dotted names (`a.b.c`), list items
`a.0`, `a.1`. Every generator is bounded (`MAX_PARAMS` parameter sets, `MAX_KEYS` keys per set):
a repository or a Secret that would produce more is an error, never a flood of Applications.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitward.core import applicationsets as sets
from gitward.core.regexes import RegexError, compile_regex, error_message

__all__ = ["Cluster", "GeneratorError", "Inputs", "Params", "Tree", "flatten", "generate", "glob_regex"]

Params = dict[str, str]

MAX_PARAMS = 10_000
"""Most parameter sets in a set's whole output (after matrix products too)."""
MAX_KEYS = 512
"""Most parameters in one set (a git file with more keys is refused)."""
MAX_VALUE = 8192
"""Longest parameter value."""
MAX_DEPTH = 16
"""Deepest nesting of a git file or list element."""


class GeneratorError(ValueError):
    """A generator cannot produce its parameters (nothing is created, updated or deleted)."""


@dataclass(frozen=True)
class Tree:
    """A Git tree as the git generators see it: its directories and a reader of its files."""

    directories: list[str]  # every directory, relative, "/"-separated, no "."
    files: list[str]  # every regular file, relative
    read: Callable[[str], bytes] = field(repr=False)  # bounded, confined reads (raises GeneratorError)


@dataclass(frozen=True)
class Cluster:
    name: str
    server: str
    labels: dict[str, str]


@dataclass
class Inputs:
    trees: dict[tuple[str, str], Tree] = field(default_factory=dict)  # (repoURL, revision) → tree
    clusters: list[Cluster] = field(default_factory=list)


def generate(generator: sets.Generator, inputs: Inputs) -> list[Params]:
    """The parameter sets of one generator."""
    kind = generator.kind
    if generator.list_ is not None:
        result = [_element(e) for e in generator.list_.elements]
    elif generator.git is not None:
        result = _git(generator.git, inputs)
    elif generator.clusters is not None:
        result = [_cluster(c) for c in inputs.clusters if generator.clusters.selector.matches(c.labels)]
    elif generator.matrix is not None:
        left, right = (generate(g, inputs) for g in generator.matrix.generators)
        if len(left) * len(right) > MAX_PARAMS:
            raise GeneratorError(f"matrix: {len(left)} × {len(right)} parameter sets is more than {MAX_PARAMS}")
        result = [{**a, **b} for a in left for b in right]
    elif generator.merge is not None:
        result = _merge(generator.merge, inputs)
    else:  # the model holds exactly one
        raise GeneratorError(f"unknown generator {kind}")
    if len(result) > MAX_PARAMS:
        raise GeneratorError(f"{kind}: {len(result)} parameter sets is more than {MAX_PARAMS}")
    return result


def _element(element: Mapping[str, Any]) -> Params:
    return flatten(element)


def _cluster(cluster: Cluster) -> Params:
    params = {"name": cluster.name, "server": cluster.server}
    params.update({f"metadata.labels.{k}": v for k, v in cluster.labels.items()})
    return params


def _merge(merge: sets.MergeGenerator, inputs: Inputs) -> list[Params]:
    """Argo CD's merge: the first generator's sets, each overridden by the later generators' sets
    that agree with it on every merge key."""
    base, *others = (generate(g, inputs) for g in merge.generators)
    keys = merge.merge_keys

    def key_of(params: Params) -> tuple[str, ...] | None:
        return tuple(params[k] for k in keys) if all(k in params for k in keys) else None

    result = [dict(p) for p in base]
    for other in others:
        by_key: dict[tuple[str, ...], Params] = {}
        for params in other:
            found = key_of(params)
            if found is not None:
                by_key.setdefault(found, params)
        for params in result:
            found = key_of(params)
            if found is not None and found in by_key:
                params.update(by_key[found])
    return result


# ------------------------------------------------------------------ git


def _git(git: sets.GitGenerator, inputs: Inputs) -> list[Params]:
    tree = inputs.trees.get((git.repo_url, git.revision))
    if tree is None:
        raise GeneratorError(f"git {git.repo_url}@{git.revision}: not fetched")
    if git.directories:
        return directories(tree, git.directories)
    return files(tree, git.files)


def directories(tree: Tree, patterns: tuple[sets.GitDirectory, ...]) -> list[Params]:
    """The directories matching an include pattern and no exclude pattern, sorted by path."""
    include = [glob_regex(p.path) for p in patterns if not p.exclude]
    exclude = [glob_regex(p.path) for p in patterns if p.exclude]
    chosen = [
        d
        for d in sorted(tree.directories)
        if any(r.fullmatch(d) for r in include) and not any(r.fullmatch(d) for r in exclude)
    ]
    return [_path_params(d) for d in chosen]


def files(tree: Tree, patterns: tuple[sets.GitFile, ...]) -> list[Params]:
    """One parameter set per matching JSON/YAML file: its keys flattened, and its `path.*`."""
    regexes = [glob_regex(p.path) for p in patterns]
    chosen = [f for f in sorted(tree.files) if any(r.fullmatch(f) for r in regexes)]
    if len(chosen) > MAX_PARAMS:
        raise GeneratorError(f"git files: {len(chosen)} files match, more than {MAX_PARAMS}")
    result = []
    for path in chosen:
        data = _load(path, tree.read(path))
        params = flatten(data)
        params.update(_path_params(posixpath.dirname(path) or "."))
        params["path.filename"] = posixpath.basename(path)
        params["path.filenameNormalized"] = normalized(posixpath.basename(path))
        result.append(params)
    return result


def _load(path: str, raw: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(raw) if path.endswith(".json") else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GeneratorError(f"{path}: not valid JSON/YAML: {first}") from None
    if not isinstance(data, dict):
        raise GeneratorError(f"{path}: expected a mapping at the top")
    return data


def _path_params(path: str) -> Params:
    base = posixpath.basename(path.rstrip("/")) or path
    params = {"path": path, "path.basename": base, "path.basenameNormalized": normalized(base)}
    for index, segment in enumerate(path.split("/")):
        params[f"path[{index}]"] = segment
    return params


def normalized(name: str) -> str:
    """A name usable in a DNS-1123 name: lower case, anything else than [a-z0-9.-] becomes "-"."""
    return re.sub(r"[^a-z0-9.-]", "-", name.lower())


def glob_regex(pattern: str) -> Any:
    """A path glob as a regular expression compiled by RE2 (linear time: `*a*a*a*b` over a long
    directory name would hold Python's `re` for ever): `*` and `?` stay within a segment, `**`
    crosses segments, `[...]` is a character class; everything else is literal. GeneratorError for
    a class RE2 refuses."""
    out, i = [], 0
    pattern = pattern.strip("/") or "."
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return compile_regex("".join(out))
    except RegexError as exc:
        raise GeneratorError(f"path {pattern[:200]!r}: {error_message(exc)}") from None


# ------------------------------------------------------------------ flattening


def flatten(data: Mapping[str, Any]) -> Params:
    """Nested mappings and lists as dotted parameters: `{a: {b: 1}, c: [x]}` → `{a.b: "1", c.0: "x"}`."""
    out: Params = {}
    _flatten_into(out, "", data, 0)
    return out


def _flatten_into(out: Params, prefix: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise GeneratorError(f"{prefix}: nested more than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        _put(out, prefix, _scalar(value))
        return
    if not items and prefix:
        _put(out, prefix, "{}" if isinstance(value, Mapping) else "[]")
    for key, item in items:
        _flatten_into(out, f"{prefix}.{key}" if prefix else key, item, depth + 1)


def _put(out: Params, key: str, value: str) -> None:
    if len(out) >= MAX_KEYS:
        raise GeneratorError(f"more than {MAX_KEYS} parameters in one set")
    if len(value) > MAX_VALUE:
        raise GeneratorError(f"parameter {key[:100]}: value longer than {MAX_VALUE} characters")
    out[key[:253]] = value


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
