"""The controller processes the bench measures: CPU time and resident memory read from /proc, a thread
that keeps the peak, and stopping them.

Used by `bench.controller` (the `gitward run` process) and `bench.peers.flux` (Flux's two
controllers), so that gitward's column and its peers' are measured and stopped the same way:

    cpu_times(pid) -> CpuTimes   utime+stime of the process, cutime+cstime of the children it waited for
    rss(pid)                     resident memory now, in bytes (statm)
    high_water(pid)              the kernel's peak resident memory (VmHWM), in bytes; 0 when not given
    PeakRss(pid, name)           a daemon thread sampling rss(pid) every 0.5 s until stop(); `peak`
    terminate(proc)              SIGTERM, then SIGKILL to its process group if it is still there after 30 s
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLOCK_TICKS", "PAGE", "CpuTimes", "PeakRss", "cpu_times", "high_water", "parse_stat", "rss", "terminate"]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class CpuTimes:
    own: float  # seconds of CPU of the process itself
    children: float  # git and other subprocesses it waited for

    @property
    def total(self) -> float:
        return self.own + self.children


def parse_stat(text: str) -> CpuTimes:
    """The CPU times in the text of /proc/<pid>/stat (the command name in parentheses may hold spaces)."""
    fields = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return CpuTimes((utime + stime) / CLOCK_TICKS, (cutime + cstime) / CLOCK_TICKS)


def cpu_times(pid: int) -> CpuTimes:
    return parse_stat(Path(f"/proc/{pid}/stat").read_text())


def rss(pid: int) -> int:
    """Resident memory now, in bytes."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def high_water(pid: int) -> int:
    """The highest resident memory of the process so far (VmHWM), in bytes; 0 when the kernel does not say."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakRss:
    """The highest `rss(pid)` seen by a thread that samples it every `every` seconds from start()
    until stop() (a process that is gone is not sampled)."""

    def __init__(self, pid: int, name: str, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.peak = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name} rss sampler", daemon=True)

    def start(self) -> PeakRss:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss(self.pid))


def terminate(proc: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Stop `proc` (started with start_new_session) if it still runs: SIGTERM, and after `grace`
    seconds SIGKILL to its whole process group."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
