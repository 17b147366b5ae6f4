"""How `gitward app list | get | history` show Applications: ages, short SHAs, tables, the summary
and raw JSON/YAML (pure, rendered with a recording rich Console)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml
from rich.console import Console, RenderableType

from gitward.cli import app_views as views

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"

HISTORY_HEADER = ["ID", "REVISION", "AUTHOR", "MESSAGE", "COMMITTED", "DEPLOYED", "INITIATED", "BY", "RESULT"]


def text(renderable: RenderableType) -> str:
    console = Console(width=300, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def application(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitward.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "shop", "managedFields": [{"manager": "x"}]},
        "spec": {
            "source": {"repoURL": "https://git.example.com/config.git", "path": "apps/web", "targetRevision": "main"},
            "destination": {"namespace": "shop"},
            "syncPolicy": {"automated": {"prune": True}, "interval": "1m"},
        },
        "status": status,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-01T11:59:18Z", "42s"),
        ("2025-06-01T11:55:00Z", "5m"),
        ("2025-06-01T09:00:00Z", "3h"),
        ("2025-06-01T10:30:00Z", "90m"),
        ("2025-05-20T12:00:00Z", "12d"),
        ("2025-06-01T12:00:05Z", "0s"),
        ("", "-"),
        (None, "-"),
        ("yesterday", "-"),
    ],
)
def test_age(value: object, expected: str) -> None:
    assert views.age(value, NOW) == expected


def test_small_formats() -> None:
    assert views.short(SHA) == "0123456"
    assert views.short("") == views.short(None) == "-"
    assert views.timestamp("2025-06-01T10:22:00Z") == "2025-06-01 10:22 UTC"
    assert views.first_line("Subject\n\nbody") == "Subject"
    assert views.first_line("x" * 100).endswith("…") and len(views.first_line("x" * 100)) == 60


def test_list_table() -> None:
    app = application(
        sync={"status": "Synced", "revision": SHA},
        health={"status": "Healthy"},
        operationState={"phase": "Succeeded", "finishedAt": "2025-06-01T11:58:00Z"},
    )
    never = application()
    never["metadata"]["name"] = "new"
    lines = text(views.list_table([app, never], NOW, all_namespaces=True)).splitlines()
    assert lines[0].split() == ["NAME", "NAMESPACE", "SYNC", "HEALTH", "REVISION", "LAST", "SYNC", "REPO/PATH"]
    assert lines[1].split() == ["web", "shop", "Synced", "Healthy", "0123456", "2m", SOURCE, "apps/web"]
    assert lines[2].split() == ["new", "shop", "Unknown", "Unknown", "-", "-", SOURCE, "apps/web"]
    narrow = text(views.list_table([app], NOW, all_namespaces=False)).splitlines()
    assert narrow[1].split()[:2] == ["web", "Synced"]


SOURCE = "https://git.example.com/config.git"


def test_summary() -> None:
    app = application(
        sync={"status": "OutOfSync", "revision": SHA},
        health={"status": "Degraded", "message": "Deployment/shop/web: 0/2 ready"},
        lastSyncedRevision=SHA,
        operationState={"phase": "Failed", "revision": SHA, "finishedAt": "2025-06-01T11:00:00Z", "message": "boom"},
        conditions=[
            {"type": "Ready", "status": "False", "reason": "OutOfSync", "message": "m", "lastTransitionTime": "x"},
            {"type": "SyncError", "status": "True", "reason": "SyncFailed", "message": "boom"},
        ],
        resources=[
            {"kind": "Deployment", "namespace": "shop", "name": "web", "status": "OutOfSync",
             "health": {"status": "Degraded", "message": "0/2 ready"}, "message": "drift: spec.replicas"},
            {"kind": "Namespace", "name": "shop", "status": "Synced", "health": {"status": "Healthy"}},
        ],
    )  # fmt: skip
    app["spec"]["suspend"] = True
    out = text(views.summary(app, NOW))
    for expected in (
        "shop/web",
        "automated (prune), every 1m, SUSPENDED",
        "OutOfSync  0123456",
        "Degraded  Deployment/shop/web: 0/2 ready",
        "Failed  0123456  60m ago  boom",
    ):
        assert expected in out, out
    lines = out.splitlines()
    assert any(line.split()[:3] == ["SyncError", "True", "SyncFailed"] for line in lines)
    deployment = next(line for line in lines if line.startswith("Deployment"))
    assert deployment.split()[:5] == ["Deployment", "shop", "web", "OutOfSync", "Degraded"]
    assert "drift: spec.replicas; 0/2 ready" in deployment
    assert next(line for line in lines if line.startswith("Namespace")).split()[:3] == ["Namespace", "-", "shop"]


def test_summary_of_a_new_application() -> None:
    out = text(views.summary(application(), NOW))
    assert "Unknown" in out and "Conditions" not in out and "Resources" not in out


def test_history_table() -> None:
    entries = [
        {"id": 1, "revision": SHA, "author": "Ada Lovelace", "message": "First\n\nbody",
         "committedAt": "2025-06-01T10:00:00Z", "deployedAt": "2025-06-01T10:01:00Z",
         "initiatedBy": "automated", "result": "Succeeded"},
        {"id": 2, "revision": SHA, "author": "", "message": "", "initiatedBy": "rollback", "result": "Failed"},
    ]  # fmt: skip
    lines = text(views.history_table(entries)).splitlines()
    assert lines[0].split() == HISTORY_HEADER
    assert lines[1].split() == [
        "1", "0123456", "Ada", "Lovelace", "First", "2025-06-01", "10:00", "UTC", "2025-06-01", "10:01", "UTC",
        "automated", "Succeeded",
    ]  # fmt: skip
    assert lines[2].split() == ["2", "0123456", "-", "-", "-", "-", "rollback", "Failed"]
    assert views.history_of(application(history=[entries[0], "junk"])) == [entries[0]]


def test_raw_output() -> None:
    app = application(sync={"status": "Synced"})
    assert "managedFields" not in views.raw(app)["metadata"]
    assert "managedFields" in app["metadata"], "the input is not changed"
    assert json.loads(views.dump([views.raw(app)], views.Output.json))[0]["status"] == {"sync": {"status": "Synced"}}
    as_yaml = yaml.safe_load(views.dump(views.raw(app), views.Output.yaml))
    assert as_yaml["metadata"] == {"name": "web", "namespace": "shop"}


def test_credentials_in_repo_urls_are_not_shown() -> None:
    app = application()
    app["spec"]["source"]["repoURL"] = "https://bot:hunter2@git.example.com/config.git"
    for renderable in (views.list_table([app], NOW, all_namespaces=False), views.summary(app, NOW)):
        out = text(renderable)
        assert "hunter2" not in out and "https://***@git.example.com/config.git" in out
