"""Scenario 10: one ApplicationSet generating a fleet of 1,000 Applications from a git directory
generator.

From nothing to all Synced and Healthy: one repository with `apps/app-NNNN/` (a ConfigMap, a
Secret and a Role each) and one ApplicationSet whose `git` generator reads `apps/*`; timed from the
set's creation to the watch event of the last generated Application that became Synced and Healthy.
Then the cost of a commit adding one directory: timed from the set's refresh (as a webhook would
ask) to the new Application Synced and Healthy, with the writes to Applications the set made
meanwhile (only the new one should be written). The Git server counts the fetches it served.
"""

from __future__ import annotations

import time

from bench.controller import Gitward, megabytes
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, seconds
from bench.scenarios.common import synced_and_healthy
from bench.watching import Watch
from bench.workloads import GitRepo, configmap, dump, fleet_files
from gitward.core.applications import API_VERSION

APP_NAMESPACE = "bench-appset"
DESTINATION = "appset"
TARGETS = {10: "≤ 60 s to all Synced and Healthy; 1 fetch per revision; 1 write for a new directory"}


def run(env: Environment, only: set[int]) -> list[Row]:
    count = 100 if env.quick else 1000
    repo = env.repo("appset")
    repo.commit(fleet_files(count), f"{count} directories")
    env.kube.create_namespace(DESTINATION)
    rows: list[Row] = []
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        try:
            with gitward.profiling("scenario-10"):
                rows.append(_measure(env, gitward, apps, repo, count))
        except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
            rows.append(failed_row(10, f"ApplicationSet of {count:,} apps from nothing", TARGETS[10], exc))
    _delete_set(env)
    env.clean_up(APP_NAMESPACE, [DESTINATION])
    return rows


def _appset(url: str) -> dict[str, object]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": "fleet", "namespace": APP_NAMESPACE},
        "spec": {
            "generators": [{"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {
                    "source": {"repoURL": url, "targetRevision": "main", "path": "{{path}}"},
                    "destination": {"namespace": DESTINATION},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "interval": "10m"},
                },
            },
            "interval": "10m",
        },
    }


def _measure(env: Environment, gitward: Gitward, apps: Watch, repo: GitRepo, count: int) -> Row:
    names = {f"app-{i:04d}" for i in range(count)}
    ready = apps.track(synced_and_healthy(repo.sha), names)
    env.git.reset()
    say(f"scenario 10: one ApplicationSet generating {count} Applications")
    started = time.monotonic()
    env.kube.create(f"/apis/{API_VERSION}/namespaces/{APP_NAMESPACE}/applicationsets", _appset(repo.url))
    done = apps.wait(ready, count, timeout=900) - started
    fetches = env.git.fetches("appset.git")

    new = f"app-{count:04d}"
    sha = repo.commit({f"apps/{new}/configmap.yaml": dump(configmap(f"fleet-{count:04d}"))}, "one more")
    arrival = apps.expect(new, synced_and_healthy(sha))
    writes_before = env.kube.counts("applications", "gitward.dev")
    refreshed = time.monotonic()
    path = f"/apis/{API_VERSION}/namespaces/{APP_NAMESPACE}/applicationsets/fleet"
    env.kube.merge_patch(path, {"metadata": {"annotations": {"gitward.dev/refresh": f"bench-{sha[:8]}"}}})
    added = apps.arrival(arrival, timeout=300) - refreshed
    writes = env.kube.counts("applications", "gitward.dev") - writes_before
    peak = gitward.peak_rss()
    return Row(
        10,
        f"ApplicationSet → {count:,} apps × 3 objects from nothing",
        f"{seconds(done)}; {fetches} fetch(es)",
        "—",
        "—",
        TARGETS[10],
        done <= 60.0 and fetches == 1,
        [
            f"a commit adding one directory: the new Application Synced and Healthy {seconds(added)} after the "
            f"set's refresh; Application requests meanwhile: {writes.brief()}; controller peak RSS {megabytes(peak)}"
        ],
        {"gitward_s": done, "fetches": fetches, "add_one_s": added, "peak_rss": peak},
    )


def _delete_set(env: Environment) -> None:
    """Delete the set first: the clean-up drops the Applications' finalizers, the set would recreate them."""
    path = f"/apis/{API_VERSION}/namespaces/{APP_NAMESPACE}/applicationsets/fleet"
    try:
        env.kube.http.delete(path)
    except Exception as exc:  # best effort: the namespace goes anyway
        say(f"could not delete the ApplicationSet: {exc}")
