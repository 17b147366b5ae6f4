"""Scenarios 6 and 7: a fleet of 1,000 Applications in one repository.

6. from nothing to all Synced and Healthy: one repository with `apps/app-NNNN/` (a ConfigMap, a
   Secret and a Role each), 1,000 Applications created one after the other; timed from the first
   creation to the watch event of the last Application that became Synced and Healthy. The Git
   server counts the fetches it served: one revision, so one fetch is the target.
7. that fleet idle for 5 minutes with interval 3m: CPU time of the `gitward run` process (and of
   the git processes it ran) over the window, divided by the window; RSS sampled every 0.5 s.
"""

from __future__ import annotations

import re

from bench.controller import Gitward, megabytes
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, seconds
from bench.scenarios.common import idle_window, synced_and_healthy, time_fleet
from bench.watching import Watch
from bench.workloads import application, fleet_files

APP_NAMESPACE = "bench-fleet"
DESTINATION = "fleet"
TARGETS = {6: "≤ 60 s; 1 Git fetch per revision", 7: "CPU ≤ 5% of a core; RSS ≤ 300 MB"}
MB = 2**20


def run(env: Environment, only: set[int]) -> list[Row]:
    count = 100 if env.quick else 1000
    interval, window = ("30s", 60.0) if env.quick else ("3m", 300.0)
    repo = env.repo("fleet")
    repo.commit(fleet_files(count), f"{count} applications")
    env.kube.create_namespace(DESTINATION)
    rows: list[Row] = []
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        try:
            with gitward.profiling("scenario-6"):
                row = from_nothing(env, gitward, apps, repo.url, repo.sha, count, interval)
            if 6 in only:
                rows.append(row)
        except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
            rows.append(failed_row(6, f"fleet of {count:,} apps from nothing", TARGETS[6], exc))
            only = only - {7}
        if 7 in only:
            with gitward.profiling("scenario-7"):
                rows.append(idle(env, gitward, count, interval, window))
    env.clean_up(APP_NAMESPACE, [DESTINATION])
    return rows


def from_nothing(env: Environment, gitward: Gitward, apps: Watch, url: str, sha: str, count: int, interval: str) -> Row:
    names = {f"app-{i:04d}" for i in range(count)}
    env.git.reset()
    say(f"scenario 6: creating {count} Applications")

    def create() -> None:
        for name in sorted(names):
            manifest = application(name, APP_NAMESPACE, url, f"apps/{name}", DESTINATION, interval=interval)
            env.kube.create(apps_path(APP_NAMESPACE), manifest)

    times = time_fleet(apps, synced_and_healthy(sha), names, create, timeout=900)
    created, done = times.created, times.done
    fetches, listings = env.git.fetches("fleet.git"), env.git.count(repo="fleet.git", command="ls-refs")
    peak = gitward.peak_rss()
    return Row(
        6,
        f"fleet of {count:,} apps × 3 objects from nothing",
        f"{seconds(done)}; {fetches} fetch(es)",
        "—",
        "—",
        TARGETS[6],
        done <= 60.0 and fetches == 1,
        [
            f"creating the {count} Applications took {seconds(created)} of that; Git served {fetches} fetch(es) "
            f"and {listings} ref listing(s); controller peak RSS {megabytes(peak)}"
        ],
        {"gitward_s": done, "create_s": created, "fetches": fetches, "ls_refs": listings, "peak_rss": peak},
    )


def idle(env: Environment, gitward: Gitward, count: int, interval: str, window: float) -> Row:
    say(f"scenario 7: the fleet idle for {window:.0f} s (interval {interval})")
    reconciles_before = _reconciles(gitward)
    cpu_before, rss_before = gitward.cpu(), gitward.rss()
    elapsed, peak = idle_window(gitward.rss, rss_before, window)
    cpu = gitward.cpu()
    own, children = cpu.own - cpu_before.own, cpu.children - cpu_before.children
    share = (own + children) / elapsed
    reconciles = _reconciles(gitward) - reconciles_before
    return Row(
        7,
        f"fleet of {count:,} apps idle {window / 60:.0f} min (interval {interval})",
        f"CPU {share:.1%}; RSS {megabytes(peak)}",
        "—",
        "—",
        TARGETS[7],
        share <= 0.05 and peak <= 300 * MB,
        [
            f"CPU {own:.1f} s in gitward + {children:.1f} s in its git processes over {elapsed:.0f} s; "
            f"{reconciles} reconciles in the window; RSS at start {megabytes(rss_before)}, peak {megabytes(peak)}"
        ],
        {
            "cpu_share": share,
            "cpu_own_s": own,
            "cpu_children_s": children,
            "window_s": elapsed,
            "rss_peak": peak,
            "rss_start": rss_before,
            "reconciles": reconciles,
        },
    )


_RECONCILE_COUNT = re.compile(r"^gitward_reconcile_duration_seconds_count\{[^}]*\} (\S+)$", re.MULTILINE)


def _reconciles(gitward: Gitward) -> int:
    """Reconciles so far, from the controller's own /metrics."""
    status, text = gitward.http("/metrics")
    return int(sum(float(v) for v in _RECONCILE_COUNT.findall(text))) if status == 200 else -1
