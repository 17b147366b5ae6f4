"""RollingSync on the real control plane: the Applications of step N+1 sync only once all of step
N's are Synced and Healthy (those matching no step come last), a failed step stops the rollout, and
a new commit rolls out step by step again."""

from __future__ import annotations

from typing import Any

from tests.integration.test_appsets_generators import appset, template, wait_names
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"


def waiting_for_rollout(s: apps.Status) -> bool:
    ready = apps.condition(s, "Ready")
    return bool(ready and ready["reason"] == "WaitingForRollout")


def rolling_set(namespace: str, url: str) -> dict[str, Any]:
    elements = [{"env": env} for env in ("dev", "staging", "prod", "qa")]
    tmpl = template(namespace, url, "web-{{env}}", "envs/{{env}}", env="{{env}}")
    steps = [
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev", "qa"]}]},
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["staging"]}]},
    ]  # prod matches no step: it comes last
    strategy = {"type": "RollingSync", "rollingSync": {"steps": steps}}
    return appset("web", namespace, [{"list": {"elements": elements}}], tmpl, strategy=strategy)


async def _value(kube: KubeClient, namespace: str, env: str) -> str | None:
    found = await kube.get_or_none("v1", "ConfigMap", f"cm-{env}", namespace)
    return None if found is None else str(found["data"]["value"])


async def test_steps_sync_in_order_and_a_failed_step_stops_the_rollout(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    files = {f"envs/{env}/cm.yaml": configmap(f"cm-{env}", "1") for env in ("staging", "prod", "qa")}
    files["envs/dev/cm.yaml"] = "kind: [broken"  # step 1 cannot deploy
    repo.commit(files)
    url = git_http_server.publish(repo, "config.git")
    await kube.create(rolling_set(namespace, url))
    found = await wait_names(kube, namespace, "web", {"web-dev", "web-staging", "web-prod", "web-qa"})
    steps = {n: a["metadata"]["annotations"]["gitward.dev/rollout-step"] for n, a in found.items()}
    assert steps == {"web-dev": "1", "web-qa": "1", "web-staging": "2", "web-prod": "3"}

    await apps.wait_status(kube, namespace, "web-qa", apps.all_of(apps.synced_at(repo.head()), apps.healthy))
    status = await apps.wait_status(kube, namespace, "web-staging", waiting_for_rollout)
    assert "step 2 waits for step 1: web-dev" in apps.condition(status, "Ready")["message"]  # type: ignore[index]
    await apps.wait_status(kube, namespace, "web-prod", waiting_for_rollout)
    assert await _value(kube, namespace, "staging") is None and await _value(kube, namespace, "prod") is None

    # fixed: step 1 completes, then step 2, then the rest
    fixed = repo.commit({"envs/dev/cm.yaml": configmap("cm-dev", "1")})
    git_http_server.publish(repo, "config.git")
    for env in ("dev", "qa", "staging", "prod"):
        controller.refresh(f"{namespace}/web-{env}")
    for env in ("dev", "staging", "prod"):
        await apps.wait_status(kube, namespace, f"web-{env}", apps.all_of(apps.synced_at(fixed), apps.healthy))
    created = {
        env: (await kube.get("v1", "ConfigMap", f"cm-{env}", namespace))["metadata"]["creationTimestamp"]
        for env in ("dev", "staging", "prod")
    }
    assert created["dev"] <= created["staging"] <= created["prod"]

    # a new commit for every environment: staging and prod wait until step 1 runs it
    change = {f"envs/{env}/cm.yaml": configmap(f"cm-{env}", "2") for env in ("dev", "staging", "prod", "qa")}
    change["envs/dev/cm.yaml"] = "kind: [broken again"
    second = repo.commit(change)
    git_http_server.publish(repo, "config.git")
    for env in ("staging", "prod", "qa", "dev"):
        controller.refresh(f"{namespace}/web-{env}")
    await apps.wait_status(kube, namespace, "web-qa", apps.synced_at(second))
    await apps.wait_status(kube, namespace, "web-dev", lambda s: s.get("lastAttemptedRevision") == second)
    await apps.wait_status(kube, namespace, "web-staging", waiting_for_rollout)
    assert await _value(kube, namespace, "staging") == "1" and await _value(kube, namespace, "prod") == "1"
