"""The `--wait` judges (pure): when a sync, refresh or deletion request counts as handled, and with
which exit code; and how the progress is shown. `follow`, which polls the real Application, runs
against the real cluster in tests/integration/test_cli_app_waiting.py."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest
from rich.console import Console

from gitward.cli import app_waiting as waiting

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


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=200)


def test_the_display_prints_each_new_state_once_when_not_a_terminal() -> None:
    out = console(terminal=False)
    running = handled(operationState={"phase": "Running"}, sync={"status": "OutOfSync"}, health={"status": "Missing"})
    done = handled(operationState=OP_OK, sync=SYNCED, health={"status": "Healthy"})
    judge = waiting.sync_judge(REQUEST)
    with waiting.Display(out, "sync") as display:
        for state in (app(), running, running, done):
            display.show(judge(state).line)
    assert cast(io.StringIO, out.file).getvalue().splitlines() == [
        "sync: waiting for the controller to pick up the request (operation -, sync Unknown, health Unknown)",
        "sync: operation Running, sync OutOfSync, health Missing",
        "sync: operation Succeeded, sync Synced, health Healthy",
    ]


def test_a_timeout_is_code_2_with_the_last_state_and_a_terminal_gets_a_spinner() -> None:
    last = waiting.sync_judge(REQUEST)(app())
    progress = waiting.timed_out(last, 0.05)
    assert (progress.done, progress.code, progress.line) == (True, waiting.TIMEOUT_CODE, last.line)
    assert progress.message.startswith("timed out after 0.05s; last state: waiting for the controller")
    with waiting.Display(console(terminal=True), "sync") as display:
        display.show(last.line)
        assert display.spinner is not None and str(display.spinner.status) == f"sync: {last.line}"
    assert waiting.Display(console(terminal=False), "sync").spinner is None
