"""Least privilege, proven (SPEC §9): the controller runs with nothing but the token of the
ServiceAccount `gitward install` creates, and that RBAC is enough to sync an Application that creates
a CRD, a ClusterRole and namespaced objects; with `--default-service-account` the same controller
deploys for tenants only what their ServiceAccount may."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.kube import errors
from gitward.kube.client import KubeClient

RBAC = "rbac.authorization.k8s.io/v1"
NAMESPACE = "gitward-rbac-a"
TENANT_NAMESPACE = "gitward-rbac-b"
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.rbac-test.example.com}
spec:
  group: rbac-test.example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
CLUSTER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rbac-test-reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
"""
WIDGET = "apiVersion: rbac-test.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {a: b}\n"
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: rbac-test-escalation}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: tenant, namespace: rbac-tenant}]
"""


def _install_print(namespace: str, *extra: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "gitward", "install", "--print", "--namespace", namespace, *extra],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [o for o in yaml.safe_load_all(out) if o]


@contextlib.asynccontextmanager
async def installed(
    kube: KubeClient, namespace: str, admin_kubeconfig: str, tmp_path: Path, *extra: str
) -> AsyncIterator[str]:
    """`gitward install --print` applied (not its Deployment: the controller runs here as a process),
    and a kubeconfig holding only the token of its ServiceAccount (TokenRequest); cleaned up after."""
    objs = [
        o
        for o in _install_print(namespace, *extra)
        if o["kind"] not in ("Deployment", "StatefulSet", "CustomResourceDefinition")
    ]
    for obj in objs:
        await kube.apply(obj, field_manager="rbac-test")
    try:
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/gitward-controller/token"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        }
        token = (await kube.request("POST", path, body=request))["status"]["token"]
        admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
        cluster = admin["clusters"][0]
        conf = {
            "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
            "users": [{"name": "gitward-controller", "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "gitward-controller"}}],
            "current-context": "sa",
        }  # fmt: skip
        kubeconfig = tmp_path / "controller.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(conf))
        yield str(kubeconfig)
    finally:
        for app in (await kube.list(apps.API_VERSION, "Application", namespace))[0]:
            with contextlib.suppress(errors.APINotFoundError):
                await kube.patch(apps.API_VERSION, "Application", app["metadata"]["name"], namespace,
                                 {"metadata": {"finalizers": None}})  # fmt: skip
        leftovers = [(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objs]
        leftovers += [
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.rbac-test.example.com", None),
            (RBAC, "ClusterRole", "rbac-test-reader", None),
            (RBAC, "ClusterRoleBinding", "rbac-test-escalation", None),
            ("v1", "Namespace", "rbac-test-dest", None),
            ("v1", "Namespace", "rbac-tenant", None),
        ]
        for api_version, kind, name, ns in reversed(leftovers):
            with contextlib.suppress(errors.APINotFoundError):
                await kube.delete(api_version, kind, name, ns)


async def test_the_installed_service_account_is_enough_to_sync(
    kube: KubeClient, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    sha = repo.commit({"crd.yaml": CRD, "role.yaml": CLUSTER_ROLE, "cm.yaml": CONFIGMAP, "widget.yaml": WIDGET})
    async with installed(kube, NAMESPACE, test_cluster.kubeconfig, tmp_path) as token_kubeconfig:
        proc = GitwardProcess(token_kubeconfig, NAMESPACE, tmp_path).start()
        try:
            proc.wait_http()
            app = apps.application("platform", NAMESPACE, f"file://{repo.path}")
            app["spec"]["destination"]["namespace"] = "rbac-test-dest"
            app["spec"]["syncPolicy"]["syncOptions"] = ["CreateNamespace=true"]
            await kube.create(app)
            await apps.wait_status(kube, NAMESPACE, "platform", apps.synced_at(sha), timeout=120)
            assert await kube.get_or_none(RBAC, "ClusterRole", "rbac-test-reader") is not None
            assert await kube.get_or_none("v1", "ConfigMap", "app-config", "rbac-test-dest") is not None
            widget = await kube.get("rbac-test.example.com/v1", "Widget", "w", "rbac-test-dest")
            assert widget["spec"] == {"size": 3}
            assert proc.stop() == 0
        finally:
            proc.kill()


async def test_tenant_mode_deploys_only_what_the_tenant_may(
    kube: KubeClient, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP, "crb.yaml": BINDING})
    async with installed(
        kube, TENANT_NAMESPACE, test_cluster.kubeconfig, tmp_path, "--default-service-account", "tenant"
    ) as token:
        # without gitward-deployer the controller's own token may write nothing cluster-wide
        controller = KubeClient.connect(token)
        try:
            with pytest.raises(errors.APIForbiddenError):
                await controller.list("v1", "Secret", "kube-system")
            with pytest.raises(errors.APIForbiddenError):
                await controller.create(yaml.safe_load(BINDING))
        finally:
            await controller.close()
        await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rbac-tenant"}})
        await kube.create(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant", "namespace": "rbac-tenant"}}
        )
        await kube.create({
            "apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "tenant-edit", "namespace": "rbac-tenant"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": "rbac-tenant"}],
        })  # fmt: skip
        proc = GitwardProcess(token, TENANT_NAMESPACE, tmp_path, "--default-service-account", "tenant").start()
        try:
            proc.wait_http()
            app = apps.application("tenant", TENANT_NAMESPACE, f"file://{repo.path}")
            app["spec"]["destination"]["namespace"] = "rbac-tenant"
            await kube.create(app)

            def forbidden(status: apps.Status) -> bool:
                cond = apps.condition(status, "ValidationError")
                return cond is not None and cond["status"] == "True" and "forbidden" in cond["message"].lower()

            await apps.wait_status(kube, TENANT_NAMESPACE, "tenant", forbidden, timeout=120)
            assert await kube.get_or_none(RBAC, "ClusterRoleBinding", "rbac-test-escalation") is None
            assert await kube.get_or_none("v1", "ConfigMap", "app-config", "rbac-tenant") is None  # refused whole

            sha = repo.commit({"crb.yaml": None})
            await kube.patch(apps.API_VERSION, "Application", "tenant", TENANT_NAMESPACE,
                             {"metadata": {"annotations": {"gitward.dev/refresh": "1"}}})  # fmt: skip
            await apps.wait_status(kube, TENANT_NAMESPACE, "tenant", apps.synced_at(sha), timeout=120)
            assert await kube.get_or_none("v1", "ConfigMap", "app-config", "rbac-tenant") is not None
        finally:
            proc.kill()
