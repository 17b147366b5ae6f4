"""Rollouts in tenant mode (SPEC §6, §10): every write for a Rollout an impersonated Application
deployed — the primary, the Services, the target's replicas, analysis Jobs — is made as the
Application's ServiceAccount, so its RBAC is the final judge; a refusal shows on the Rollout and is
never retried with the controller's rights. A Rollout whose tracking id claims an Application that
did not deploy it is refused outright (docs/progressive-delivery.md, "Whose rights a Rollout uses").

Everything runs on the real API server with real RBAC; the node simulator completes the Jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support import apps
from tests.support import rollouts as r
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.rollouts import PRIMARY

from gitward.controller.manager import Controller
from gitward.controller.rollouts import acting
from gitward.core import rollouts as ro
from gitward.core.applications import API_GROUP, TRACKING_ID
from gitward.kube.client import KubeClient

RBAC = "rbac.authorization.k8s.io/v1"
STEPS = [{"setWeight": 50}, {"analysis": {"templates": [{"name": "check"}]}}]
READ = ["get", "list", "watch"]


async def _tenant(kube: KubeClient, namespace: str, jobs: list[str], deployments: list[str] | None = None) -> None:
    """ServiceAccount `tenant`: all it needs for Deployments, Services, Rollouts and AnalysisTemplates
    of its namespace, and only `jobs` verbs on Jobs (`deployments`: only those named, besides reads)."""
    meta = {"name": "tenant", "namespace": namespace}
    rules: list[dict[str, Any]] = [
        {"apiGroups": [""], "resources": ["services"], "verbs": ["*"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": READ},
        {"apiGroups": [API_GROUP], "resources": ["rollouts", "analysistemplates"], "verbs": ["*"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": jobs},
    ]
    if deployments is None:
        rules.append({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]})
    else:
        rules.append({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": READ})
        rules.append(
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"], "resourceNames": deployments}
        )
    await kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}, field_manager="test")
    await kube.apply({"apiVersion": RBAC, "kind": "Role", "metadata": meta, "rules": rules}, field_manager="test")
    binding = {
        "apiVersion": RBAC,
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
    }
    await kube.apply(binding, field_manager="test")


def _job_template() -> dict[str, Any]:
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "example.invalid/smoke:1"}]}}
    metric = {"name": "smoke", "provider": {"job": {"spec": {"template": pod}}}}
    meta = {"name": "check"}
    return {"apiVersion": ro.API_VERSION, "kind": "AnalysisTemplate", "metadata": meta, "spec": {"metrics": [metric]}}


def _manifests(namespace: str, version: str) -> dict[str, str]:
    objects = {
        "deployment.yaml": r.deployment("web", namespace, version),
        "service.yaml": r.service("web", namespace, "web"),
        "rollout.yaml": r.rollout("web", namespace, {"canary": {"steps": STEPS}}),
    }
    for obj in objects.values():
        obj["metadata"].pop("namespace")
    files = {path: yaml.safe_dump(obj) for path, obj in objects.items()}
    return {**files, "template.yaml": yaml.safe_dump(_job_template())}


async def _deploy_v1_then_v2(
    kube: KubeClient, namespace: str, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> dict[str, Any]:
    """The tenant's Application deploys v1 (the Rollout becomes Healthy), then v2 (a canary)."""
    repo = make_repo()
    repo.commit(_manifests(namespace, "v1"), message="v1")
    url = git_http_server.publish(repo, "tenant.git")
    await kube.create(apps.application("web", namespace, url, serviceAccountName="tenant"))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    first = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web to the primary")
    repo.commit(_manifests(namespace, "v2"), message="v2")
    git_http_server.publish(repo, "tenant.git")
    await kube.patch(
        apps.API_VERSION, "Application", "web", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "v2"}}}
    )
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    return first


async def _selector_is(kube: KubeClient, namespace: str, selector: dict[str, str]) -> bool:
    service = await kube.get_or_none("v1", "Service", "web", namespace)
    return service is not None and service["spec"]["selector"] == selector


async def _image(kube: KubeClient, namespace: str, name: str) -> str:
    deployment = await kube.get("apps/v1", "Deployment", name, namespace)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_a_tenant_that_may_not_create_jobs_gets_no_analysis_job_and_no_promotion(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _tenant(kube, namespace, jobs=READ)
    first = await _deploy_v1_then_v2(kube, namespace, make_repo, git_http_server)
    status = await r.wait_rollout(
        kube, namespace, "web", lambda s: s.get("phase") == "Degraded" and bool(s.get("failedRevision"))
    )
    account = f"system:serviceaccount:{namespace}:tenant"
    [entry] = [a for a in status["analysis"] if a["metric"] == "smoke"]
    assert entry["phase"] == "Failed"
    assert "refused by RBAC" in entry["message"] and account in entry["message"]
    assert 'cannot create resource "jobs"' in status["message"], status["message"]
    assert status["history"][-1]["result"] == "RolledBack"
    assert status["stableRevision"] == first["stableRevision"]
    jobs, _ = await kube.list("batch/v1", "Job", namespace)
    assert jobs == []  # the controller (which may create Jobs) did not step in
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v1"


async def test_a_tenant_that_may_create_jobs_is_analysed_and_promoted(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _tenant(kube, namespace, jobs=["create", *READ])
    first = await _deploy_v1_then_v2(kube, namespace, make_repo, git_http_server)
    done = await r.wait_rollout(
        kube,
        namespace,
        "web",
        lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != first["stableRevision"],
    )
    [entry] = [a for a in done["analysis"] if a["metric"] == "smoke"]
    assert (entry["phase"], entry["value"]) == ("Successful", "Complete")
    jobs, _ = await kube.list("batch/v1", "Job", namespace)
    assert len(jobs) == 1 and jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    await apps.wait_for(lambda: _primary_runs(kube, namespace, "example.invalid/web:v2"), message="the primary runs v2")
    # its claim was waited for, never refused, while the first sync had not written the inventory yet
    assert not await r.has_event(kube, namespace, "web", "Refused")


async def _primary_runs(kube: KubeClient, namespace: str, image: str) -> bool:
    return await _image(kube, namespace, "web-primary") == image


async def test_a_refused_write_shows_on_the_rollout_until_rbac_allows_it(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """The tenant may change the Deployment `web` only: creating `web-primary` is refused, shown,
    retried as the tenant (never as the controller) and done once the Role allows it."""
    await kube.create(r.deployment("web", namespace, "v1"))  # the tenant may patch it, not create it
    await _tenant(kube, namespace, jobs=READ, deployments=["web"])
    repo = make_repo()
    repo.commit(_manifests(namespace, "v1"), message="v1")
    url = git_http_server.publish(repo, "tenant.git")
    await kube.create(apps.application("web", namespace, url, serviceAccountName="tenant"))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["message"].startswith("refused by RBAC: "), status["message"]
    assert f"system:serviceaccount:{namespace}:tenant" in status["message"] and "web-primary" in status["message"]
    assert status["refused"]["phase"] == "Healthy"  # the step machine's own phase, kept underneath
    assert await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace) is None
    await apps.wait_for(lambda: r.has_event(kube, namespace, "web", "Refused", "Warning"), message="Refused Event")

    await _tenant(kube, namespace, jobs=READ)  # now every Deployment of the namespace
    healthy = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    assert "refused" not in healthy
    assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v1"


@pytest.mark.parametrize("claim", ["missing", "other-namespace", "not-in-inventory"])
async def test_a_forged_tracking_id_is_refused_and_never_acts_as_the_controller(
    kube: KubeClient, namespace: str, controller: Controller, claim: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acting, "CLAIM_GRACE_SECONDS", 0.0)  # no wait for an inventory that never lists it
    other = f"{namespace}-o"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    try:
        app_namespace = namespace if claim == "not-in-inventory" else other
        if claim != "missing":  # an Application that exists, but did not deploy this Rollout
            app = apps.application("owner", app_namespace, "https://git.invalid/x.git", serviceAccountName="tenant")
            app["spec"]["destination"] = {"namespace": app_namespace}
            app["spec"]["suspend"] = True
            await kube.create(app)
        await kube.create(r.deployment("web", namespace, "v1"))
        await kube.create(r.service("web", namespace, "web"))
        forged = r.rollout("web", namespace, {"canary": {"steps": STEPS}})
        tracking_id = f"{app_namespace}/owner:{API_GROUP}/Rollout:{namespace}/web"
        forged["metadata"]["annotations"] = {TRACKING_ID: tracking_id}
        await kube.create(forged)

        status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
        expected = {
            "missing": f"Application {other}/owner, which does not exist",
            "other-namespace": f"Application {other}/owner does not list this Rollout in its status.inventory",
            "not-in-inventory": "does not list this Rollout in its status.inventory",
        }[claim]
        assert status["message"].startswith("refused to act: ") and expected in status["message"], status["message"]
        assert await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace) is None
        assert await kube.get_or_none("v1", "Service", "web-primary", namespace) is None
        assert await r.replicas(kube, namespace, "web") == 2
        assert (await kube.get("v1", "Service", "web", namespace))["spec"]["selector"] == {"app": "web"}
        live = await kube.get(ro.API_VERSION, "Rollout", "web", namespace)
        assert not live["metadata"].get("finalizers")  # nothing to give back: nothing was taken

        # without the claim it is an untracked Rollout: the controller's own, as before
        unclaimed = {"metadata": {"annotations": {TRACKING_ID: None}}}
        await kube.patch(ro.API_VERSION, "Rollout", "web", namespace, unclaimed)
        healthy = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
        assert "refused" not in healthy
        await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web to the primary")
    finally:
        await kube.delete("v1", "Namespace", other)


async def test_in_tenant_mode_an_untracked_rollout_acts_as_the_default_service_account(
    kube: KubeClient, namespace: str, crds: None, tmp_path: Path
) -> None:
    """`--default-service-account`: a Rollout nobody's Application deployed (created directly, or
    stripped of its tracking id) gets that ServiceAccount of its namespace, never the controller."""
    await _tenant(kube, namespace, jobs=READ, deployments=["web"])
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, {"canary": {"steps": STEPS}}))
    async with apps.running_controller(kube, namespace, tmp_path / "cache", default_service_account="tenant"):
        status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
        assert status["message"].startswith("refused by RBAC: "), status["message"]
        assert f"system:serviceaccount:{namespace}:tenant" in status["message"]
        assert await kube.get_or_none("apps/v1", "Deployment", "web-primary", namespace) is None

        await _tenant(kube, namespace, jobs=READ)  # the namespace's ServiceAccount may now do it
        await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
        await apps.wait_for(lambda: _selector_is(kube, namespace, PRIMARY), message="Service web to the primary")
        await apps.wait_for(lambda: _replicas_are(kube, namespace, 0), message="target scaled to 0")
        assert await _image(kube, namespace, "web-primary") == "example.invalid/web:v1"

        # the clean-up on deletion is the ServiceAccount's too: refused, it is reported, not done as the controller
        await _tenant(kube, namespace, jobs=READ, deployments=["web-primary"])
        await kube.delete(ro.API_VERSION, "Rollout", "web", namespace)
        await apps.wait_for(lambda: _gone(kube, namespace), message="the Rollout's finalizer removed")
        events = await r.events_of(kube, namespace, "web")
        assert any(e["reason"] == "Refused" and "target not given back" in e["message"] for e in events), events
        assert await r.replicas(kube, namespace, "web") == 0


async def _replicas_are(kube: KubeClient, namespace: str, count: int) -> bool:
    return await r.replicas(kube, namespace, "web") == count


async def _gone(kube: KubeClient, namespace: str) -> bool:
    return await kube.get_or_none(ro.API_VERSION, "Rollout", "web", namespace) is None
