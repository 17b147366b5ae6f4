"""What an Application page reads, decided from plain data: the lists that show its workloads and
what they own (never Secrets, bounded namespaces), and the diffs of its OutOfSync objects
(gitward.server.diffs.object_diffs, shared with the REST API)."""

from __future__ import annotations

from typing import Any

from gitward.core.manifests import ObjectRef
from gitward.server import diffs, schemas
from gitward.server.dashboard import live


def row(kind: str, name: str, namespace: str = "team", group: str = "apps", status: str = "Synced") -> Any:
    return schemas.ResourceRow.model_validate(
        {"group": group, "version": "v1", "kind": kind, "namespace": namespace, "name": name, "status": status}
    )


def test_a_deployment_lists_its_replicasets_and_pods() -> None:
    assert live.lists([row("Deployment", "web")]) == [
        ("apps/v1", "Deployment", "team"),
        ("apps/v1", "ReplicaSet", "team"),
        ("v1", "Pod", "team"),
    ]


def test_a_cronjob_lists_its_jobs_and_pods_and_lists_are_not_repeated() -> None:
    rows = [row("CronJob", "nightly", group="batch"), row("Job", "once", group="batch")]
    assert live.lists(rows) == [("batch/v1", "CronJob", "team"), ("batch/v1", "Job", "team"), ("v1", "Pod", "team")]


def test_secrets_and_other_kinds_are_never_listed() -> None:
    rows = [row("Secret", "creds", group=""), row("ConfigMap", "settings", group=""), row("Service", "web", group="")]
    assert live.lists(rows) == []
    assert all(kind != "Secret" for _, kind, _ in live.lists([*rows, row("Deployment", "web")]))


def test_pruned_and_cluster_scoped_rows_list_nothing_and_namespaces_are_bounded() -> None:
    assert live.lists([row("Deployment", "old", status="Pruned"), row("Deployment", "x", namespace="")]) == []
    many = [row("StatefulSet", "db", namespace=f"ns-{i:02}") for i in range(live.MAX_NAMESPACES + 5)]
    namespaces = {namespace for _, _, namespace in live.lists(many)}
    assert namespaces == {f"ns-{i:02}" for i in range(live.MAX_NAMESPACES)}


def configmap(value: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team", **meta},
            "data": {"value": value}}  # fmt: skip


def test_object_diffs_of_out_of_sync_rows() -> None:
    ref = ObjectRef("", "ConfigMap", "team", "cm")
    gone = ObjectRef("", "ConfigMap", "team", "gone")
    rows = [
        row("ConfigMap", "cm", group="", status="OutOfSync"),
        row("ConfigMap", "same", group="", status="OutOfSync"),
        row("ConfigMap", "gone", group="", status="OutOfSync"),
        row("ConfigMap", "synced", group="", status="Synced"),
    ]
    same = configmap("1", name="same")
    desired = {ref: configmap("2"), ObjectRef.of(same): same, ObjectRef("", "ConfigMap", "team", "synced"): same}
    live_objects = {ref: configmap("1"), ObjectRef.of(same): same, gone: configmap("x", name="gone")}
    found = diffs.object_diffs(rows, desired, live_objects)
    assert [(d.name, d.status, d.version) for d in found] == [("cm", "OutOfSync", "v1"), ("gone", "OutOfSync", "v1")]
    assert "-  value: '1'\n+  value: '2'\n" in found[0].diff
    assert found[1].diff.startswith("--- live/ConfigMap/team/gone\n")
    assert diffs.object_diffs(rows[:1], {}, {}) == [], "neither rendered nor live: nothing to show"
