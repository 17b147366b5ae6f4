"""`gitward run` as a real process, measured from outside through /proc.

Used by every scenario family: each starts its own controller (a fresh process, so memory and CPU
figures belong to that scenario), waits until it leads and its caches are synced (/readyz), and
reads its CPU time (utime+stime of the process and of the git processes it waited for) and RSS.
With `profile_dir` set, `profiling(name)` records the measured window with py-spy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitward.devcluster.processes import free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class CpuTimes:
    own: float  # seconds of CPU of the gitward process itself
    children: float  # git and other subprocesses it waited for

    @property
    def total(self) -> float:
        return self.own + self.children


class Gitward:
    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        workdir: Path,
        *,
        auth_file: Path | None = None,
        profile_dir: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log = workdir / f"gitward-{namespace}.log"
        self.profile_dir = profile_dir
        self.argv = [
            sys.executable, "-m", "gitward", "run", "--kubeconfig", kubeconfig, "--namespace", namespace,
            "--listen", f"127.0.0.1:{self.port}", "--cache-dir", str(workdir / f"cache-{namespace}"), *extra,
        ]  # fmt: skip
        if auth_file is not None:
            self.argv += ["--auth-file", str(auth_file)]
        self.proc: subprocess.Popen[bytes] | None = None
        self._peak_rss = 0
        self._sampler: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Gitward:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gitward exited with {self.proc.returncode}; see {self.log}")
            code, body = self.http("/readyz")
            if code == 200 and '"leader":true' in body.replace(" ", ""):
                break
            time.sleep(0.1)
        else:
            raise TimeoutError(f"gitward did not become ready (leader, caches synced) in {timeout:.0f} s")
        self._sampler = threading.Thread(target=self._sample_rss, name="rss sampler", daemon=True)
        self._sampler.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def http(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback)
                return int(resp.status), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError:
            return 0, ""

    # ------------------------------------------------------------------ /proc

    def cpu(self) -> CpuTimes:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        return CpuTimes((utime + stime) / CLOCK_TICKS, (cutime + cstime) / CLOCK_TICKS)

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE

    def peak_rss(self) -> int:
        """The highest resident memory seen since start (the kernel's VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(int(line.split()[1]) * 1024, self._peak_rss)
        return self._peak_rss

    def _sample_rss(self) -> None:
        while not self._stopping.wait(0.5):
            with contextlib.suppress(OSError):
                self._peak_rss = max(self._peak_rss, self.rss())

    # ------------------------------------------------------------------ profiles

    @contextlib.contextmanager
    def profiling(self, name: str) -> Iterator[None]:
        """Record the block with py-spy into `<profile_dir>/<name>.speedscope.json` when profiling."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if self.profile_dir is None or not Path(spy).exists():
            if self.profile_dir is not None:
                print(f"py-spy not found: {name} is not profiled (pip install py-spy)", file=sys.stderr)
            yield
            return
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{name}.speedscope.json"
        argv = [spy, "record", "--pid", str(self.pid), "--rate", "200", "--format", "speedscope", "-o", str(out)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)


def megabytes(value: int) -> str:
    return f"{value / 2**20:.0f} MB"
