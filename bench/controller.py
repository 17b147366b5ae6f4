"""`gitward run` as a real process, measured from outside through /proc.

Used by every scenario family: each starts its own controller (a fresh process, so memory and CPU
figures belong to that scenario), waits until it leads and its caches are synced (/readyz), and
reads its CPU time (utime+stime of the process and of the git processes it waited for) and RSS
(`bench.processes`).
With `profile_dir` set, `profiling(name)` records the measured window with py-spy.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench import processes
from gitward.devcluster.processes import free_port


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
        self._sampler: processes.PeakRss | None = None

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
        self._sampler = processes.PeakRss(self.pid, "gitward").start()
        return self

    def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()
        if self.proc is not None:
            processes.terminate(self.proc)

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

    def cpu(self) -> processes.CpuTimes:
        return processes.cpu_times(self.pid)

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return processes.rss(self.pid)

    def peak_rss(self) -> int:
        """The highest resident memory seen since start (the kernel's VmHWM, or what the sampler saw)."""
        return max(processes.high_water(self.pid), self._sampler.peak if self._sampler is not None else 0)

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
