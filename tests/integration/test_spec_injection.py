"""Tenant-controlled strings never reach the wire raw (issue: impersonation header injection).

An Application's identifiers end up in impersonation headers, URL paths, git arguments and file
paths. Two walls stand in front of them, both tested here on the real API server:

1. the CRD schema (`deploy/crds/`) refuses a bad identifier before gitward ever sees it — shown with
   `kubectl apply`, as a user would meet it;
2. an Application that still arrives with one (an old CRD without the patterns, simulated by
   installing a schema that accepts anything) is `Stalled` with reason `InvalidSpec` and a message
   naming the field, while the controller runs as cluster-admin: nothing is written for it, and an
   ordinary Application beside it keeps syncing.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube import errors
from gitward.kube.client import KubeClient

CRD = "applications.gitward.dev"
CRD_API = "apiextensions.k8s.io/v1"
RBAC = "rbac.authorization.k8s.io/v1"
INJECTION = "limited\r\nImpersonate-Group: system:masters"

# the hostile value classes the issue names, for every identifier field
CLASSES: dict[str, str] = {
    "crlf": INJECTION,
    "nul": "limited\x00x",
    "slash": "a/b",
    "dotdot": "..",
    "dash": "-x",
    "long": "x" * 1100,  # past every field's maxLength (the longest, source.path, is 1024)
}
FIELDS: dict[str, tuple[str, ...]] = {
    "sa": ("serviceAccountName",),
    "ns": ("destination", "namespace"),
    "cluster": ("destination", "cluster"),
    "project": ("project",),
    "path": ("source", "path"),
    "rev": ("source", "targetRevision"),
    "chart": ("source", "chart"),
    "secret": ("source", "secretRef", "name"),
    "keys": ("source", "verify", "secretRef", "name"),
}
# values of a class that are legal for a field (a path may contain "/", a revision too)
LEGAL = {("path", "slash"), ("rev", "slash")}

EVIL = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: evil-{ns}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
  - {{kind: ServiceAccount, name: limited, namespace: {ns}}}
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


def _set(spec: dict[str, Any], field: tuple[str, ...], value: str) -> None:
    node = spec
    for part in field[:-1]:
        node = node.setdefault(part, {})
    node[field[-1]] = value


def _hostile(name: str, namespace: str, url: str, field: tuple[str, ...], value: str) -> dict[str, Any]:
    app = apps.application(name, namespace, url, "evil", syncPolicy={
        "automated": {"prune": True, "selfHeal": True}, "interval": "1m", "syncOptions": ["CreateNamespace=true"],
    })  # fmt: skip
    if field[:2] == ("source", "verify"):
        app["spec"]["source"]["verify"] = {"mode": "head"}
    _set(app["spec"], field, value)
    return app


def _cases() -> list[tuple[str, tuple[str, ...], str]]:
    return [
        (f"{fid}-{cid}", field, value)
        for fid, field in FIELDS.items()
        for cid, value in CLASSES.items()
        if (fid, cid) not in LEGAL
    ]


def test_the_crd_refuses_bad_identifiers_on_kubectl_apply(
    test_cluster: ClusterUnderTest, namespace: str, crds: None
) -> None:
    refused = []
    for name, field, value in _cases():
        manifest = _hostile(name, namespace, "https://git.example.com/a.git", field, value)
        result = subprocess.run(
            ["kubectl", "--kubeconfig", test_cluster.kubeconfig, "apply", "-f", "-"],
            input=json.dumps(manifest), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode != 0, f"{name}: the API server accepted {value!r} in spec.{'.'.join(field)}"
        assert f"spec.{'.'.join(field)}" in result.stderr, result.stderr
        refused.append(name)
    # and an ordinary Application passes the same schema
    good = apps.application("fine", namespace, "https://git.example.com/a.git", "apps/web", serviceAccountName="a.b")
    subprocess.run(
        ["kubectl", "--kubeconfig", test_cluster.kubeconfig, "apply", "-f", "-"],
        input=json.dumps(good), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert len(refused) == len(_cases())


@pytest.fixture
async def old_crd(kube: KubeClient, crds: None) -> AsyncIterator[None]:
    """The Application CRD as an old install had it: a spec schema that accepts anything. Restored after."""
    original = await kube.get(CRD_API, "CustomResourceDefinition", CRD)
    permissive = copy.deepcopy(original)
    schema = permissive["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    await kube.replace(permissive)
    try:
        yield
    finally:
        current = await kube.get(CRD_API, "CustomResourceDefinition", CRD)
        restored = copy.deepcopy(original)
        restored["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        await kube.replace(restored)


async def _create_when_schema_allows(kube: KubeClient, app: dict[str, Any]) -> None:
    """Create `app` once the API server serves the permissive schema (CRD updates apply asynchronously)."""

    async def attempt() -> bool:
        try:
            await kube.create(app)
        except errors.APIInvalidError:
            return False
        return True

    await apps.wait_for(attempt, timeout=30, message=f"the permissive CRD to accept {app['metadata']['name']}")


def _invalid_spec_naming(field: tuple[str, ...]) -> Any:
    def check(status: apps.Status) -> bool:
        stalled = apps.condition(status, "Stalled")
        return bool(
            stalled
            and stalled["status"] == "True"
            and stalled["reason"] == "InvalidSpec"
            and stalled["message"].startswith(f"spec.{'.'.join(field)}:")
        )

    return check


async def test_an_invalid_spec_that_arrives_writes_nothing_and_others_keep_syncing(
    kube: KubeClient,
    namespace: str,
    old_crd: None,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    # a ServiceAccount that may only touch ConfigMaps, and a repository that asks for cluster-admin
    await kube.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "limited", "namespace": namespace}}
    )
    repo = make_repo()
    sha = repo.commit({
        "evil/crb.yaml": EVIL.format(ns=namespace),
        "evil/cm.yaml": CONFIGMAP.format(name="evil-cm"),
        "good/cm.yaml": CONFIGMAP.format(name="good-cm"),
    })  # fmt: skip
    url = git_http_server.publish(repo, "tenant.git")

    cases = _cases()
    for name, field, value in cases:
        await _create_when_schema_allows(kube, _hostile(name, namespace, url, field, value))
    await kube.create(apps.application("good", namespace, url, "good"))

    await apps.wait_status(kube, namespace, "good", apps.synced_at(sha), timeout=60)
    for name, field, _ in cases:
        status = await apps.wait_status(kube, namespace, name, _invalid_spec_naming(field), timeout=60)
        messages = [c["message"] for c in status.get("conditions") or []]
        assert not [m for m in messages if "\r" in m or "\n" in m or "\x00" in m]  # shown escaped, never raw
        assert status.get("inventory") in (None, {}, {"entries": []})
        assert not (status.get("operationState") or {}).get("syncResult")

    # nothing of the hostile render exists anywhere, and nothing was created in its name
    assert await kube.get_or_none(RBAC, "ClusterRoleBinding", f"evil-{namespace}") is None
    all_cms, _ = await kube.list("v1", "ConfigMap")
    assert [cm["metadata"]["namespace"] for cm in all_cms if cm["metadata"]["name"] == "evil-cm"] == []
    namespaces, _ = await kube.list("v1", "Namespace")
    assert not [n for n in namespaces if n["metadata"]["name"] in {"x" * 63, "a", "b", "x"}]
    good = await kube.get("v1", "ConfigMap", "good-cm", namespace)
    assert good["metadata"]["annotations"]["gitward.dev/tracking-id"].startswith(f"{namespace}/good:")

    # an invalid Application carries no finalizer (nothing to clean up), so it deletes at once
    name = cases[0][0]
    app = await kube.get(API_VERSION, "Application", name, namespace)
    assert "gitward.dev/cleanup" not in (app["metadata"].get("finalizers") or [])
