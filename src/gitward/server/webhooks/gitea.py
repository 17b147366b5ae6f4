"""Gitea (and Forgejo) push webhooks: `X-Gitea-Event: push`, signed with
`X-Gitea-Signature: <hex HMAC-SHA256 of the body>` (no prefix).

Pure; used by gitward.server.webhooks.receiving. Gitea's payload follows GitHub's
(`ref`, `repository.clone_url` / `ssh_url` / `html_url`, `repository.default_branch`). Gitea also
sends GitHub's headers, so the receiver checks for Gitea's first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.server.webhooks import signatures
from gitward.server.webhooks.github import parse_repository_push
from gitward.server.webhooks.pushes import Provider, Push


def verify(headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    return signatures.hex_hmac_ok(headers.get("x-gitea-signature"), secret, body)


def parse(payload: Any) -> Push:
    return parse_repository_push("gitea", payload)


PROVIDER = Provider("gitea", "x-gitea-event", frozenset({"push"}), verify, parse)
