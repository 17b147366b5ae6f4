"""Contract tests of SPEC §13 driven only through the documented resources, for promises the other
tests leave to unit tests: a Policy's match by kind, project glob and namespace glob (an object
without a namespace is judged in the destination namespace), `Force=true` re-creating a Job whose
template changed, a failed hook deleted by its HookFailed policy, a SyncFail hook run when the apply
itself fails, and an allow sync window that is closed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.test_policies import configmap, policy, refused
from tests.integration.test_sync_hooks import hook
from tests.integration.test_sync_replace import job
from tests.integration.test_sync_windows import project
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

ALWAYS_FALSE = "has(object.data.forbidden) == false"


async def test_match_by_kind_project_and_namespace_globs(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    kinds = [{"group": "", "kind": "ConfigMap"}]
    prefix = namespace[:4] + "*"
    await kube.create(
        policy("elsewhere", namespace, "Deny", ALWAYS_FALSE, "other namespaces", kinds=kinds, namespaces=["zz-*"])
    )
    await kube.create(
        policy("other-project", namespace, "Deny", ALWAYS_FALSE, "other projects", kinds=kinds, projects=["team-*"])
    )
    await kube.create(policy("secrets", namespace, "Deny", ALWAYS_FALSE, "Secrets only", kinds=[{"kind": "Secret"}]))
    repo = make_repo()
    first = repo.commit({"cm.yaml": configmap("cm", forbidden="yes")})
    url = git_http_server.publish(repo, "c.git")
    await kube.create(apps.application("web", namespace, url))
    # none of the three Policies matches this ConfigMap: it syncs
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))

    await kube.create(
        policy("here", namespace, "Deny", ALWAYS_FALSE, "no forbidden key here", kinds=kinds,
               projects=["def*"], namespaces=[prefix])
    )  # fmt: skip
    second = repo.commit({"cm.yaml": configmap("cm", forbidden="again")})
    git_http_server.publish(repo, "c.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(
        kube, namespace, "web", apps.all_of(refused, lambda s: s.get("lastAttemptedRevision") == second)
    )
    message = apps.condition(status, "ValidationError")["message"]  # type: ignore[index]
    assert "here" in message and "no forbidden key here" in message and "cm" in message
    for other in ("elsewhere", "other-project", "Secrets only"):
        assert other not in message
    assert status["sync"]["revision"] == first
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"forbidden": "yes"}


async def test_force_true_recreates_a_job_whose_template_changed(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    annotations = '{"gitward.dev/sync-options": "Force=true"}'
    repo = make_repo()
    repo.commit({"job.yaml": job("1", annotations)})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    before = await kube.get("batch/v1", "Job", "migrate", namespace)
    repo.commit({"job.yaml": job("2", annotations)})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))
    after = await kube.get("batch/v1", "Job", "migrate", namespace)
    assert after["metadata"]["uid"] != before["metadata"]["uid"]
    assert after["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "2"


def _closed_allow_window(applications: list[str]) -> dict[str, Any]:
    hour = (dt.datetime.now(dt.UTC).hour + 12) % 24  # opens half a day away: closed now
    return {"kind": "allow", "schedule": f"0 {hour} * * *", "duration": "1h", "applications": applications}


async def test_an_allow_window_that_is_closed_holds_only_the_applications_it_names(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"held/cm.yaml": configmap("held", a="b"), "free/cm.yaml": configmap("free", a="b")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(project(namespace, [_closed_allow_window(["held-*"])]))
    await kube.create(apps.application("held-app", namespace, url, path="held", project="team"))
    await kube.create(apps.application("free-app", namespace, url, path="free", project="team"))

    def held(status: apps.Status) -> bool:
        cond = apps.condition(status, "SyncWindow")
        return cond is not None and cond["status"] == "True"

    status = await apps.wait_status(kube, namespace, "held-app", held)
    assert "the next window opens at" in apps.condition(status, "SyncWindow")["message"]  # type: ignore[index]
    assert status["sync"]["status"] == "OutOfSync"
    await apps.wait_status(kube, namespace, "free-app", apps.synced_at(repo.head()))

    open_now = {"kind": "allow", "schedule": "* * * * *", "duration": "1h", "applications": ["held-*"]}
    await kube.patch(
        "gitward.dev/v1alpha1", "Project", "team", namespace,
        {"spec": {"syncWindows": [_closed_allow_window(["held-*"]), open_now]}},
    )  # fmt: skip
    status = await apps.wait_status(kube, namespace, "held-app", apps.synced_at(repo.head()))
    assert apps.condition(status, "SyncWindow") is None


async def test_a_failed_hook_with_hook_failed_policy_is_deleted(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"cm.yaml": configmap("settings", value="1")})
    url = git_http_server.publish(repo, "config.git")
    spec: dict[str, Any] = {"syncPolicy": {"automated": {"prune": True}, "retry": {"limit": 0}}}
    await kube.create(apps.application("web", namespace, url, **spec))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    repo.commit({"migrate.yaml": hook("migrate", "PreSync", fail=True, policy="HookFailed")})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("operationState") or {}).get("phase") == "Failed", timeout=90
    )
    assert "migrate" in status["operationState"]["message"]

    async def deleted() -> bool:
        return await kube.get_or_none("batch/v1", "Job", "migrate", namespace) is None

    await apps.wait_for(deleted, 60, message="the failed hook Job deleted by its HookFailed policy")


async def test_a_sync_that_fails_to_apply_runs_its_sync_fail_hook(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"job.yaml": job("1")})
    url = git_http_server.publish(repo, "config.git")
    spec: dict[str, Any] = {"syncPolicy": {"automated": {"prune": True}, "retry": {"limit": 0}}}
    await kube.create(apps.application("web", namespace, url, **spec))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(repo.head()))

    # an immutable field changes without Replace=true: the apply fails, the SyncFail hook runs
    repo.commit({"job.yaml": job("2"), "alert.yaml": hook("alert", "SyncFail")})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    await apps.wait_status(
        kube, namespace, "web", lambda s: (s.get("operationState") or {}).get("phase") == "Failed", timeout=90
    )

    async def started() -> bool:
        return await kube.get_or_none("batch/v1", "Job", "alert", namespace) is not None

    await apps.wait_for(started, 60, message="the SyncFail hook Job")
