"""Impersonation: an Application with serviceAccountName makes every request as that
ServiceAccount, so the API server's RBAC is the final judge. A tenant rendering a ClusterRoleBinding
it may not create is refused whole; `--default-service-account` forces impersonation."""

from __future__ import annotations

from pathlib import Path

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.kube.client import KubeClient

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tenant-cm\ndata:\n  a: b\n"
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tenant-escalation-{ns}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
  - {{kind: ServiceAccount, name: tenant, namespace: {ns}}}
"""


async def _tenant(kube: KubeClient, namespace: str) -> None:
    """A ServiceAccount that may manage ConfigMaps in its own namespace only."""
    await kube.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "tenant", "namespace": namespace}}
    )
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    meta = {"name": "tenant", "namespace": namespace}
    await kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules})
    await kube.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "tenant", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
        }
    )


def refused(status: apps.Status) -> bool:
    cond = apps.condition(status, "ValidationError")
    return cond is not None and cond["status"] == "True"


async def test_forbidden_object_refuses_the_whole_revision(
    kube: KubeClient, namespace: str, controller: object, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _tenant(kube, namespace)
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP, "crb.yaml": BINDING.format(ns=namespace)})
    url = git_http_server.publish(repo, "tenant.git")
    await kube.create(apps.application("tenant", namespace, url, serviceAccountName="tenant"))
    status = await apps.wait_status(kube, namespace, "tenant", refused)
    assert "forbidden" in apps.condition(status, "ValidationError")["message"].lower()  # type: ignore[index]
    assert await kube.get_or_none("v1", "ConfigMap", "tenant-cm", namespace) is None
    crb = f"tenant-escalation-{namespace}"
    assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", crb) is None

    # the same tenant may deploy what its RBAC allows
    sha = repo.commit({"crb.yaml": None})
    git_http_server.publish(repo, "tenant.git")
    await kube.patch("gitward.dev/v1alpha1", "Application", "tenant", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "now"}}})  # fmt: skip
    await apps.wait_status(kube, namespace, "tenant", apps.synced_at(sha))
    cm = await kube.get("v1", "ConfigMap", "tenant-cm", namespace)
    assert cm["metadata"]["managedFields"][0]["manager"] == "gitward"


async def test_default_service_account_forces_impersonation(
    kube: KubeClient, namespace: str, crds: None, tmp_path: Path, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _tenant(kube, namespace)
    repo = make_repo()
    repo.commit({"crb.yaml": BINDING.format(ns=namespace)})
    url = git_http_server.publish(repo, "tenant.git")
    async with apps.running_controller(kube, namespace, tmp_path / "cache", default_service_account="tenant"):
        await kube.create(apps.application("app", namespace, url))
        await apps.wait_status(kube, namespace, "app", refused)
    crb = f"tenant-escalation-{namespace}"
    assert await kube.get_or_none("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", crb) is None
