"""bench.processes reads a process's CPU times (its own and its waited-for children's, from a stat line
whose command name holds spaces and parentheses) and its memory, as gitward's and Flux's columns use
them, read here from this very process's /proc; and it stops a process, with SIGKILL to its group
when SIGTERM is not enough."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench import processes

# /proc/<pid>/stat of a process named "git (x) y": utime 250, stime 150, cutime 40, cstime 10 ticks
STAT = (
    "4242 (git (x) y) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 150 40 10 20 0 3 0 99 123456 789 "
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
)
BURN = "import time\nend = time.process_time() + 0.1\nwhile time.process_time() < end:\n    pass\n"


def test_parse_stat_takes_the_fields_after_the_last_parenthesis() -> None:
    times = processes.parse_stat(STAT)
    assert times.own == 400 / processes.CLOCK_TICKS
    assert times.children == 50 / processes.CLOCK_TICKS
    assert times.total == 450 / processes.CLOCK_TICKS


def test_this_process_reads_its_own_figures() -> None:
    pid = os.getpid()
    before = processes.cpu_times(pid)
    subprocess.run([sys.executable, "-c", BURN], check=True)
    end = time.process_time() + 0.1
    while time.process_time() < end:  # the same CPU of our own
        pass
    after = processes.cpu_times(pid)
    assert after.own > before.own
    assert after.children > before.children  # the child it waited for
    now = processes.rss(pid)
    assert now > 0
    assert now % processes.PAGE == 0
    assert processes.high_water(pid) >= now


def test_peak_rss_samples_until_stopped() -> None:
    sampler = processes.PeakRss(os.getpid(), "test", every=0.01).start()
    deadline = time.monotonic() + 10
    while sampler.peak == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert sampler.peak > 0
    assert sampler.peak <= processes.high_water(os.getpid())


def test_terminate_stops_a_process_with_sigterm() -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    processes.terminate(proc)
    assert proc.returncode == -signal.SIGTERM
    processes.terminate(proc)  # gone already: nothing to do


def test_terminate_kills_the_group_of_a_process_that_ignores_sigterm() -> None:
    proc = subprocess.Popen(["sh", "-c", 'trap "" TERM; echo ready; sleep 60'], stdout=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # the trap is set
    processes.terminate(proc, grace=0.2)
    assert proc.returncode == -signal.SIGKILL
    proc.stdout.close()
