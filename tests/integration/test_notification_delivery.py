"""How notifications are delivered (SPEC §14), on the real cluster with the in-process controller and
`tests.support.receivers` on 127.0.0.1: a 429 with Retry-After is waited for, a 5xx is retried with
growing backoff then given up (on the Provider's status and in /metrics), a receiver that never
answers times out without ever holding a sync back, repeats are de-duplicated, and a Provider is
sent to no faster than its rate limit. The controller's Notifier is tuned (`Notifier.tune`) to short
backoffs and timeouts before the first delivery; the waits asserted are lower bounds the engine
guarantees, never upper bounds on speed.
"""

from __future__ import annotations

import dataclasses
import time

from tests.support import apps, http_api, receivers
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import CONFIGMAP, alert, provider, ready, secret

from gitward.controller.manager import Controller
from gitward.controller.metrics import REGISTRY
from gitward.controller.notifications import Settings
from gitward.controller.notifications.matching import Backoff
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def tune(controller: Controller, **settings: object) -> Settings:
    tuned = dataclasses.replace(Settings(), **settings)  # type: ignore[arg-type]
    controller.notifier.tune(tuned)
    return tuned


def counted(provider_name: str, result: str) -> float:
    labels = {"provider": provider_name, "result": result}
    return REGISTRY.get_sample_value("gitward_notifications_total", labels) or 0.0


async def sync_one(kube: KubeClient, namespace: str, make_repo: MakeRepo, server: GitHttpServer, name: str) -> str:
    repo = make_repo()
    sha = repo.commit({"config.yaml": CONFIGMAP})
    await kube.create(apps.application(name, namespace, server.publish(repo, f"{name}.git")))
    return sha


async def test_a_429_with_retry_after_is_waited_for_then_delivered(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    tune(controller, backoff=Backoff(attempts=3, base=0.1))
    async with receivers.receiver(receivers.generic(), [receivers.throttled(2)]) as hook:
        await provider(kube, namespace, "hook", type="generic", address=f"{hook.url}/hook")
        await alert(kube, namespace, "hook", "hook")
        sha = await sync_one(kube, namespace, make_repo, git_http_server, "web")
        await apps.wait_for(lambda: len(hook.requests) >= 2, 60, message="the delivery after the 429")
        first, second = hook.requests[:2]
        assert first.body == second.body and second.json()["revision"] == sha  # the same notice, again
        assert hook.arrivals[1] - hook.arrivals[0] >= 2.0  # Retry-After: 2 was honoured
        assert hook.violations == []
        provider_obj = await ready(kube, namespace, "Provider", "hook", "True")
        assert (apps.condition(provider_obj["status"], "Ready") or {}).get("reason") == "Succeeded"


async def test_githubs_rate_limit_403_waits_for_its_reset(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """GitHub answers 403 with x-ratelimit-remaining 0 past its primary rate limit: no request
    before x-ratelimit-reset (UTC epoch seconds), then the status is posted."""
    tune(controller, backoff=Backoff(attempts=3, base=0.1))
    reset = int(time.time()) + 6
    async with receivers.receiver(receivers.github("tok"), [receivers.github_rate_limited(reset)]) as api:
        await secret(kube, namespace, "github", token="tok")
        await provider(
            kube, namespace, "gh", type="github", address=f"{api.url}/org/repo", secretRef={"name": "github"}
        )
        await alert(kube, namespace, "gh", "gh")
        await sync_one(kube, namespace, make_repo, git_http_server, "web")
        await apps.wait_for(lambda: len(api.requests) >= 2, 60, message="the status after the reset")
        assert api.requests[0].body == api.requests[1].body
        assert api.walls[1] >= reset - 1  # x-ratelimit-reset has whole seconds
        assert api.violations == []
        await ready(kube, namespace, "Provider", "gh", "True")


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up_and_counted(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    tune(controller, backoff=Backoff(attempts=3, base=0.4, factor=2.0))
    name = f"down-{namespace[-8:]}"  # /metrics is per process: a name of this test's own
    async with receivers.receiver(receivers.generic(), [receivers.UNAVAILABLE] * 50) as hook:
        await provider(kube, namespace, name, type="generic", address=f"{hook.url}/hook")
        await alert(kube, namespace, "down", name)
        await sync_one(kube, namespace, make_repo, git_http_server, "web")
        await apps.wait_for(lambda: counted(name, "failure") >= 1, 60, message="a delivery given up")
        attempts = [t for t, r in zip(hook.arrivals, hook.requests, strict=True) if r.body == hook.requests[0].body]
        assert len(attempts) == 3  # the first try and two retries, then no more
        assert attempts[1] - attempts[0] >= 0.4 and attempts[2] - attempts[1] >= 0.8  # backoff grows
        given_up = f"127.0.0.1:{hook.port}: HTTP 503 (after 3 attempts)"

        async def shown() -> bool:  # later notices may still be retrying: wait for the last to give up
            failed = await ready(kube, namespace, "Provider", name, "False")
            condition = apps.condition(failed["status"], "Ready") or {}
            return condition["reason"] == "DeliveryFailed" and condition["message"] == given_up

        await apps.wait_for(shown, 60, 0.5, message="the given-up delivery on the Provider")
        async with http_api.serving(kube, namespace, controller) as api, api.client() as http:
            text = (await http.get("/metrics")).text
        assert f'gitward_notifications_total{{provider="{name}",result="failure"}}' in text
        retries = counted(name, "retry")
        assert retries >= 2 and f'gitward_notifications_total{{provider="{name}",result="retry"}} {retries}' in text


async def test_a_hanging_receiver_never_holds_a_sync_back(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    tune(controller, timeout=300.0)  # it hangs for as long as the test runs
    async with receivers.receiver(receivers.generic(), [receivers.HANG] * 20) as stuck:
        await provider(kube, namespace, "stuck", type="generic", address=f"{stuck.url}/stuck")
        await alert(kube, namespace, "stuck", "stuck")
        repo = make_repo()
        first = repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_for(lambda: stuck.pending, 60, message="a delivery the receiver holds")
        # while that delivery hangs, two more commits are synced, one after the other
        for text in ("again", "and again"):
            sha = repo.commit({"config.yaml": CONFIGMAP.replace("hello", text)})
            git_http_server.publish(repo, "c.git")
            controller.refresh(f"{namespace}/web")
            await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
        assert stuck.pending == 1 and len(stuck.requests) == 1
        assert stuck.requests[0].json()["revision"] == first


async def test_a_hanging_receiver_times_out_and_says_so(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    tune(controller, timeout=1.0, backoff=Backoff(attempts=2, base=0.1))
    async with receivers.receiver(receivers.generic(), [receivers.HANG] * 20) as stuck:
        await provider(kube, namespace, "stuck", type="generic", address=f"{stuck.url}/stuck")
        await alert(kube, namespace, "stuck", "stuck")
        await sync_one(kube, namespace, make_repo, git_http_server, "web")
        await apps.wait_for(
            lambda: any(d.provider == "stuck" and d.result == "failure" for d in controller.notifier.recent),
            60,
            message="the delivery given up",
        )
        failed = await ready(kube, namespace, "Provider", "stuck", "False")
        message = (apps.condition(failed["status"], "Ready") or {}).get("message", "")
        assert message == f"127.0.0.1:{stuck.port}: timed out (ReadTimeout) (after 2 attempts)"


async def test_repeats_are_delivered_once(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    name = f"errors-{namespace[-8:]}"
    async with receivers.receiver(receivers.generic()) as hook:
        await provider(kube, namespace, name, type="generic", address=f"{hook.url}/errors")
        await alert(kube, namespace, "errors", name, eventSeverity="error")
        repo = make_repo()
        bad = repo.commit({"broken.yaml": "a: [1, 2\nb: c: d\n"})
        app = apps.application("web", namespace, git_http_server.publish(repo, "c.git"))
        await kube.create(app)
        await apps.wait_for(hook.bodies, 60, message="the render failure delivered")
        # the same Application again: the same commit fails to render with the same message
        await kube.delete(API_VERSION, "Application", "web", namespace)

        async def gone() -> bool:
            return await kube.get_or_none(API_VERSION, "Application", "web", namespace) is None

        await apps.wait_for(gone, 60, message="the Application deleted")
        await kube.create(app)
        await apps.wait_for(lambda: counted(name, "deduplicated") >= 1, 60, message="the repeat dropped")
        failures = [b for b in hook.bodies() if b["reason"] == "RenderFailed"]
        assert len(failures) == 1 and failures[0]["revision"] == bad
        assert hook.violations == []


async def test_a_provider_is_sent_to_no_faster_than_its_rate_limit(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    tune(controller, rate=0.5, burst=1)  # one delivery every two seconds
    async with receivers.receiver(receivers.generic()) as hook:
        await provider(kube, namespace, "slow", type="generic", address=f"{hook.url}/slow")
        await alert(kube, namespace, "slow", "slow")
        for name in ("one", "two", "three"):
            await sync_one(kube, namespace, make_repo, git_http_server, name)
        await apps.wait_for(lambda: len(hook.requests) >= 3, 90, message="three deliveries")
        # each delivery starts at least 1/rate seconds after the one before did: arrivals are that far
        # apart but for the transit time (the first is left out: it also waits for the connection set-up)
        assert hook.arrivals[2] - hook.arrivals[1] >= 2.0 - 0.5
        assert hook.violations == []
