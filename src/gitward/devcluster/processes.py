"""Background processes of the embedded control plane, tracked by pid files.

Called by `gitward.devcluster.cluster`: `spawn` starts a process in its own session (it outlives the
command that started it) with its output in `<state>/logs/<name>.log` and its pid in
`<state>/pids/<name>.pid`; `stop_all` stops every process named in the pid files, also after the
command that started them crashed, and checks the pid still belongs to the same program before
signalling it (pids are reused).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Managed:
    name: str
    pid: int
    program: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(state: Path, name: str, argv: list[str], env: dict[str, str] | None = None) -> Managed:
    """Start `argv` detached from this process; record its pid file."""
    (state / "logs").mkdir(parents=True, exist_ok=True)
    (state / "pids").mkdir(parents=True, exist_ok=True)
    log = (state / "logs" / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
        close_fds=True,
    )
    log.close()
    program = Path(argv[0]).name
    (state / "pids" / f"{name}.pid").write_text(f"{proc.pid} {program}\n")
    return Managed(name, proc.pid, program)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(entry: Managed) -> bool:
    """True when `pid` runs and still is the program we started (not a recycled pid)."""
    cmd = _cmdline(entry.pid)
    if not cmd:
        return False
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{entry.pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie is as good as dead
            return False
    return entry.program in cmd


def recorded(state: Path) -> list[Managed]:
    """The processes named by the pid files of `state`."""
    found = []
    for pid_file in sorted((state / "pids").glob("*.pid")):
        with contextlib.suppress(ValueError, IndexError, OSError):
            pid_text, program = pid_file.read_text().split()[:2]
            found.append(Managed(pid_file.stem, int(pid_text), program))
    return found


def stop(state: Path, entry: Managed, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL after `timeout`; remove its pid file."""
    if alive(entry):
        _signal_group(entry.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(entry) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(entry):
            _signal_group(entry.pid, signal.SIGKILL)
            while alive(entry) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.waitpid(entry.pid, os.WNOHANG)
    (state / "pids" / f"{entry.name}.pid").unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_all(state: Path, order: list[str]) -> list[str]:
    """Stop recorded processes, those named in `order` first in that order; return their names."""
    entries = {e.name: e for e in recorded(state)}
    names = [n for n in order if n in entries] + sorted(n for n in entries if n not in order)
    for name in names:
        stop(state, entries[name])
    return names
