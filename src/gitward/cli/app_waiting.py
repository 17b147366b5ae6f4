"""`--wait`: follow an Application until the controller has handled a request, with progress.

Called by `cli/app.py` after `sync`, `rollback`, `refresh` and `delete`. The judges are pure: each
looks at one read of the Application and says whether the wait is over and with which exit code —

- a sync (or rollback) is handled when `status.lastHandledSync` equals the value written; it is over
  when no operation runs any more: exit 1 if the operation Failed/Errored or an error condition
  (SourceError, RenderError, ValidationError, SyncError, Stalled) says why the request was refused,
  exit 0 once the Application is Healthy (or Suspended) and Synced — or compared with another
  revision than the one the operation deployed (a rollback or `--revision`, followed by a re-check
  of the target revision); otherwise keep waiting;
- a refresh is over when `status.lastHandledRefresh` equals the value written (exit 1 if an error
  condition is then set);
- a deletion is over when the Application is gone.

`follow` polls, shows the progress (`Display`: a rich spinner on a terminal, one plain line per
change otherwise) and returns the exit code, 2 on timeout (`timed_out`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.status import Status
from rich.text import Text

from gitward.appstatus import conditions as gwconditions
from gitward.cli import app_views
from gitward.core import applications as apps
from gitward.core.manifests import Manifest
from gitward.kube.client import KubeClient

TIMEOUT_CODE = 2
ERROR_CONDITIONS = (*gwconditions.ERROR_TYPES, gwconditions.STALLED)
DONE_HEALTH = ("Healthy", "Suspended")


@dataclass(frozen=True, slots=True)
class Progress:
    """One look at the Application: what to show, and whether (and how) the wait ends."""

    line: str
    done: bool = False
    code: int = 0
    message: str = ""


Judge = Callable[[Manifest | None], Progress]


def _field(status: dict[str, Any], key: str, sub: str) -> str:
    value = status.get(key)
    return str(value.get(sub) or "") if isinstance(value, dict) else ""


def state_line(app: Manifest) -> str:
    status = app_views.status_of(app)
    phase = _field(status, "operationState", "phase") or "-"
    sync = _field(status, "sync", "status") or "Unknown"
    health = _field(status, "health", "status") or "Unknown"
    return f"operation {phase}, sync {sync}, health {health}"


def error_condition(app: Manifest) -> str:
    """`Type: message` of the first error condition that is True, or ""."""
    for cond in app_views.status_of(app).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") in ERROR_CONDITIONS and cond.get("status") == "True":
            return f"{cond['type']}: {cond.get('message') or cond.get('reason') or ''}"
    return ""


def sync_judge(request: str) -> Judge:
    """The judge of the sync request whose `gitward.dev/sync` value is `request`."""

    def judge(app: Manifest | None) -> Progress:
        if app is None:
            return Progress("deleted", True, 1, "the Application was deleted while waiting")
        status, line = app_views.status_of(app), state_line(app)
        if status.get("lastHandledSync") != request:
            return Progress(f"waiting for the controller to pick up the request ({line})")
        phase = _field(status, "operationState", "phase")
        if phase == "Running":
            return Progress(line)
        if phase in ("Failed", "Error"):
            message = _field(status, "operationState", "message") or error_condition(app) or phase
            return Progress(line, True, 1, f"sync {phase.lower()}: {message}")
        refused = error_condition(app)
        if refused:
            return Progress(line, True, 1, f"sync failed: {refused}")
        sync, health = _field(status, "sync", "status"), _field(status, "health", "status")
        compared, deployed = _field(status, "sync", "revision"), _field(status, "operationState", "revision")
        if health not in DONE_HEALTH:
            return Progress(line)
        if sync == "Synced":
            return Progress(line, True, 0, f"synced to {apps.short_revision(compared, 7)}: {sync}, {health}")
        if deployed and compared and compared != deployed:  # e.g. a rollback, then a re-check of the branch
            deployed_at, target = apps.short_revision(deployed, 7), apps.short_revision(compared, 7)
            message = f"deployed {deployed_at} ({health}); against its target revision {target} it is {sync}"
            return Progress(line, True, 0, message)
        return Progress(line)

    return judge


def refresh_judge(request: str) -> Judge:
    """The judge of the refresh request whose `gitward.dev/refresh` value is `request`."""

    def judge(app: Manifest | None) -> Progress:
        if app is None:
            return Progress("deleted", True, 1, "the Application was deleted while waiting")
        line = state_line(app)
        if app_views.status_of(app).get("lastHandledRefresh") != request:
            return Progress(f"waiting for the controller to pick up the request ({line})")
        refused = error_condition(app)
        if refused:
            return Progress(line, True, 1, f"refreshed, but {refused}")
        return Progress(line, True, 0, f"refreshed: {line}")

    return judge


def deletion_judge(app: Manifest | None) -> Progress:
    if app is None:
        return Progress("gone", True, 0, "the Application is gone")
    meta = app.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return Progress(f"deleting: waiting for the finalizers {', '.join(meta.get('finalizers') or [])}")
    return Progress("waiting for the deletion to start")


def timed_out(last: Progress, timeout: float) -> Progress:
    """What a wait that ran out of time ends with: exit code 2, and the last state it saw."""
    return Progress(last.line, True, TIMEOUT_CODE, f"timed out after {timeout:g}s; last state: {last.line}")


class Display:
    """A spinner with the latest line on a terminal; otherwise each new line printed once."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self.last = ""
        self.spinner: Status | None = console.status(title) if console.is_terminal else None

    def __enter__(self) -> Display:
        if self.spinner is not None:
            self.spinner.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.spinner is not None:
            self.spinner.stop()

    def show(self, line: str) -> None:
        if line == self.last:
            return
        self.last = line
        if self.spinner is not None:
            self.spinner.update(Text(f"{self.title}: {line}"))
        else:
            self.console.print(Text(f"{self.title}: {line}"))


async def follow(
    client: KubeClient,
    namespace: str,
    name: str,
    judge: Judge,
    *,
    timeout: float,
    console: Console,
    title: str,
    interval: float = 0.5,
) -> Progress:
    """Poll the Application until `judge` says done or `timeout` passes (then code 2)."""
    deadline = time.monotonic() + timeout
    with Display(console, title) as display:
        while True:
            app = await client.get_or_none(apps.API_VERSION, "Application", name, namespace)
            progress = judge(app)
            display.show(progress.line)
            if progress.done:
                return progress
            if time.monotonic() >= deadline:
                return timed_out(progress, timeout)
            await asyncio.sleep(interval)
