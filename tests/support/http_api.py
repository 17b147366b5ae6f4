"""gitward's HTTP server for tests: the real app (gitward.server.app.build) behind a real uvicorn
on a free loopback port, in the test's event loop, with a backend on the test's namespace and,
optionally, the test's in-process controller; plus tokens, an auth file and signed webhook
deliveries for every provider.

Used by tests/integration/test_api_*.py and test_webhooks*.py:

    async with http_api.serving(kube, namespace, controller) as api:
        async with api.client("viewer") as http:
            resp = await http.get("/api/v1/applications")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI

from gitward.controller.manager import Controller
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import tokens
from gitward.server.backend import Backend

TOKENS = {"viewer": "viewer-token-7c1f0e2a9b", "admin": "admin-token-3d84c5e61f"}
WEBHOOK_SECRET = "webhook-secret-0a9e1c"
DEFAULT = object()


def auth_yaml(webhook_secret: str | None = WEBHOOK_SECRET) -> str:
    """An auth file with one viewer and one admin token (stored hashed) and the webhook secret."""
    lines = ["tokens:"]
    for role, token in TOKENS.items():
        lines.append(f"  - {{name: {role}-user, sha256: {tokens.hash_token(token)}, role: {role}}}")
    if webhook_secret is not None:
        lines.append(f"webhookSecret: {webhook_secret}")
    return "\n".join(lines) + "\n"


def auth_config(webhook_secret: str | None = WEBHOOK_SECRET) -> tokens.AuthConfig:
    return tokens.parse(auth_yaml(webhook_secret))


class _Server(uvicorn.Server):
    """uvicorn without signal handlers (pytest keeps its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Api:
    url: str
    backend: Backend
    app: FastAPI

    def client(self, role: str | None = None, **kwargs: Any) -> httpx2.AsyncClient:
        """An HTTP client for the server; `role` viewer/admin adds that bearer token."""
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {TOKENS[role]}"
        return httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kwargs)


@asynccontextmanager
async def serving(
    kube: KubeClient,
    namespace: str | None,
    controller: Controller | None = None,
    auth: tokens.AuthConfig | object | None = DEFAULT,
) -> AsyncIterator[Api]:
    """The server on 127.0.0.1:<free port>; `auth` defaults to `auth_config()` (None: no auth file)."""
    config = auth_config() if auth is DEFAULT else auth
    assert config is None or isinstance(config, tokens.AuthConfig)
    backend = Backend(kube, namespace, controller=lambda: controller, auth=config)
    await backend.start()
    web = server_app.build(server_app.Probe(lambda: True, lambda: {}), backend)
    port = free_port()
    server = _Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield Api(f"http://127.0.0.1:{port}", backend, web)
    finally:
        await backend.stop()
        server.should_exit = True
        await asyncio.wait_for(task, 15)


# ------------------------------------------------------------------------------------ webhooks


def hmac_hex(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def github(body: bytes, event: str = "push", secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": f"sha256={hmac_hex(body, secret)}",
        "Content-Type": "application/json",
    }


def gitea(body: bytes, event: str = "push", secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    # Gitea sends GitHub's headers too
    return {
        "X-Gitea-Event": event,
        "X-GitHub-Event": event,
        "X-Gitea-Signature": hmac_hex(body, secret),
        "Content-Type": "application/json",
    }


def gitlab(body: bytes, event: str = "Push Hook", secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": secret, "Content-Type": "application/json"}


def bitbucket(body: bytes, event: str = "repo:push", secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {
        "X-Event-Key": event,
        "X-Hub-Signature": f"sha256={hmac_hex(body, secret)}",
        "Content-Type": "application/json",
    }


def _scp(url: str) -> str:
    """`https://host/org/repo.git` → `git@host:org/repo.git` (the ssh form providers also send)."""
    host, _, path = url.split("://", 1)[-1].partition("/")
    return f"git@{host.split(':')[0]}:{path}"


def github_push(url: str, branch: str, default_branch: str = "main") -> dict[str, Any]:
    """A GitHub (and Gitea) push payload for `url`, with the URL forms GitHub sends."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": "1" * 40,
        "repository": {
            "full_name": "org/config",
            "html_url": url.removesuffix(".git"),
            "clone_url": url,
            "ssh_url": _scp(url),
            "default_branch": default_branch,
        },
        "pusher": {"name": "alice"},
    }


def gitlab_push(url: str, branch: str, default_branch: str = "main") -> dict[str, Any]:
    return {
        "object_kind": "push",
        "ref": f"refs/heads/{branch}",
        "project": {
            "web_url": url.removesuffix(".git"),
            "git_http_url": url,
            "git_ssh_url": _scp(url),
            "default_branch": default_branch,
        },
        "repository": {"homepage": url.removesuffix(".git"), "git_http_url": url},
    }


def bitbucket_cloud_push(url: str, branch: str) -> dict[str, Any]:
    return {
        "push": {"changes": [{"new": {"type": "branch", "name": branch}, "old": {"type": "branch", "name": branch}}]},
        "repository": {"full_name": "org/config", "links": {"html": {"href": url.removesuffix(".git")}}},
    }


def bitbucket_server_push(url: str, branch: str) -> dict[str, Any]:
    return {
        "eventKey": "repo:refs_changed",
        "repository": {"slug": "config", "links": {"clone": [{"href": url, "name": "http"}]}},
        "changes": [{"ref": {"id": f"refs/heads/{branch}", "displayId": branch, "type": "BRANCH"}, "type": "UPDATE"}],
    }


# ------------------------------------------------------------------------------------ server-sent events


@dataclass
class SseEvent:
    event: str
    data: Any
    id: str = ""


async def sse_events(resp: httpx2.Response) -> AsyncIterator[SseEvent]:
    """The events of a `text/event-stream` response (data decoded as JSON; comments skipped)."""
    event, data, event_id = "message", "", ""
    async for line in resp.aiter_lines():
        if not line:
            if data:
                yield SseEvent(event, json.loads(data), event_id)
            event, data, event_id = "message", "", ""
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data += value
            elif field == "id":
                event_id = value
