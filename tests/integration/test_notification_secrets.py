"""The no-secrets rule for notifications (SPEC §14): the values of a Provider's Secret (a token, a
webhook URL, an HMAC key, basic-auth credentials) and the data of a Secret the Application syncs
from Git never appear in a delivered payload, in a Provider's or Alert's status, in the Kubernetes
Events, or in the controller's logs — through a good sync and through a broken commit whose parse
error sits on the line that holds a secret value. The credentials appear only where their API
takes them: the authorization header, and the webhook's own URL.
"""

from __future__ import annotations

import json

import pytest
from tests.support import apps, receivers
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import alert, provider, ready, secret

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

HMAC_KEY = "hmac-key-b7d1e05c3a"
GITHUB_TOKEN = "ghp-4c0a9e7f1b2d"
BB_PASSWORD = "bb-app-password-61e2"
HOOK_PATH = "/services/T0A1/B0B2/hookSecret5e9d"
SYNCED_VALUE = "synced-value-0f3c8a2e"
BROKEN_VALUE = "broken-value-9a4d7e1c"

SYNCED_SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {SYNCED_VALUE}
"""
# the parse error is on the line of the value
BROKEN_SECRET = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: [{BROKEN_VALUE}\n"
VALUES = (HMAC_KEY, GITHUB_TOKEN, BB_PASSWORD, HOOK_PATH, SYNCED_VALUE, BROKEN_VALUE)


def leaks(text: str) -> list[str]:
    return [value for value in VALUES if value in text]


async def test_secret_values_never_leave_through_notifications(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    async with (
        receivers.receiver(receivers.generic()) as hook,
        receivers.receiver(receivers.slack_webhook()) as slack,
        receivers.receiver(receivers.github(GITHUB_TOKEN)) as github,
        receivers.receiver(receivers.bitbucket("bot", BB_PASSWORD)) as bitbucket,
    ):
        await secret(kube, namespace, "hmac", token=HMAC_KEY)
        await secret(kube, namespace, "slack", address=slack.url + HOOK_PATH)
        await secret(kube, namespace, "github", token=GITHUB_TOKEN)
        await secret(kube, namespace, "bitbucket", username="bot", password=BB_PASSWORD)
        await provider(
            kube, namespace, "hmac", type="generic-hmac", address=f"{hook.url}/h", secretRef={"name": "hmac"}
        )
        await provider(kube, namespace, "slack", type="slack", secretRef={"name": "slack"})
        await provider(
            kube, namespace, "github", type="github", address=f"{github.url}/org/repo", secretRef={"name": "github"}
        )
        await provider(
            kube,
            namespace,
            "bitbucket",
            type="bitbucket",
            address=f"{bitbucket.url}/org/repo",
            secretRef={"name": "bitbucket"},
        )
        for name in ("hmac", "slack", "github", "bitbucket"):
            await alert(kube, namespace, name, name)

        repo = make_repo()
        good = repo.commit({"secret.yaml": SYNCED_SECRET})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.synced_at(good))
        bad = repo.commit({"secret.yaml": BROKEN_SECRET})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")

        def failed_everywhere() -> bool:
            return all(
                any(bad in r.path + r.body.decode() for r in receiver.requests)
                for receiver in (hook, slack, github, bitbucket)
            )

        await apps.wait_for(failed_everywhere, 90, message="the broken commit reported to every Provider")

        for receiver in (hook, slack, github, bitbucket):
            assert receiver.violations == []
            for request in receiver.requests:
                assert leaks(request.body.decode()) == []
                others = {k: v for k, v in request.headers.items() if k != "authorization"}
                assert leaks(json.dumps(others)) == []
                if receiver is not slack:
                    assert leaks(request.path) == []
        shown = [
            await kube.get(API_VERSION, kind, name, namespace)
            for kind in ("Provider", "Alert")
            for name in ("hmac", "slack", "github", "bitbucket")
        ]
        assert leaks(json.dumps(shown)) == []
        events, _ = await kube.list("v1", "Event", namespace)
        assert events and leaks(json.dumps(events)) == []
        app = await kube.get(API_VERSION, "Application", "web", namespace)
        assert leaks(json.dumps(app.get("status"))) == []
        for name in ("hmac", "slack", "github", "bitbucket"):
            await ready(kube, namespace, "Provider", name, "True")
        logs = capfd.readouterr()
        assert leaks(logs.out + logs.err) == []
