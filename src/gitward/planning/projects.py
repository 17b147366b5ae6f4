"""Project bounds (SPEC §6): which sources, destinations and kinds an Application may use.

Pure; called by the reconciler before anything is fetched (source repository, destination) and
after rendering (every object's namespace and kind), so an Application outside its Project's bounds
is refused with a clear condition before any write. Semantics follow Argo CD's AppProject:

- `sourceRepos`: globs; an entry starting with `!` denies. A repoURL is allowed when it matches an
  allow entry and no deny entry (matching is tried on the URL as written and on its normalised
  form). An empty list allows nothing.
- `destinations`: `{cluster, namespace}` globs (`!` before the namespace denies). Every namespaced
  object's namespace must be allowed for the Application's cluster; an empty list allows nothing.
- `clusterResourceAllowlist`: `{group, kind}` globs of cluster-scoped kinds allowed; empty = none.
- `namespaceResourceDenylist`: `{group, kind}` globs of namespaced kinds refused.

The project `default` allows everything until it exists as an object (until edited).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gitward.core.manifests import Manifest, ObjectRef

DEFAULT = "default"


@dataclass(frozen=True)
class Bounds:
    source_repos: tuple[str, ...]
    destinations: tuple[tuple[str, str], ...]  # (cluster glob, namespace glob)
    cluster_allow: tuple[tuple[str, str], ...]  # (group glob, kind glob)
    namespace_deny: tuple[tuple[str, str], ...]

    @classmethod
    def from_spec(cls, spec: Any) -> Bounds:
        spec = spec if isinstance(spec, dict) else {}
        return cls(
            tuple(str(r) for r in _list(spec.get("sourceRepos"))),
            tuple(
                (str(d.get("cluster") or "*"), str(d.get("namespace") or "*")) for d in _dicts(spec.get("destinations"))
            ),
            tuple(_group_kind(d) for d in _dicts(spec.get("clusterResourceAllowlist"))),
            tuple(_group_kind(d) for d in _dicts(spec.get("namespaceResourceDenylist"))),
        )


ALLOW_ALL = Bounds(("*",), (("*", "*"),), (("*", "*"),), ())


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [d for d in _list(value) if isinstance(d, dict)]


def _group_kind(entry: dict[str, Any]) -> tuple[str, str]:
    """(group, kind) globs; a missing group means the core group "", as in Argo CD's AppProject."""
    return str(entry.get("group") or ""), str(entry.get("kind") or "*")


def _match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _allowed(patterns: Iterable[str], values: Iterable[str]) -> bool:
    """Allowed by some plain pattern and denied by no `!` pattern, for any spelling in `values`."""
    patterns = list(patterns)
    names = list(values)
    denied = any(_match(p[1:], v) for p in patterns if p.startswith("!") for v in names)
    allowed = any(_match(p, v) for p in patterns if not p.startswith("!") for v in names)
    return allowed and not denied


def source_violation(bounds: Bounds, repo_url: str, normalized: str) -> str | None:
    if _allowed(bounds.source_repos, (repo_url, normalized)):
        return None
    return f"source repository {repo_url} is not permitted by the project's sourceRepos"


def destination_violation(bounds: Bounds, cluster: str, namespace: str) -> str | None:
    allow = [(c, n) for c, n in bounds.destinations if not n.startswith("!") and not c.startswith("!")]
    deny = [(c.lstrip("!"), n.lstrip("!")) for c, n in bounds.destinations if n.startswith("!") or c.startswith("!")]
    if any(_match(c, cluster) and _match(n, namespace) for c, n in deny):
        return f"destination {cluster}/{namespace} is denied by the project"
    if any(_match(c, cluster) and _match(n, namespace) for c, n in allow):
        return None
    return f"destination {cluster}/{namespace} is not permitted by the project's destinations"


def object_violations(
    bounds: Bounds, cluster: str, objects: Iterable[Manifest], is_cluster_scoped: Callable[[ObjectRef], bool]
) -> list[str]:
    """Every rendered object outside the bounds, as messages that start with the object."""
    problems = []
    for obj in objects:
        ref = ObjectRef.of(obj)
        if is_cluster_scoped(ref):
            if not any(_match(g, ref.group) and _match(k, ref.kind) for g, k in bounds.cluster_allow):
                problems.append(
                    f"{ref}: cluster-scoped kind {ref.kind} is not in the project's clusterResourceAllowlist"
                )
            continue
        if any(_match(g, ref.group) and _match(k, ref.kind) for g, k in bounds.namespace_deny):
            problems.append(f"{ref}: kind {ref.kind} is in the project's namespaceResourceDenylist")
            continue
        problem = destination_violation(bounds, cluster, ref.namespace)
        if problem is not None:
            problems.append(f"{ref}: {problem}")
    return problems
