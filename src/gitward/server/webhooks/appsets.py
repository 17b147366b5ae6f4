"""Which ApplicationSets a push concerns, and refreshing them (SPEC §11: sets re-check on matching
Git webhooks, as Applications do).

Called by `gitward.server.webhooks.receiving` after the Applications of a push were refreshed. A set
matches when one of its git generators (nested ones too) reads the pushed repository at a revision
the push moved (the rules of `matching`). The sets come from the leader's in-process controller
when it runs here (its watch cache; the refresh is in-process too), else from the API server, and
are then refreshed through the `gitward.dev/refresh` annotation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitward.controller import operations
from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors as kube_errors
from gitward.server import backend
from gitward.server.webhooks.matching import repo_key, revision_matches
from gitward.server.webhooks.pushes import Push

log = get_logger(__name__)


def _gits(generators: Any, depth: int = 0) -> Iterable[dict[str, Any]]:
    """The git generators of a raw spec (tolerant: a set the controller would refuse matches nothing)."""
    if not isinstance(generators, list) or depth > sets.MAX_NESTING:
        return
    for generator in generators:
        if not isinstance(generator, dict):
            continue
        if isinstance(generator.get("git"), dict):
            yield generator["git"]
        for nested in ("matrix", "merge"):
            inner = generator.get(nested)
            if isinstance(inner, dict):
                yield from _gits(inner.get("generators"), depth + 1)


def targets(appsets: Iterable[Manifest], push: Push) -> list[tuple[str, str]]:
    """(namespace, name) of every ApplicationSet the push concerns, sorted."""
    keys = {repo_key(u) for u in push.repo_urls}
    found = set()
    for appset in appsets:
        spec = appset.get("spec")
        for git in _gits(spec.get("generators") if isinstance(spec, dict) else None):
            url, revision = git.get("repoURL"), git.get("revision") or ""
            if not (isinstance(url, str) and isinstance(revision, str)):
                continue
            if repo_key(url) in keys and revision_matches(revision, push):
                meta = appset.get("metadata") or {}
                found.add((str(meta.get("namespace", "")), str(meta.get("name", ""))))
    return sorted(found)


async def refresh(server: backend.Backend, push: Push) -> list[tuple[str, str]]:
    """Refresh the ApplicationSets `push` concerns; return the ones refreshed."""
    controller = server.controller()
    if controller is not None:
        known = controller.appsets.sets()
    else:
        try:
            known, _ = await server.client.list(apps.API_VERSION, sets.KIND, server.namespace)
        except kube_errors.KubeError as exc:  # no CRD, no permission: Applications were refreshed anyway
            log.warning("webhook: cannot list ApplicationSets", error=exc.message)
            return []
    refreshed = []
    for namespace, name in targets(known, push):
        key = f"{namespace}/{name}"
        try:
            if controller is not None and controller.appsets.owns(key):
                controller.appsets.refresh(key)
            else:
                await operations.request_refresh(server.client, namespace, name, "webhook", kind=sets.KIND)
        except kube_errors.KubeError as exc:
            log.warning("webhook refresh of an ApplicationSet failed", appset=key, error=exc.message)
            continue
        refreshed.append((namespace, name))
    return refreshed
