"""The dashboard's pages and forms against the real cluster: the real app (gitward.server.app.build,
which installs the dashboard) on a real Backend whose informer lists real Applications (status
written through the status subresource, as the controller writes it), reached in-process over ASGI.

Login redirects, what viewers and admins see, the admin forms (role + CSRF, redirect with a flash
message, the change they make to the Application), hostile data shown as text, Secret values never
rendered, the resource tree of a real Deployment, and no inline script or style anywhere (the CSP
forbids them). The browser itself is tests/e2e's; what the pages list is tested from plain data in
tests/unit/dashboard.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from tests.support import apps

from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import auth, dashboard, tokens
from gitward.server.backend import Backend
from gitward.server.dashboard import templating
from gitward.server.sessions import RateLimiter

TOKENS = {"viewer": "viewer-token-pages", "admin": "admin-token-pages"}
CONFIG = tokens.parse(
    "tokens:\n"
    + "".join(f"  - {{name: {r}-user, sha256: {tokens.hash_token(t)}, role: {r}}}\n" for r, t in TOKENS.items())
)
SHA1, SHA2 = "1" * 40, "2" * 40
SYNC, REFRESH = "gitward.dev/sync", "gitward.dev/refresh"


def application(name: str, namespace: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"repoURL": "https://git.example.com/org/config.git", "path": f"apps/{name}",
                       "targetRevision": "main"},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": False}, "interval": "3m"},
        },
        "status": {
            "sync": {"status": "Synced", "revision": SHA2},
            "health": {"status": "Healthy"},
            "lastSyncedRevision": SHA2,
            "reconciledAt": "2030-01-01T00:00:05Z",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                            "lastTransitionTime": "2030-01-01T00:00:00Z"}],
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace, "name": "web",
                 "status": "Synced", "health": {"status": "Healthy"}},
            ],
            "history": [
                {"id": 1, "revision": SHA1, "author": "Ada", "message": "first", "committedAt": "2030-01-01T00:00:00Z",
                 "deployedAt": "2030-01-01T00:00:01Z", "initiatedBy": "automated", "result": "Succeeded"},
                {"id": 2, "revision": SHA2, "author": "Ada", "message": "second",
                 "committedAt": "2030-01-01T00:00:02Z", "deployedAt": "2030-01-01T00:00:03Z",
                 "initiatedBy": "automated", "result": "Succeeded"},
            ],
            "operationState": {"phase": "Succeeded", "message": "successfully synced (1 configured)",
                               "startedAt": "2030-01-01T00:00:02Z", "finishedAt": "2030-01-01T00:00:03Z",
                               "revision": SHA2},
            **status,
        },
    }  # fmt: skip


class Dashboard:
    def __init__(self, kube: KubeClient, namespace: str, web: FastAPI, backend: Backend) -> None:
        self.kube, self.namespace, self.web, self.backend = kube, namespace, web, backend
        self.base = f"/applications/{namespace}"

    def client(self, role: str | None = None) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        transport = httpx2.ASGITransport(app=self.web)
        return httpx2.AsyncClient(transport=transport, base_url="http://gitward.test", headers=headers)

    @asynccontextmanager
    async def browser(self, role: str) -> AsyncIterator[httpx2.AsyncClient]:
        """A client logged in with a session cookie, like a browser."""
        async with self.client() as client:
            resp = await client.post("/login", data={"token": TOKENS[role], "next": "/"})
            assert resp.status_code == 303, resp.text
            yield client

    async def app(self, name: str) -> dict[str, Any]:
        """The Application as the API server has it now."""
        return await apps.get_app(self.kube, self.namespace, name)


MakeDashboard = Callable[..., Awaitable[Dashboard]]


async def create(kube: KubeClient, obj: dict[str, Any]) -> None:
    """Create `obj`; an Application's status is then written as the controller writes it."""
    status = obj.get("status")
    created = await kube.create({k: v for k, v in obj.items() if k != "status"})
    if obj["kind"] == "Application" and status:
        meta = created["metadata"]
        await kube.patch(API_VERSION, "Application", meta["name"], meta["namespace"], {"status": status},
                         subresource="status")  # fmt: skip


@pytest.fixture
async def make_dashboard(kube: KubeClient, namespace: str, crds: None) -> AsyncIterator[MakeDashboard]:
    backends: list[Backend] = []

    async def make(
        objects: list[dict[str, Any]], config: tokens.AuthConfig | None = CONFIG, *, start: bool = True
    ) -> Dashboard:
        for obj in objects:
            await create(kube, obj)
        backend = Backend(kube, namespace, auth=config)
        backends.append(backend)
        if start:
            await backend.start()
        else:
            backend.sync_timeout = 0.01  # its Application cache never syncs
        web = server_app.build(server_app.Probe(lambda: True, lambda: {}), backend)
        web.state.auth.login_limiter = RateLimiter(burst=100)
        return Dashboard(kube, namespace, web, backend)

    yield make
    for backend in backends:
        await backend.stop()


@pytest.fixture
async def board(make_dashboard: MakeDashboard, namespace: str) -> Dashboard:
    api = application("api", namespace, health={"status": "Degraded", "message": "Deployment/api: 0/1 ready"})
    return await make_dashboard([application("web", namespace), api])


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def assert_csp_safe(html: str) -> None:
    """Nothing the CSP (script-src 'self'; style-src 'self') would block: no inline script, style
    or event handler; every link, source and form target is local or http(s)."""
    parser = _Elements()
    parser.feed(html)
    assert not "".join(parser.script_text).strip(), "inline script"
    for tag, attrs in parser.elements:
        assert tag != "style", "style element"
        assert not [a for a in attrs if a == "style" or a.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs["src"].startswith("/assets/"), attrs
        for name in ("href", "src", "action"):
            if name in attrs:
                assert attrs[name].startswith(("/", "https://", "http://")), (tag, attrs)


def forms(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


async def operate(browser: httpx2.AsyncClient, path: str, **form: str) -> httpx2.Response:
    csrf = (await browser.get("/api/v1/session")).json()["csrfToken"]
    return await browser.post(path, data={"csrf_token": csrf, **form})


def sync_request(app: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(app["metadata"]["annotations"][SYNC]))


async def test_pages_send_browsers_to_the_login_page(board: Dashboard) -> None:
    async with board.client() as http:
        resp = await http.get("/")
        assert (resp.status_code, resp.headers["location"]) == (303, "/login")
        resp = await http.get(f"{board.base}/web?x=1")
        target = f"%2Fapplications%2F{board.namespace}%2Fweb%3Fx%3D1"
        assert (resp.status_code, resp.headers["location"]) == (303, f"/login?next={target}")
        resp = await http.get("/", headers={"Authorization": "Bearer wrong"})
        assert resp.status_code == 303


async def test_the_login_page_is_the_dashboards(board: Dashboard) -> None:
    async with board.client() as http:
        resp = await http.get("/login", params={"next": f"{board.base}/web"})
        assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
        assert "Log in to gitward" in resp.text and templating.asset("dashboard.css") in resp.text
        assert f'name="next" value="{board.base}/web"' in resp.text
        assert_csp_safe(resp.text)
        for hostile in ("//evil.example.com", "https://evil.example.com", "/\\evil", "javascript:alert(1)", "/a\x7f"):
            resp = await http.get("/login", params={"next": hostile})
            assert 'name="next" value="/"' in resp.text
        resp = await http.get("/login", params={"error": "invalid"})
        assert "That token is not valid." in resp.text
        # the login itself is auth's: a wrong token comes back here with the error
        resp = await http.post("/login", data={"token": "wrong", "next": "/"})
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?error=invalid")
    async with board.browser("viewer") as browser:
        resp = await browser.get("/login", params={"next": f"{board.base}/web"})
        assert (resp.status_code, resp.headers["location"]) == (303, f"{board.base}/web")


async def test_the_list(board: Dashboard) -> None:
    namespace = board.namespace
    async with board.browser("viewer") as browser:
        resp = await browser.get("/")
        assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
        html = resp.text
        assert_csp_safe(html)
        assert "<strong>2</strong> applications" in html
        assert '<a class="chip tone-ok" href="/?sync=Synced">2 Synced</a>' in html
        assert f'href="{board.base}/web"' in html and f'href="{board.base}/api"' in html
        assert '<span class="badge tone-ok">Synced</span>' in html
        assert f'<code class="sha" title="{"2" * 40}">2222222</code>' in html
        assert '<a href="https://git.example.com/org/config.git" rel="noopener noreferrer nofollow">' in html
        assert 'data-events="/api/v1/events"' in html
        assert "viewer-user" in html and ">viewer</span>" in html and 'action="/logout"' in html

        html = (await browser.get("/", params={"health": "Degraded"})).text
        assert f'href="{board.base}/api"' in html and f'href="{board.base}/web"' not in html
        assert "<strong>1</strong> application <span" in html and "of 2" in html
        html = (await browser.get("/", params={"namespace": namespace})).text
        assert "<strong>2</strong> applications" in html
        assert f'data-events="/api/v1/events?namespace={namespace}"' in html
        html = (await browser.get("/", params={"namespace": "elsewhere"})).text
        assert "No application matches these filters" in html
        html = (await browser.get("/", params={"sync": "OutOfSync"})).text
        assert "No application matches these filters" in html
        html = (await browser.get("/", params={"sync": "<script>", "namespace": "../x"})).text
        assert "<strong>2</strong> applications" in html  # unknown filter values are ignored


async def test_an_empty_list_says_how_to_start(make_dashboard: MakeDashboard) -> None:
    board = await make_dashboard([])
    async with board.client("viewer") as http:
        assert "No applications yet" in (await http.get("/")).text


async def test_viewers_get_no_operation_forms(board: Dashboard) -> None:
    async with board.browser("viewer") as browser:
        html = (await browser.get(f"{board.base}/web")).text
    assert_csp_safe(html)
    assert forms(html) == ["/logout"]
    assert "Roll back" not in html and ">Sync<" not in html and ">Refresh<" not in html
    assert "<h1>web</h1>" in html and "Automated · prune" in html and "successfully synced (1 configured)" in html


async def test_admins_get_the_forms_with_their_csrf_token(board: Dashboard) -> None:
    async with board.browser("admin") as browser:
        csrf = (await browser.get("/api/v1/session")).json()["csrfToken"]
        html = (await browser.get(f"{board.base}/web")).text
    assert_csp_safe(html)
    base = f"{board.base}/web"
    assert forms(html) == ["/logout", f"{base}/sync", f"{base}/refresh", f"{base}/rollback"]
    assert html.count(f'name="csrf_token" value="{csrf}"') == 4
    assert '<input type="checkbox" name="prune" checked>' in html  # the automated policy prunes
    # entry 2 is deployed: only entry 1 can be rolled back to
    assert html.count(">Roll back</button>") == 1 and '<input type="hidden" name="id" value="1">' in html
    assert 'data-confirm="Roll back web to 1111111 (entry 1)?' in html


async def test_sync_refresh_rollback_resume(board: Dashboard) -> None:
    base = f"{board.base}/web"
    async with board.browser("admin") as browser:
        resp = await operate(browser, f"{base}/sync", prune="on", revision="v1.2")
        assert (resp.status_code, resp.headers["location"]) == (303, base)
        html = (await browser.get(base)).text
        assert "Sync of v1.2 requested (with pruning)." in html and 'class="flash flash-success"' in html
        assert "flash" not in (await browser.get(base)).text.split("<main")[0], "shown once"
        request = sync_request(await board.app("web"))
        assert (request["revision"], request["prune"], request["initiatedBy"]) == ("v1.2", True, "manual")

        await operate(browser, f"{base}/sync")
        written = await board.app("web")
        request = sync_request(written)
        assert request["prune"] is False and "revision" not in request

        await operate(browser, f"{base}/sync", revision="--upload-pack=evil")
        assert "not a branch, tag or commit" in (await browser.get(base)).text
        unchanged = await board.app("web")
        assert unchanged["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]

        await operate(browser, f"{base}/refresh")
        assert REFRESH in (await board.app("web"))["metadata"]["annotations"]
        assert "Refresh requested" in (await browser.get(base)).text

        await operate(browser, f"{base}/rollback", id="1")
        rolled = await board.app("web")
        assert rolled["spec"]["suspend"] is True
        assert sync_request(rolled)["revision"] == SHA1
        assert "Rollback to history entry 1 requested" in (await browser.get(base)).text

        await operate(browser, f"{base}/rollback", id="99")
        html = (await browser.get(base)).text
        assert "flash-error" in html and "has no history entry 99 (known: 1, 2)" in html
        await operate(browser, f"{base}/rollback", id="nope")
        assert "Choose a history entry" in (await browser.get(base)).text
        assert (await board.app("web"))["metadata"]["resourceVersion"] == rolled["metadata"]["resourceVersion"]

        await operate(browser, f"{base}/resume")
        assert (await board.app("web"))["spec"]["suspend"] is False


async def test_forms_require_an_admin_and_the_csrf_token(board: Dashboard) -> None:
    base = f"{board.base}/web"
    before = await board.app("web")
    async with board.browser("viewer") as viewer:
        assert (await operate(viewer, f"{base}/sync")).status_code == 403
    async with board.browser("admin") as admin:
        assert (await admin.post(f"{base}/sync", data={"prune": "on"})).status_code == 403
        assert (await admin.post(f"{base}/refresh", data={"csrf_token": "forged"})).status_code == 403
        csrf = (await admin.get("/api/v1/session")).json()["csrfToken"]
        cross_site = {"Origin": "https://evil.example.com"}
        resp = await admin.post(f"{base}/refresh", data={"csrf_token": csrf}, headers=cross_site)
        assert resp.status_code == 403
        resp = await admin.post(f"{board.base}/nothere/refresh", data={"csrf_token": csrf})
        assert resp.status_code == 404 and f"There is no application {board.namespace}/nothere." in resp.text
    async with board.client() as anonymous:
        assert (await anonymous.post(f"{base}/sync", data={})).status_code == 401
    after = await board.app("web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "nothing was written"
    assert not {SYNC, REFRESH} & set(after["metadata"].get("annotations") or {})


async def test_hostile_data_is_text(make_dashboard: MakeDashboard, namespace: str) -> None:
    hostile = application(
        "evil", namespace,
        health={"status": "Degraded", "message": "<img src=x onerror=alert(1)>"},
        conditions=[{"type": "Ready", "status": "False", "reason": "<b>", "message": "<script>alert(2)</script>"}],
        resources=[{"group": "", "version": "v1", "kind": "Secret", "namespace": namespace, "name": "creds",
                    "status": "OutOfSync", "health": {"status": "Healthy"}}],
    )  # fmt: skip
    hostile["spec"]["source"]["repoURL"] = "javascript:alert(document.cookie)//https://git.example.com"
    hostile["status"]["history"][0]["message"] = '"><script>alert(3)</script>'
    hostile["status"]["history"][0]["author"] = "<svg onload=alert(4)>"
    secret = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": namespace},
        "data": {"password": "c3VwZXItc2VjcmV0LXZhbHVl"}, "stringData": {"token": "super-secret-value"},
    }  # fmt: skip
    board = await make_dashboard([hostile, secret])
    async with board.client("admin") as http:
        for path in ("/", f"{board.base}/evil"):
            html = (await http.get(path)).text
            assert_csp_safe(html)
            assert "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html
            assert "javascript:alert(document.cookie)//https://git.example.com" in html  # as text
            assert "c3VwZXItc2VjcmV0LXZhbHVl" not in html and "super-secret-value" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "does not run in this replica" in html  # OutOfSync, but no controller here


async def test_the_resource_tree_of_a_real_deployment(
    make_dashboard: MakeDashboard, kube: KubeClient, namespace: str
) -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }  # fmt: skip
    board = await make_dashboard([application("web", namespace), deployment])
    await apps.wait_for(lambda: _ready(kube, namespace), timeout=60, message="the Deployment ready")
    (replicaset,), _ = await kube.list("apps/v1", "ReplicaSet", namespace)
    (pod,), _ = await kube.list("v1", "Pod", namespace)
    async with board.client("viewer") as http:
        html = (await http.get(f"{board.base}/web")).text
    tree = html.split('id="app-tree"')[1].split("</section>")[0]
    found = [
        tree.index(f'id="node-deployment-{namespace}-web"'),
        tree.index(f'id="node-replicaset-{namespace}-{replicaset["metadata"]["name"]}"'),
        tree.index(f'id="node-pod-{namespace}-{pod["metadata"]["name"]}"'),
    ]
    assert found == sorted(found), "Deployment → ReplicaSet → Pod"
    assert "rev 1 · 1/1 ready" in tree and "Running · 1/1 ready" in tree


async def _ready(kube: KubeClient, namespace: str) -> bool:
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    pods, _ = await kube.list("v1", "Pod", namespace)
    ready = (deployment.get("status") or {}).get("readyReplicas") == 1
    return ready and len(pods) == 1 and (pods[0].get("status") or {}).get("phase") == "Running"


async def test_error_pages_are_html(board: Dashboard, make_dashboard: MakeDashboard) -> None:
    async with board.client("viewer") as http:
        resp = await http.get(f"{board.base}/nothere")
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
        assert f"There is no application {board.namespace}/nothere." in resp.text
        assert_csp_safe(resp.text)
        resp = await http.get("/applications/Team/x_y")
        assert resp.status_code == 404
    not_synced = await make_dashboard([], start=False)
    async with not_synced.client("viewer") as http:
        resp = await http.get("/")
        assert resp.status_code == 503 and "Not ready yet" in resp.text


async def test_without_an_auth_file_loopback_is_admin(make_dashboard: MakeDashboard, namespace: str) -> None:
    board = await make_dashboard([application("web", namespace)], config=None)
    async with board.client() as http:
        resp = await http.get("/")
        assert resp.status_code == 403 and "only answers requests to localhost" in resp.text
        resp = await http.get(f"{board.base}/web", headers={"Host": "127.0.0.1:8080"})
        assert resp.status_code == 200 and f"{board.base}/web/sync" in resp.text
        assert 'action="/logout"' not in resp.text and "anonymous" in resp.text
        resp = await http.get("/login", headers={"Host": "localhost"})
        assert (resp.status_code, resp.headers["location"]) == (303, "/")


async def test_only_the_login_page_is_replaced(board: Dashboard) -> None:
    routes = len(board.web.router.routes)
    dashboard.install(board.web)
    assert len(board.web.router.routes) == routes, "installing twice changes nothing"
    assert any(getattr(r, "path", "") == "/login" for r in auth.router.routes), "auth's own router is untouched"
    async with board.client() as http:
        assert "Log in to gitward" in (await http.get("/login")).text
        resp = await http.post("/login", data={"token": TOKENS["admin"], "next": f"{board.base}/web"})
        assert (resp.status_code, resp.headers["location"]) == (303, f"{board.base}/web")
        assert resp.cookies.get(auth.SESSION_COOKIE)
