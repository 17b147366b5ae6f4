"""Sync windows of a Project (SPEC §13, Argo CD's AppProject syncWindows): when automated syncs may run.

Called by the reconciler with the Project's `spec.syncWindows` before it writes anything. Pure: the
time is a parameter. Semantics, as in Argo CD:

- A window is active from each time its cron `schedule` fires (5 fields, UTC) for `duration`.
- A window applies to the Applications whose name matches one of its `applications` globs
  (`["*"]` for all; an empty list applies to none).
- An active `deny` window blocks automated syncs; when any `allow` window applies to the
  Application, automated syncs run only while one of them is active. Deny wins over allow.
- Manual syncs (the `gitward.dev/sync` annotation, the API, the CLI) are blocked too, unless every
  window that blocks has `manualSync: true`.

A window with a schedule or duration that does not parse is reported and blocks nothing
(`errors`), so a typo never freezes or opens deploys silently: the condition names it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import cronsim

from gitward.core.applications import parse_duration

__all__ = ["State", "Window", "parse", "state"]

MAX_WINDOWS = 64
MAX_DURATION = timedelta(days=31)
LOOKAHEAD = timedelta(days=31)  # how far `next_open` looks
MAX_CANDIDATES = 2000


@dataclass(frozen=True)
class Window:
    kind: str  # allow | deny
    schedule: str
    duration: timedelta
    applications: tuple[str, ...]
    manual_sync: bool

    def applies_to(self, app: str) -> bool:
        return any(fnmatch.fnmatchcase(app, glob) for glob in self.applications)

    def last_start(self, now: datetime) -> datetime | None:
        try:
            return next(iter(cronsim.CronSim(self.schedule, now + timedelta(seconds=1), reverse=True)))
        except (cronsim.CronSimError, StopIteration):
            return None

    def active(self, now: datetime) -> bool:
        start = self.last_start(now)
        return start is not None and start <= now < start + self.duration

    def describe(self) -> str:
        return f"{self.kind} window '{self.schedule}' ({_span(self.duration)})"


@dataclass(frozen=True)
class State:
    automated: bool  # automated syncs may run now
    manual: bool  # manual syncs may run now
    message: str = ""  # why not, when not
    next_open: datetime | None = None  # when automated syncs may run again (within LOOKAHEAD)


def parse(spec: Any) -> tuple[list[Window], list[str]]:
    """The windows of a Project spec, and what is wrong with those that do not parse."""
    raw = spec.get("syncWindows") if isinstance(spec, dict) else None
    windows: list[Window] = []
    problems: list[str] = []
    for index, entry in enumerate(raw[:MAX_WINDOWS] if isinstance(raw, list) else []):
        where = f"syncWindows[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not an object")
            continue
        kind, schedule = entry.get("kind"), entry.get("schedule")
        if kind not in ("allow", "deny"):
            problems.append(f"{where}.kind: must be allow or deny")
            continue
        if not isinstance(schedule, str) or not _cron_ok(schedule):
            problems.append(f"{where}.schedule: not a 5-field cron expression")
            continue
        try:
            duration = timedelta(seconds=parse_duration(str(entry.get("duration") or "")))
        except ValueError:
            problems.append(f"{where}.duration: not a duration like 1h or 30m")
            continue
        if not timedelta(0) < duration <= MAX_DURATION:
            problems.append(f"{where}.duration: must be more than 0 and at most 31 days")
            continue
        globs = entry.get("applications")
        apps = tuple(str(g) for g in globs if isinstance(g, str)) if isinstance(globs, list) else ()
        windows.append(Window(kind, schedule, duration, apps, entry.get("manualSync") is True))
    return windows, problems


def state(windows: list[Window], app: str, now: datetime) -> State:
    """Whether automated and manual syncs of the Application `app` may run at `now` (UTC)."""
    mine = [w for w in windows if w.applies_to(app)]
    blocking = _blocking(mine, now)
    if not blocking:
        return State(True, True)
    manual = all(w.manual_sync for w in blocking)
    return State(False, manual, "; ".join(w.describe() for w in blocking[:3]), _next_open(mine, now))


def _blocking(windows: list[Window], now: datetime) -> list[Window]:
    denies = [w for w in windows if w.kind == "deny" and w.active(now)]
    allows = [w for w in windows if w.kind == "allow"]
    if allows and not any(w.active(now) for w in allows):
        return denies + allows  # outside every allow window
    return denies


def _next_open(windows: list[Window], now: datetime) -> datetime | None:
    """The first moment within LOOKAHEAD when no window blocks: every window's start and end are
    the only moments the answer can change."""
    candidates: set[datetime] = set()
    for window in windows:
        start = window.last_start(now)
        if start is not None:
            candidates.add(start + window.duration)
        try:
            for count, fire in enumerate(cronsim.CronSim(window.schedule, now)):
                if fire > now + LOOKAHEAD or count > MAX_CANDIDATES // max(len(windows), 1):
                    break
                candidates.update((fire, fire + window.duration))
        except cronsim.CronSimError:
            continue
    for moment in sorted(c for c in candidates if now < c <= now + LOOKAHEAD):
        if not _blocking(windows, moment):
            return moment
    return None


def _cron_ok(schedule: str) -> bool:
    if len(schedule) > 100 or len(schedule.split()) != 5:
        return False
    try:
        cronsim.CronSim(schedule, datetime(2026, 1, 1))
    except cronsim.CronSimError:
        return False
    return True


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m"
