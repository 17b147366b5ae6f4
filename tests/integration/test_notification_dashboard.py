"""The dashboard's notifications page (SPEC §5, §14) on the real server (tests.support.http_api:
the real app behind uvicorn, with the in-process controller): Providers and Alerts with their Ready
condition and the recent deliveries, successes and failures, as a viewer sees them — and no Secret
value (a webhook URL's path, a token) on it, nor the path of an address given in the spec.
"""

from __future__ import annotations

import dataclasses

from tests.support import apps, http_api, receivers
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import CONFIGMAP, alert, provider, ready, secret

from gitward.controller.manager import Controller
from gitward.controller.notifications import Settings
from gitward.controller.notifications.matching import Backoff
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient

HOOK_PATH = "/services/T0C3/B0D4/pageSecret8f2a"
SPEC_PATH = "/hooks/spec-path-3b9e"
TOKEN = "page-token-c4d1e9"


async def test_the_notifications_page_lists_providers_alerts_and_recent_deliveries(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    controller.notifier.tune(dataclasses.replace(Settings(), backoff=Backoff(attempts=1)))
    dead = free_port()
    async with receivers.receiver(receivers.slack_webhook()) as slack, receivers.receiver(receivers.generic()) as hook:
        await secret(kube, namespace, "slack", address=slack.url + HOOK_PATH, token=TOKEN)
        await provider(kube, namespace, "team-chat", type="slack", secretRef={"name": "slack"})
        await provider(kube, namespace, "audit", type="generic", address=hook.url + SPEC_PATH)
        await provider(kube, namespace, "gone", type="generic", address=f"http://127.0.0.1:{dead}{SPEC_PATH}")
        await alert(kube, namespace, "errors", "gone", eventSeverity="error")
        await alert(kube, namespace, "all-to-audit", "audit", eventSources=[{"kind": "Application", "name": "web*"}])
        await alert(kube, namespace, "deploys", "gone")
        repo = make_repo()
        repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await ready(kube, namespace, "Provider", "gone", "False")
        await apps.wait_for(lambda: hook.requests, 60, message="a delivery to audit")

        async with http_api.serving(kube, namespace, controller) as api:
            async with api.client() as anonymous:
                resp = await anonymous.get("/notifications")
                assert resp.status_code in (303, 401) and "Providers" not in resp.text
            async with api.client("viewer") as http:
                page = (await http.get("/notifications")).text

    assert '<tr data-provider="audit">' in page and '<tr data-provider="gone">' in page
    assert '<tr data-provider="team-chat">' in page and "from the Secret" in page
    assert '<tr data-alert="all-to-audit">' in page and "Application web*" in page
    assert f"<code>{hook.url}</code>" in page  # the address, as scheme and host only
    assert f'data-delivery="audit|{namespace}/web|Synced|success"' in page
    assert f'data-delivery="gone|{namespace}/web|Synced|failure"' in page
    assert f"127.0.0.1:{dead}: ConnectError" in page  # why it failed
    for value in (HOOK_PATH, SPEC_PATH, TOKEN):
        assert value not in page
