"""Authentication and authorization of the real server: every endpoint × role (no token 401,
viewer reads but may not write, admin does both), browser sessions with CSRF, security headers,
the JSON-only rule, anonymous loopback mode, and `gitward run --auth-file` as a process."""

from __future__ import annotations

from pathlib import Path

import httpx2
from tests.conftest import ClusterUnderTest
from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.process import GitwardProcess

from gitward.controller.manager import Controller
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient
from gitward.server import auth, security

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: '1'\n"
JSON = {"Content-Type": "application/json"}


async def _status(http: httpx2.AsyncClient, method: str, path: str, body: bytes | None) -> int:
    if path.endswith("/events"):  # a stream: only the status line matters
        async with http.stream("GET", path) as resp:
            return resp.status_code
    if method == "GET":
        return (await http.get(path)).status_code
    return (await http.post(path, headers=JSON, content=body or b"{}")).status_code


async def test_every_endpoint_by_role(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo = make_repo()
    sha = repo.commit({"cm.yaml": CONFIGMAP})
    await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "config.git")))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    base = f"/api/v1/applications/{namespace}/web"
    reads = ["/api/v1/applications", base, f"{base}/resources", f"{base}/history", f"{base}/diff",
             "/api/v1/events", "/api/v1/session"]  # fmt: skip
    writes = [(f"{base}/sync", b"{}"), (f"{base}/refresh", b""), (f"{base}/rollback", b'{"id": 1}')]

    async with http_api.serving(kube, namespace, controller) as api:
        for role, token in [(None, None), ("wrong", "not-a-token")]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with api.client(headers=headers) as http:
                for path in reads:
                    assert await _status(http, "GET", path, None) == 401, (role, path)
                for path, body in writes:
                    assert await _status(http, "POST", path, body) == 401, (role, path)
                resp = await http.get("/api/v1/applications")
                assert resp.headers["www-authenticate"].startswith("Bearer") and resp.json()["detail"]
        async with api.client("viewer") as http:
            for path in reads:
                assert await _status(http, "GET", path, None) == 200, ("viewer", path)
            for path, body in writes:
                assert await _status(http, "POST", path, body) == 403, ("viewer", path)
        annotations = (await apps.get_app(kube, namespace, "web"))["metadata"].get("annotations") or {}
        assert "gitward.dev/sync" not in annotations and "gitward.dev/refresh" not in annotations
        async with api.client("admin") as http:
            for path in reads:
                assert await _status(http, "GET", path, None) == 200, ("admin", path)
            for path, body in writes:
                assert await _status(http, "POST", path, body) == 200, ("admin", path)
            # probes and metrics need no token
        async with api.client() as http:
            for path in ("/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"):
                assert (await http.get(path)).status_code == 200, path
            metrics = (await http.get("/metrics")).text
    assert (
        'gitward_http_requests_total{code="403",method="POST",route="/api/v1/applications/{namespace}/{name}/sync"}'
        in metrics
    )
    assert f"/{namespace}/web" not in metrics  # route templates, never raw paths
    app = await apps.get_app(kube, namespace, "web")
    assert app["spec"]["suspend"] is True  # the admin's rollback went through


async def test_security_headers_and_json_only(kube: KubeClient, namespace: str, crds: None) -> None:
    await kube.create(apps.application("web", namespace, "https://git.example.com/x.git", syncPolicy={}))
    async with http_api.serving(kube, namespace) as api, api.client("admin") as http:
        for resp in (
            await http.get("/api/v1/applications"),
            await http.get("/healthz"),
            await http.get("/login"),
            await http.post(f"/api/v1/applications/{namespace}/web/refresh", headers={"Content-Type": "text/plain"}),
        ):
            assert resp.headers["content-security-policy"] == security.CSP, resp.url
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["referrer-policy"] == "same-origin"
            assert resp.headers["x-frame-options"] == "DENY"
        assert resp.status_code == 415 and resp.json()["detail"].endswith("application/json")
        for content_type in ("text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"):
            resp = await http.post(
                f"/api/v1/applications/{namespace}/web/sync", headers={"Content-Type": content_type}, content=b"{}"
            )
            assert resp.status_code == 415, content_type


async def test_browser_session_against_the_server(kube: KubeClient, namespace: str, crds: None) -> None:
    await kube.create(apps.application("web", namespace, "https://git.example.com/x.git", syncPolicy={}))
    async with http_api.serving(kube, namespace) as api, api.client() as http:
        resp = await http.post(
            "/login", data={"token": http_api.TOKENS["admin"], "next": "/applications"}, follow_redirects=False
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/applications"
        assert "HttpOnly" in resp.headers["set-cookie"] and "SameSite=strict" in resp.headers["set-cookie"]
        assert (await http.get("/api/v1/applications")).status_code == 200
        csrf = (await http.get("/api/v1/session")).json()["csrfToken"]
        path = f"/api/v1/applications/{namespace}/web/refresh"
        assert (await http.post(path, headers=JSON)).status_code == 403
        assert (await http.post(path, headers=JSON | {auth.CSRF_HEADER: csrf})).status_code == 200
        async with http.stream("GET", "/api/v1/events") as stream:  # EventSource sends cookies, not tokens
            assert stream.status_code == 200


async def test_anonymous_loopback_mode(kube: KubeClient, namespace: str, crds: None) -> None:
    await kube.create(apps.application("web", namespace, "https://git.example.com/x.git", syncPolicy={}))
    async with http_api.serving(kube, namespace, auth=None) as api, api.client() as http:
        assert (await http.get("/api/v1/applications")).json()["items"][0]["name"] == "web"
        resp = await http.post(f"/api/v1/applications/{namespace}/web/refresh", headers=JSON)
        assert resp.status_code == 200
        resp = await http.get("/api/v1/applications", headers={"Host": "attacker.example"})
        assert resp.status_code == 403  # DNS rebinding
        body = http_api.encode(http_api.github_push("https://git.example.com/x.git", "main"))
        resp = await http.post("/api/v1/webhooks/git", headers=http_api.github(body), content=body)
        assert resp.status_code == 401 and "no webhookSecret" in resp.json()["detail"]


async def test_gitward_run_with_an_auth_file(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess],
) -> None:  # fmt: skip
    auth_file = tmp_path / "auth.yaml"
    auth_file.write_text(http_api.auth_yaml())
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path)
    proc.argv += ["--auth-file", str(auth_file), "--listen", f"0.0.0.0:{proc.port}"]
    processes.append(proc.start())
    proc.wait_http()
    await kube.create(apps.application("web", namespace, "https://git.example.com/x.git", syncPolicy={}))
    async with httpx2.AsyncClient(base_url=proc.url(""), timeout=10) as http:
        assert (await http.get("/api/v1/applications")).status_code == 401
        viewer = {"Authorization": f"Bearer {http_api.TOKENS['viewer']}"}
        items = await apps.wait_for(lambda: _items(http, viewer), timeout=15, message="the Application in the list")
        assert items[0]["name"] == "web"
        async with http.stream("GET", "/api/v1/events", headers=viewer) as events:
            assert events.status_code == 200
            # an open event stream does not hold up a graceful shutdown: stop() waits for the exit
            # (bounded, then SIGKILL: a hang fails as a non-zero code), no time limit to flake on
            assert proc.stop() == 0
    log = proc.log.read_text()
    assert f"listen=0.0.0.0:{proc.port}" in log  # an auth file lets --listen through
    assert "auth file loaded" in log and "admin_tokens=1" in log and "viewer_tokens=1" in log
    for secret in (*http_api.TOKENS.values(), http_api.WEBHOOK_SECRET):
        assert secret not in log


async def _items(http: httpx2.AsyncClient, headers: dict[str, str]) -> list[dict[str, object]]:
    resp = await http.get("/api/v1/applications", headers=headers)
    return list(resp.json()["items"]) if resp.status_code == 200 else []


async def test_gitward_run_refuses_a_bad_auth_file(
    test_cluster: ClusterUnderTest, namespace: str, tmp_path: Path, processes: list[GitwardProcess]
) -> None:
    auth_file = tmp_path / "auth.yaml"
    auth_file.write_text("tokens: [{name: x, sha256: not-a-hash, role: admin}]\nwebhookSecret: hush-hush\n")
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path)
    proc.argv += ["--auth-file", str(auth_file)]
    processes.append(proc.start())
    assert proc.proc is not None and proc.proc.wait(30) == 1
    log = proc.log.read_text()
    assert "cannot use the auth file" in log and "tokens.0.sha256" in log and "hush-hush" not in log


async def test_probe_listener_serves_probes_and_metrics_alone(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path,
    processes: list[GitwardProcess],
) -> None:  # fmt: skip
    """`--probe-listen 0.0.0.0:P` (what the kubelet reaches on the pod IP) answers /healthz, /readyz and
    /metrics without a token, and nothing else; the API port keeps asking for a token."""
    auth_file = tmp_path / "auth.yaml"
    auth_file.write_text(http_api.auth_yaml())
    probe_port = free_port()
    proc = GitwardProcess(test_cluster.kubeconfig, namespace, tmp_path)
    proc.argv += ["--auth-file", str(auth_file), "--probe-listen", f"0.0.0.0:{probe_port}"]
    processes.append(proc.start())
    proc.wait_http()
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{probe_port}", timeout=10) as probes:
        assert (await probes.get("/healthz")).status_code == 200
        ready = await apps.wait_for(
            lambda: _status_of(probes, "/readyz", 200), timeout=30, message="the probe port reports ready"
        )
        assert ready.json() == {"status": "ready", "leader": True}
        metrics = await probes.get("/metrics")
        assert metrics.status_code == 200 and "gitward_kube_requests_total" in metrics.text
        for path in ("/api/v1/applications", "/", "/api/v1/openapi.json", "/api/v1/webhooks/git", "/login"):
            assert (await probes.get(path)).status_code == 404, path
        assert (await probes.post("/api/v1/webhooks/git", content=b"{}")).status_code in (404, 405)
    async with httpx2.AsyncClient(base_url=proc.url(""), timeout=10) as api:
        assert (await api.get("/api/v1/applications")).status_code == 401
    assert proc.stop() == 0


async def _status_of(http: httpx2.AsyncClient, path: str, code: int) -> httpx2.Response | None:
    resp = await http.get(path)
    return resp if resp.status_code == code else None
