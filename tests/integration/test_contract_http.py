"""SPEC §4 and §10 as a script or an attacker meets them, for what the other API tests leave out:
the Rollout endpoints behind the same rules as the Application ones (401 without or with a bad
token, 403 for a viewer, 415 for any body type but JSON, nothing changed by a refused request),
every signature header a webhook sender may leave out or get wrong, the metric names and labels of
SPEC §4 after a sync of a real `gitward run`, `{revision}` of a sync held to what its source can
resolve, and the diff of an Application whose source fails (409, not a 503 to retry for ever)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import ClusterUnderTest
from tests.support import apps, http_api
from tests.support import rollouts as r
from tests.support.cli import gitward
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient

JSON = {"Content-Type": "application/json"}
CANARY = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}
HOOK = "/api/v1/webhooks/git"


async def test_rollout_endpoints_follow_the_api_rules(kube: KubeClient, namespace: str, crds: None) -> None:
    await kube.create(r.rollout("web", namespace, CANARY))
    base = f"/api/v1/rollouts/{namespace}/web"
    reads = ["/api/v1/rollouts", base]
    writes = [f"{base}/promote", f"{base}/abort", f"{base}/retry"]
    async with http_api.serving(kube, namespace) as api:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            async with api.client(headers=headers) as http:
                for path in reads:
                    assert (await http.get(path)).status_code == 401, (headers, path)
                for path in writes:
                    resp = await http.post(path, headers=JSON, content=b"{}")
                    assert resp.status_code == 401, (headers, path)
                    assert resp.headers["www-authenticate"].startswith("Bearer")
        async with api.client("viewer") as http:
            for path in reads:
                assert (await http.get(path)).status_code == 200, path
            for path in writes:
                assert (await http.post(path, headers=JSON, content=b"{}")).status_code == 403, path
        async with api.client("admin") as http:
            for path in writes:
                for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"):
                    resp = await http.post(path, headers={"Content-Type": content_type}, content=b"{}")
                    assert resp.status_code == 415, (path, content_type)
                    assert resp.json()["detail"].endswith("application/json")
                assert (await http.post(path, content=b"{}")).status_code == 415, path  # no Content-Type
                assert (await http.post(path, headers=JSON, content=b'{"full": tru')).status_code == 400, path
                assert (await http.post(path, headers=JSON, content=b"[1]")).status_code == 422, path
                resp = await http.post(path.replace("/web/", "/nope/"), headers=JSON, content=b"{}")
                assert resp.status_code == 404, path
        annotations = (await kube.get(ro.API_VERSION, "Rollout", "web", namespace))["metadata"].get("annotations")
        assert not {ro.PROMOTE, ro.PROMOTE_FULL, ro.ABORT, ro.RETRY} & set(annotations or {}), "refused: no change"
        async with api.client("admin") as http:
            resp = await http.post(f"{base}/promote", json={"full": True})
            assert resp.status_code == 200 and resp.json()["operation"] == "promote-full", resp.text
    annotations = (await kube.get(ro.API_VERSION, "Rollout", "web", namespace))["metadata"]["annotations"]
    assert annotations[ro.PROMOTE_FULL] == resp.json()["request"] and ro.PROMOTE not in annotations


async def test_every_missing_or_wrong_signature_is_401(kube: KubeClient, namespace: str, crds: None) -> None:
    url = "https://git.example.com/org/config.git"
    await kube.create(apps.application("web", namespace, url, syncPolicy={}))
    github = http_api.encode(http_api.github_push(url, "main"))
    gitlab = http_api.encode(http_api.gitlab_push(url, "main"))
    cloud = http_api.encode(http_api.bitbucket_cloud_push(url, "main"))
    server = http_api.encode(http_api.bitbucket_server_push(url, "main"))

    def without(headers: dict[str, str], name: str) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k != name}

    sha1 = "sha1=" + "0" * 40
    wrong = [
        (github, without(http_api.gitea(github), "X-Gitea-Signature")),  # then it is GitHub's, unsigned
        (github, {**http_api.github(github), "X-Hub-Signature-256": "sha256=" + "0" * 64}),
        (gitlab, without(http_api.gitlab(gitlab), "X-Gitlab-Token")),
        (gitlab, {**http_api.gitlab(gitlab), "X-Gitlab-Token": ""}),
        (cloud, without(http_api.bitbucket(cloud), "X-Hub-Signature")),
        (cloud, {**http_api.bitbucket(cloud), "X-Hub-Signature": http_api.hmac_hex(cloud)}),  # no sha256=
        (server, {**http_api.bitbucket(server, event="repo:refs_changed"), "X-Hub-Signature": sha1}),
        (server, without(http_api.bitbucket(server, event="repo:refs_changed"), "X-Hub-Signature")),
    ]
    async with http_api.serving(kube, namespace) as api, api.client() as http:
        await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
        for body, headers in wrong:
            resp = await http.post(HOOK, headers=headers, content=body)
            assert resp.status_code == 401, (headers, resp.text)
        # the same deliveries, signed as each sender signs them, are accepted
        for body, headers in [
            (github, http_api.github(github)),
            (gitlab, http_api.gitlab(gitlab)),
            (cloud, http_api.bitbucket(cloud)),
            (server, http_api.bitbucket(server, event="repo:refs_changed")),
        ]:
            resp = await http.post(HOOK, headers=headers, content=body)
            assert resp.status_code == 200 and [a["name"] for a in resp.json()["refreshed"]] == ["web"], resp.text


def _series(text: str) -> dict[str, list[dict[str, str]]]:
    """Sample name → the label sets it has, from the Prometheus text format."""
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(dict(sample.labels))
    return found


async def test_metrics_have_the_spec_names_and_labels_after_a_sync(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    repo = make_repo()
    sha = repo.commit({"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: '1'}\n"})
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path).start()
    processes.append(proc)
    proc.wait_http()
    await kube.create(apps.application("web", namespace, f"file://{repo.path}"))
    await apps.wait_status(kube, namespace, "web", apps.all_of(apps.synced_at(sha), apps.healthy))
    mine = {"namespace": namespace, "name": "web"}

    def scraped() -> dict[str, list[dict[str, str]]] | None:
        code, text = proc.get("/metrics")
        series = _series(text) if code == 200 else {}
        ours = [s for s in series.get("gitward_sync_total", []) if s.items() >= mine.items()]
        return series if ours and series.get("gitward_reconcile_duration_seconds_count") else None

    series = await apps.wait_for(scraped, timeout=30, message="gitward_sync_total of the Application")
    assert {"namespace": namespace, "name": "web", "phase": "Succeeded"} in series["gitward_sync_total"]
    reconciles = [s for s in series["gitward_reconcile_duration_seconds_bucket"] if s.items() >= mine.items()]
    assert reconciles and all(set(s) == {"namespace", "name", "result", "le"} for s in reconciles)
    info = [s for s in series["gitward_app_info"] if s.items() >= mine.items()]
    assert len(info) == 1
    assert info[0] | {"revision": ""} == {**mine, "sync_status": "Synced", "health_status": "Healthy", "revision": ""}
    assert sha.startswith(info[0]["revision"]) and info[0]["revision"]
    assert {"action": "created"} in series["gitward_objects_applied_total"]
    assert series["gitward_drift_corrections_total"] == [{}]
    assert series["gitward_git_fetch_duration_seconds_bucket"]
    kube_requests = series["gitward_kube_requests_total"]
    assert kube_requests and all(set(s) == {"verb", "code"} for s in kube_requests)
    assert {"verb": "PATCH", "code": "200"} in kube_requests or {"verb": "PATCH", "code": "201"} in kube_requests

    # an out-of-band edit reverted by selfHeal is counted
    await kube.patch("v1", "ConfigMap", "settings", namespace, {"data": {"a": "edited"}})

    def corrected() -> bool:
        _, text = proc.get("/metrics")
        return any(
            s.name == "gitward_drift_corrections_total" and s.value >= 1
            for family in text_string_to_metric_families(text)
            for s in family.samples
        )

    await apps.wait_for(corrected, timeout=30, message="gitward_drift_corrections_total >= 1")
    assert (await kube.get("v1", "ConfigMap", "settings", namespace))["data"] == {"a": "1"}
    assert proc.stop() == 0


async def test_the_probe_port_redirects_nothing(
    test_cluster: ClusterUnderTest, namespace: str, crds: None, tmp_path: Path, processes: list[GitwardProcess]
) -> None:
    probe_port = free_port()
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path, "--probe-listen", f"127.0.0.1:{probe_port}")
    processes.append(proc.start())
    proc.wait_http()
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{probe_port}", timeout=10) as probes:
        assert (await probes.get("/healthz")).status_code == 200
        for path in ("/healthz/", "/metrics/", "/readyz/", "/docs", "/api/v1/events", "/healthz/../api/v1/rollouts"):
            assert (await probes.get(path, follow_redirects=False)).status_code == 404, path
        assert (await probes.post("/metrics", content=b"")).status_code == 405
    assert proc.stop() == 0


@pytest.mark.parametrize("revision", ["main; rm -rf /", "a..b", "v1~1", "HEAD^", "feature/", "x.lock", "a b"])
async def test_a_revision_git_cannot_resolve_is_refused_before_it_is_asked_for(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, revision: str
) -> None:
    """`{revision}` of a Git source held to git's ref grammar (what the controller would refuse as
    InvalidRevision later): 422 from the API, exit 1 from `gitward app sync`; nothing is written."""
    await kube.create(apps.application("web", namespace, "https://git.example.com/org/config.git", syncPolicy={}))
    async with http_api.serving(kube, namespace) as api, api.client("admin") as http:
        await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
        resp = await http.post(f"/api/v1/applications/{namespace}/web/sync", json={"revision": revision})
        assert resp.status_code == 422, resp.text
        assert "not a valid branch, tag or commit SHA" in resp.json()["detail"]
    ran = await gitward(
        "app", "sync", "web", "--revision", revision, "--kubeconfig", test_cluster.kubeconfig, "-n", namespace
    )
    assert ran.code == 1 and ran.stdout == "" and "not a valid branch, tag or commit SHA" in ran.stderr, ran
    annotations = (await apps.get_app(kube, namespace, "web"))["metadata"].get("annotations") or {}
    assert "gitward.dev/sync" not in annotations


async def test_chart_and_oci_sources_keep_version_constraints(kube: KubeClient, namespace: str, crds: None) -> None:
    oci = apps.application("oci", namespace, "oci://registry.example.com/org/config", syncPolicy={})
    chart = apps.application("chart", namespace, "https://charts.example.com", syncPolicy={})
    chart["spec"]["source"]["chart"] = "web"
    await kube.create(oci)
    await kube.create(chart)
    async with http_api.serving(kube, namespace) as api, api.client("admin") as http:
        await apps.wait_for(lambda: len(api.backend.applications.store) == 2, message="the server's cache")
        for name in ("oci", "chart"):
            resp = await http.post(f"/api/v1/applications/{namespace}/{name}/sync", json={"revision": ">=1.2, <2"})
            assert resp.status_code == 200, resp.text


async def test_the_diff_of_an_application_whose_source_fails_is_a_409_not_a_retry(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    """A script polling GET .../diff learns that nothing can be compared until the source is fixed,
    instead of a 503 "not rendered yet" it would retry for ever."""
    await kube.create(apps.application("web", namespace, "http://127.0.0.1:1/none.git"))

    def source_error(status: apps.Status) -> bool:
        found = apps.condition(status, "SourceError")
        return found is not None and found["status"] == "True"

    await apps.wait_status(kube, namespace, "web", source_error)
    async with http_api.serving(kube, namespace, controller) as api, api.client("viewer") as http:
        await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
        resp = await apps.wait_for(
            lambda: _status_is(http, f"/api/v1/applications/{namespace}/web/diff", 409), message="a 409"
        )
        assert "has no rendered revision" in resp.json()["detail"] and "127.0.0.1:1" in resp.json()["detail"]


async def _status_is(http: httpx2.AsyncClient, path: str, code: int) -> httpx2.Response | None:
    resp = await http.get(path)
    return resp if resp.status_code == code else None
