"""Progress of the one-time Kubernetes builds (`assets`, `gobuild`): one line per step with its elapsed
time and, during a long compile, a live line (a spinner on a terminal, a line every 30 s otherwise)."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console


class Steps:
    def __init__(self, console: Console, started: float) -> None:
        self.console, self.started = console, started

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        t0 = time.monotonic()
        self.console.print(f"[bold]▸[/] {what} …")
        yield
        self.console.print(f"  done in {time.monotonic() - t0:.1f}s (total {time.monotonic() - self.started:.0f}s)")


def _lines(path: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace").strip().splitlines()
    return []


def _status(log_path: Path, total: int | None) -> str:
    lines = _lines(log_path)
    last = lines[-1].strip()[:70] if lines else ""
    if total:  # `go build -v` prints one package per line
        return f"{min(len(lines), total)}/{total} packages  {last}"
    return last


def watch(proc: subprocess.Popen[bytes], console: Console, log_path: Path, total: int | None = None) -> None:
    """Wait for `proc` (its output going to `log_path`), showing that it is alive and for how long;
    with `total`, count the log's lines as packages compiled out of `total`."""
    t0 = time.monotonic()
    if console.is_terminal:
        with console.status("compiling…") as status:
            while proc.poll() is None:
                status.update(f"compiling… {time.monotonic() - t0:.0f}s  {_status(log_path, total)}")
                time.sleep(0.5)
        return
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(30):
            line = f"  … still compiling, {time.monotonic() - t0:.0f}s: {_status(log_path, total)}"
            console.print(line, soft_wrap=True, highlight=False)

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    proc.wait()
    stop.set()
