"""`--wait` against the real cluster: `app_waiting.follow` polls a real Application whose status the
test writes as the controller would (status subresource), shows each new state once and ends when
the judge says so; a request nobody handles times out with code 2; a deleted Application ends it.
The judges themselves are tested from plain data in tests/unit/cli/test_app_waiting.py."""

from __future__ import annotations

import asyncio
import io
from typing import Any, cast

import pytest
from rich.console import Console
from tests.support import apps

from gitward.cli import app_waiting as waiting
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

REQUEST = '{"nonce":"wait-test"}'
SHA = "a" * 40


def console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def printed(out: Console) -> list[str]:
    return cast(io.StringIO, out.file).getvalue().splitlines()


async def write_status(kube: KubeClient, namespace: str, name: str, **status: Any) -> None:
    await kube.patch(API_VERSION, "Application", name, namespace, {"status": status}, subresource="status")


@pytest.fixture
async def web(kube: KubeClient, namespace: str, crds: None) -> str:
    """An Application no controller handles: only the test writes its status."""
    await kube.create(apps.application("web", namespace, "https://git.example.com/x.git", syncPolicy={}))
    return "web"


def following(kube: KubeClient, namespace: str, name: str, out: Console) -> asyncio.Task[waiting.Progress]:
    """`follow` of a sync request, polling every 20 ms, in a task."""
    judge = waiting.sync_judge(REQUEST)
    follow = waiting.follow(kube, namespace, name, judge, timeout=120, console=out, title="sync", interval=0.02)
    return asyncio.create_task(follow)


async def shown(out: Console, text: str) -> None:
    await apps.wait_for(lambda: any(text in line for line in printed(out)), timeout=30, message=repr(text))


async def test_follow_shows_each_new_state_once_and_ends_when_the_request_is_handled(
    kube: KubeClient, namespace: str, web: str
) -> None:
    out = console()
    task = following(kube, namespace, web, out)
    try:
        await shown(out, "waiting for the controller to pick up the request")
        running = {"phase": "Running", "startedAt": "2030-01-01T00:00:00Z"}
        await write_status(
            kube, namespace, web, lastHandledSync=REQUEST, operationState=running,
            sync={"status": "OutOfSync"}, health={"status": "Missing"},
        )  # fmt: skip
        await shown(out, "operation Running")
        assert not task.done(), "a running operation is no reason to stop waiting"
        finished = {"phase": "Succeeded", "revision": SHA, "finishedAt": "2030-01-01T00:00:05Z"}
        await write_status(
            kube, namespace, web, operationState=finished,
            sync={"status": "Synced", "revision": SHA}, health={"status": "Healthy"},
        )  # fmt: skip
        progress = await asyncio.wait_for(task, 60)
    finally:
        task.cancel()
    assert (progress.done, progress.code) == (True, 0)
    assert progress.message == "synced to aaaaaaa: Synced, Healthy"
    assert printed(out) == [
        "sync: waiting for the controller to pick up the request (operation -, sync Unknown, health Unknown)",
        "sync: operation Running, sync OutOfSync, health Missing",
        "sync: operation Succeeded, sync Synced, health Healthy",
    ]


async def test_a_request_nobody_handles_times_out_with_code_2(kube: KubeClient, namespace: str, web: str) -> None:
    out = console()
    progress = await waiting.follow(
        kube, namespace, web, waiting.refresh_judge("never-handled"), timeout=0.2, console=out, title="refresh",
        interval=0.05,
    )  # fmt: skip
    assert (progress.done, progress.code) == (True, waiting.TIMEOUT_CODE)
    assert progress.message.startswith("timed out after 0.2s; last state: waiting for the controller")
    assert printed(out) == [f"refresh: {progress.line}"], "the same state is shown once"


async def test_deleting_the_application_ends_the_wait_with_code_1(kube: KubeClient, namespace: str, web: str) -> None:
    out = console()
    task = following(kube, namespace, web, out)
    try:
        await shown(out, "waiting for the controller")
        await kube.delete(API_VERSION, "Application", web, namespace)
        progress = await asyncio.wait_for(task, 60)
    finally:
        task.cancel()
    assert (progress.done, progress.code) == (True, 1)
    assert progress.message == "the Application was deleted while waiting"
