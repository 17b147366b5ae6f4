"""The resource tree: managed objects with what they own by owner references (Deployment →
ReplicaSet → Pod), health of owned objects from gitward.health, bounded, tolerant of junk."""

from __future__ import annotations

from typing import Any

from gitward.server import schemas
from gitward.server.dashboard import trees


def row(kind: str, name: str, group: str = "apps", status: str = "Synced", health: str = "Healthy") -> Any:
    return schemas.ResourceRow.model_validate(
        {"group": group, "version": "v1", "kind": kind, "namespace": "web", "name": name, "status": status,
         "health": {"status": health}}
    )  # fmt: skip


def obj(api_version: str, kind: str, name: str, uid: str, owner: str = "", **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "web", "uid": uid}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "X", "name": "x", "uid": owner, "controller": True}
        ]
    meta.update(fields.pop("metadata", {}))
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def pod(name: str, owner: str, ready: bool = True) -> dict[str, Any]:
    status = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0 if ready else 3}],
    }
    return obj("v1", "Pod", name, f"uid-{name}", owner, status=status)


def replicaset(name: str, revision: str, replicas: int, owner: str = "uid-deploy") -> dict[str, Any]:
    return obj(
        "apps/v1", "ReplicaSet", name, f"uid-{name}", owner,
        metadata={"annotations": {trees.REVISION: revision}},
        spec={"replicas": replicas},
        status={"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                "observedGeneration": 1},
    )  # fmt: skip


LIVE = [
    obj("apps/v1", "Deployment", "web", "uid-deploy", spec={"replicas": 2}, status={"readyReplicas": 2}),
    replicaset("web-new", "2", 2),
    replicaset("web-old", "1", 0),
    pod("web-new-a", "uid-web-new"),
    pod("web-new-b", "uid-web-new", ready=False),
    pod("stranger", "uid-someone-else"),
    obj("v1", "ConfigMap", "settings", "uid-cm"),
]


def test_deployment_replicaset_pod() -> None:
    rows = [row("Deployment", "web", status="OutOfSync"), row("ConfigMap", "settings", group="")]
    deployment, configmap = trees.build(rows, LIVE)
    assert (deployment.kind, deployment.name, deployment.managed, deployment.sync) == (
        "Deployment",
        "web",
        True,
        "OutOfSync",
    )
    assert deployment.info == "2/2 ready" and deployment.health == "Healthy"
    assert [(c.kind, c.name, c.managed) for c in deployment.children] == [
        ("ReplicaSet", "web-new", False), ("ReplicaSet", "web-old", False),
    ]  # fmt: skip  # newest rollout first, scaled-down last
    new, old = deployment.children
    assert new.info == "rev 2 · 2/2 ready" and not new.idle and old.idle and old.children == ()
    assert [(p.name, p.health, p.info) for p in new.children] == [
        ("web-new-a", "Healthy", "Running · 1/1 ready"),
        ("web-new-b", "Progressing", "Running · 0/1 ready · 3 restarts"),
    ]
    assert configmap.children == () and configmap.sync == "Synced"
    assert deployment.id == "node-deployment-web-web"


def test_missing_objects_have_no_children() -> None:
    (node,) = trees.build([row("Deployment", "gone", status="OutOfSync", health="Missing")], LIVE)
    assert node.children == () and node.health == "Missing" and node.info == ""


def test_children_are_bounded() -> None:
    many = [pod(f"p{i:03}", "uid-deploy") for i in range(trees.MAX_CHILDREN + 7)]
    (node,) = trees.build([row("Deployment", "web")], [LIVE[0], *many])
    assert len(node.children) == trees.MAX_CHILDREN and node.hidden == 7


def test_owner_cycles_stop() -> None:
    a = obj("apps/v1", "ReplicaSet", "a", "uid-a", "uid-b")
    b = obj("apps/v1", "ReplicaSet", "b", "uid-b", "uid-a")
    (node,) = trees.build([row("ReplicaSet", "a")], [a, b])
    depth, current = 0, node
    while current.children:
        current, depth = current.children[0], depth + 1
    assert depth == trees.MAX_DEPTH


def test_junk_is_tolerated() -> None:
    junk: list[Any] = [
        "not an object",
        {"kind": "Pod"},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "web", "ownerReferences": "x"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "namespace": "web", "uid": "u",
                                                         "ownerReferences": [{"uid": "uid-deploy"}]},
         "status": {"phase": 5, "containerStatuses": [{"ready": "yes", "restartCount": "many"}]}},
    ]  # fmt: skip
    (node,) = trees.build([row("Deployment", "web")], [LIVE[0], *junk])
    assert [(c.name, c.info) for c in node.children] == [("q", "5 · 0/1 ready")]
