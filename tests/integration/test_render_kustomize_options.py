"""`source.kustomize` options (SPEC §15) against a real control plane and Git server: images,
namePrefix/nameSuffix, commonLabels, commonAnnotations and patches applied by kustomize to an
overlay and to a plain directory; a namePrefix that breaks the name grammar is refused by the API
server; a patch aimed outside the render changes nothing outside it, or refuses the revision."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube import errors
from gitward.kube.client import KubeClient

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: blue}\n"
FILES = {
    "base/kustomization.yaml": "resources: [deployment.yaml, settings.yaml]\n",
    "base/deployment.yaml": DEPLOYMENT,
    "base/settings.yaml": CONFIGMAP,
    "plain/deployment.yaml": DEPLOYMENT,
    "plain/settings.yaml": CONFIGMAP,
}
OPTIONS: dict[str, Any] = {
    "images": ["nginx=nginx:1.27"],
    "namePrefix": "prod-",
    "nameSuffix": "-eu",
    "commonLabels": {"team": "shop"},
    "commonAnnotations": {"shop.example.com/owner": "team shop"},
    "patches": [
        {"target": {"kind": "Deployment"}, "patch": "- {op: replace, path: /spec/replicas, value: 2}"},
        {
            "target": {"kind": "ConfigMap", "name": "settings"},
            "patch": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: green}\n",
        },
    ],
}


def _render_error(status: dict[str, Any]) -> str:
    found = apps.condition(status, "RenderError") or {}
    return str(found.get("message", "")) if found.get("status") == "True" else ""


@pytest.mark.parametrize("path", ["base", "plain"])
async def test_options_are_applied_by_kustomize(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    path: str,
) -> None:
    repo = make_repo()
    sha = repo.commit(FILES)
    url = git_http_server.publish(repo, "config.git")
    app = apps.application("web", namespace, url, path)
    app["spec"]["source"]["kustomize"] = OPTIONS
    await kube.create(app)
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    deployment = await kube.get("apps/v1", "Deployment", "prod-web-eu", namespace)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["metadata"]["labels"]["team"] == "shop"
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "shop"}
    assert deployment["metadata"]["annotations"]["shop.example.com/owner"] == "team shop"
    settings = await kube.get("v1", "ConfigMap", "prod-settings-eu", namespace)
    assert settings["data"] == {"color": "green"}
    assert await kube.get_or_none("v1", "ConfigMap", "settings", namespace) is None


async def test_a_name_prefix_that_breaks_the_name_grammar_is_refused(
    kube: KubeClient, namespace: str, crds: None
) -> None:
    for options in ({"namePrefix": "Prod_"}, {"nameSuffix": "-"}, {"images": ["nginx:1.27\n- evil"]}):
        app = apps.application("web", namespace, "https://git.example.com/x.git")
        app["spec"]["source"]["kustomize"] = options
        with pytest.raises(errors.APIInvalidError):
            await kube.create(app)


async def test_a_patch_aimed_outside_the_render(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    sha = repo.commit(FILES)
    url = git_http_server.publish(repo, "config.git")
    root_ca = await kube.get("v1", "ConfigMap", "kube-root-ca.crt", "kube-system")
    outside = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-root-ca.crt, namespace: kube-system}\ndata: {x: y}\n"
    )
    app = apps.application("web", namespace, url, "base")
    # a target matching nothing in the render: kustomize changes nothing, nothing outside is touched
    app["spec"]["source"]["kustomize"] = {"patches": [{"target": {"namespace": "kube-system"}, "patch": outside}]}
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    assert {r["name"] for r in status["resources"]} == {"web", "settings"}
    assert (await kube.get("v1", "ConfigMap", "kube-root-ca.crt", "kube-system"))["data"] == root_ca["data"]

    # a strategic merge patch naming an object that is not rendered: the revision is refused
    await kube.patch(
        "gitward.dev/v1alpha1",
        "Application",
        "web",
        namespace,
        {"spec": {"source": {"kustomize": {"patches": [{"patch": outside}]}}}},
    )
    status = await apps.wait_status(kube, namespace, "web", lambda s: _render_error(s) != "")
    assert "no resource matches strategic merge patch" in _render_error(status)
    assert (await kube.get("v1", "ConfigMap", "kube-root-ca.crt", "kube-system"))["data"] == root_ca["data"]
    assert await kube.get("v1", "ConfigMap", "settings", namespace)  # the last good render stays
