"""Scenario 8: the controller's memory with 10,000 managed objects in 10 Applications.

Ten Applications of 1,000 ConfigMaps each (one path each in one repository, one destination
namespace each) are created together; once all are Synced and the controller has settled, its RSS
is read from /proc, together with the peak (VmHWM) over the whole scenario, which is what is judged.
"""

from __future__ import annotations

import time

from bench.controller import megabytes
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, seconds
from bench.scenarios.common import synced_at
from bench.watching import Watch
from bench.workloads import application, configmap_files

APP_NAMESPACE = "bench-memory"
APPS = 10
TARGET = "RSS ≤ 300 MB"
MB = 2**20


def run(env: Environment, only: set[int]) -> list[Row]:
    per_app = 200 if env.quick else 1000
    name = f"{APPS * per_app:,} objects in {APPS} apps"
    repo = env.repo("memory")
    files: dict[str, str | None] = {}
    for j in range(APPS):
        files.update(configmap_files(f"app-{j}", [f"m{j}-{i:04d}" for i in range(per_app)])[0])
    repo.commit(files, f"{APPS} × {per_app} ConfigMaps")
    destinations = [f"s8-dest-{j}" for j in range(APPS)]
    for namespace in destinations:
        env.kube.create_namespace(namespace)
    rows: list[Row] = []
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        names = {f"app-{j}" for j in range(APPS)}
        synced = apps.track(synced_at(repo.sha), names)
        say(f"scenario 8: {APPS} Applications of {per_app} ConfigMaps")
        started = time.monotonic()
        try:
            with gitward.profiling("scenario-8"):
                for j in range(APPS):
                    manifest = application(f"app-{j}", APP_NAMESPACE, repo.url, f"app-{j}", destinations[j])
                    env.kube.create(apps_path(APP_NAMESPACE), manifest)
                done = apps.wait(synced, APPS, timeout=1200) - started
                time.sleep(10)  # let the trailing re-checks (watch events of its own writes) settle
            rss, peak = gitward.rss(), gitward.peak_rss()
            rows.append(
                Row(
                    8,
                    name,
                    f"RSS {megabytes(rss)} (peak {megabytes(peak)})",
                    "—",
                    "—",
                    TARGET,
                    peak <= 300 * MB,
                    [f"all {APPS} Synced after {seconds(done)}; RSS read 10 s later, peak over the whole scenario"],
                    {"rss": rss, "peak_rss": peak, "sync_s": done},
                )
            )
        except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
            rows.append(failed_row(8, name, TARGET, exc))
    env.clean_up(APP_NAMESPACE, destinations)
    return rows
