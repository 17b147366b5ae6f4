"""Scenarios 4 and 5: how fast Git and drift reach the cluster when nothing polls.

4. push → live: a commit to a 10-object Application (interval 10m, so only the event counts),
   announced by a signed GitHub push webhook (`POST /api/v1/webhooks/git`, X-Hub-Signature-256);
   if this gitward has no webhook endpoint yet, by the `gitward.dev/refresh` annotation instead,
   and the row says so. Timed from the moment the push completed to the watch event of the
   changed object.
5. out-of-band edit → reverted: a merge patch by another field manager on a managed ConfigMap
   (selfHeal, interval 10m), timed from sending the edit to the watch event of the reverted value.
   Edits go round-robin over 5 Applications, 3 s apart, each to a different object: the fight guard
   counts corrections per object (an object changed back repeatedly by the same other writer is a
   fight and is backed off from; edits of different objects never are), so no edit here is held.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from bench.controller import Gitward
from bench.environment import Environment, apps_path, say
from bench.report import Row, failed_row, median, seconds
from bench.scenarios.common import data_is, synced_at
from bench.watching import Watch
from bench.workloads import GitRepo, application, configmap, configmap_files, dump

APP_NAMESPACE = "bench-latency"
DESTINATION = "s45-dest"
OBJECTS = 10
HEAL_APPS = 5
TARGETS = {4: "median ≤ 1 s", 5: "median ≤ 0.5 s"}


def run(env: Environment, only: set[int]) -> list[Row]:
    rows: list[Row] = []
    env.kube.create_namespace(DESTINATION)
    with env.controller(APP_NAMESPACE) as gitward, Watch(env.kube, apps_path(APP_NAMESPACE)) as apps:
        objects = Watch(env.kube, f"/api/v1/namespaces/{DESTINATION}/configmaps")
        with objects:
            if 4 in only:
                try:
                    with gitward.profiling("scenario-4"):
                        rows.append(push_to_live(env, gitward, apps, objects))
                except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
                    rows.append(failed_row(4, "push → live", TARGETS[4], exc))
            if 5 in only:
                try:
                    with gitward.profiling("scenario-5"):
                        rows.append(edit_to_reverted(env, apps, objects))
                except Exception as exc:  # a failed scenario is a row of the table, not the end of the run
                    rows.append(failed_row(5, "out-of-band edit → reverted", TARGETS[5], exc))
    env.clean_up(APP_NAMESPACE, [DESTINATION])
    return rows


def _deploy(env: Environment, apps: Watch, repo: GitRepo, names: list[str]) -> dict[str, list[str]]:
    """One commit with `OBJECTS` ConfigMaps under `<name>/` per Application, then the Applications;
    wait until all are Synced. Returns each Application's object names."""
    objects = {name: [f"{name}-{i:02d}" for i in range(OBJECTS)] for name in names}
    files: dict[str, str | None] = {}
    for name, members in objects.items():
        files.update(configmap_files(name, members)[0])
    sha = repo.commit(files, f"{len(names)} Applications of {OBJECTS} ConfigMaps")
    synced = apps.track(synced_at(sha), set(names))
    for name in names:
        env.kube.create(apps_path(APP_NAMESPACE), application(name, APP_NAMESPACE, repo.url, name, DESTINATION))
    apps.wait(synced, len(names), timeout=120)
    apps.untrack(synced)
    return objects


# ---------------------------------------------------------------------------------- scenario 4


def push_to_live(env: Environment, gitward: Gitward, apps: Watch, objects: Watch) -> Row:
    repo = env.repo("latency")
    _deploy(env, apps, repo, ["push"])
    pushes = 3 if env.quick else 10
    say(f"scenario 4: {pushes} pushes")
    via_webhook: bool | None = None
    times: list[float] = []
    for i in range(pushes):
        changed = configmap("push-00", f"push-{i}")
        sha = repo.commit({"push/push-00.yaml": dump(changed)}, f"push {i}")
        live = objects.expect("push-00", data_is("key", changed["data"]["key"]))
        synced = apps.expect("push", synced_at(sha))
        pushed = time.monotonic()
        if via_webhook is not False:
            via_webhook = _webhook(env, gitward, repo, sha)
        if not via_webhook:
            _refresh_annotation(env, "push", f"bench-4-{i}-{time.time_ns()}")
        times.append(objects.arrival(live, timeout=120) - pushed)
        apps.arrival(synced, timeout=120)
        time.sleep(0.5)
    how = "signed GitHub push webhook" if via_webhook else "REFRESH ANNOTATION (no webhook endpoint in this gitward)"
    gw = median(times)
    return Row(
        4,
        "push → live, 10-object app" + ("" if via_webhook else " [via refresh annotation, not webhook]"),
        seconds(gw),
        "—",
        "—",
        TARGETS[4],
        gw <= 1.0,
        [f"median of {pushes} pushes, announced by {how}; from push done to the change seen by a watch"],
        {"gitward_s": times, "via_webhook": bool(via_webhook)},
    )


def _webhook(env: Environment, gitward: Gitward, repo: GitRepo, sha: str) -> bool:
    """Send a signed GitHub push event; False when this gitward has no webhook endpoint."""
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": sha,
        "repository": {"name": "latency", "full_name": "bench/latency", "clone_url": repo.url, "html_url": repo.url,
                       "default_branch": "main"},
        "pusher": {"name": "bench"},
    }  # fmt: skip
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(env.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": signature,
               "X-GitHub-Delivery": str(uuid.uuid4())}  # fmt: skip
    status, text = gitward.http("/api/v1/webhooks/git", body, headers)
    if status in (404, 405):
        return False
    if status >= 300:
        raise RuntimeError(f"the webhook was refused: HTTP {status} {text[:200]}")
    return True


def _refresh_annotation(env: Environment, name: str, value: str) -> None:
    path = f"{apps_path(APP_NAMESPACE)}/{name}"
    env.kube.merge_patch(path, {"metadata": {"annotations": {"gitward.dev/refresh": value}}})


# ---------------------------------------------------------------------------------- scenario 5


def edit_to_reverted(env: Environment, apps: Watch, objects: Watch) -> Row:
    repo = env.repo("heal")
    count = 2 if env.quick else HEAL_APPS
    names = list(_deploy(env, apps, repo, [f"heal-{j}" for j in range(count)]).values())
    edits = 4 if env.quick else 10
    say(f"scenario 5: {edits} out-of-band edits")
    times: list[float] = []
    for i in range(edits):
        target = names[i % count][i % OBJECTS]
        wanted = objects.objects[target]["data"]["key"]
        started = time.monotonic()
        edited = env.kube.merge_patch(
            f"/api/v1/namespaces/{DESTINATION}/configmaps/{target}",
            {"data": {"key": f"edited-{i}"}},
            field_manager="bench-intruder",
        )
        reverted = objects.expect(target, data_is("key", wanted, int(edited["metadata"]["resourceVersion"])))
        times.append(objects.arrival(reverted, timeout=60) - started)
        time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
    gw = median(times)
    return Row(
        5,
        "out-of-band edit → reverted",
        seconds(gw),
        "—",
        "—",
        TARGETS[5],
        gw <= 0.5,
        [f"median of {edits} edits round-robin over {count} Applications (selfHeal, interval 10m)"],
        {"gitward_s": times},
    )
