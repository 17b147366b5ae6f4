"""The `--wait` judges (pure): when a sync, refresh or deletion request counts as handled, and with
which exit code."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest
from rich.console import Console

from gitward.cli import app_waiting as waiting
from gitward.kube.client import KubeClient

REQUEST = '{"nonce":"abc"}'


def app(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns"}, "status": status}


def handled(**status: Any) -> dict[str, Any]:
    return app(lastHandledSync=REQUEST, **status)


SYNCED = {"status": "Synced", "revision": "a" * 40}
OP_OK = {"phase": "Succeeded", "revision": "a" * 40, "message": "successfully synced"}


@pytest.mark.parametrize(
    ("obj", "done", "code", "message"),
    [
        (app(sync=SYNCED, health={"status": "Healthy"}), False, 0, ""),  # not handled yet
        (app(lastHandledSync="older", sync=SYNCED, health={"status": "Healthy"}), False, 0, ""),
        (handled(operationState={"phase": "Running"}, sync=SYNCED, health={"status": "Healthy"}), False, 0, ""),
        (handled(operationState=OP_OK, sync=SYNCED, health={"status": "Healthy"}), True, 0, "synced to aaaaaaa"),
        (handled(operationState=OP_OK, sync=SYNCED, health={"status": "Suspended"}), True, 0, "Suspended"),
        (handled(operationState=OP_OK, sync=SYNCED, health={"status": "Progressing"}), False, 0, ""),
        (handled(operationState=OP_OK, sync={"status": "OutOfSync", "revision": "a" * 40}), False, 0, ""),
        (
            handled(
                operationState=OP_OK, sync={"status": "OutOfSync", "revision": "b" * 40}, health={"status": "Healthy"}
            ),
            True,
            0,
            "deployed aaaaaaa (Healthy); against its target revision bbbbbbb it is OutOfSync",
        ),
        (
            handled(operationState={"phase": "Failed", "message": "validation failed: ConfigMap/x: bad"}),
            True,
            1,
            "sync failed: validation failed: ConfigMap/x: bad",
        ),
        (
            handled(
                operationState=OP_OK,
                sync=SYNCED,
                health={"status": "Healthy"},
                conditions=[
                    {"type": "Ready", "status": "False"},
                    {"type": "SourceError", "status": "True", "message": "revision 'x' not found"},
                ],
            ),
            True,
            1,
            "sync failed: SourceError: revision 'x' not found",
        ),
        (None, True, 1, "deleted while waiting"),
    ],
)
def test_sync_judge(obj: dict[str, Any] | None, done: bool, code: int, message: str) -> None:
    progress = waiting.sync_judge(REQUEST)(obj)
    assert (progress.done, progress.code) == (done, code)
    assert message in progress.message


def test_sync_progress_line() -> None:
    line = waiting.sync_judge(REQUEST)(app()).line
    assert line == "waiting for the controller to pick up the request (operation -, sync Unknown, health Unknown)"
    obj = handled(operationState={"phase": "Running"}, sync={"status": "OutOfSync"}, health={"status": "Progressing"})
    assert waiting.sync_judge(REQUEST)(obj).line == "operation Running, sync OutOfSync, health Progressing"


def test_refresh_judge() -> None:
    judge = waiting.refresh_judge("r2")
    assert not judge(app(lastHandledRefresh="r1")).done
    ok = judge(app(lastHandledRefresh="r2", sync=SYNCED, health={"status": "Healthy"}))
    assert (ok.done, ok.code) == (True, 0)
    assert ok.message == "refreshed: operation -, sync Synced, health Healthy"
    error = {"type": "RenderError", "status": "True", "message": "x"}
    failing = judge(app(lastHandledRefresh="r2", conditions=[error]))
    assert (failing.done, failing.code, failing.message) == (True, 1, "refreshed, but RenderError: x")


def test_deletion_judge() -> None:
    assert waiting.deletion_judge(None).done
    deleting = waiting.deletion_judge({"metadata": {"deletionTimestamp": "now", "finalizers": ["gitward.dev/cleanup"]}})
    assert not deleting.done and "gitward.dev/cleanup" in deleting.line
    assert not waiting.deletion_judge({"metadata": {}}).done


class Replay:
    """A client whose Application reads return `states` in turn (the last one repeats)."""

    def __init__(self, *states: dict[str, Any] | None) -> None:
        self.states = list(states)
        self.reads = 0

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Any:
        self.reads += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=200)


async def test_follow_prints_each_new_state_once_when_not_a_terminal() -> None:
    running = handled(operationState={"phase": "Running"}, sync={"status": "OutOfSync"}, health={"status": "Missing"})
    done = handled(operationState=OP_OK, sync=SYNCED, health={"status": "Healthy"})
    client = Replay(app(), running, running, done)
    out = console(terminal=False)
    progress = await waiting.follow(
        cast(KubeClient, client), "ns", "web", waiting.sync_judge(REQUEST), timeout=5, console=out, title="sync",
        interval=0,
    )  # fmt: skip
    assert (progress.code, client.reads) == (0, 4)
    assert cast(io.StringIO, out.file).getvalue().splitlines() == [
        "sync: waiting for the controller to pick up the request (operation -, sync Unknown, health Unknown)",
        "sync: operation Running, sync OutOfSync, health Missing",
        "sync: operation Succeeded, sync Synced, health Healthy",
    ]


async def test_follow_times_out_with_code_2_and_spins_on_a_terminal() -> None:
    out = console(terminal=True)
    progress = await waiting.follow(
        cast(KubeClient, Replay(app())), "ns", "web", waiting.sync_judge(REQUEST), timeout=0.05, console=out,
        title="sync", interval=0.01,
    )  # fmt: skip
    assert (progress.done, progress.code) == (True, waiting.TIMEOUT_CODE)
    assert progress.message.startswith("timed out after 0.05s; last state: waiting for the controller")
