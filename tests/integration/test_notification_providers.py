"""Every Provider type that test_notifications.py does not cover (SPEC §14), end to end: a Provider
and an Alert in the real cluster, an Application synced by the in-process controller, and a
`tests.support.receivers` API on 127.0.0.1 that checks each request against the provider's
documented API shape and answers like it.

- slack (incoming webhook; the URL in the Secret) and slack with a token (Web API chat.postMessage),
- msteams (Office 365 connector MessageCard; the URL in the Secret),
- gitlab, gitea, bitbucket (Cloud 2.0): a commit status pending, then success, for the synced commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.support import apps, receivers
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import DEPLOYMENT, alert, provider, ready, secret

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

TOKEN = "prov-token-4e1a9c77d0"
USERNAME = "deploy-bot"
PASSWORD = "app-password-93b1f0c2"
HOOK_PATH = "/services/T0001/B0002/Xk3hook9secret"
TEAMS_PATH = "/webhookb2/5f0c-9a1b/IncomingWebhook/7d2e41ab/0c3f-88aa"


@dataclass(frozen=True)
class Case:
    type: str
    api: Callable[[], receivers.Api]
    secret: dict[str, str]  # "{url}" is the receiver's base URL
    spec: dict[str, Any] = field(default_factory=dict)  # "{url}" likewise
    states: tuple[str, str] | None = None  # a forge: the first and last state it shows for the commit
    state_path: str = ""  # a forge: where the statuses of commit {sha} go


CASES = [
    Case("slack", receivers.slack_webhook, {"address": "{url}" + HOOK_PATH}),
    Case(
        "slack",
        lambda: receivers.slack_web_api(TOKEN),
        {"token": TOKEN},
        {"address": "{url}/api/chat.postMessage", "channel": "#deploys", "username": "gitward"},
    ),
    Case("msteams", receivers.msteams, {"address": "{url}" + TEAMS_PATH}),
    Case(
        "gitlab",
        lambda: receivers.gitlab(TOKEN),
        {"token": TOKEN},
        {"address": "{url}/org/repo"},
        ("pending", "success"),
        "/api/v4/projects/org%2Frepo/statuses/{sha}",
    ),
    Case(
        "gitea",
        lambda: receivers.gitea(TOKEN),
        {"token": TOKEN},
        {"address": "{url}/org/repo"},
        ("pending", "success"),
        "/api/v1/repos/org/repo/statuses/{sha}",
    ),
    Case(
        "bitbucket",
        lambda: receivers.bitbucket(USERNAME, PASSWORD),
        {"username": USERNAME, "password": PASSWORD},
        {"address": "{url}/org/repo"},
        ("INPROGRESS", "SUCCESSFUL"),
        "/2.0/repositories/org/repo/commit/{sha}/statuses/build",
    ),
]


def _fill(values: dict[str, Any], url: str) -> dict[str, Any]:
    return {k: v.replace("{url}", url) if isinstance(v, str) else v for k, v in values.items()}


@pytest.mark.parametrize("case", CASES, ids=["slack", "slack-web-api", "msteams", "gitlab", "gitea", "bitbucket"])
async def test_a_provider_posts_what_its_documented_api_takes(
    case: Case,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    async with receivers.receiver(case.api()) as api:
        await secret(kube, namespace, "creds", **_fill(case.secret, api.url))
        await provider(
            kube, namespace, "chat", type=case.type, secretRef={"name": "creds"}, **_fill(case.spec, api.url)
        )
        await alert(kube, namespace, "deploys", "chat", summary="staging")
        repo = make_repo()
        sha = repo.commit({"deployment.yaml": DEPLOYMENT})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(sha), apps.healthy), timeout=120)

        if case.states is None:
            await apps.wait_for(lambda: any(sha in r.body.decode() for r in api.requests), 60, message="a message")
            message = next(r for r in api.requests if sha in r.body.decode())
            text = message.body.decode()
            assert f"Application {namespace}/web" in text and "staging" in text
        else:
            path = case.state_path.format(sha=sha)
            first, last = case.states

            def states() -> list[str]:
                return [body["state"] for body in api.bodies(path)]

            await apps.wait_for(lambda: last in states(), 60, message=f"the {last} status")
            assert states()[0] == first and states()[-1] == last
            for body in api.bodies(path):
                assert body.get("context", body.get("name")) == f"gitward/{namespace}/web"
                assert body.get("description")
        assert api.violations == []
        assert all(r.path.startswith(("/api/", "/2.0/", "/services/", "/webhookb2/")) for r in api.requests)
        shown = json.dumps(await ready(kube, namespace, "Provider", "chat", "True"))
        for value in (TOKEN, PASSWORD, HOOK_PATH, TEAMS_PATH):
            assert value not in shown
            assert all(value.encode() not in r.body for r in api.requests)


async def test_a_slack_web_api_refusal_shows_its_error_code_on_the_provider(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """chat.postMessage answers HTTP 200 with {"ok": false}: that is a failed delivery, not a success."""
    async with receivers.receiver(receivers.slack_web_api("another-token")) as api:
        await secret(kube, namespace, "creds", token=TOKEN)
        spec = {"address": f"{api.url}/api/chat.postMessage", "channel": "#deploys"}
        await provider(kube, namespace, "chat", type="slack", secretRef={"name": "creds"}, **spec)
        await alert(kube, namespace, "deploys", "chat")
        repo = make_repo()
        repo.commit({"deployment.yaml": DEPLOYMENT})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        failed = await ready(kube, namespace, "Provider", "chat", "False")
        condition = apps.condition(failed["status"], "Ready") or {}
        assert condition["reason"] == "DeliveryFailed"
        assert condition["message"] == f"127.0.0.1:{api.port}: refused: invalid_arguments"
        assert api.violations == ["invalid_auth"] * len(api.requests)
        assert TOKEN not in json.dumps(failed)


async def test_a_state_gitlab_already_shows_is_not_a_failure(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """After a controller restart gitward may post a state the commit already has: GitLab answers
    400 "Cannot transition status", which means the status is already what gitward wanted."""
    repo = make_repo()
    sha = repo.commit({"deployment.yaml": DEPLOYMENT})
    path = f"/api/v4/projects/org%2Frepo/statuses/{sha}"
    already = {(path, f"gitward/{namespace}/web"): "pending"}  # posted by the controller before it restarted
    async with receivers.receiver(receivers.gitlab(TOKEN, current=already)) as api:
        await secret(kube, namespace, "creds", token=TOKEN)
        await provider(
            kube, namespace, "gitlab", type="gitlab", address=f"{api.url}/org/repo", secretRef={"name": "creds"}
        )
        await alert(kube, namespace, "deploys", "gitlab")
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_for(lambda: already[(path, f"gitward/{namespace}/web")] == "success", 120, message="success")
        assert [b["state"] for b in api.bodies(path)][:1] == ["pending"]  # refused with 400: already pending
        assert api.violations == []
        assert not any(d.provider == "gitlab" and d.result == "failure" for d in controller.notifier.recent)
        await ready(kube, namespace, "Provider", "gitlab", "True")
