"""A real Prometheus (the Debian package's binary) on loopback, scraping a small exporter the test
drives: request and error counters per track (primary, canary), so analysis runs real PromQL.

Used by tests/integration/test_rollouts_analysis.py. Never the system service: the binary is started
with a generated config, its own storage directory and a free loopback port, and stopped at teardown.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from prometheus_client import CollectorRegistry, Counter, start_http_server

from gitward.devcluster.processes import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ERROR_RATIO = 'sum(requests_errors_total{track="canary"}) / sum(requests_total{track="canary"})'


@dataclass
class Exporter:
    requests: Counter
    errors: Counter
    port: int

    def serve(self, track: str, requests: int, errors: int) -> None:
        self.requests.labels(track).inc(requests)
        self.errors.labels(track).inc(errors)


@dataclass
class Prometheus:
    address: str
    exporter: Exporter

    def scraped(self) -> bool:
        """The exporter's counters are in Prometheus (one scrape happened)."""
        url = f"{self.address}/api/v1/query?query=requests_total"
        return b'"result":[{' in httpx2.get(url, timeout=5, trust_env=False).content


@contextmanager
def running_prometheus(workdir: Path) -> Iterator[Prometheus]:
    registry = CollectorRegistry()
    exporter = Exporter(
        Counter("requests", "Requests served", ["track"], registry=registry),
        Counter("requests_errors", "Requests that failed", ["track"], registry=registry),
        free_port(),
    )
    server, thread = start_http_server(exporter.port, addr="127.0.0.1", registry=registry)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: web\n    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n"
    )
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with (workdir / "prometheus.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        yield Prometheus(f"http://127.0.0.1:{port}", exporter)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        thread.join(5)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}")
        try:
            if httpx2.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("prometheus not ready within 30s")
