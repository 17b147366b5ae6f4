"""From Applications to the API's JSON shapes, tolerant of any status."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.server import views

APP: dict[str, Any] = {
    "apiVersion": "gitward.dev/v1alpha1",
    "kind": "Application",
    "metadata": {
        "name": "web", "namespace": "team", "generation": 3, "resourceVersion": "42",
        "managedFields": [{"manager": "kubectl"}], "annotations": {"a": "b"},
    },
    "spec": {
        "source": {"repoURL": "https://git.example.com/org/config.git", "path": "apps/web", "targetRevision": "main"},
        "destination": {"namespace": "web"},
        "syncPolicy": {"automated": {"prune": True}},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy", "message": ""},
        "lastSyncedRevision": "abc123",
        "reconciledAt": "2030-01-01T00:00:05Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "lastTransitionTime": "t"}],
        "resources": [{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web", "name": "web",
                       "status": "Synced", "health": {"status": "Healthy"}}],
        "history": [
            {"id": 1, "revision": "abc123", "author": "Ada", "message": "m", "committedAt": "c",
             "deployedAt": "2030-01-01T00:00:00Z", "initiatedBy": "automated", "result": "Succeeded"},
            {"id": 2, "revision": "def456", "author": "Ada", "message": "m2", "committedAt": "c",
             "deployedAt": "2030-01-02T00:00:00Z", "initiatedBy": "manual", "result": "Failed"},
        ],
        "operationState": {"phase": "Failed", "finishedAt": "x"},
        "somethingNew": {"x": 1},
    },
}  # fmt: skip


def test_summary() -> None:
    s = views.summary(APP)
    assert (s.namespace, s.name, s.project, s.repoURL, s.path, s.targetRevision) == (
        "team", "web", "default", "https://git.example.com/org/config.git", "apps/web", "main",
    )  # fmt: skip
    assert (s.syncStatus, s.healthStatus, s.revision, s.lastSyncedRevision) == ("Synced", "Healthy", "abc123", "abc123")
    assert s.lastSyncedAt == "2030-01-01T00:00:00Z"  # the last *successful* deployment
    assert s.reconciledAt == "2030-01-01T00:00:05Z" and s.operationPhase == "Failed"
    assert s.automated and not s.suspend and s.destinationNamespace == "web" and s.destinationCluster == "in-cluster"
    assert [c.type for c in s.conditions] == ["Ready"]


def test_detail_drops_managed_fields_and_keeps_unknown_status_fields() -> None:
    d = views.detail(APP).model_dump(mode="json")
    assert "managedFields" not in d["metadata"] and d["metadata"]["annotations"] == {"a": "b"}
    assert d["status"]["somethingNew"] == {"x": 1}
    assert d["status"]["history"][1]["initiatedBy"] == "manual"
    assert d["status"]["resources"][0]["health"]["status"] == "Healthy"


@pytest.mark.parametrize(
    "status",
    [
        None,
        "garbage",
        {"sync": "x", "health": [1], "conditions": "no", "resources": {"a": 1}, "history": 5},
        {"conditions": [1, {"type": "Ready"}], "resources": [None, {"kind": "K"}], "history": [{"id": "x"}]},
        {"observedGeneration": "many", "operationState": "x", "reconciledAt": 5},
    ],
)
def test_junk_status_gives_defaults(status: Any) -> None:
    app = {**APP, "status": status}
    s = views.summary(app)
    assert s.syncStatus == "Unknown" and s.healthStatus == "Unknown" and s.revision == ""
    d = views.detail(app)
    assert d.metadata.name == "web"
    assert views.resources(app) == [] and views.history(app) == []


def test_empty_application() -> None:
    s = views.summary({})
    assert (s.name, s.project, s.targetRevision, s.path) == ("", "default", "HEAD", ".")
