"""`gitward run` as a real process, for end-to-end tests of the controller binary (leader election,
SIGKILL and restart, HTTP endpoints)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from gitward.devcluster.processes import free_port


class GitwardProcess:
    def __init__(self, kubeconfig: str, namespace: str, workdir: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = workdir / f"gitward-{self.port}.log"
        self.argv = [
            sys.executable, "-m", "gitward", "run", "--kubeconfig", kubeconfig, "--namespace", namespace,
            "--listen", f"127.0.0.1:{self.port}", "--cache-dir", str(workdir / f"cache-{self.port}"),
            "--allow-file-repos", *extra,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GitwardProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        resp = httpx2.get(self.url(path), timeout=5, trust_env=False)  # loopback: no proxy
        return resp.status_code, resp.text

    def wait_http(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"gitward did not serve /healthz; log:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode or 0)
