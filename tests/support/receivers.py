"""Loopback stand-ins for the notification APIs gitward posts to (SPEC §14), used by
tests/integration/test_notification*.py.

GitHub, GitLab, Gitea, Bitbucket Cloud, Slack and Teams cannot be reached from the test machines, so
a `Receiver` (a small asyncio HTTP/1.1 server on 127.0.0.1, in the test's event loop) plays one of
them: it records every request, checks it against the API's documented request shape (an `Api`:
method, path, headers, authentication, JSON fields) and answers as that API does — its success
answer, or its refusal (recorded in `violations`) when the request does not fit. A `script` of
answers can precede the normal ones: a 429 with Retry-After, a 503, or `HANG` (read the request,
never answer while the test runs).

The documented shapes followed (the versions docs/notifications.md names):
- GitHub REST API 2022-11-28, "Create a commit status" (Enterprise Server's base `/api/v3`);
- GitLab REST API v4, "Set the pipeline status of a commit" (`PRIVATE-TOKEN`);
- Gitea API v1 (1.2x), `POST /repos/{owner}/{repo}/statuses/{sha}`, `CreateStatusOption`;
- Bitbucket Cloud REST API 2.0, "Create a build status for a commit" (basic auth, app password);
- Slack incoming webhooks (answer `ok` as text) and Web API `chat.postMessage` (`{"ok": ...}`);
- Microsoft Teams incoming webhooks taking an Office 365 connector `MessageCard` (answer `1`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final

SHA = r"[0-9a-f]{40}"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b"{}"
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


HANG: Final = Answer(0)  # read the request, answer nothing until the receiver stops

Check = Callable[[Recorded], str | None]  # what is wrong with a request, or None


@dataclass
class Api:
    """One documented API: how a request must look, what it answers to a good and to a bad one."""

    check: Check
    ok: Answer = Answer(201)
    refused: Answer = Answer(422, b'{"message": "Validation Failed"}')
    behaviour: Callable[[Recorded], Answer | None] = lambda _: None  # a well-formed request it still refuses


@dataclass
class Receiver:
    api: Api
    script: list[Answer] = field(default_factory=list)  # answers to the first requests, in order
    requests: list[Recorded] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # loop time of each request
    walls: list[float] = field(default_factory=list)  # wall-clock time (epoch seconds) of each request
    violations: list[str] = field(default_factory=list)
    pending: int = 0  # requests read and not answered (yet)
    port: int = 0
    _server: asyncio.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.json() for r in self.requests if path is None or r.path == path]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Recorded(method, path, headers, body)
            self.requests.append(request)
            self.arrivals.append(asyncio.get_running_loop().time())
            self.walls.append(time.time())
            answer = self.script.pop(0) if self.script else None
            if answer is HANG:
                self.pending += 1
                try:
                    await self._release.wait()
                finally:
                    self.pending -= 1
                return
            if answer is None:
                problem = _safe_check(self.api.check, request)
                if problem:
                    self.violations.append(problem)
                answer = self.api.refused if problem else (self.api.behaviour(request) or self.api.ok)
            writer.write(_encode(answer))
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _safe_check(check: Check, request: Recorded) -> str | None:
    try:
        return check(request)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a body that is not the JSON expected
        return f"{request.path}: {type(exc).__name__}: {exc}"


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 422: "Unprocessable Entity"}


def _encode(answer: Answer) -> bytes:
    reason = _REASONS.get(answer.status, "Status")
    head = [f"HTTP/1.1 {answer.status} {reason}", f"Content-Type: {answer.content_type}"]
    head += [f"{k}: {v}" for k, v in answer.headers]
    head += [f"Content-Length: {len(answer.body)}", "Connection: close", "", ""]
    return "\r\n".join(head).encode("latin-1") + answer.body


@contextlib.asynccontextmanager
async def receiver(api: Api, script: list[Answer] | None = None) -> AsyncIterator[Receiver]:
    running = await Receiver(api, list(script or [])).start()
    try:
        yield running
    finally:
        await running.stop()


def throttled(seconds: int) -> Answer:
    return Answer(429, b'{"message": "rate limited"}', headers=(("Retry-After", str(seconds)),))


def github_rate_limited(reset: int) -> Answer:
    """GitHub's answer past the primary rate limit: 403, x-ratelimit-remaining 0, the reset in epoch seconds."""
    body = b'{"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"}'
    headers = (("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(reset)))
    return Answer(403, body, headers=headers)


UNAVAILABLE = Answer(503, b"upstream unavailable", "text/plain")


# ------------------------------------------------------------------------------------- the APIs


def _json_post(request: Recorded, path: str) -> str | None:
    if request.method != "POST" or not re.fullmatch(path, request.path):
        return f"{request.method} {request.path}"
    if request.headers.get("content-type", "").split(";")[0] != "application/json":
        return f"content-type {request.headers.get('content-type')}"
    if not isinstance(request.json(), dict):
        return "body is not a JSON object"
    return None


def _extra(body: dict[str, Any], allowed: set[str]) -> str | None:
    unknown = set(body) - allowed
    return f"unknown fields {sorted(unknown)}" if unknown else None


def generic() -> Api:
    """gitward's own `generic` body (SPEC §14)."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, r"/.*")
        if problem:
            return problem
        body = request.json()
        if set(body) != {"involvedObject", "severity", "reason", "message", "revision", "timestamp", "metadata"}:
            return f"fields {sorted(body)}"
        if set(body["involvedObject"]) != {"kind", "namespace", "name"} or body["severity"] not in ("info", "error"):
            return "involvedObject or severity"
        return None

    return Api(check, Answer(200, b"{}"), Answer(400, b"bad request"))


def github(token: str, repo: str = "org/repo") -> Api:
    """GitHub REST API 2022-11-28 "Create a commit status", as GitHub Enterprise Server serves it
    under /api/v3: POST /repos/{owner}/{repo}/statuses/{sha}, a bearer token, JSON
    state (error|failure|pending|success), context, description (at most 140 characters)."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, rf"/api/v3/repos/{repo}/statuses/{SHA}")
        if problem:
            return problem
        if request.headers.get("authorization") != f"Bearer {token}":
            return "authorization"
        if request.headers.get("accept") != "application/vnd.github+json":
            return "accept"
        body = request.json()
        if body.get("state") not in ("error", "failure", "pending", "success"):
            return f"state {body.get('state')}"
        if not isinstance(body.get("context"), str) or len(body.get("description", "")) > 140:
            return "context or description"
        return _extra(body, {"state", "target_url", "description", "context"})

    return Api(check, Answer(201, b'{"state": "pending"}'))


def gitlab(token: str, project: str = "org/repo", current: dict[tuple[str, str], str] | None = None) -> Api:
    """GitLab REST API v4 "Set the pipeline status of a commit": POST
    /api/v4/projects/:id/statuses/:sha with :id the URL-encoded path, `PRIVATE-TOKEN`, JSON state
    (pending|running|success|failed|canceled|skipped), name (alias context), description, target_url.
    Like GitLab, it answers 400 "Cannot transition status" to the state the commit's status of that
    name already has; `current` ((path, name) → state) seeds what it already has."""
    encoded = project.replace("/", "%2F")
    states = current if current is not None else {}

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, rf"/api/v4/projects/{re.escape(encoded)}/statuses/{SHA}")
        if problem:
            return problem
        if request.headers.get("private-token") != token:
            return "PRIVATE-TOKEN"
        body = request.json()
        if body.get("state") not in ("pending", "running", "success", "failed", "canceled", "skipped"):
            return f"state {body.get('state')}"
        name = body.get("name", body.get("context"))
        if not isinstance(name, str) or not name:
            return "name"
        return _extra(body, {"state", "ref", "name", "context", "target_url", "description", "coverage", "pipeline_id"})

    def transition(request: Recorded) -> Answer | None:
        body = request.json()
        key = (request.path, body.get("name", body.get("context")))
        if states.get(key) == body["state"]:
            verb = {"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop"}.get(body["state"])
            return Answer(400, f'{{"message": "Cannot transition status via :{verb} from :{body["state"]}"}}'.encode())
        states[key] = body["state"]
        return None

    ok, refused = Answer(201, b'{"id": 93, "status": "pending"}'), Answer(400, b'{"message": "refused"}')
    return Api(check, ok, refused, transition)


def gitea(token: str, repo: str = "org/repo") -> Api:
    """Gitea API v1 `POST /repos/{owner}/{repo}/statuses/{sha}` with a `CreateStatusOption`: state
    (pending|success|error|failure|warning), context, description, target_url; `Authorization: token`."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, rf"/api/v1/repos/{repo}/statuses/{SHA}")
        if problem:
            return problem
        if request.headers.get("authorization") != f"token {token}":
            return "authorization"
        body = request.json()
        if body.get("state") not in ("pending", "success", "error", "failure", "warning"):
            return f"state {body.get('state')}"
        if not isinstance(body.get("context"), str):
            return "context"
        return _extra(body, {"state", "context", "description", "target_url"})

    return Api(check, Answer(201, b'{"id": 1, "status": "pending"}'))


def bitbucket(username: str, password: str, repo: str = "org/repo") -> Api:
    """Bitbucket Cloud REST API 2.0 "Create a build status for a commit": POST
    /2.0/repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build, basic auth (app
    password), JSON key (at most 40 characters), state (INPROGRESS|SUCCESSFUL|FAILED|STOPPED), url
    (required), name, description."""
    basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, rf"/2\.0/repositories/{repo}/commit/{SHA}/statuses/build/?")
        if problem:
            return problem
        if request.headers.get("authorization") != basic:
            return "authorization"
        body = request.json()
        if body.get("state") not in ("INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"):
            return f"state {body.get('state')}"
        key, url = body.get("key"), body.get("url")
        if not isinstance(key, str) or not 0 < len(key) <= 40:
            return "key"
        if not isinstance(url, str) or not re.match(r"https?://", url):
            return "url"
        return _extra(body, {"type", "key", "state", "url", "name", "description", "refname"})

    return Api(check, Answer(201, b'{"type": "build", "state": "INPROGRESS"}'), Answer(400, b'{"type": "error"}'))


def _slack_message(body: dict[str, Any]) -> str | None:
    if not (body.get("text") or body.get("attachments") or body.get("blocks")):
        return "no text, attachments or blocks"
    for attachment in body.get("attachments") or []:
        if not isinstance(attachment, dict) or not isinstance(attachment.get("fields", []), list):
            return "attachment"
    return None


def slack_webhook() -> Api:
    """A Slack incoming webhook: POST JSON (text, attachments, blocks) to the hook's own URL, no
    authorization header (the URL is the credential); answers `ok` as text, `invalid_payload` (400)."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, r"/services/T[0-9A-Z]+/B[0-9A-Z]+/[0-9A-Za-z]+")
        if problem:
            return problem
        if "authorization" in request.headers:
            return "an incoming webhook takes no authorization header"
        return _slack_message(request.json())

    return Api(check, Answer(200, b"ok", "text/plain"), Answer(400, b"invalid_payload", "text/plain"))


def slack_web_api(token: str) -> Api:
    """Slack's Web API `chat.postMessage`: POST /api/chat.postMessage, `Authorization: Bearer`, JSON
    with `channel` and a message; answers HTTP 200 with `{"ok": true}` or `{"ok": false, "error"}`."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, r"/api/chat\.postMessage")
        if problem:
            return problem
        if request.headers.get("authorization") != f"Bearer {token}":
            return "invalid_auth"
        if not request.json().get("channel"):
            return "channel_not_found"
        return _slack_message(request.json())

    ok = Answer(200, b'{"ok": true, "channel": "C123", "ts": "1700000000.000100"}')
    return Api(check, ok, Answer(200, b'{"ok": false, "error": "invalid_arguments"}'))


def msteams() -> Api:
    """A Teams incoming webhook taking an Office 365 connector card: `@type` MessageCard, `@context`
    https://schema.org/extensions, `summary` or `text` required, sections of facts (name, value);
    answers `1` as text, or 400 "Summary or Text is required."."""

    def check(request: Recorded) -> str | None:
        problem = _json_post(request, r"/webhookb2/[0-9a-f-]+/IncomingWebhook/[0-9a-f]+/[0-9a-f-]+")
        if problem:
            return problem
        body = request.json()
        if body.get("@type") != "MessageCard" or body.get("@context") != "https://schema.org/extensions":
            return "@type/@context"
        if not (body.get("summary") or body.get("text")):
            return "Summary or Text is required."
        if "themeColor" in body and not re.fullmatch(r"[0-9A-Fa-f]{6}", body["themeColor"]):
            return "themeColor"
        for section in body.get("sections", []):
            for fact in section.get("facts", []):
                if set(fact) != {"name", "value"}:
                    return "fact"
        return None

    return Api(check, Answer(200, b"1", "text/plain"), Answer(400, b"Summary or Text is required.", "text/plain"))
