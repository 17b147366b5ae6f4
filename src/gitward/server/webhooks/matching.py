"""Which Applications a push concerns: same repository (normalised URL) and a target revision
that the push moved.

Pure. Called by gitward.server.webhooks.receiving with the server's cached Applications.

- Repositories compare by `gitward.sourcing.urls.normalize`, lowercased: https, http, ssh and
  scp-like forms, a `.git` suffix, userinfo, default ports and letter case do not matter.
- `targetRevision` `main` or `refs/heads/main` matches a push of branch main; a tag name or
  `refs/tags/<tag>` a push of that tag; `HEAD` or empty a push of the default branch — or of any
  branch when the payload does not say which is the default (an extra re-check is cheap, a
  missed one costs an interval). A commit SHA never matches (it cannot move).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitward.core.manifests import Manifest
from gitward.server.webhooks.pushes import Push
from gitward.sourcing import urls

__all__ = ["repo_key", "revision_matches", "targets"]


def repo_key(url: str) -> str:
    return urls.normalize(url).lower()


def revision_matches(target: str, push: Push) -> bool:
    target = target.strip()
    if target in ("", "HEAD"):
        if push.default_branch:
            return push.default_branch in push.branches
        return bool(push.branches)
    if target.startswith("refs/"):
        return target in push.refs
    return f"refs/heads/{target}" in push.refs or f"refs/tags/{target}" in push.refs


def _source(app: Manifest) -> dict[str, Any]:
    spec = app.get("spec")
    source = spec.get("source") if isinstance(spec, dict) else None
    return source if isinstance(source, dict) else {}


def targets(applications: Iterable[Manifest], push: Push) -> list[tuple[str, str]]:
    """(namespace, name) of every Application the push concerns, sorted."""
    keys = {repo_key(u) for u in push.repo_urls}
    found = []
    for app in applications:
        source = _source(app)
        repo_url, target = source.get("repoURL"), source.get("targetRevision") or ""
        if not isinstance(repo_url, str) or not isinstance(target, str):
            continue
        if repo_key(repo_url) in keys and revision_matches(target, push):
            meta = app.get("metadata") or {}
            found.append((str(meta.get("namespace", "")), str(meta.get("name", ""))))
    return sorted(found)
