"""Bitbucket push webhooks, signed with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`:

- Bitbucket Cloud, `X-Event-Key: repo:push`: `push.changes[].new` (or `.old` for a deleted
  branch) is `{type: branch|tag, name}`; the repository is `repository.links.html.href` (also
  `full_name` on bitbucket.org), from which the clone forms follow (they normalise alike).
- Bitbucket Server / Data Center, `X-Event-Key: repo:refs_changed`: `changes[].ref.id` (or
  `refId`) is the full ref; `repository.links.clone[].href` are the clone URLs (http and ssh).

Pure; used by gitward.server.webhooks.receiving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.server.webhooks import signatures
from gitward.server.webhooks.pushes import (
    PayloadError,
    Provider,
    Push,
    items,
    loose_items,
    loose_obj,
    obj,
    optional_text,
    text,
    urls,
)

MAX_CHANGES = 1000
_REF_PREFIX = {"branch": "refs/heads/", "tag": "refs/tags/", "annotated_tag": "refs/tags/"}


def verify(headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    return signatures.prefixed_hmac_ok(headers.get("x-hub-signature"), secret, body)


def parse(payload: Any) -> Push:
    body = obj(payload, "payload")
    if "push" in body:
        return _cloud(body)
    if "changes" in body:
        return _server(body)
    raise PayloadError("payload: expected `push` (Bitbucket Cloud) or `changes` (Bitbucket Server)")


def _cloud(body: dict[str, Any]) -> Push:
    repository = obj(body.get("repository"), "repository")
    candidates: list[Any] = [loose_obj(loose_obj(repository.get("links")).get("html")).get("href")]
    full_name = optional_text(repository.get("full_name"), 512)
    if full_name is not None and "/" in full_name:
        candidates.append(f"https://bitbucket.org/{full_name}")
    changes = items(obj(body.get("push"), "push").get("changes"), "push.changes")
    refs = []
    for i, change in enumerate(changes[:MAX_CHANGES]):
        change = obj(change, f"push.changes[{i}]")
        state = change.get("new") if change.get("new") is not None else change.get("old")
        state = obj(state, f"push.changes[{i}].new")
        prefix = _REF_PREFIX.get(str(state.get("type")))
        if prefix is not None:  # Mercurial bookmarks and named branches are not Git refs
            refs.append(prefix + text(state.get("name"), f"push.changes[{i}].new.name", 1024))
    if not refs:
        raise PayloadError("push.changes: no branch or tag")
    return Push("bitbucket", urls(candidates, "repository.links.html"), tuple(dict.fromkeys(refs)))


def _server(body: dict[str, Any]) -> Push:
    repository = obj(body.get("repository"), "repository")
    links = loose_obj(repository.get("links"))
    candidates = [loose_obj(link).get("href") for link in loose_items(links.get("clone"))]
    candidates += [_browse_to_clone(loose_obj(link).get("href")) for link in loose_items(links.get("self"))]
    changes = items(body.get("changes"), "changes")
    refs = []
    for i, change in enumerate(changes[:MAX_CHANGES]):
        change = obj(change, f"changes[{i}]")
        name = loose_obj(change.get("ref")).get("id")
        name = text(name if name is not None else change.get("refId"), f"changes[{i}].ref.id", 1024)
        if not name.startswith("refs/"):
            raise PayloadError(f"changes[{i}].ref.id: expected a full ref name")
        refs.append(name)
    if not refs:
        raise PayloadError("changes: empty")
    return Push("bitbucket-server", urls(candidates, "repository.links.clone"), tuple(dict.fromkeys(refs)))


def _browse_to_clone(href: Any) -> str | None:
    """`https://bb/projects/P/repos/r/browse` → `https://bb/scm/p/r` (the http clone URL)."""
    url = optional_text(href)
    if url is None or "/projects/" not in url or "/repos/" not in url:
        return None
    base, _, rest = url.partition("/projects/")
    project, _, rest = rest.partition("/repos/")
    repo = rest.split("/", 1)[0]
    return f"{base}/scm/{project.lower()}/{repo}" if project and repo else None


PROVIDER = Provider("bitbucket", "x-event-key", frozenset({"repo:push", "repo:refs_changed"}), verify, parse)
