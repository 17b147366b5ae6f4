"""Contract tests of SPEC §11 and §12 driven only through the documented resources, for promises the
other tests leave to unit tests or do not reach: an ApplicationSet re-checking its generators on
its own `spec.interval` (no webhook, no annotation), the default `applicationsSync: sync` updating
and pruning what it generated, deleting a set (its Applications go, their objects only without
preserveResourcesOnDeletion), a Synced but Degraded dependency holding its dependent, ImagePolicy
alphabetical and numerical orders against a real registry, and the `:tag` / `:name` image markers
rewritten and pushed by an ImageUpdateAutomation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from tests.integration.test_appsets_generators import appset, configmap, generated, template, wait_names
from tests.integration.test_appsets_policies import listed, repo_url
from tests.integration.test_depends_on import held
from tests.integration.test_image_scanning import obj, status
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.images import ImageBed, image_bed, image_objects
from tests.support.registry import plain_registry, push_dir, registry, secret

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient
from gitward.testing.gitrepos import run_git
from gitward.testing.registries import Registry

__all__ = ["image_bed", "plain_registry", "registry", "repo_url"]  # fixtures


async def test_a_set_rechecks_its_generators_on_its_interval(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"apps/one/cm.yaml": configmap("one")})
    url = git_http_server.publish(repo, "c.git")
    generator = {"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}}
    tmpl = template(namespace, url, "i-{{path.basename}}", "{{path}}")
    await kube.create(appset("ticking", namespace, [generator], tmpl, interval="2s"))
    await wait_names(kube, namespace, "ticking", {"i-one"})

    repo.commit({"apps/two/cm.yaml": configmap("two")})
    git_http_server.publish(repo, "c.git")  # no webhook, no annotation: only the interval
    await wait_names(kube, namespace, "ticking", {"i-one", "i-two"})
    meta = (await kube.get(API_VERSION, "ApplicationSet", "ticking", namespace))["metadata"]
    assert "gitward.dev/refresh" not in (meta.get("annotations") or {})


async def test_the_default_sync_policy_updates_and_prunes_generated_applications(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"apps/a/cm.yaml": configmap("a")})
    url = git_http_server.publish(repo, "c.git")
    elements = [{"env": "dev"}, {"env": "prod"}]
    tmpl = template(namespace, url, "l-{{env}}", "apps/a", env="{{env}}", tier="one")
    tmpl["spec"].pop("syncPolicy")  # manual: these Applications are only looked at
    await kube.create(appset("listed", namespace, [{"list": {"elements": elements}}], tmpl))
    found = await wait_names(kube, namespace, "listed", {"l-dev", "l-prod"})
    assert found["l-prod"]["metadata"]["labels"]["env"] == "prod"

    tmpl["metadata"]["labels"]["tier"] = "two"
    patch = {"spec": {"template": tmpl, "generators": [{"list": {"elements": elements[:1]}}]}}
    await kube.patch(API_VERSION, "ApplicationSet", "listed", namespace, patch)
    found = await wait_names(kube, namespace, "listed", {"l-dev"})

    async def updated() -> bool:
        labels = (await generated(kube, namespace, "listed"))["l-dev"]["metadata"]["labels"]
        return bool(labels.get("tier") == "two")

    await apps.wait_for(updated, 30, message="the template change applied to l-dev")
    assert await kube.get_or_none(API_VERSION, "Application", "l-prod", namespace) is None


async def _latest(kube: KubeClient, namespace: str, name: str) -> str:
    return str((await status(kube, namespace, "ImagePolicy", name)).get("latestImage") or "")


async def test_alphabetical_and_numerical_policies_pick_their_tag(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    for tag in ("alpha", "delta", "bravo", "10", "9", "build-3", "build-12"):
        push_dir(registry, f"{namespace}/app:{tag}", {"t": tag})
    await kube.create(secret("registry-creds", namespace, registry))
    image = f"{registry.host}/{namespace}/app"
    spec = {"image": image, "interval": "1s", "secretRef": {"name": "registry-creds"}}
    await kube.create(obj("ImageRepository", "app", namespace, spec))
    letters = {"pattern": "^[a-z]+$"}
    policies: dict[str, dict[str, Any]] = {
        "alpha-asc": {"policy": {"alphabetical": {"order": "asc"}}, "filterTags": letters},
        "alpha-desc": {"policy": {"alphabetical": {"order": "desc"}}, "filterTags": letters},
        "numbers": {"policy": {"numerical": {"order": "asc"}}, "filterTags": {"pattern": "^[0-9]+$"}},
        "numbers-desc": {"policy": {"numerical": {"order": "desc"}}, "filterTags": {"pattern": "^[0-9]+$"}},
        "builds": {
            "policy": {"numerical": {"order": "asc"}},
            "filterTags": {"pattern": "^build-(?P<n>[0-9]+)$", "extract": "$n"},
        },
    }
    for name, body in policies.items():
        await kube.create(obj("ImagePolicy", name, namespace, {"imageRepositoryRef": {"name": "app"}, **body}))
    expected = {
        "alpha-asc": "delta",  # Flux: asc picks the last in ascending order
        "alpha-desc": "alpha",
        "numbers": "10",
        "numbers-desc": "9",
        "builds": "build-12",
    }
    for name, tag in expected.items():

        async def picked(name: str = name, tag: str = tag) -> bool:
            return await _latest(kube, namespace, name) == f"{image}:{tag}"

        await apps.wait_for(picked, 30, message=f"ImagePolicy {name} picks {tag}")


MARKED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: values
data:
  repository: {image} # {{"$imagepolicy": "{namespace}:web:name"}}
  tag: 1.0.0 # {{"$imagepolicy": "{namespace}:web:tag"}}
  other: 1.0.0
"""


async def test_tag_and_name_markers_are_rewritten_and_pushed(image_bed: ImageBed, make_repo: MakeRepo) -> None:
    bed = image_bed
    bed.push_tags("1.0.0")
    repo = make_repo()
    first = repo.commit({"deploy/values.yaml": MARKED.format(image=bed.image, namespace=bed.namespace)})
    url = bed.publish(repo)
    await bed.create_secrets()
    await bed.deploy(url, first)
    await bed.automate()
    await apps.wait_for(lambda: bed.status("ImagePolicy", "latestImage"), 60, message="latestImage")

    bed.push_tags("1.2.0")
    pushed = await bed.pushed()
    content = run_git("show", f"{pushed}:deploy/values.yaml", cwd=bed.bare)
    assert f'tag: 1.2.0 # {{"$imagepolicy": "{bed.namespace}:web:tag"}}' in content
    assert f"repository: {bed.image} # " in content
    assert "other: 1.0.0" in content  # an unmarked field is left alone
    await apps.wait_status(bed.kube, bed.namespace, "web", apps.synced_at(pushed), timeout=60)
    values = await bed.kube.get("v1", "ConfigMap", "values", bed.namespace)
    assert values["data"]["tag"] == "1.2.0" and values["data"]["repository"] == bed.image


async def test_a_dependency_synced_but_degraded_holds_its_dependent(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    state = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\ndata:\n  state: {state}\n"
    repo = make_repo()
    repo.commit({"db/cm.yaml": state.format(state="bad"), "web/cm.yaml": configmap("web")})
    url = git_http_server.publish(repo, "c.git")
    db = apps.application("db", namespace, url, "db")
    db["spec"]["healthChecks"] = [
        {"group": "", "kind": "ConfigMap", "current": "data.state == 'good'", "failed": "data.state == 'bad'"}
    ]
    await kube.create(db)
    await apps.wait_status(
        kube,
        namespace,
        "db",
        lambda s: (
            (s.get("sync") or {}).get("status") == "Synced" and (s.get("health") or {}).get("status") == "Degraded"
        ),
    )
    await kube.create(apps.application("web", namespace, url, "web", dependsOn=[{"name": "db"}]))
    await apps.wait_status(kube, namespace, "web", held("DependenciesNotReady", f"{namespace}/db"))
    assert await kube.get_or_none("v1", "ConfigMap", "web", namespace) is None

    repo.commit({"db/cm.yaml": state.format(state="good")})
    git_http_server.publish(repo, "c.git")
    controller.refresh(f"{namespace}/db")
    await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(repo.head()), apps.healthy))


@pytest.mark.parametrize("preserve", [True, False], ids=["preserve", "cascade"])
async def test_deleting_the_set_deletes_its_applications_and_keeps_objects_only_when_preserved(
    kube: KubeClient, namespace: str, controller: Controller, repo_url: str, preserve: bool
) -> None:
    spec = {"syncPolicy": {"preserveResourcesOnDeletion": True}} if preserve else {}
    await kube.create(listed(namespace, repo_url, ["a", "b"], **spec))
    await wait_names(kube, namespace, "fleet", {"a", "b"})
    for n in ("a", "b"):
        await apps.wait_status(kube, namespace, n, apps.healthy)
    await kube.delete(API_VERSION, "ApplicationSet", "fleet", namespace)

    async def applications_gone() -> bool:
        return not await generated(kube, namespace, "fleet")

    await apps.wait_for(applications_gone, 60, message="the generated Applications deleted with their set")
    if preserve:
        for n in ("a", "b"):
            assert await kube.get_or_none("v1", "ConfigMap", f"cm-{n}", namespace) is not None
    else:

        async def objects_gone() -> bool:
            return all([await kube.get_or_none("v1", "ConfigMap", f"cm-{n}", namespace) is None for n in ("a", "b")])

        await apps.wait_for(objects_gone, 60, message="the Applications' objects deleted")


async def test_an_image_repository_on_plain_http_needs_insecure(
    kube: KubeClient, namespace: str, controller: Controller, plain_registry: Registry
) -> None:
    push_dir(plain_registry, f"{namespace}/plain:1.0.0", {"t": "1"})
    spec = {"image": f"{plain_registry.host}/{namespace}/plain", "interval": "1s"}
    await kube.create(obj("ImageRepository", "plain", namespace, spec))

    async def ready(expected: str) -> dict[str, Any] | None:
        found = await status(kube, namespace, "ImageRepository", "plain")
        cond = next((c for c in found.get("conditions") or [] if c["type"] == "Ready"), None)
        return cond if cond and cond["status"] == expected else None

    refused = await apps.wait_for(lambda: ready("False"), 30, message="the plain-HTTP scan refused")
    assert "insecure" in refused["message"]
    await kube.patch("gitward.dev/v1alpha1", "ImageRepository", "plain", namespace, {"spec": {"insecure": True}})
    await apps.wait_for(lambda: ready("True"), 30, message="the scan with insecure: true")
    assert (await status(kube, namespace, "ImageRepository", "plain"))["lastScanResult"]["tagCount"] == 1


async def test_an_automation_pushes_to_its_own_branch_and_leaves_checkout_alone(
    image_bed: ImageBed, make_repo: MakeRepo
) -> None:
    bed = image_bed
    bed.push_tags("1.0.0")
    repo = make_repo()
    first = repo.commit({"deploy/web.yaml": bed.deployment("1.0.0")})
    url = bed.publish(repo)
    await bed.create_secrets()
    await bed.deploy(url, first)
    objects = image_objects(bed.namespace, bed.image)
    objects[2]["spec"]["git"]["push"] = {"branch": "image-updates"}
    for manifest in objects:
        await bed.kube.create(manifest)
    bed.push_tags("1.3.0")
    pushed = await bed.pushed()
    assert run_git("rev-parse", "refs/heads/image-updates", cwd=bed.bare).strip() == pushed
    assert run_git("rev-parse", "refs/heads/main", cwd=bed.bare).strip() == first
    assert f"{bed.image}:1.3.0" in run_git("show", f"{pushed}:deploy/web.yaml", cwd=bed.bare)
    assert run_git("rev-parse", f"{pushed}^", cwd=bed.bare).strip() == first


async def test_an_image_repository_reads_a_dockerconfigjson_secret(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry
) -> None:
    push_dir(registry, f"{namespace}/private:2.0.0", {"t": "2"})
    config = json.dumps({"auths": {registry.host: {"username": registry.username, "password": registry.password}}})
    assert registry.ca_crt is not None
    data = {".dockerconfigjson": config, "ca.crt": registry.ca_crt.read_text()}
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "pull-secret", "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )
    image = f"{registry.host}/{namespace}/private"
    spec = {"image": image, "interval": "1s", "secretRef": {"name": "pull-secret"}}
    await kube.create(obj("ImageRepository", "private", namespace, spec))
    policy = {"imageRepositoryRef": {"name": "private"}, "policy": {"semver": {"range": ">=1.0.0"}}}
    await kube.create(obj("ImagePolicy", "private", namespace, policy))

    async def picked() -> bool:
        return await _latest(kube, namespace, "private") == f"{image}:2.0.0"

    await apps.wait_for(picked, 30, message="latestImage through the dockerconfigjson Secret")
    assert registry.password not in json.dumps(await status(kube, namespace, "ImageRepository", "private"))
