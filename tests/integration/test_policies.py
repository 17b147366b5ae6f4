"""Policies (SPEC §13) on the real cluster: a Deny refuses a commit whole before anything is written and
the fixed commit syncs; Warn syncs and emits a Warning Event once; Audit only counts; a Policy whose
expression does not compile is reported on the Policy and blocks nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller import metrics
from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

NO_LATEST = "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))"
SMALL_CONFIGMAPS = "size(object.data) <= 2"


def configmap(name: str, **data: str) -> str:
    entries = "".join(f"  {k}: {v!r}\n" for k, v in data.items()) or "  {}\n"
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{entries}"


def deployment(name: str, image: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: main, image: "{image}"}}]
"""


def policy(name: str, namespace: str, action: str, expression: str, message: str, **match: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Policy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"action": action, "match": match, "validations": [{"expression": expression, "message": message}]},
    }


def refused(status: apps.Status) -> bool:
    cond = apps.condition(status, "ValidationError")
    return cond is not None and cond["status"] == "True" and cond.get("reason") == "PolicyViolation"


async def events_with(kube: KubeClient, namespace: str, reason: str) -> list[dict[str, Any]]:
    items, _ = await kube.list("v1", "Event", namespace)
    return [e for e in items if e.get("reason") == reason]


async def test_deny_refuses_the_commit_whole_and_the_fix_syncs(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await kube.create(
        policy(
            "no-latest",
            namespace,
            "Deny",
            NO_LATEST,
            "images must be pinned",
            kinds=[{"group": "apps", "kind": "Deployment"}],
        )
    )
    repo = make_repo()
    good = repo.commit({"cm.yaml": configmap("cm", a="1"), "web.yaml": deployment("web", "nginx:1.25")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(good))

    bad = repo.commit(
        {"cm.yaml": configmap("cm", a="2"), "new.yaml": configmap("new"), "web.yaml": deployment("web", "nginx:latest")}
    )
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", refused)
    message = apps.condition(status, "ValidationError")["message"]  # type: ignore[index]
    assert "Deployment/" in message and "web" in message
    assert "no-latest" in message and "images must be pinned" in message
    stalled = apps.condition(status, "Stalled")
    assert stalled is not None and stalled["status"] == "True"
    assert status["lastSyncedRevision"] == good
    assert status.get("lastAttemptedRevision") == bad
    # nothing of the refused revision was written: not even the objects the Policy did not match
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"a": "1"}
    assert await kube.get_or_none("v1", "ConfigMap", "new", namespace) is None
    image = (await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "nginx:1.25"
    assert await apps.wait_for(lambda: events_with(kube, namespace, "PolicyViolation"), message="the refusal's Event")

    # a re-check of the same refused revision still refuses it (it is never remembered as desired)
    await kube.patch(
        API_VERSION, "Application", "app", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "1"}}}
    )
    status = await apps.wait_status(kube, namespace, "app", apps.all_of(apps.refreshed("1"), refused))
    assert status["lastSyncedRevision"] == good
    assert await kube.get_or_none("v1", "ConfigMap", "new", namespace) is None

    fixed = repo.commit({"web.yaml": deployment("web", "nginx:1.27")}, message="pin")
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(fixed))
    assert apps.condition(status, "ValidationError") is None
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"a": "2"}


async def test_warn_syncs_and_emits_one_warning_event(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await kube.create(
        policy("small", namespace, "Warn", SMALL_CONFIGMAPS, "too many keys", kinds=[{"kind": "ConfigMap"}])
    )
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("big", a="1", b="2", c="3")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    assert (await kube.get("v1", "ConfigMap", "big", namespace))["data"] == {"a": "1", "b": "2", "c": "3"}
    warnings = await apps.wait_for(lambda: events_with(kube, namespace, "PolicyWarning"), message="PolicyWarning")
    assert "ConfigMap/" in warnings[0]["message"] and "big" in warnings[0]["message"]
    assert "small" in warnings[0]["message"] and "too many keys" in warnings[0]["message"]
    assert warnings[0]["type"] == "Warning"

    for request in ("1", "2"):  # re-checks of the same revision warn no more
        annotations = {"metadata": {"annotations": {"gitward.dev/refresh": request}}}
        await kube.patch(API_VERSION, "Application", "app", namespace, annotations)
        await apps.wait_status(kube, namespace, "app", apps.refreshed(request))
    assert len(await events_with(kube, namespace, "PolicyWarning")) == 1


async def test_audit_only_counts(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    name = f"audit-{namespace}"
    before = metrics.REGISTRY.get_sample_value("gitward_policy_violations_total", {"policy": name, "action": "Audit"})
    await kube.create(policy(name, namespace, "Audit", SMALL_CONFIGMAPS, "too many keys", namespaces=[namespace]))
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("big", a="1", b="2", c="3"), "ok.yaml": configmap("ok", a="1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
    after = metrics.REGISTRY.get_sample_value("gitward_policy_violations_total", {"policy": name, "action": "Audit"})
    assert (after or 0) - (before or 0) == 1  # one object of two violates it, counted once
    assert await events_with(kube, namespace, "PolicyWarning") == []


async def test_broken_expression_is_reported_on_the_policy_and_blocks_nothing(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await kube.create(policy("broken", namespace, "Deny", "object.data.size( >", "never compiles"))
    repo = make_repo()
    sha = repo.commit({"cm.yaml": configmap("cm", a="1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))

    async def ready() -> dict[str, Any] | None:
        found = await kube.get(API_VERSION, "Policy", "broken", namespace)
        conditions = (found.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == "Ready"), None)

    cond = await apps.wait_for(ready, message="the Policy's Ready condition")
    assert cond["status"] == "False" and cond["reason"] == "CompileError"
    assert "validations[0].expression" in cond["message"]


def _slow() -> str:
    """Under the iteration budget, but each of 8,100 steps builds a 1 MB string: minutes."""
    x100 = "'" + "x" * 100 + "'"
    items = "[" + ",".join(str(i) for i in range(90)) + "]"
    return f"{items}.all(a, {items}.all(b, size({x100}.replace('x', {x100}).replace('x', {x100})) > 0))"


def _endless() -> str:
    """8 million iterations: past the library's iteration budget."""
    items = "[" + ",".join(str(i) for i in range(200)) + "]"
    return f"{items}.all(a, {items}.all(b, {items}.all(c, a + b + c >= 0)))"


@pytest.mark.parametrize(
    ("hostile", "why"), [(_slow(), "exceeded its time bound"), (_endless(), "Iteration budget exceeded")]
)
async def test_hostile_expression_is_bounded_and_refuses_rather_than_passes(
    hostile: str,
    why: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    controller.policies.evaluator.step_timeout = 1.0
    await kube.create(policy("hostile", namespace, "Deny", hostile, "hostile", kinds=[{"kind": "ConfigMap"}]))
    repo = make_repo()
    repo.commit({"cm.yaml": configmap("cm", a="1")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("app", namespace, url))
    status = await apps.wait_status(kube, namespace, "app", refused, timeout=60)
    assert why in apps.condition(status, "ValidationError")["message"]  # type: ignore[index]
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None


GADGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.hc-test.example.com}
spec:
  group: hc-test.example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
GADGET = "apiVersion: hc-test.example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 1}\n"


def _health(expected: str) -> Any:
    return lambda status: (status.get("health") or {}).get("status") == expected


async def test_a_health_check_decides_a_custom_resources_health(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo
) -> None:
    """spec.healthChecks: CEL over the live object decides health for its kind (failed, then current,
    then inProgress; none true → Progressing), where built-in health would call any Gadget Healthy."""
    repo = make_repo()
    sha = repo.commit({"crd.yaml": GADGET_CRD, "gadget.yaml": GADGET})
    app = apps.application("gadgets", namespace, f"file://{repo.path}")
    app["spec"]["healthChecks"] = [{
        "group": "hc-test.example.com", "kind": "Gadget",
        "current": "status.phase == 'Ready'", "failed": "status.phase == 'Failed'",
        "inProgress": "status.phase == 'Starting'",
    }]  # fmt: skip
    await kube.create(app)
    try:
        await apps.wait_status(kube, namespace, "gadgets", apps.all_of(apps.synced_at(sha), _health("Progressing")))
        for phase, expected in (("Failed", "Degraded"), ("Ready", "Healthy")):
            patch = {"status": {"phase": phase}}
            await kube.patch("hc-test.example.com/v1", "Gadget", "g", namespace, patch)  # another writer's field
            await apps.wait_status(kube, namespace, "gadgets", _health(expected), timeout=60)
    finally:
        await kube.patch(API_VERSION, "Application", "gadgets", namespace, {"metadata": {"finalizers": None}})
        await kube.delete(API_VERSION, "Application", "gadgets", namespace)
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "gadgets.hc-test.example.com")
