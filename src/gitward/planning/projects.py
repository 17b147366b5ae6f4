"""Project bounds (SPEC §6): which sources, destinations and kinds an Application may use.

Pure; called by the reconciler before anything is fetched (source repository, destination) and
after rendering (every object's namespace and kind), so an Application outside its Project's bounds
is refused with a clear condition before any write. Semantics follow Argo CD's AppProject:

- `sourceRepos`: globs; an entry starting with `!` denies, and a deny wins whatever the order. A
  repoURL is allowed when it matches an allow entry (as written, or against its normalised form)
  and no deny entry. A deny entry is matched as written and also normalised like the URL (scheme,
  userinfo, default port, `.git`, trailing and repeated `/` dropped) and without regard to case, so
  `!https://host/org/secret` also refuses `git@host:org/secret`, `https://HOST:443/org/Secret.git/`
  or `ssh://git@host/org/secret` (hosting services treat those as one repository). The URL parser
  (`sourcing.urls`) already refused `..`, `.` and encoded `/` in the path. An empty list allows
  nothing.
- `destinations`: `{cluster, namespace}` globs (`!` before the namespace denies). Every namespaced
  object's namespace must be allowed for the Application's cluster; an empty list allows nothing.
- `clusterResourceAllowlist`: `{group, kind}` globs of cluster-scoped kinds allowed; empty = none. A
  Namespace object must also name a namespace the destinations allow.
- `namespaceResourceDenylist`: `{group, kind}` globs of namespaced kinds refused.
- `sourceNamespaces` (an addition to SPEC §6, as Argo CD's): globs of the namespaces whose
  Applications may use the Project (`!` denies). Absent: any namespace, as SPEC §6 has it. A Project
  whose destinations reach other teams' namespaces should list the namespaces it serves, or any
  tenant that may create an Application could name it.

The project `default` allows everything until it exists as an object (until edited).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gitward.core.manifests import Manifest, ObjectRef
from gitward.core.repositories import DEFAULT_PORTS, SCHEME_ALIASES

DEFAULT = "default"


@dataclass(frozen=True)
class Bounds:
    source_repos: tuple[str, ...]
    destinations: tuple[tuple[str, str], ...]  # (cluster glob, namespace glob)
    cluster_allow: tuple[tuple[str, str], ...]  # (group glob, kind glob)
    namespace_deny: tuple[tuple[str, str], ...]
    source_namespaces: tuple[str, ...] | None = None  # None: Applications of any namespace

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
            None if spec.get("sourceNamespaces") is None else tuple(str(n) for n in _list(spec["sourceNamespaces"])),
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


_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def normalize_repo_pattern(pattern: str) -> str:
    """A `sourceRepos` glob in the normalised form of `sourcing.normalize` (`host[:port]/path`):
    no scheme, userinfo or default port, lowercase host, no repeated or trailing `/`, no `.git`."""
    scheme = _SCHEME.match(pattern)
    rest = pattern[scheme.end() :] if scheme else pattern
    head, slash, path = rest.partition("/")
    if scheme is None and ":" in head:  # scp-like `user@host:path`
        head, _, first = head.partition(":")
        path, slash = first + slash + path, "/"
    host = head.rpartition("@")[2].lower()
    name = scheme["scheme"].lower() if scheme else ""
    port = DEFAULT_PORTS.get(SCHEME_ALIASES.get(name, name))
    if port is not None:
        host = host.removesuffix(f":{port}")
    path = re.sub(r"/{2,}", "/", path).strip("/").removesuffix(".git").rstrip("/")
    return f"{host}/{path}" if slash and path else host


def application_violation(bounds: Bounds, app_namespace: str) -> str | None:
    """Why an Application of `app_namespace` may not use the Project (its `sourceNamespaces`), or None."""
    if bounds.source_namespaces is None or _allowed(bounds.source_namespaces, (app_namespace,)):
        return None
    return f"Applications of namespace {app_namespace} may not use this project (its sourceNamespaces)"


def source_violation(bounds: Bounds, repo_url: str, normalized: str) -> str | None:
    denies = [p[1:] for p in bounds.source_repos if p.startswith("!")]
    if any(_match(p, repo_url) or _match(normalize_repo_pattern(p).lower(), normalized.lower()) for p in denies):
        return f"source repository {repo_url} is not permitted by the project's sourceRepos (a deny entry matches)"
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
            elif (ref.group, ref.kind) == ("", "Namespace"):
                # a Namespace is the namespace it names: allowing the kind must not hand over (adopt,
                # relabel, prune) namespaces outside the destinations, such as kube-system
                problem = destination_violation(bounds, cluster, ref.name)
                if problem is not None:
                    problems.append(f"{ref}: {problem}")
            continue
        if any(_match(g, ref.group) and _match(k, ref.kind) for g, k in bounds.namespace_deny):
            problems.append(f"{ref}: kind {ref.kind} is in the project's namespaceResourceDenylist")
            continue
        problem = destination_violation(bounds, cluster, ref.namespace)
        if problem is not None:
            problems.append(f"{ref}: {problem}")
    return problems
