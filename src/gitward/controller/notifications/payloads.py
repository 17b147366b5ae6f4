"""What each Provider type sends: the HTTP request for one notice, built from plain data (pure).

- `generic`: POST the notice as JSON (SPEC §14 shape); `generic-hmac` adds
  `X-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed by the Secret's `token`.
- `slack`: an incoming-webhook message (`text` plus one attachment); with a `token`, a bearer header
  for Slack's Web API `chat.postMessage` (same JSON, `channel` required, answers `{"ok": ...}`).
- `msteams`: an Office 365 connector `MessageCard`.
- `github`, `gitlab`, `gitea`, `bitbucket`: a commit status on the notice's revision, named
  `gitward/<app-namespace>/<app-name>`, at the API derived from the repository's web URL (`address`).

Addresses are hostile input: only http(s), no userinfo, and for forges a repository path of plain
segments. Nothing here logs; nothing returned carries a credential except the request's own headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from gitward import __version__
from gitward.core.notifications import FORGES, Notice, ProviderSpec

USER_AGENT = f"gitward/{__version__}"
DESCRIPTION_LIMIT = 140  # GitHub refuses longer commit status descriptions; the others are as strict or laxer
SIGNATURE_HEADER = "X-Signature"
GITLAB_SAME_STATE = b"Cannot transition status"

CommitState = Literal["pending", "success", "failure"]

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
# refusals and failures about the revision itself (not about reaching Git or reading a Secret): with
# the conditions RenderError/ValidationError/SyncError they turn a commit status to failure
_COMMIT_FAILURES = frozenset({"SyncFailed", "ValidationFailed", "RenderFailed", "VerificationFailed", "Conflict"})
_COMMIT_FAILURE_CONDITIONS = frozenset({"RenderError", "ValidationError", "SyncError"})
_HEALTHY = ("Healthy", "Suspended", "")


class ConfigError(ValueError):
    """The Provider (or its Secret) cannot be used as it is: not retried until it changes."""


@dataclass(frozen=True)
class Credentials:
    """What a Provider's Secret holds (decoded); `values` are redacted from every message."""

    token: str = ""
    username: str = ""
    password: str = ""
    address: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.token, self.username, self.password, self.address) if v)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    check_ok: bool = False  # the API answers 200 with {"ok": false, "error": ...} on failure (Slack's Web API)
    already: bytes = b""  # in a 400 answer: the state asked for is already there (GitLab), not a failure

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def check_address(address: str) -> str:
    """`address` when it is an absolute http(s) URL without credentials; ConfigError otherwise."""
    if not address:
        raise ConfigError("no address (spec.address, or the Secret's address)")
    if len(address) > 2048 or not re.fullmatch(r"[!-~]+", address):
        raise ConfigError("address must be a URL of at most 2048 printable characters without spaces")
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        raise ConfigError("address is not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"address must be http or https (got scheme {parts.scheme[:20]!r})")
    if not parts.hostname:
        raise ConfigError("address has no host")
    if "@" in parts.netloc:
        raise ConfigError("address must not carry credentials: put them in the Secret")
    return address


def commit_state(notice: Notice) -> CommitState | None:
    """The commit status a notice means, or None when it says nothing about its revision."""
    if not _SHA.fullmatch(notice.revision):
        return None
    if notice.severity == "error":
        condition = notice.metadata.get("condition", "")
        if notice.reason in _COMMIT_FAILURES or notice.reason == "HealthDegraded":
            return "failure"
        return "failure" if condition in _COMMIT_FAILURE_CONDITIONS else None
    if notice.reason == "Progressing":
        return "pending"
    if notice.reason == "Synced":
        health = notice.metadata.get("health", "")
        return "success" if health in _HEALTHY else "pending"
    if notice.reason in ("Healthy", "HealthRecovered"):
        return "success"
    return None


def context_of(notice: Notice) -> str:
    return f"gitward/{notice.namespace}/{notice.name}"


def build(spec: ProviderSpec, creds: Credentials, notice: Notice, summary: str = "") -> Request | None:
    """The request that delivers `notice` through a Provider of `spec`; None when there is nothing
    to send (a forge and a notice that is not about a commit). Raises ConfigError."""
    if spec.type in FORGES:
        state = commit_state(notice)
        if state is None:
            return None
        return commit_status(spec.type, check_address(spec.address), creds, notice, state)
    url = check_address(creds.address or spec.address)
    if spec.type == "slack":
        request = _json_request(url, slack_body(spec, notice, summary), _bearer(creds.token))
        if not creds.token:
            return request
        if not spec.channel:
            raise ConfigError("slack with a token posts through chat.postMessage, which needs spec.channel")
        return Request(request.method, request.url, request.headers, request.body, check_ok=True)
    if spec.type == "msteams":
        return _json_request(url, msteams_body(notice, summary), {})
    body = generic_body(notice, summary)
    if spec.type == "generic-hmac":
        if not creds.token:
            raise ConfigError("generic-hmac needs a token in the Secret (the HMAC key)")
        raw = _encode(body)
        headers = {SIGNATURE_HEADER: signature(creds.token, raw)}
        return Request("POST", url, {**_json_headers(), **headers}, raw)
    return _json_request(url, body, {})


def signature(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def generic_body(notice: Notice, summary: str = "") -> dict[str, Any]:
    metadata = dict(notice.metadata)
    if summary:
        metadata["summary"] = summary
    return {
        "involvedObject": {"kind": notice.kind, "namespace": notice.namespace, "name": notice.name},
        "severity": notice.severity,
        "reason": notice.reason,
        "message": notice.message,
        "revision": notice.revision,
        "timestamp": notice.timestamp,
        "metadata": metadata,
    }


def _title(notice: Notice) -> str:
    return f"{notice.kind} {notice.namespace}/{notice.name}: {notice.reason}"


def slack_text(text: str) -> str:
    """`text` as Slack shows it literally: `&`, `<` and `>` escaped as Slack documents, so that a
    message written by a repository (`<!channel>`, `<https://…|click>`) never pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(spec: ProviderSpec, notice: Notice, summary: str = "") -> dict[str, Any]:
    """Slack's incoming webhook message: `text` (also the notification's fallback) and one attachment."""
    fields = [{"title": "severity", "value": notice.severity, "short": True}]
    if notice.revision:
        fields.append({"title": "revision", "value": slack_text(notice.revision), "short": True})
    if summary:
        fields.append({"title": "summary", "value": slack_text(summary), "short": False})
    body: dict[str, Any] = {
        "text": slack_text(_title(notice)),
        "attachments": [
            {
                "color": "danger" if notice.severity == "error" else "good",
                "title": slack_text(_title(notice)),
                "text": slack_text(notice.message),
                "fields": fields,
                "footer": "gitward",
                "mrkdwn_in": [],
            }
        ],
    }
    if spec.username:
        body["username"] = spec.username
    if spec.channel:
        body["channel"] = spec.channel
    return body


def msteams_body(notice: Notice, summary: str = "") -> dict[str, Any]:
    """An Office 365 connector card (`MessageCard`), as Teams incoming webhooks take it."""
    facts = [{"name": "severity", "value": notice.severity}, {"name": "reason", "value": notice.reason}]
    if notice.revision:
        facts.append({"name": "revision", "value": notice.revision})
    if summary:
        facts.append({"name": "summary", "value": summary})
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": "FF0000" if notice.severity == "error" else "00FF00",
        "summary": _title(notice),
        "sections": [
            {
                "activityTitle": _title(notice),
                "activitySubtitle": notice.message,
                "facts": facts,
                "markdown": False,
            }
        ],
    }


# ---------------------------------------------------------------------------------------- forges


def repository_of(address: str) -> tuple[str, list[str]]:
    """(scheme://host[:port], repository path segments) of a repository web URL."""
    parts = urlsplit(check_address(address))
    path = parts.path.strip("/").removesuffix(".git")
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        raise ConfigError("address must be the repository's web URL: <host>/<owner>/<repository>")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or ".." in segment:
            raise ConfigError(f"address path segment {segment[:40]!r} is not a plain repository name")
    return f"{parts.scheme}://{parts.netloc}", segments


def status_url(forge: str, address: str, sha: str) -> str:
    """The commit status endpoint of `forge` for the repository at `address` (its web URL)."""
    if not _SHA.fullmatch(sha):
        raise ConfigError("the revision is not a commit SHA")
    origin, segments = repository_of(address)
    host = urlsplit(origin).hostname or ""
    if forge == "gitlab":
        project = quote("/".join(segments), safe="")
        return f"{origin}/api/v4/projects/{project}/statuses/{sha}"
    if forge == "gitea":
        prefix = "".join(f"/{s}" for s in segments[:-2])  # Gitea served under a sub-path
        owner, repo = segments[-2:]
        return f"{origin}{prefix}/api/v1/repos/{owner}/{repo}/statuses/{sha}"
    if len(segments) != 2:
        raise ConfigError(f"address must be <host>/<owner>/<repository> for {forge}")
    owner, repo = segments
    if forge == "github":
        api = "https://api.github.com" if host == "github.com" else f"{origin}/api/v3"
        return f"{api}/repos/{owner}/{repo}/statuses/{sha}"
    if forge == "bitbucket":
        api = "https://api.bitbucket.org" if host in ("bitbucket.org", "www.bitbucket.org") else origin
        return f"{api}/2.0/repositories/{owner}/{repo}/commit/{sha}/statuses/build"
    raise ConfigError(f"unknown forge {forge}")


def _description(notice: Notice) -> str:
    text = f"{notice.reason}: {notice.message}"
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def commit_status(forge: str, address: str, creds: Credentials, notice: Notice, state: CommitState) -> Request:
    url = status_url(forge, address, notice.revision)
    context = context_of(notice)
    description = _description(notice)
    if forge == "bitbucket":
        if not (creds.username and creds.password):
            raise ConfigError("bitbucket needs username and password (an app password) in the Secret")
        bitbucket_state = {"pending": "INPROGRESS", "success": "SUCCESSFUL", "failure": "FAILED"}[state]
        body: dict[str, Any] = {
            "state": bitbucket_state,
            "key": hashlib.sha1(context.encode(), usedforsecurity=False).hexdigest(),  # at most 40 characters
            "name": context,
            "url": address,
            "description": description,
        }
        return _json_request(url, body, {"Authorization": "Basic " + _basic(creds.username, creds.password)})
    if not creds.token:
        raise ConfigError(f"{forge} needs a token in the Secret")
    if forge == "github":
        body = {"state": state, "context": context, "description": description}
        headers = {
            "Authorization": f"Bearer {creds.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return _json_request(url, body, headers)
    if forge == "gitlab":
        gitlab_state = {"pending": "pending", "success": "success", "failure": "failed"}[state]
        body = {"state": gitlab_state, "name": context, "description": description}
        request = _json_request(url, body, {"PRIVATE-TOKEN": creds.token})
        # GitLab refuses a state the commit's status already has ("Cannot transition status via
        # :enqueue from :pending"), e.g. after a controller restart: that state is what was wanted
        return Request(request.method, request.url, request.headers, request.body, already=GITLAB_SAME_STATE)
    body = {"state": state, "context": context, "description": description}  # gitea
    return _json_request(url, body, {"Authorization": f"token {creds.token}"})


# ---------------------------------------------------------------------------------------- helpers


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _json_request(url: str, body: dict[str, Any], headers: dict[str, str]) -> Request:
    return Request("POST", url, {**_json_headers(), **headers}, _encode(body))
