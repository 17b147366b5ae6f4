"""GitLab push webhooks: `X-Gitlab-Event: Push Hook` or `Tag Push Hook`, authenticated by
`X-Gitlab-Token`, which must equal the shared secret (compared in constant time).

Pure; used by gitward.server.webhooks.receiving. Repository URLs come from `project`
(`git_http_url`, `git_ssh_url`, `web_url`, `http_url`, `ssh_url`, `url`) and `repository`
(`git_http_url`, `git_ssh_url`, `homepage`, `url`); the default branch from `project.default_branch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.server.webhooks import signatures
from gitward.server.webhooks.pushes import PayloadError, Provider, Push, loose_obj, obj, optional_text, ref, urls

PROJECT_URLS = ("git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url", "url")
REPOSITORY_URLS = ("git_http_url", "git_ssh_url", "homepage", "url")


def verify(headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    return signatures.token_ok(headers.get("x-gitlab-token"), secret)


def parse(payload: Any) -> Push:
    body = obj(payload, "payload")
    kind = body.get("object_kind", "push")
    if kind not in ("push", "tag_push"):
        raise PayloadError(f"object_kind: expected push or tag_push, got {str(kind)[:40]!r}")
    project = body.get("project")
    repository = body.get("repository")
    if not isinstance(project, dict) and not isinstance(repository, dict):
        raise PayloadError("project: expected an object")
    project, repository = loose_obj(project), loose_obj(repository)
    candidates = [project.get(f) for f in PROJECT_URLS] + [repository.get(f) for f in REPOSITORY_URLS]
    return Push(
        provider="gitlab",
        repo_urls=urls(candidates, "project"),
        refs=(ref(body.get("ref"), "ref"),),
        default_branch=optional_text(project.get("default_branch")),
    )


PROVIDER = Provider("gitlab", "x-gitlab-event", frozenset({"Push Hook", "Tag Push Hook"}), verify, parse)
