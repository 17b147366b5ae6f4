"""Contract tests of SPEC §14 driven only through the documented resources: Provider and Alert in the
cluster, an Application (or ApplicationSet) synced by the in-process controller, and receivers on
127.0.0.1 that check the documented request shapes. They cover the events the other notification
tests leave to unit tests: drift corrected, health degraded and recovered, an Alert's inclusionList,
a refused revision (an error delivery and a failure commit status), rollout steps and promotion,
and ApplicationSet events reaching an Alert whose eventSources name that kind.
"""

from __future__ import annotations

from typing import Any

from tests.integration.test_appsets_generators import appset, template, wait_names
from tests.support import apps
from tests.support import rollouts as r
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import alert, provider, secret
from tests.support.receivers import generic, github, receiver

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def state_configmap(state: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  state: {state}\n"


def _reasons(bodies: list[Any]) -> list[str]:
    return [b["reason"] for b in bodies]


async def test_drift_corrected_and_health_degraded_then_recovered_are_delivered(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "all", type="generic", address=f"{hook.url}/all")
        await alert(kube, namespace, "all", "all")
        repo = make_repo()
        good = repo.commit({"settings.yaml": state_configmap("good")})
        app = apps.application("web", namespace, git_http_server.publish(repo, "c.git"))
        app["spec"]["healthChecks"] = [
            {"group": "", "kind": "ConfigMap", "current": "data.state == 'good'", "failed": "data.state == 'bad'"}
        ]
        await kube.create(app)
        await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(good), apps.healthy))

        # an out-of-band edit is reverted by selfHeal: a drift-corrected event
        await kube.patch("v1", "ConfigMap", "settings", namespace, {"data": {"state": "edited"}})
        await apps.wait_for(lambda: "DriftCorrected" in _reasons(hook.bodies("/all")), 60, message="DriftCorrected")
        drift = next(b for b in hook.bodies("/all") if b["reason"] == "DriftCorrected")
        assert drift["involvedObject"] == {"kind": "Application", "namespace": namespace, "name": "web"}
        assert drift["revision"] == good

        bad = repo.commit({"settings.yaml": state_configmap("bad")})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")
        await apps.wait_for(lambda: "HealthDegraded" in _reasons(hook.bodies("/all")), 60, message="HealthDegraded")
        degraded = next(b for b in hook.bodies("/all") if b["reason"] == "HealthDegraded")
        assert degraded["severity"] == "error" and degraded["revision"] == bad

        fixed = repo.commit({"settings.yaml": state_configmap("good")})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")
        await apps.wait_for(lambda: "HealthRecovered" in _reasons(hook.bodies("/all")), 60, message="HealthRecovered")
        recovered = next(b for b in hook.bodies("/all") if b["reason"] == "HealthRecovered")
        assert recovered["severity"] == "info" and recovered["revision"] == fixed
        assert hook.violations == []


async def test_an_inclusion_list_lets_only_matching_messages_through(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "p", type="generic", address=f"{hook.url}/only")
        await provider(kube, namespace, "q", type="generic", address=f"{hook.url}/every")
        await alert(kube, namespace, "only", "p", inclusionList=["^health degraded"])
        await alert(kube, namespace, "every", "q")
        repo = make_repo()
        repo.commit({"settings.yaml": state_configmap("good")})
        app = apps.application("web", namespace, git_http_server.publish(repo, "c.git"))
        app["spec"]["healthChecks"] = [
            {"group": "", "kind": "ConfigMap", "current": "true", "failed": "data.state == 'bad'"}
        ]
        await kube.create(app)
        await apps.wait_for(lambda: "Synced" in _reasons(hook.bodies("/every")), 60, message="Synced delivery")
        repo.commit({"settings.yaml": state_configmap("bad")})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")
        await apps.wait_for(lambda: hook.bodies("/only"), 60, message="the included delivery")
        await apps.wait_for(lambda: "HealthDegraded" in _reasons(hook.bodies("/every")), 60, message="degraded")
        assert all(b["message"].startswith("health degraded") for b in hook.bodies("/only"))
        assert _reasons(hook.bodies("/only")) == ["HealthDegraded"]


async def test_application_set_events_reach_an_alert_for_that_kind_only(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "sets", type="generic", address=f"{hook.url}/sets")
        await provider(kube, namespace, "apps", type="generic", address=f"{hook.url}/apps")
        await alert(kube, namespace, "sets", "sets", eventSources=[{"kind": "ApplicationSet", "name": "fleet-*"}])
        await alert(kube, namespace, "apps", "apps", eventSources=[{"kind": "Application", "name": "*"}])
        repo = make_repo()
        repo.commit({"apps/one/cm.yaml": state_configmap("good")})
        url = git_http_server.publish(repo, "c.git")
        tmpl = template(namespace, url, "gen-{{env}}", "apps/one")
        generators = [{"list": {"elements": [{"env": "dev"}]}}]
        await kube.create(appset("fleet-a", namespace, generators, tmpl))
        await wait_names(kube, namespace, "fleet-a", {"gen-dev"})
        await apps.wait_for(lambda: hook.bodies("/sets"), 60, message="a delivery about the ApplicationSet")
        body = hook.bodies("/sets")[0]
        assert body["involvedObject"] == {"kind": "ApplicationSet", "namespace": namespace, "name": "fleet-a"}
        await apps.wait_for(lambda: "Synced" in _reasons(hook.bodies("/apps")), 60, message="gen-dev Synced")
        assert {b["involvedObject"]["kind"] for b in hook.bodies("/apps")} == {"Application"}
        assert "fleet-a" not in {b["involvedObject"]["name"] for b in hook.bodies("/apps")}
        assert hook.violations == []


async def test_a_refused_revision_is_an_error_delivery_and_a_failure_commit_status(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    token = "ghp-refused-4471"
    async with receiver(generic()) as hook, receiver(github(token)) as forge:
        await secret(kube, namespace, "github", token=token)
        await provider(kube, namespace, "hook", type="generic", address=f"{hook.url}/hook")
        await provider(
            kube, namespace, "forge", type="github", address=f"{forge.url}/org/repo", secretRef={"name": "github"}
        )
        await alert(kube, namespace, "hook", "hook", eventSeverity="error")
        await alert(kube, namespace, "forge", "forge")
        deny = {
            "apiVersion": API_VERSION,
            "kind": "Policy",
            "metadata": {"name": "no-bad", "namespace": namespace},
            "spec": {
                "action": "Deny",
                "match": {"kinds": [{"group": "", "kind": "ConfigMap"}]},
                "validations": [{"expression": "object.data.state != 'bad'", "message": "state must not be bad"}],
            },
        }
        await kube.create(deny)
        repo = make_repo()
        good = repo.commit({"settings.yaml": state_configmap("good")})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_status(kube, namespace, "web", apps.synced_at(good))
        refused = repo.commit({"settings.yaml": state_configmap("bad")})
        git_http_server.publish(repo, "c.git")
        controller.refresh(f"{namespace}/web")

        await apps.wait_for(lambda: hook.bodies("/hook"), 60, message="the refusal delivered")
        body = hook.bodies("/hook")[0]
        assert body["severity"] == "error" and body["revision"] == refused
        assert "no-bad" in body["message"] and "state must not be bad" in body["message"]

        path = f"/api/v3/repos/org/repo/statuses/{refused}"
        await apps.wait_for(lambda: forge.bodies(path), 60, message="a commit status for the refused commit")
        assert [b["state"] for b in forge.bodies(path)][-1] == "failure"
        assert all(b["context"] == f"gitward/{namespace}/web" for b in forge.bodies(path))
        assert hook.violations == [] and forge.violations == []


async def test_rollout_steps_and_promotion_are_delivered(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    async with receiver(generic()) as hook:
        await provider(kube, namespace, "hook", type="generic", address=f"{hook.url}/rollouts")
        await alert(kube, namespace, "rollouts", "hook", eventSources=[{"kind": "Rollout", "name": "w*"}])
        await kube.create(r.deployment("web", namespace, "v1"))
        await kube.create(r.service("web", namespace, "web"))
        await kube.create(r.rollout("web", namespace, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}))
        await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
        await r.set_version(kube, namespace, "v2")
        paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
        await apps.wait_for(lambda: "Paused" in _reasons(hook.bodies("/rollouts")), 60, message="the step delivery")
        await r.operate(kube, namespace, "web", ro.PROMOTE, "1")
        await apps.wait_for(lambda: "Promoted" in _reasons(hook.bodies("/rollouts")), 60, message="the promotion")
        reasons = _reasons(hook.bodies("/rollouts"))
        assert reasons.index("RolloutStarted") < reasons.index("Paused") < reasons.index("Promoted")
        promoted = next(b for b in hook.bodies("/rollouts") if b["reason"] == "Promoted")
        assert promoted["involvedObject"] == {"kind": "Rollout", "namespace": namespace, "name": "web"}
        assert promoted["severity"] == "info" and paused["canaryRevision"] in promoted["message"]
        assert hook.violations == []
