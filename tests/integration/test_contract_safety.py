"""SPEC §6 (Safety) attacked through the contract only, on the real control plane and real Git
servers: spellings of a repository URL that would slip past a Project's `sourceRepos`, objects
that reach outside the Project's kinds and destinations, and clean-up of an impersonated
Application whose ServiceAccount lost its rights. What docs/security.md already proves is not
repeated here."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

RBAC = "rbac.authorization.k8s.io/v1"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


def project(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def refused(status: apps.Status) -> bool:
    """The revision was refused before anything was written: a Project, validation or source error."""
    return any(
        (apps.condition(status, kind) or {}).get("status") == "True" for kind in ("ValidationError", "SourceError")
    )


def refusal(status: apps.Status) -> dict[str, Any]:
    cond = apps.condition(status, "ValidationError") or apps.condition(status, "SourceError")
    assert cond is not None
    return cond


async def test_a_path_that_climbs_out_of_an_allowed_prefix_is_refused_before_git_runs(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """`team-a/*` must not admit `team-a/../team-b/secret.git`: git (libcurl) squashes the `..` and
    would fetch team-b's repository; the encoded forms are decoded by servers."""
    secret = make_repo()
    secret.commit({"cm.yaml": CONFIGMAP.format(name="stolen")})
    url = git_http_server.publish(secret, "team-b/secret.git")
    base = url.removesuffix("team-b/secret.git")
    own = make_repo()
    own.commit({"cm.yaml": CONFIGMAP.format(name="own")})
    git_http_server.publish(own, "team-a/own.git")
    bounds = {"sourceRepos": [f"{base}team-a/*"], "destinations": [{"cluster": "*", "namespace": namespace}]}
    await kube.create(project("team-a", namespace, bounds))
    climbs = [
        f"{base}team-a/../team-b/secret.git",
        f"{base}team-a/%2e%2e/team-b/secret.git",
        f"{base}team-a/.%2E/team-b/secret.git",
        f"{base}team-a/..%2fteam-b/secret.git",
        f"{base}team-a/./../team-b/secret.git",
    ]
    for index, climb in enumerate(climbs):
        await kube.create(apps.application(f"climb-{index}", namespace, climb, project="team-a"))
    await kube.create(apps.application("own", namespace, f"{base}team-a/own.git", project="team-a"))

    await apps.wait_status(kube, namespace, "own", lambda s: s.get("sync", {}).get("status") == "Synced")
    for index, climb in enumerate(climbs):
        status = await apps.wait_status(kube, namespace, f"climb-{index}", refused)
        assert refusal(status)["reason"] in ("InvalidRepoURL", "ProjectViolation"), climb
    assert await kube.get_or_none("v1", "ConfigMap", "stolen", namespace) is None
    assert git_http_server.count(repo="team-b/secret.git") == 0


@pytest.mark.parametrize(
    "spelling",
    [
        "{base}team/secret.git",
        "{base}team/secret",
        "{base}team/secret/",
        "{base}team//secret.git",
        "{base}team/Secret.git",
        "{base}team/%73ecret.git",
        "{scheme}://deploy@{host}/team/secret.git",
        "{upper}team/secret.git",
    ],
)
async def test_a_deny_entry_holds_for_every_spelling_of_the_repository(
    spelling: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    """`!<scheme>://host/team/secret` written without `.git` (as Argo CD users write it) still
    refuses every other spelling of the same repository, and nothing is fetched from it."""
    secret = make_repo()
    secret.commit({"cm.yaml": CONFIGMAP.format(name="stolen")})
    url = git_http_server.publish(secret, "team/secret.git")
    base = url.removesuffix("team/secret.git")
    scheme, _, rest = base.partition("://")
    host = rest.rstrip("/")
    deny = f"!{base}team/secret"
    bounds = {"sourceRepos": ["*", deny], "destinations": [{"cluster": "*", "namespace": "*"}]}
    await kube.create(project("tenant", namespace, bounds))
    repo_url = spelling.format(base=base, scheme=scheme, host=host, upper=base.upper())
    await kube.create(apps.application("app", namespace, repo_url, project="tenant"))
    status = await apps.wait_status(kube, namespace, "app", refused)
    cond = refusal(status)
    assert (cond["reason"], "sourceRepos" in cond["message"]) == ("ProjectViolation", True), cond
    assert await kube.get_or_none("v1", "ConfigMap", "stolen", namespace) is None
    assert git_http_server.count(repo="team/secret.git", method="POST") == 0
