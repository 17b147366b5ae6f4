"""Notifications and commit statuses (SPEC §14) end to end: Providers and Alerts in the real cluster,
an Application synced by the in-process controller, and deliveries to HTTP receivers on 127.0.0.1.

GitHub and the webhooks cannot be reached from the test machines, so a `tests.support.receivers`
`Receiver` (an HTTP server started by each test on loopback) stands in for them, checking each
request against the documented shape of the API it plays. A forge Provider reaches it through its
`address`: the API base is derived from the repository URL's host (`http://127.0.0.1:PORT/org/repo`
→ GitHub Enterprise's `http://127.0.0.1:PORT/api/v3`), so a loopback address makes the receiver the
API. The other provider types: test_notification_providers.py; retries, rate limits, timeouts:
test_notification_delivery.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import CONFIGMAP, DEPLOYMENT, alert, provider, ready, secret
from tests.support.receivers import generic, github, receiver

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient

HMAC_KEY = "hmac-key-5f2e9c71"
GITHUB_TOKEN = "ghp-token-0d3b8a6e41"
HOOK_SECRET = "hook-path-secret-7a1c"


async def test_generic_and_hmac_providers_get_sync_succeeded_with_a_valid_signature(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(generic()) as hook:
        await secret(kube, namespace, "hmac", token=HMAC_KEY)
        await provider(kube, namespace, "plain", type="generic", address=f"{hook.url}/plain")
        await provider(
            kube, namespace, "signed", type="generic-hmac", address=f"{hook.url}/signed", secretRef={"name": "hmac"}
        )
        await alert(kube, namespace, "plain", "plain", summary="test cluster")
        await alert(kube, namespace, "signed", "signed", eventSources=[{"kind": "Application", "name": "we?"}])
        repo = make_repo()
        sha = repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))

        def synced(path: str) -> list[Any]:
            return [b for b in hook.bodies(path) if b["reason"] == "Synced"]

        await apps.wait_for(lambda: synced("/plain") and synced("/signed"), 60, message="Synced deliveries")
        body = synced("/plain")[0]
        assert body["involvedObject"] == {"kind": "Application", "namespace": namespace, "name": "web"}
        assert body["severity"] == "info" and body["revision"] == sha
        assert body["message"].startswith("successfully synced") and body["metadata"]["summary"] == "test cluster"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
        signed = [r for r in hook.requests if r.path == "/signed"]
        for request in signed:
            expected = "sha256=" + hmac.new(HMAC_KEY.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers.get("x-signature") == expected
            assert HMAC_KEY.encode() not in request.body
        assert "x-signature" not in {k for r in hook.requests if r.path == "/plain" for k in r.headers}
        assert hook.violations == []
        signed_provider = await ready(kube, namespace, "Provider", "signed", "True")
        assert HMAC_KEY not in json.dumps(signed_provider)


async def test_a_github_provider_posts_pending_then_success_for_the_synced_commit(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(github(GITHUB_TOKEN)) as api:
        await secret(kube, namespace, "github", token=GITHUB_TOKEN)
        await provider(
            kube, namespace, "github", type="github", address=f"{api.url}/org/repo", secretRef={"name": "github"}
        )
        await alert(kube, namespace, "pr-status", "github")
        repo = make_repo()
        sha = repo.commit({"deployment.yaml": DEPLOYMENT})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(sha), apps.healthy), timeout=120)

        def states() -> list[str]:
            return [b["state"] for b in api.bodies(f"/api/v3/repos/org/repo/statuses/{sha}")]

        await apps.wait_for(lambda: "success" in states(), 60, message="a success status")
        assert states()[0] == "pending" and states()[-1] == "success"
        assert all(
            b["context"] == f"gitward/{namespace}/web" for b in api.bodies(f"/api/v3/repos/org/repo/statuses/{sha}")
        )
        assert api.violations == []
        assert all(GITHUB_TOKEN.encode() not in r.body for r in api.requests)


async def test_a_render_failure_is_an_error_event_and_info_stays_out_of_an_error_alert(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "errors", type="generic", address=f"{hook.url}/errors")
        await alert(kube, namespace, "errors", "errors", eventSeverity="error", exclusionList=["^never-matches$"])
        repo = make_repo()
        good = repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.synced_at(good))
        bad = repo.commit({"broken.yaml": "a: [1, 2\nb: c: d\n"})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")
        await apps.wait_for(lambda: hook.bodies("/errors"), 90, message="an error delivery")
        body = hook.bodies("/errors")[0]
        assert body["severity"] == "error" and body["reason"] == "RenderFailed" and body["revision"] == bad
        assert "broken.yaml" in body["message"]
        assert all(b["severity"] == "error" for b in hook.bodies("/errors"))  # no "Synced" for the good one
        assert hook.violations == []


async def test_a_dead_receiver_never_blocks_the_sync_and_shows_on_the_provider(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    dead = free_port()  # nothing listens there: every delivery is refused
    async with receiver(generic()) as alive:
        await secret(kube, namespace, "dead-hook", address=f"http://127.0.0.1:{dead}/{HOOK_SECRET}", token=HMAC_KEY)
        await provider(kube, namespace, "dead", type="generic-hmac", secretRef={"name": "dead-hook"})
        await provider(kube, namespace, "alive", type="generic", address=f"{alive.url}/alive")
        await alert(kube, namespace, "dead", "dead")
        await alert(kube, namespace, "alive", "alive")
        repo = make_repo()
        first = repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
        failed = await ready(kube, namespace, "Provider", "dead", "False")
        # while the dead Provider's deliveries back off, the next commit syncs and the live Provider gets it
        second = repo.commit({"config.yaml": CONFIGMAP.replace("hello", "again")})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")

        await apps.wait_status(kube, namespace, "web", apps.synced_at(second))
        await apps.wait_for(
            lambda: any(b["revision"] == second for b in alive.bodies("/alive")), 60, message="the live delivery"
        )
        condition = apps.condition(failed["status"], "Ready")
        assert condition is not None and condition["reason"] == "DeliveryFailed"
        assert f"127.0.0.1:{dead}" in condition["message"]
        text = json.dumps(await kube.get(API_VERSION, "Provider", "dead", namespace))
        assert HOOK_SECRET not in text and HMAC_KEY not in text
        logs = capfd.readouterr()
        assert HOOK_SECRET not in logs.out + logs.err and HMAC_KEY not in logs.out + logs.err
        # every attempt was refused: after its retries (with backoff) the delivery is given up, and says so
        await apps.wait_for(
            lambda: any(d.provider == "dead" and d.result == "failure" for d in controller.notifier.recent),
            120,
            message="the dead Provider's delivery given up",
        )
        final = await ready(kube, namespace, "Provider", "dead", "False")
        assert "attempts" in (apps.condition(final["status"], "Ready") or {}).get("message", "")
        assert HOOK_SECRET not in json.dumps(final) and HMAC_KEY not in json.dumps(final)
