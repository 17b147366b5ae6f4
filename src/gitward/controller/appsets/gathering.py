"""What an ApplicationSet's generators read: Git trees and cluster Secrets.

Called by `gitward.controller.appsets.reconciling` once per re-check. Git generators share the
controller's `Sources` (one fetch per repository and revision for all sets and Applications, one
checkout per commit); a tree is listed once per re-check, without following symlinks, bounded in
entries, and its files are read confined to the checkout and bounded in size. Clusters are the
Secrets of the controller namespace that hold a kubeconfig (as for `destination.cluster`), plus
`in-cluster`; only their name, API server URL and labels are kept (never credentials).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitward.controller.appsets.generators import Cluster, GeneratorError, Inputs, Tree
from gitward.controller.clusters import KUBECONFIG_KEYS
from gitward.controller.sources import Sources
from gitward.core import applicationsets as sets
from gitward.core.applications import Source
from gitward.core.errors import GitwardError
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.rendering import paths
from gitward.sourcing import Credentials

MAX_ENTRIES = 100_000
"""Most files and directories listed in one repository tree."""
MAX_FILE = 1024 * 1024
"""Largest git generator file."""
IN_CLUSTER = Cluster("in-cluster", "https://kubernetes.default.svc", {})


@dataclass
class Gathered:
    inputs: Inputs = field(default_factory=Inputs)
    revisions: list[dict[str, str]] = field(default_factory=list)  # for the status


async def gather(
    spec: sets.ApplicationSetSpec,
    namespace: str,
    client: KubeClient,
    sources: Sources,
    cluster_namespace: str,
    stack: contextlib.AsyncExitStack,
    not_before: float | None,
) -> Gathered:
    """Fetch every repository the generators read (checkouts held by `stack`) and list clusters.
    Raises GeneratorError."""
    gathered = Gathered()
    for git in _unique(spec.git_sources()):
        creds = await _credentials(client, namespace, git)
        try:
            revision = await sources.revision(_as_source(git), creds, not_before)
            root = await stack.enter_async_context(sources.files(git.repo_url, revision.sha, creds))
        except GitwardError as exc:
            raise GeneratorError(f"git {git.repo_url}@{git.revision}: {exc.message}") from None
        gathered.inputs.trees[(git.repo_url, git.revision)] = await asyncio.to_thread(tree_of, root)
        gathered.revisions.append({"repoURL": git.repo_url, "revision": git.revision, "sha": revision.sha})
    if any(_has_clusters(g) for g in spec.generators):
        gathered.inputs.clusters = await clusters(client, cluster_namespace)
    return gathered


def _has_clusters(generator: sets.Generator) -> bool:
    return generator.clusters is not None or any(_has_clusters(c) for c in generator.children())


def _unique(gits: list[sets.GitGenerator]) -> list[sets.GitGenerator]:
    seen: dict[tuple[str, str], sets.GitGenerator] = {}
    for git in gits:
        seen.setdefault((git.repo_url, git.revision), git)
    return list(seen.values())


def _as_source(git: sets.GitGenerator) -> Source:
    """The Sources API resolves an Application source: the generator's repository and revision."""
    return Source.model_validate({"repoURL": git.repo_url, "targetRevision": git.revision})


async def _credentials(client: KubeClient, namespace: str, git: sets.GitGenerator) -> Credentials | None:
    if git.secret_ref is None:
        return None
    name = git.secret_ref.name
    try:
        secret = await client.get("v1", "Secret", name, namespace)
        return Credentials.from_secret_data(secret.get("data") or {}, secret_name=name)
    except kube_errors.APINotFoundError:
        raise GeneratorError(f"git {git.repo_url}: Secret/{namespace}/{name}: not found") from None
    except kube_errors.KubeError as exc:
        raise GeneratorError(f"git {git.repo_url}: Secret/{namespace}/{name}: {exc.message}") from None
    except ValueError as exc:
        raise GeneratorError(f"git {git.repo_url}: {exc}") from None


def tree_of(root: Path) -> Tree:
    """The directories and regular files of a checkout (symlinks neither listed nor followed)."""
    real = paths.real_root(root)
    directories: list[str] = []
    files: list[str] = []
    for current, dirnames, filenames in os.walk(real, followlinks=False):
        rel = os.path.relpath(current, real)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(current, d)))
        directories += [prefix + d for d in dirnames]
        files += [prefix + f for f in filenames if not os.path.islink(os.path.join(current, f))]
        if len(directories) + len(files) > MAX_ENTRIES:
            raise GeneratorError(f"the repository has more than {MAX_ENTRIES} files and directories")

    def read(rel: str) -> bytes:
        try:
            path = paths.resolve_inside(real, rel)
            if not paths.is_regular_file(path):
                raise GeneratorError(f"{rel}: not a regular file")
            return paths.read_bounded(path, rel, MAX_FILE)
        except GitwardError as exc:
            raise GeneratorError(exc.message) from None

    return Tree(directories, files, read)


async def clusters(client: KubeClient, namespace: str) -> list[Cluster]:
    """`in-cluster` and every Secret of `namespace` holding a kubeconfig, by name."""
    try:
        secrets, _ = await client.list("v1", "Secret", namespace)
    except kube_errors.KubeError as exc:
        raise GeneratorError(f"clusters: cannot list Secrets in {namespace}: {exc.message}") from None
    found = [IN_CLUSTER]
    for secret in sorted(secrets, key=lambda s: str(s["metadata"].get("name"))):
        server = server_of(secret.get("data") or {})
        if server is not None:
            meta = secret["metadata"]
            labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
            found.append(Cluster(str(meta.get("name")), server, labels))
    return found


def server_of(data: dict[str, Any]) -> str | None:
    """The API server URL of a kubeconfig entry's current context, or None (not a cluster Secret)."""
    raw = next((data[k] for k in KUBECONFIG_KEYS[:2] if data.get(k)), None)
    if raw is None:
        return None
    try:
        conf = yaml.safe_load(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, yaml.YAMLError):
        return None
    if not isinstance(conf, dict) or not isinstance(conf.get("clusters"), list):
        return None
    contexts = {c.get("name"): c.get("context") or {} for c in conf.get("contexts") or [] if isinstance(c, dict)}
    wanted = (contexts.get(conf.get("current-context")) or {}).get("cluster")
    for entry in conf["clusters"]:
        if isinstance(entry, dict) and (wanted is None or entry.get("name") == wanted):
            server = (entry.get("cluster") or {}).get("server")
            return _without_userinfo(server[:2048]) if isinstance(server, str) else None
    return None


def _without_userinfo(url: str) -> str:
    """The server URL without any `user:password@` (a parameter must never carry credentials)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
