"""planning.projects: Project bounds, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.planning import projects
from gitward.sourcing import normalize

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
    "url",
    [
        "https://git.example.com/org/secret",
        "https://git.example.com/org/secret.git",
        "https://git.example.com/org/secret/",
        "https://GIT.example.com/org/Secret",
        "https://deploy@git.example.com:443/org/secret",
        "ssh://git@git.example.com/org/secret.git",
        "ssh://git@git.example.com:22/org/secret",
        "git@git.example.com:org/secret.git",
        "git://git.example.com/org//secret",
        "https://git.example.com/org/%73ecret.git",
    ],
)
def test_a_deny_entry_refuses_every_spelling_of_its_repository(url: str) -> None:
    bounds = projects.Bounds.from_spec({"sourceRepos": ["*", "!https://git.example.com/org/secret"]})
    problem = projects.source_violation(bounds, url, normalize(url))
    assert problem is not None and "sourceRepos" in problem


@pytest.mark.parametrize("url", ["oci://registry.example/team/secret", "oci://registry.example:443/team/secret"])
def test_a_deny_entry_refuses_every_spelling_of_an_oci_repository(url: str) -> None:
    bounds = projects.Bounds.from_spec({"sourceRepos": ["*", "!oci://registry.example/team/secret"]})
    assert projects.source_violation(bounds, url, normalize(url)) is not None
    assert projects.source_violation(bounds, "oci://registry.example/team/app", "registry.example/team/app") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/org/secret-2",
        "https://git.example.com:8443/org/secret",
        "https://other.example/org/secret",
    ],
)
def test_a_deny_entry_spares_other_repositories(url: str) -> None:
    bounds = projects.Bounds.from_spec({"sourceRepos": ["*", "!https://git.example.com/org/secret"]})
    assert projects.source_violation(bounds, url, normalize(url)) is None


@pytest.mark.parametrize(
    ("pattern", "normal"),
    [
        ("*", "*"),
        ("*/team/config.git", "*/team/config"),
        ("git@Host.example:org/*.git", "host.example/org/*"),
        ("https://u@H:443/a//b/", "h/a/b"),
        ("https://*.example.com/*", "*.example.com/*"),
        ("ssh://git@h:2222/x", "h:2222/x"),
    ],
)
def test_repo_patterns_normalise_like_urls(pattern: str, normal: str) -> None:
    assert projects.normalize_repo_pattern(pattern) == normal


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


def _obj(api_version: str, kind: str, namespace: str = "", name: str = "x") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def test_objects() -> None:
    objs = [
        _obj("v1", "ConfigMap", "team-a-web"),
        _obj("v1", "Namespace", name="team-a-new"),
        _obj("v1", "Namespace", name="kube-system"),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        _obj("v1", "ResourceQuota", "team-a-web"),
        _obj("v1", "ConfigMap", "kube-system"),
    ]
    problems = projects.object_violations(BOUNDS, "in-cluster", objs, lambda ref: not ref.namespace)
    assert problems == [
        "Namespace/kube-system: destination in-cluster/kube-system is not permitted by the project's destinations",
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


def test_source_namespaces_say_whose_applications_may_use_a_project() -> None:
    anyone = projects.Bounds.from_spec({"sourceRepos": ["*"]})
    assert projects.application_violation(anyone, "team-a") is None  # absent: any namespace (SPEC §6)
    teams = projects.Bounds.from_spec({"sourceNamespaces": ["team-*", "!team-evil", "gitward"]})
    assert projects.application_violation(teams, "team-a") is None
    assert projects.application_violation(teams, "gitward") is None
    refused = projects.application_violation(teams, "team-evil")
    assert refused == "Applications of namespace team-evil may not use this project (its sourceNamespaces)"
    assert projects.application_violation(teams, "kube-system") is not None
    nobody = projects.Bounds.from_spec({"sourceNamespaces": []})
    assert projects.application_violation(nobody, "gitward") is not None
