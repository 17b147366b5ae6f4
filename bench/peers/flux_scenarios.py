"""Flux's column of the bench table: the scenarios Flux can do comparably, measured after gitward's.

Called by `bench.__main__` once the gitward families ran (so the two never share the CPU):
`add_to(env, only, rows)` builds Flux if needed, installs its CRDs, runs source-controller and
kustomize-controller (`bench.peers.flux`) and fills `row.peers["flux"]` (a note and `data["flux"]`
too) of the rows it measured. A failure never ends the run: the rows keep gitward's figures and get
a note saying what failed.

1 cold sync: a GitRepository and a Kustomization of the same 1,000 ConfigMaps created, timed to
  the Kustomization Ready with that commit applied (lastAppliedRevision).
2 no-op re-check: `flux reconcile kustomization --with-source` by hand: requestedAt on the
  GitRepository, once it handled it, on the Kustomization, timed to its lastHandledReconcileAt;
  ConfigMap writes counted by the API server.
3 one change among 1,000: commit, the same re-check, timed to the watch event of the changed object.
5 drift: Flux has no watch on what it applied; it repairs on the Kustomization's interval (15 s
  here): timed from the edit to the repair, which is about half that interval on average.
6 a fleet of 1,000 Kustomizations (one GitRepository, one path each), timed to all applied (lastAppliedRevision).
7 that fleet idle with the same interval as gitward's: CPU and RSS of the two processes from /proc.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.apiserver import ApiServer
from bench.controller import megabytes
from bench.environment import Environment, say
from bench.flux import build
from bench.peers import flux
from bench.peers.flux import Controllers, collection
from bench.report import Row, median, seconds
from bench.scenarios.common import data_is, idle_window, time_fleet
from bench.watching import Watch
from bench.workloads import GitRepo, configmap, configmap_files, dump, fleet_files

NAMESPACE = "bench-flux"
SCENARIOS = frozenset({1, 2, 3, 5, 6, 7})
DRIFT_INTERVAL = "15s"
PEER = "flux"


@dataclass
class Result:
    cell: str
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    env: Environment
    controllers: Controllers
    sources: Watch
    kustomizations: Watch
    destinations: list[str] = field(default_factory=list)
    results: dict[int, Result] = field(default_factory=dict)

    @property
    def kube(self) -> ApiServer:
        return self.env.kube

    def namespace(self, name: str) -> str:
        self.kube.create_namespace(name)
        self.destinations.append(name)
        return name

    def create(self, manifest: flux.Manifest) -> None:
        meta = manifest["metadata"]
        self.kube.create(collection(manifest["kind"], meta["namespace"]), manifest)

    def reconcile(self, kind: str, name: str, value: str) -> None:
        path = f"{collection(kind, NAMESPACE)}/{name}"
        self.kube.merge_patch(path, {"metadata": {"annotations": {flux.REQUESTED_AT: value}}})

    def reconcile_with_source(self, name: str, sha: str, timeout: float = 120) -> float:
        """What `flux reconcile kustomization NAME --with-source` does; seconds until the
        Kustomization handled the request (the GitRepository first)."""
        value = f"bench-{time.time_ns()}"
        source = self.sources.expect(name, flux.handled(value, sha))
        applied = self.kustomizations.expect(name, flux.handled(value, sha))
        started = time.monotonic()
        self.reconcile("GitRepository", name, value)
        self.sources.arrival(source, timeout)
        self.reconcile("Kustomization", name, value)
        return self.kustomizations.arrival(applied, timeout) - started


def add_to(env: Environment, only: set[int], rows: list[Row]) -> None:
    """Measure Flux for the chosen scenarios it can do and put its figures into `rows`."""
    chosen = only & SCENARIOS
    if not chosen:
        return
    try:
        results = measure(env, chosen)
    except Exception as exc:  # Flux could not be built or started: gitward's rows stand, with a note
        say(f"Flux: {type(exc).__name__}: {exc}")
        results = {n: Result("error", f"Flux not measured: {type(exc).__name__}: {exc}") for n in chosen}
    attach(rows, results)


def attach(rows: list[Row], results: dict[int, Result]) -> None:
    """Put each result into the row of its scenario (the cell, a note, the raw figures)."""
    for row in rows:
        result = results.get(row.number)
        if result is None:
            continue
        row.peers[PEER] = result.cell
        if result.note:
            row.notes.append(f"flux: {result.note}")
        if result.data:
            row.data[PEER] = result.data


def measure(env: Environment, chosen: set[int]) -> dict[int, Result]:
    binaries = build.ensure_built()
    say(f"Flux {binaries.version}: installing its CRDs")
    flux.install_crds(env.kubeconfig, binaries)
    env.kube.create_namespace(NAMESPACE)
    controllers = Controllers(binaries, env.kubeconfig, env.workdir("flux"))
    destinations: list[str] = []
    try:
        with (
            controllers,
            Watch(env.kube, collection("GitRepository", NAMESPACE)) as sources,
            Watch(env.kube, collection("Kustomization", NAMESPACE)) as kustomizations,
        ):
            run = Run(env, controllers, sources, kustomizations, destinations)
            families: list[tuple[set[int], Callable[[Run, set[int]], None]]] = [
                ({1, 2, 3}, single),
                ({5}, drift),
                ({6, 7}, fleet),
            ]
            for numbers, family in families:
                if numbers & chosen:
                    _guarded(run, numbers & chosen, family)
            return run.results
    finally:
        _clean_up(env, destinations)


def _guarded(run: Run, numbers: set[int], family: Callable[[Run, set[int]], None]) -> None:
    try:
        family(run, numbers)
    except Exception as exc:  # one family failing leaves the others' figures
        say(f"Flux scenarios {sorted(numbers)} failed: {type(exc).__name__}: {exc}")
        for number in numbers - set(run.results):
            run.results[number] = Result("error", f"{type(exc).__name__}: {exc}")


def _clean_up(env: Environment, destinations: list[str]) -> None:
    """The controllers are stopped: drop the finalizers, then delete the namespaces."""
    say(f"Flux: cleaning up {NAMESPACE} and {len(destinations)} namespace(s)")
    for kind in ("Kustomization", "GitRepository"):
        path = collection(kind, NAMESPACE)
        for obj in env.kube.get(path).get("items") or []:
            if obj["metadata"].get("finalizers"):
                env.kube.merge_patch(f"{path}/{obj['metadata']['name']}", {"metadata": {"finalizers": None}})
    if not env.kube.delete_namespaces([NAMESPACE, *destinations]):
        say("warning: Flux's namespaces still terminating after 5 minutes")


# ---------------------------------------------------------------------------------- 1, 2, 3


def single(run: Run, numbers: set[int]) -> None:
    env = run.env
    count = 200 if env.quick else 1000
    reps = 1 if env.quick else 3
    repo = env.repo("flux-single")
    files, _ = configmap_files("configmaps", [f"cm-{i:04d}" for i in range(count)])
    repo.commit(files, f"{count} ConfigMaps")
    times: list[float] = []
    name, destination = "", ""
    for rep in range(reps if 1 in numbers else 1):
        name, destination = f"single-{rep}", run.namespace(f"flux-s1-{rep}")
        say(f"Flux scenario 1, round {rep + 1}: GitRepository + Kustomization of {count} ConfigMaps")
        ready = run.kustomizations.expect(name, flux.ready_at(repo.sha))
        started = time.monotonic()
        run.create(flux.git_repository(name, NAMESPACE, repo.url))
        run.create(flux.kustomization(name, NAMESPACE, name, "configmaps", destination))
        times.append(run.kustomizations.arrival(ready, timeout=600) - started)
    if 1 in numbers:
        run.results[1] = Result(
            seconds(median(times)),
            f"median of {len(times)} cold syncs, from creating the GitRepository and Kustomization to Ready "
            "with that commit applied",
            {"flux_s": times},
        )
    if 2 in numbers:
        run.results[2] = _no_op(run, name, repo.sha)
    if 3 in numbers:
        run.results[3] = _one_change(run, repo, name, destination, count)


def _no_op(run: Run, name: str, sha: str) -> Result:
    runs = 3 if run.env.quick else 10
    before = run.kube.counts("configmaps")
    times = [run.reconcile_with_source(name, sha) for _ in range(runs)]
    time.sleep(1.0)
    counts = run.kube.counts("configmaps") - before
    return Result(
        f"{seconds(median(times))}, {counts.writes} writes",
        f"median of {runs} `reconcile --with-source` (requestedAt on the GitRepository, then on the "
        f"Kustomization, → lastHandledReconcileAt); ConfigMap requests: {counts.brief()}",
        {"flux_s": times, "configmap_requests": counts.__dict__},
    )


def _one_change(run: Run, repo: GitRepo, name: str, destination: str, count: int) -> Result:
    runs = 3 if run.env.quick else 10
    times: list[float] = []
    writes: list[int] = []
    with Watch(run.kube, f"/api/v1/namespaces/{destination}/configmaps") as objects:
        for i in range(runs):
            target = f"cm-{(i * 97 + 13) % count:04d}"
            changed = configmap(target, f"flux-v{i + 2}")
            sha = repo.commit({f"configmaps/{target}.yaml": dump(changed)}, f"change {target}")
            before = run.kube.counts("configmaps")
            live = objects.expect(target, data_is("key", changed["data"]["key"]))
            started = time.monotonic()
            run.reconcile_with_source(name, sha)
            times.append(objects.arrival(live, timeout=120) - started)
            time.sleep(0.5)
            writes.append((run.kube.counts("configmaps") - before).writes)
    return Result(
        f"{seconds(median(times))}, {max(writes)} write(s)",
        f"median of {runs} commits (push, `reconcile --with-source` → change live); ConfigMap writes per "
        f"change: {writes}",
        {"flux_s": times, "writes": writes},
    )


# ---------------------------------------------------------------------------------- 5


def drift(run: Run, numbers: set[int]) -> None:
    env = run.env
    repo = env.repo("flux-drift")
    files, objs = configmap_files("drift", [f"drift-{i:02d}" for i in range(10)])
    repo.commit(files, "10 ConfigMaps")
    destination = run.namespace("flux-s5")
    ready = run.kustomizations.expect("drift", flux.ready_at(repo.sha))
    run.create(flux.git_repository("drift", NAMESPACE, repo.url))
    run.create(flux.kustomization("drift", NAMESPACE, "drift", "drift", destination, interval=DRIFT_INTERVAL))
    run.kustomizations.arrival(ready, timeout=120)
    edits = 3 if env.quick else 8
    say(f"Flux scenario 5: {edits} out-of-band edits (Flux repairs on its {DRIFT_INTERVAL} interval)")
    times: list[float] = []
    with Watch(run.kube, f"/api/v1/namespaces/{destination}/configmaps") as objects:
        for i in range(edits):
            target = objs[i % len(objs)]["metadata"]["name"]
            wanted = objects.objects[target]["data"]["key"]
            started = time.monotonic()
            edited = run.kube.merge_patch(
                f"/api/v1/namespaces/{destination}/configmaps/{target}",
                {"data": {"key": f"edited-{i}"}},
                field_manager="bench-intruder",
            )
            reverted = objects.expect(target, data_is("key", wanted, int(edited["metadata"]["resourceVersion"])))
            times.append(objects.arrival(reverted, timeout=120) - started)
            time.sleep((i * 3.7) % 5)  # edits land at different points of the interval
    run.results[5] = Result(
        f"{seconds(median(times))} (interval {DRIFT_INTERVAL})",
        f"Flux does not watch what it applied: it repairs drift only when the Kustomization's interval "
        f"comes round (set to {DRIFT_INTERVAL} here; 10m is usual, so a repair would take up to 10 min); "
        f"median of {edits} edits, max {seconds(max(times))}",
        {"flux_s": times, "interval": DRIFT_INTERVAL},
    )


# ---------------------------------------------------------------------------------- 6, 7


def fleet(run: Run, numbers: set[int]) -> None:
    env = run.env
    count = 100 if env.quick else 1000
    interval, window = ("30s", 60.0) if env.quick else ("3m", 300.0)
    repo = env.repo("flux-fleet")
    repo.commit(fleet_files(count), f"{count} applications")
    destination = run.namespace("flux-fleet")
    names = {f"app-{i:04d}" for i in range(count)}
    env.git.reset()
    say(f"Flux scenario 6: a GitRepository and {count} Kustomizations")

    def create() -> None:
        run.create(flux.git_repository("fleet", NAMESPACE, repo.url, interval=interval))
        for name in sorted(names):
            run.create(flux.kustomization(name, NAMESPACE, "fleet", f"apps/{name}", destination, interval=interval))

    times = time_fleet(run.kustomizations, flux.applied(repo.sha), names, create, timeout=900)
    created, done = times.created, times.done
    fetches = env.git.fetches("flux-fleet.git")
    if 6 in numbers:
        run.results[6] = Result(
            f"{seconds(done)}; {fetches} fetch(es)",
            f"one GitRepository, {count} Kustomizations (one path each); creating them took {seconds(created)}; "
            f"peak RSS of the two controllers {megabytes(run.controllers.peak_rss())}",
            {"flux_s": done, "create_s": created, "fetches": fetches, "peak_rss": run.controllers.peak_rss()},
        )
    if 7 in numbers:
        run.results[7] = _idle(run, count, interval, window)


def _idle(run: Run, count: int, interval: str, window: float) -> Result:
    say(f"Flux scenario 7: the fleet idle for {window:.0f} s (interval {interval})")
    controllers = run.controllers
    cpu_before, rss_before = controllers.cpu(), controllers.rss()
    elapsed, peak = idle_window(controllers.rss, rss_before, window)
    cpu = controllers.cpu() - cpu_before
    share = cpu / elapsed
    return Result(
        f"CPU {share:.1%}; RSS {megabytes(peak)}",
        f"source-controller + kustomize-controller, {count} Kustomizations (interval {interval}): CPU "
        f"{cpu:.1f} s over {elapsed:.0f} s; RSS at start {megabytes(rss_before)}, peak {megabytes(peak)}",
        {"cpu_share": share, "cpu_s": cpu, "window_s": elapsed, "rss_peak": peak, "rss_start": rss_before},
    )
