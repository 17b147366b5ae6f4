"""Running a renderer process within the render limits: a wall-clock timeout and an output-size cap
checked while it runs, and its whole process group killed afterwards in every case.

Called by `rendering.kustomize` (kubectl kustomize) and `rendering.helm_runner` (the Helm worker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gitward.core.errors import RenderError
from gitward.rendering.limits import Limits


@dataclass(frozen=True)
class Messages:
    """What to say, after the file or chart label, when a limit is hit."""

    timed_out: str  # e.g. "kustomize timed out after {seconds:g}s"
    too_big: str  # e.g. "kustomize output exceeds the size limit of {limit} bytes"


def run(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    out: IO[bytes],
    err: IO[bytes],
    label: str,
    limits: Limits,
    messages: Messages,
    poll_seconds: float = 0.05,
) -> int:
    """Run `command` in its own session; return its exit code or raise RenderError on a limit."""
    process = subprocess.Popen(
        command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
    )
    try:
        deadline = time.monotonic() + limits.render_timeout_seconds
        while True:
            try:
                process.wait(timeout=poll_seconds)
                break
            except subprocess.TimeoutExpired:
                pass
            check_size(out, label, limits, messages)
            if time.monotonic() >= deadline:
                raise RenderError(f"{label}: {messages.timed_out.format(seconds=limits.render_timeout_seconds)}")
        check_size(out, label, limits, messages)
    finally:
        _kill(process)
    return int(process.returncode)


def check_size(out: IO[bytes], label: str, limits: Limits, messages: Messages) -> None:
    if os.fstat(out.fileno()).st_size > limits.max_total_bytes:
        raise RenderError(f"{label}: {messages.too_big.format(limit=limits.max_total_bytes)}")


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and anything it started (its own session), if it is still running."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
