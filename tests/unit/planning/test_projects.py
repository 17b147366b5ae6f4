"""planning.projects: Project bounds, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.planning import projects

SPEC: dict[str, Any] = {
    "sourceRepos": ["https://git.example.com/team-a/*", "!https://git.example.com/team-a/secret*"],
    "destinations": [
        {"cluster": "in-cluster", "namespace": "team-a-*"},
        {"cluster": "*", "namespace": "!team-a-admin"},
    ],
    "clusterResourceAllowlist": [{"group": "", "kind": "Namespace"}],
    "namespaceResourceDenylist": [{"group": "", "kind": "ResourceQuota"}],
}
BOUNDS = projects.Bounds.from_spec(SPEC)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://git.example.com/team-a/app.git", True),
        ("https://git.example.com/team-a/secrets.git", False),
        ("https://git.example.com/team-b/app.git", False),
        ("git@git.example.com:team-a/app.git", False),
    ],
)
def test_source_repos(url: str, allowed: bool) -> None:
    assert (projects.source_violation(BOUNDS, url, url) is None) is allowed


@pytest.mark.parametrize(
    ("cluster", "namespace", "allowed"),
    [
        ("in-cluster", "team-a-web", True),
        ("in-cluster", "team-b-web", False),
        ("in-cluster", "team-a-admin", False),
        ("other", "team-a-web", False),
    ],
)
def test_destinations(cluster: str, namespace: str, allowed: bool) -> None:
    assert (projects.destination_violation(BOUNDS, cluster, namespace) is None) is allowed


def _obj(api_version: str, kind: str, namespace: str = "") -> dict[str, Any]:
    meta = {"name": "x", **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def test_objects() -> None:
    objs = [
        _obj("v1", "ConfigMap", "team-a-web"),
        _obj("v1", "Namespace"),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        _obj("v1", "ResourceQuota", "team-a-web"),
        _obj("v1", "ConfigMap", "kube-system"),
    ]
    problems = projects.object_violations(BOUNDS, "in-cluster", objs, lambda ref: not ref.namespace)
    assert problems == [
        "ClusterRoleBinding/x: cluster-scoped kind ClusterRoleBinding is not in the project's clusterResourceAllowlist",
        "ResourceQuota/team-a-web/x: kind ResourceQuota is in the project's namespaceResourceDenylist",
        "ConfigMap/kube-system/x: destination in-cluster/kube-system is not permitted by the project's destinations",
    ]


def test_allow_all_and_empty_project() -> None:
    obj = _obj("rbac.authorization.k8s.io/v1", "ClusterRole")
    assert projects.object_violations(projects.ALLOW_ALL, "in-cluster", [obj], lambda _: True) == []
    empty = projects.Bounds.from_spec({})
    assert projects.source_violation(empty, "https://x/y", "x/y") is not None
    assert projects.destination_violation(empty, "in-cluster", "a") is not None
    assert projects.Bounds.from_spec("garbage") == empty
