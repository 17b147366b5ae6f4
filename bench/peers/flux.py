"""Flux as a peer in the bench: its two controllers as local processes, its CRDs, its manifests, and
the pure reading of its status.

Used by `bench.peers.flux_scenarios` (the measurements). `Controllers` starts the cached binaries
(`bench.flux.build`) against the bench's control plane (KUBECONFIG), with source-controller's artifact
storage served on a free loopback port (`--storage-addr`, advertised as the same address to
kustomize-controller), health and metrics on free loopback ports, no leader election, no events
receiver; it reads their CPU time and memory from /proc with `bench.processes`, as `bench.controller` does
for gitward.
`install_crds` applies the CRDs of the two modules (`config/crd/bases`, from the Go module cache).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from bench import kubectl, processes
from bench.flux import build
from gitward.devcluster.processes import free_port

Manifest = dict[str, Any]
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"  # the annotation `flux reconcile` sets
BRANCH = "main"


# ---------------------------------------------------------------------------------- manifests


def git_repository(name: str, namespace: str, url: str, interval: str = "10m") -> Manifest:
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": interval, "url": url, "ref": {"branch": BRANCH}, "timeout": "60s"},
    }


def kustomization(name: str, namespace: str, source: str, path: str, target: str, interval: str = "10m") -> Manifest:
    """A Kustomization of the plain YAML files under `path` (kustomize-controller generates the
    kustomization.yaml), pruned, into namespace `target`; no health checks (wait: false), like an
    Application whose objects are all healthy on apply."""
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": interval,
            "sourceRef": {"kind": "GitRepository", "name": source},
            "path": f"./{path}",
            "prune": True,
            "wait": False,
            "targetNamespace": target,
        },
    }


def collection(kind: str, namespace: str) -> str:
    """The REST path of GitRepositories or Kustomizations in `namespace`."""
    if kind == "GitRepository":
        return f"/apis/{SOURCE_API}/namespaces/{namespace}/gitrepositories"
    if kind == "Kustomization":
        return f"/apis/{KUSTOMIZE_API}/namespaces/{namespace}/kustomizations"
    raise ValueError(f"not a Flux kind of the bench: {kind!r}")


# ---------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class State:
    """What a GitRepository's or Kustomization's status says, as the bench judges it."""

    ready: bool | None  # the Ready condition: True, False, or None (absent / Unknown)
    reason: str = ""
    message: str = ""
    revision: str = ""  # Kustomization: lastAppliedRevision; GitRepository: artifact.revision
    handled: str = ""  # lastHandledReconcileAt: the requestedAt value the last reconcile handled
    stale: bool = False  # observedGeneration behind metadata.generation: the status predates the spec

    @property
    def sha(self) -> str:
        """The commit of `revision` ("main@sha1:<sha>" since Flux 2.1; a bare sha or "main/<sha>" before)."""
        return self.revision.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def state(obj: Manifest) -> State:
    st = obj.get("status") or {}
    ready: dict[str, Any] = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
    value = {"True": True, "False": False}.get(str(ready.get("status")))
    revision = st.get("lastAppliedRevision") or (st.get("artifact") or {}).get("revision") or ""
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    observed = int(st.get("observedGeneration") or 0)
    return State(
        value,
        str(ready.get("reason") or ""),
        str(ready.get("message") or ""),
        str(revision),
        str(st.get("lastHandledReconcileAt") or ""),
        observed < generation,
    )


def ready_at(sha: str) -> Callable[[Manifest], bool]:
    """Ready, for the current spec, with `sha` applied (or fetched, for a GitRepository)."""

    def check(obj: Manifest) -> bool:
        s = state(obj)
        return s.ready is True and not s.stale and s.sha == sha

    return check


def applied(sha: str) -> Callable[[Manifest], bool]:
    """`sha` applied by the last successful reconcile (lastAppliedRevision, which stays while a later
    reconcile runs: Ready turns Unknown meanwhile, so a fleet on a short interval is never all Ready)."""
    return lambda obj: state(obj).sha == sha and not state(obj).stale


def handled(value: str, sha: str = "") -> Callable[[Manifest], bool]:
    """The reconcile asked for with requestedAt `value` finished (Ready again; at `sha` if given)."""

    def check(obj: Manifest) -> bool:
        s = state(obj)
        return s.handled == value and s.ready is True and (not sha or s.sha == sha)

    return check


# ---------------------------------------------------------------------------------- processes


def install_crds(kubeconfig: str, flux: build.Flux) -> int:
    """Apply Flux's CRDs (server-side) and wait until they are established; how many there were."""
    files = build.crds(flux)
    base = [kubectl.binary(), "--kubeconfig", kubeconfig]
    argv = [*base, "apply", "--server-side", "--force-conflicts", "--field-manager", "bench-flux"]
    for path in files:
        argv += ["-f", str(path)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"installing Flux's CRDs failed: {result.stderr[-800:]}")
    names = [line.split(" ", 1)[0] for line in result.stdout.splitlines() if line.strip()]
    wait = [*base, "wait", "--for", "condition=established", "--timeout", "60s", *names]
    done = subprocess.run(wait, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Flux's CRDs not established: {done.stderr[-800:]}")
    return len(files)


@dataclass
class Process:
    name: str
    argv: list[str]
    health_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    sampler: processes.PeakRss | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} not started"
        return self.proc.pid

    def cpu(self) -> float:
        """Seconds of CPU (user + system) of the process so far."""
        return processes.cpu_times(self.pid).own

    def rss(self) -> int:
        return processes.rss(self.pid)

    @property
    def peak_rss(self) -> int:
        """The highest resident memory the sampler saw since the controllers were ready."""
        return self.sampler.peak if self.sampler is not None else 0


@dataclass
class Controllers:
    """source-controller and kustomize-controller of `flux`, run against `kubeconfig`."""

    flux: build.Flux
    kubeconfig: str
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def __enter__(self) -> Controllers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        (self.workdir / "storage").mkdir(parents=True, exist_ok=True)  # source-controller wants it there
        storage = f"127.0.0.1:{free_port()}"
        common = ["--log-level=info", "--log-encoding=json", "--enable-leader-election=false", "--events-addr="]
        source = [
            str(self.flux.source_controller), *common, f"--storage-path={self.workdir / 'storage'}",
            f"--storage-addr={storage}", f"--storage-adv-addr={storage}",
        ]  # fmt: skip
        for name, argv in (
            ("source-controller", source),
            ("kustomize-controller", [str(self.flux.kustomize_controller), *common]),
        ):
            health = free_port()
            argv = [*argv, f"--health-addr=127.0.0.1:{health}", f"--metrics-addr=127.0.0.1:{free_port()}"]
            self.processes.append(Process(name, argv, health, self.workdir / f"{name}.log"))
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "RUNTIME_NAMESPACE": "flux-system"}
        for process in self.processes:
            with process.log.open("ab") as out:
                process.proc = subprocess.Popen(
                    process.argv,
                    env=env,
                    cwd=self.workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        try:
            for process in self.processes:
                self._wait_ready(process, time.monotonic() + timeout)
        except BaseException:  # __exit__ will not run: stop the one that did start
            self.stop()
            raise
        for process in self.processes:
            process.sampler = processes.PeakRss(process.pid, f"flux {process.name}").start()

    def _wait_ready(self, process: Process, deadline: float) -> None:
        assert process.proc is not None
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.proc.returncode}; see {process.log}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"http://127.0.0.1:{process.health_port}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{process.name} not ready; see {process.log}")

    def stop(self) -> None:
        for process in self.processes:
            if process.sampler is not None:
                process.sampler.stop()
            if process.proc is not None:
                processes.terminate(process.proc)

    def cpu(self) -> float:
        """CPU seconds of both controllers together."""
        return sum(p.cpu() for p in self.processes)

    def rss(self) -> int:
        """Resident memory of both controllers together, in bytes."""
        return sum(p.rss() for p in self.processes)

    def peak_rss(self) -> int:
        return sum(p.peak_rss for p in self.processes)
