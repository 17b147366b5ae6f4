"""Prerequisites in the same commit: a CRD and its custom resources; a Namespace and objects in it;
and a destination namespace created by the `CreateNamespace=true` sync option."""

from __future__ import annotations

import secrets

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient


def crd(group: str) -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {{type: integer}}
                labels:
                  type: object
                  additionalProperties: {{type: string}}
"""


def widget(group: str, name: str, size: int) -> str:
    return (
        f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n  size: {size}\n  labels: {{a: b}}\n"
    )


async def test_crd_and_its_resources_in_one_commit(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    group = f"t{secrets.token_hex(3)}.example.com"
    repo = make_repo()
    sha = repo.commit(
        {"crd.yaml": crd(group), "widgets.yaml": widget(group, "one", 1) + "---\n" + widget(group, "two", 2)}
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("widgets", namespace, url))
    try:
        status = await apps.wait_status(kube, namespace, "widgets", apps.synced_at(sha), timeout=60)
        assert (await kube.get(f"{group}/v1", "Widget", "two", namespace))["spec"]["size"] == 2
        assert {r["kind"] for r in status["resources"]} == {"CustomResourceDefinition", "Widget"}
        await apps.wait_status(kube, namespace, "widgets", apps.healthy)
    finally:
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")


async def test_namespace_in_the_same_commit_and_create_namespace_option(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    extra = f"{namespace}-extra"
    target = f"{namespace}-target"
    repo = make_repo()
    files = {
        "ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {extra}\n",
        "in-extra.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: {extra}\ndata: {{}}\n",
        "default-ns.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata: {}\n",
    }
    sha = repo.commit(files)
    url = git_http_server.publish(repo, "config.git")
    app = apps.application("app", namespace, url)
    app["spec"]["destination"]["namespace"] = target
    app["spec"]["syncPolicy"]["syncOptions"] = ["CreateNamespace=true"]
    await kube.create(app)
    try:
        await apps.wait_status(kube, namespace, "app", apps.synced_at(sha))
        assert await kube.get_or_none("v1", "ConfigMap", "a", extra) is not None
        assert await kube.get_or_none("v1", "ConfigMap", "b", target) is not None
    finally:
        for ns in (extra, target):
            await kube.delete("v1", "Namespace", ns)
