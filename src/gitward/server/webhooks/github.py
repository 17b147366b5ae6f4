"""GitHub push webhooks: `X-GitHub-Event: push` (also `ping`), signed with
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.

Pure; used by gitward.server.webhooks.receiving. The payload's `repository` names the repository
in several forms (`clone_url`, `ssh_url`, `git_url`, `html_url`, `url`), all kept for matching;
`ref` is the pushed ref and `repository.default_branch` the default branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.server.webhooks import signatures
from gitward.server.webhooks.pushes import Provider, Push, obj, optional_text, ref, urls

URL_FIELDS = ("clone_url", "ssh_url", "git_url", "html_url", "url", "svn_url")


def verify(headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    return signatures.prefixed_hmac_ok(headers.get("x-hub-signature-256"), secret, body)


def parse(payload: Any) -> Push:
    return parse_repository_push("github", payload)


def parse_repository_push(provider: str, payload: Any) -> Push:
    """The push payload shape GitHub defined and Gitea follows."""
    body = obj(payload, "payload")
    repository = obj(body.get("repository"), "repository")
    return Push(
        provider=provider,
        repo_urls=urls((repository.get(f) for f in URL_FIELDS), "repository"),
        refs=(ref(body.get("ref"), "ref"),),
        default_branch=optional_text(repository.get("default_branch"), 256)
        or optional_text(repository.get("master_branch"), 256),
    )


PROVIDER = Provider("github", "x-github-event", frozenset({"push"}), verify, parse)
