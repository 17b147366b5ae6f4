"""Scenario 9: one Application of 20,000 ConfigMaps (SPEC §2 "Size").

Past ~4,500 objects a status that lists every object no longer fits in etcd (1.5 MiB) and the
Application could never report Synced, as Argo CD users meet it. Here one Application of 20,000
ConfigMaps is created; judged: it syncs, the whole Application object stays under 512 KiB, and a
no-op re-check writes no ConfigMap. Reported beside it: time to Synced, the controller's peak RSS,
and the re-check's time.
"""

from __future__ import annotations

import json
import time

from bench.controller import megabytes
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, seconds
from bench.scenarios.common import handled_refresh, synced_at
from bench.watching import Watch
from bench.workloads import application, configmap_files

APP_NAMESPACE = "bench-large"
DESTINATION = "s9-dest"
TARGET = "Synced; object ≤ 512 KiB; re-check 0 writes"
KIB = 1024


def run(env: Environment, only: set[int]) -> list[Row]:
    count = 2000 if env.quick else 20_000
    name = f"one Application of {count:,} objects"
    repo = env.repo("large")
    files, _ = configmap_files("big", [f"l-{i:05d}" for i in range(count)])
    repo.commit(files, f"{count} ConfigMaps")
    env.kube.create_namespace(DESTINATION)
    rows: list[Row] = []
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        say(f"scenario 9: one Application of {count:,} ConfigMaps")
        synced = apps.track(synced_at(repo.sha), {"big"})
        started = time.monotonic()
        try:
            with gitward.profiling("scenario-9"):
                env.kube.create(
                    apps_path(APP_NAMESPACE), application("big", APP_NAMESPACE, repo.url, "big", DESTINATION)
                )
                done = apps.wait(synced, 1, timeout=900) - started
            size = len(json.dumps(env.kube.get(f"{apps_path(APP_NAMESPACE)}/big")).encode())
            before = env.kube.counts("configmaps")
            value = f"bench-9-{time.time_ns()}"
            expected = apps.expect("big", handled_refresh(value))
            asked = time.monotonic()
            env.kube.merge_patch(
                f"{apps_path(APP_NAMESPACE)}/big", {"metadata": {"annotations": {"gitward.dev/refresh": value}}}
            )
            recheck = apps.arrival(expected, timeout=600) - asked
            time.sleep(1.0)
            writes = (env.kube.counts("configmaps") - before).writes
            peak = gitward.peak_rss()
            rows.append(
                Row(
                    9,
                    name,
                    f"Synced in {seconds(done)}, object {size / KIB:.0f} KiB",
                    f"re-check {seconds(recheck)}, {writes} writes",
                    f"peak RSS {megabytes(peak)}",
                    TARGET,
                    size <= 512 * KIB and writes == 0,
                    ["time from creation to Synced; object size = the Application's JSON as the API server returns it"],
                    {
                        "sync_s": done,
                        "object_bytes": size,
                        "recheck_s": recheck,
                        "recheck_writes": writes,
                        "peak_rss": peak,
                    },
                )
            )
        except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
            rows.append(failed_row(9, name, TARGET, exc))
    env.clean_up(APP_NAMESPACE, [DESTINATION])
    return rows
