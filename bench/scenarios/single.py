"""Scenarios 1-3: one Application with 1,000 ConfigMaps.

1. cold sync, from creating the Application to Synced, against the floors (bare server-side-apply
   PATCHes: from 8 connections with each object dry-run first — the validation gitward does, the
   target's baseline —, from 8 connections without, and one after the other on one connection) and
   `kubectl apply --server-side` of one file holding the same objects, each into a fresh namespace,
   interleaved, repeated;
2. re-check with nothing changed (refresh annotation → status written with reconciledAt), against a
   no-op `kubectl apply --server-side`; requests for ConfigMaps (writes, dry-runs, GETs) counted by
   the API server: none is the target;
3. one ConfigMap changed in Git, refresh → the change is live (watched), against the same no-op
   kubectl apply; exactly one write per change expected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import apiserver, kubectl
from bench.apiserver import Manifest
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, median, seconds
from bench.scenarios.common import data_is, handled_refresh, ratio, synced_at
from bench.watching import Watch
from bench.workloads import GitRepo, application, configmap, configmap_files, dump

APP_NAMESPACE = "bench-single"
PATH = "configmaps"
CONNECTIONS = 8  # the best of 4, 8 and 16 on this machine (docs/performance.md, "The floors")
TARGETS = {
    1: f"≤ 1.3× dry-run+apply floor ×{CONNECTIONS}",
    2: "0 requests per object, ≤ 0.1× kubectl no-op",
    3: "exactly 1 write, ≤ 0.2× kubectl no-op",
}
NAMES = {
    1: "cold sync, 1 app × {n} ConfigMaps",
    2: "no-op re-check of {n} objects",
    3: "1 change among {n} objects",
}


@dataclass
class Family:
    env: Environment
    count: int
    reps: int
    repo: GitRepo
    objs: list[Manifest]
    manifests: Path  # a directory with one file holding the same objects as Git, for kubectl
    destinations: list[str] = field(default_factory=list)
    kubectl_namespace: str = ""
    floor_namespace: str = ""
    app: str = ""  # the Application scenarios 2 and 3 re-check
    app_destination: str = ""
    kubectl_no_op: float | None = None

    def fresh_namespace(self, prefix: str) -> str:
        name = f"{prefix}-{len(self.destinations)}"
        self.env.kube.create_namespace(name)
        self.destinations.append(name)
        return name


def run(env: Environment, only: set[int]) -> list[Row]:
    count = 200 if env.quick else 1000
    repo = env.repo("single")
    files, objs = configmap_files(PATH, [f"cm-{i:04d}" for i in range(count)])
    repo.commit(files, f"{count} ConfigMaps")
    manifests = env.workdir("single-manifests")  # for kubectl: the same objects in one file (issue 11)
    (manifests / "all.yaml").write_text("---\n".join(text or "" for text in files.values()))
    family = Family(env, count, 1 if env.quick else 3, repo, objs, manifests)
    rows: list[Row] = []
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        if 1 not in only:  # scenarios 2 and 3 re-check an Application that a cold sync created
            say("setting up: one cold sync")
            _gitward_cold_sync(family, apps, 0)
        for number, step in ((1, cold_sync), (2, no_op_recheck), (3, one_change)):
            if number not in only:
                continue
            try:
                with gitward.profiling(f"scenario-{number}"):
                    rows.append(step(family, apps))
            except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
                rows.append(failed_row(number, NAMES[number].format(n=f"{count:,}"), TARGETS[number], exc))
    env.clean_up(APP_NAMESPACE, family.destinations)
    return rows


# ---------------------------------------------------------------------------------- scenario 1


def cold_sync(family: Family, apps: Watch) -> Row:
    env, kube = family.env, family.env.kube
    floors, parallels, validated, kubectls, gitwards = [], [], [], [], []
    objs, n = family.objs, CONNECTIONS
    for rep in range(family.reps):
        say(f"scenario 1, round {rep + 1}/{family.reps}: floors, kubectl, gitward")
        validated.append(
            apiserver.parallel_floor(kube, objs, family.fresh_namespace("s1-dry"), connections=n, dry_run=True)
        )
        parallels.append(apiserver.parallel_floor(kube, objs, family.fresh_namespace("s1-par"), connections=n))
        family.floor_namespace = family.fresh_namespace("s1-floor")
        floors.append(apiserver.floor(kube, objs, family.floor_namespace))
        family.kubectl_namespace = family.fresh_namespace("s1-kubectl")
        kubectls.append(kubectl.apply_server_side(env.kubeconfig, family.manifests, family.kubectl_namespace))
        gitwards.append(_gitward_cold_sync(family, apps, rep))
    gw, dry, par = median(gitwards), median(validated), median(parallels)
    fl, kc = median(floors), median(kubectls)
    return Row(
        1,
        NAMES[1].format(n=f"{family.count:,}"),
        seconds(gw),
        f"floors: dry-run+apply ×{n} {seconds(dry)}, apply ×{n} {seconds(par)}, sequential {seconds(fl)}; "
        f"kubectl {seconds(kc)}",
        f"{ratio(gw, dry):.2f}× dry-run+apply ×{n} ({ratio(gw, par):.2f}× apply ×{n}, "
        f"{ratio(gw, fl):.2f}× seq.); {ratio(gw, kc):.2f}× kubectl",
        TARGETS[1],
        ratio(gw, dry) <= 1.3,
        [
            f"median of {family.reps} interleaved rounds; gitward from creating the Application to Synced; "
            f"floors ×{n}: {n} keep-alive connections at once (dry-run+apply: each object dry-run, then applied)"
        ],
        {
            "gitward_s": gitwards,
            "floor_dry_run_apply_s": validated,
            "floor_parallel_s": parallels,
            "floor_s": floors,
            "kubectl_s": kubectls,
            "connections": n,
        },
    )


def _gitward_cold_sync(family: Family, apps: Watch, rep: int) -> float:
    destination = family.fresh_namespace("s1-gitward")
    name = f"single-{rep}"
    manifest = application(name, APP_NAMESPACE, family.repo.url, PATH, destination, interval="10m")
    expected = apps.expect(name, synced_at(family.repo.sha))
    started = time.monotonic()
    family.env.kube.create(apps_path(APP_NAMESPACE), manifest)
    done = apps.arrival(expected, timeout=600)
    family.app, family.app_destination = name, destination
    return done - started


# ---------------------------------------------------------------------------------- scenario 2


def _kubectl_no_op(family: Family) -> list[float]:
    """Seconds of `kubectl apply --server-side` re-applying the unchanged objects."""
    env = family.env
    if not family.kubectl_namespace:
        family.kubectl_namespace = family.fresh_namespace("s1-kubectl")
        kubectl.apply_server_side(env.kubeconfig, family.manifests, family.kubectl_namespace)
    runs = 1 if env.quick else 3
    times = [kubectl.apply_server_side(env.kubeconfig, family.manifests, family.kubectl_namespace) for _ in range(runs)]
    family.kubectl_no_op = median(times)
    return times


def _refresh(family: Family, apps: Watch, value: str) -> float:
    """Set the refresh annotation; seconds until the status says that refresh was handled."""
    expected = apps.expect(family.app, handled_refresh(value))
    started = time.monotonic()
    path = f"{apps_path(APP_NAMESPACE)}/{family.app}"
    family.env.kube.merge_patch(path, {"metadata": {"annotations": {"gitward.dev/refresh": value}}})
    return apps.arrival(expected, timeout=120) - started


def no_op_recheck(family: Family, apps: Watch) -> Row:
    kube = family.env.kube
    say("scenario 2: no-op kubectl apply, then gitward refreshes")
    kubectl_runs = _kubectl_no_op(family)
    floor_no_op = apiserver.floor(kube, family.objs, family.floor_namespace) if family.floor_namespace else 0.0
    runs = 3 if family.env.quick else 10
    before = kube.counts("configmaps")
    times = [_refresh(family, apps, f"bench-2-{i}-{time.time_ns()}") for i in range(runs)]
    time.sleep(1.0)  # anything the re-checks wrote late would show up here
    counts = kube.counts("configmaps") - before
    gw, kc = median(times), median(kubectl_runs)
    per_object = (counts.writes + counts.dry_runs + counts.reads) / (runs * family.count)
    return Row(
        2,
        NAMES[2].format(n=f"{family.count:,}"),
        f"{seconds(gw)}, {per_object:.2f} requests/object",
        f"kubectl no-op {seconds(kc)}" + (f"; floor no-op {seconds(floor_no_op)}" if floor_no_op else ""),
        f"{ratio(gw, kc):.2f}× kubectl",
        TARGETS[2],
        per_object == 0 and ratio(gw, kc) <= 0.1,
        [f"median of {runs} refreshes (annotation → status written); ConfigMap requests in all: {counts.brief()}"],
        {
            "gitward_s": times,
            "kubectl_no_op_s": kubectl_runs,
            "floor_no_op_s": floor_no_op,
            "configmap_requests": counts.__dict__,
        },
    )


# ---------------------------------------------------------------------------------- scenario 3


def one_change(family: Family, apps: Watch) -> Row:
    kube = family.env.kube
    if family.kubectl_no_op is None:
        _kubectl_no_op(family)
    kubectl_no_op = family.kubectl_no_op or 0.0
    runs = 3 if family.env.quick else 10
    times: list[float] = []
    writes: list[int] = []
    say(f"scenario 3: {runs} single-object changes")
    with Watch(kube, f"/api/v1/namespaces/{family.app_destination}/configmaps") as objects:
        for i in range(runs):
            index = (i * 97 + 13) % family.count
            latency, counted = _change_one(family, apps, objects, index, f"v{i + 2}")
            times.append(latency)
            writes.append(counted)
    gw = median(times)
    return Row(
        3,
        NAMES[3].format(n=f"{family.count:,}"),
        f"{seconds(gw)}, {max(writes)} write(s)",
        f"kubectl no-op {seconds(kubectl_no_op)}",
        f"{ratio(gw, kubectl_no_op):.2f}× kubectl",
        TARGETS[3],
        all(w == 1 for w in writes) and ratio(gw, kubectl_no_op) <= 0.2,
        [f"median of {runs} commits (push, refresh → change live); ConfigMap writes per change: {writes}"],
        {"gitward_s": times, "writes": writes, "kubectl_no_op_s": kubectl_no_op},
    )


def _change_one(family: Family, apps: Watch, objects: Watch, index: int, version: str) -> tuple[float, int]:
    kube = family.env.kube
    name = f"cm-{index:04d}"
    changed = configmap(name, version)
    sha = family.repo.commit({f"{PATH}/{name}.yaml": dump(changed)}, f"change {name}")
    before = kube.counts("configmaps")
    live = objects.expect(name, data_is("key", changed["data"]["key"]))
    synced = apps.expect(family.app, synced_at(sha))
    value = f"bench-3-{index}-{time.time_ns()}"
    started = time.monotonic()
    path = f"{apps_path(APP_NAMESPACE)}/{family.app}"
    kube.merge_patch(path, {"metadata": {"annotations": {"gitward.dev/refresh": value}}})
    latency = objects.arrival(live, timeout=120) - started
    apps.arrival(synced, timeout=120)
    time.sleep(0.5)
    return latency, (kube.counts("configmaps") - before).writes
