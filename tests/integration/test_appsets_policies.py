"""What an ApplicationSet may change: a broken template or generator changes nothing (and says
why), hostile templates are refused, duplicate names are refused, `applicationsSync` create-only and
create-update never delete (create-only never updates), and `preserveResourcesOnDeletion` deletes a
pruned Application but keeps the objects it deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_appsets_generators import appset, configmap, generated, template, wait_names
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient


def listed(namespace: str, url: str, names: list[str], name: str = "{{n}}", **spec: Any) -> dict[str, Any]:
    tmpl = template(namespace, url, name, "apps/{{n}}")
    return appset("fleet", namespace, [{"list": {"elements": [{"n": n} for n in names]}}], tmpl, **spec)


def _written(app: dict[str, Any]) -> tuple[Any, ...]:
    """What the set writes (status and finalizers are the Application controller's)."""
    meta = app["metadata"]
    return meta["generation"], meta["labels"], meta["annotations"], app["spec"]


async def wait_condition(kube: KubeClient, namespace: str, name: str, type_: str, reason: str = "") -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status = (await kube.get(API_VERSION, "ApplicationSet", name, namespace)).get("status") or {}
        found = next((c for c in status.get("conditions") or [] if c["type"] == type_), None)
        return found if found and found["status"] == "True" and (not reason or found["reason"] == reason) else None

    return await apps.wait_for(check, 30, message=f"condition {type_}")  # type: ignore[no-any-return]


async def replace_spec(kube: KubeClient, namespace: str, body: dict[str, Any]) -> None:
    patch = {"spec": body["spec"]}
    await kube.patch(API_VERSION, "ApplicationSet", "fleet", namespace, patch)


@pytest.fixture
def repo_url(make_repo: MakeRepo, git_http_server: GitHttpServer) -> str:
    repo = make_repo()
    repo.commit({f"apps/{n}/cm.yaml": configmap(f"cm-{n}") for n in ("a", "b", "c")})
    return git_http_server.publish(repo, "config.git")


async def test_broken_template_or_generator_changes_nothing(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    await kube.create(listed(namespace, repo_url, ["a", "b"]))
    before = await wait_names(kube, namespace, "fleet", {"a", "b"})

    # template error: one parameter set has no "n"; the other would add c and remove a and b
    broken = listed(namespace, repo_url, ["c"])
    broken["spec"]["generators"][0]["list"]["elements"].append({"other": "x"})
    await replace_spec(kube, namespace, broken)
    condition = await wait_condition(kube, namespace, "fleet", "TemplateError")
    assert "undefined" in condition["message"]

    async def warning() -> list[dict[str, Any]]:
        events, _ = await kube.list("v1", "Event", namespace)
        return [e for e in events if e["involvedObject"].get("kind") == "ApplicationSet" and e["type"] == "Warning"]

    event = (await apps.wait_for(warning, 30, message="a Warning Event about the set"))[0]
    assert event["involvedObject"]["name"] == "fleet" and event["reason"] == "TemplateFailed"
    after = await generated(kube, namespace, "fleet")
    assert {n: _written(a) for n, a in after.items()} == {n: _written(a) for n, a in before.items()}

    # generator error: an unreachable repository
    bad_git = listed(namespace, repo_url, ["a"])
    bad_git["spec"]["generators"] = [
        {"git": {"repoURL": "http://127.0.0.1:9/none.git", "revision": "main", "directories": [{"path": "*"}]}}
    ]
    await replace_spec(kube, namespace, bad_git)
    await wait_condition(kube, namespace, "fleet", "GeneratorError")
    assert set(await generated(kube, namespace, "fleet")) == {"a", "b"}

    # duplicate names: refused as a template error
    await replace_spec(kube, namespace, listed(namespace, repo_url, ["a", "c"], name="same"))
    condition = await wait_condition(kube, namespace, "fleet", "TemplateError")
    assert "duplicate" in condition["message"]
    assert set(await generated(kube, namespace, "fleet")) == {"a", "b"}

    # fixed: the set follows again (c added, a and b pruned)
    await replace_spec(kube, namespace, listed(namespace, repo_url, ["c"]))
    await wait_names(kube, namespace, "fleet", {"c"})
    await wait_condition(kube, namespace, "fleet", "Ready")


@pytest.mark.parametrize(
    ("name", "annotation", "expected"),
    [
        ("{{ ''.__class__ }}", "", "not allowed"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "", "not allowed"),
        ("{{ n }}", "{{ big ~ big ~ big }}", "more than"),
        ("{% for i in range(100000000) %}x{% endfor %}", "", "not allowed"),
        ("{{ n * 100000000 }}", "", "not allowed"),
        ("{{ lipsum() }}", "", "not allowed"),
    ],
)
async def test_hostile_templates_are_refused(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str, name: str, annotation: str, expected: str
) -> None:
    body = listed(namespace, repo_url, [], name=name)
    body["spec"]["generators"][0]["list"]["elements"] = [{"n": "a", "big": "x" * 8000}]
    if annotation:
        body["spec"]["template"]["metadata"]["annotations"] = {"note": annotation}
    await kube.create(body)
    condition = await wait_condition(kube, namespace, "fleet", "TemplateError")
    assert expected in condition["message"]
    assert await generated(kube, namespace, "fleet") == {}


async def test_create_only_and_create_update_never_delete(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    only = {"syncPolicy": {"applicationsSync": "create-only"}}
    await kube.create(listed(namespace, repo_url, ["a", "b"], **only))
    await wait_names(kube, namespace, "fleet", {"a", "b"})

    changed = listed(namespace, repo_url, ["a", "c"], **only)
    changed["spec"]["template"]["metadata"]["labels"] = {"tier": "new"}
    await replace_spec(kube, namespace, changed)
    found = await wait_names(kube, namespace, "fleet", {"a", "b", "c"})
    assert "tier" not in found["a"]["metadata"]["labels"], "create-only updated an Application"
    assert found["c"]["metadata"]["labels"]["tier"] == "new"

    changed["spec"]["syncPolicy"] = {"applicationsSync": "create-update"}
    changed["spec"]["generators"][0]["list"]["elements"] = [{"n": "a"}]
    await replace_spec(kube, namespace, changed)

    async def a_updated() -> bool:
        return (await apps.get_app(kube, namespace, "a"))["metadata"]["labels"].get("tier") == "new"

    await apps.wait_for(a_updated, 30, message="a updated by create-update")
    assert set(await generated(kube, namespace, "fleet")) == {"a", "b", "c"}


async def test_preserve_resources_on_deletion_keeps_the_objects(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    preserve = {"syncPolicy": {"preserveResourcesOnDeletion": True}}
    await kube.create(listed(namespace, repo_url, ["a", "b"], **preserve))
    await wait_names(kube, namespace, "fleet", {"a", "b"})
    for n in ("a", "b"):
        await apps.wait_status(kube, namespace, n, apps.healthy)
    assert await kube.get_or_none("v1", "ConfigMap", "cm-a", namespace) is not None

    await replace_spec(kube, namespace, listed(namespace, repo_url, ["b"], **preserve))
    await wait_names(kube, namespace, "fleet", {"b"})

    async def a_gone() -> bool:
        return await kube.get_or_none(API_VERSION, "Application", "a", namespace) is None

    await apps.wait_for(a_gone, 30, message="Application a deleted")
    assert await kube.get_or_none("v1", "ConfigMap", "cm-a", namespace) is not None, "objects of a were deleted"


async def test_generated_applications_edited_or_deleted_by_hand_are_restored(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str
) -> None:
    await kube.create(listed(namespace, repo_url, ["a", "b"]))
    await wait_names(kube, namespace, "fleet", {"a", "b"})
    await apps.wait_status(kube, namespace, "a", apps.healthy)

    await kube.patch(API_VERSION, "Application", "a", namespace, {"spec": {"source": {"path": "apps/c"}}})

    async def restored() -> bool:
        return (await apps.get_app(kube, namespace, "a"))["spec"]["source"]["path"] == "apps/a"

    await apps.wait_for(restored, 30, message="a's spec restored by the set")
    await kube.delete(API_VERSION, "Application", "b", namespace)

    async def recreated() -> bool:
        found = await kube.get_or_none(API_VERSION, "Application", "b", namespace)
        return found is not None and not found["metadata"].get("deletionTimestamp")

    await apps.wait_for(recreated, 60, message="b recreated by the set")


async def test_an_application_edited_while_the_controller_was_down_is_restored(
    kube: KubeClient, namespace: str, crds: None, repo_url: str, tmp_path: Path
) -> None:
    """The set's memory of what it wrote is gone after a restart: the managed fields tell it that
    someone else edited the generated Application's spec."""
    await kube.create(listed(namespace, repo_url, ["a", "b"]))
    async with apps.running_controller(kube, namespace, tmp_path / "cache", allow_file=True):
        await wait_names(kube, namespace, "fleet", {"a", "b"})
        await apps.wait_status(kube, namespace, "a", apps.healthy)
    untouched = (await apps.get_app(kube, namespace, "b"))["metadata"]["generation"]
    patch = {"spec": {"source": {"path": "apps/c"}}}
    await kube.patch(API_VERSION, "Application", "a", namespace, patch, field_manager="someone")

    async with apps.running_controller(kube, namespace, tmp_path / "cache", allow_file=True):

        async def restored() -> bool:
            return (await apps.get_app(kube, namespace, "a"))["spec"]["source"]["path"] == "apps/a"

        await apps.wait_for(restored, 60, message="a's spec restored by the set after the restart")
        await apps.wait_status(kube, namespace, "a", apps.healthy)
    assert (await apps.get_app(kube, namespace, "b"))["metadata"]["generation"] == untouched, "b was not edited"
