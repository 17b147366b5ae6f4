"""The dashboard's pages and forms in memory: login redirects, what viewers and admins see, the
admin forms (role + CSRF, redirect with a flash message), hostile data shown as text, Secret values
never rendered, and no inline script or style anywhere (the CSP forbids them)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from gitward.server import auth, dashboard, security
from gitward.server.dashboard import rendering

from .conftest import SHA1, Dashboard, MakeDashboard, application

PAGES = ["/", "/?sync=OutOfSync", "/applications/team/web", "/applications/team/nothere"]


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


async def test_pages_send_browsers_to_the_login_page(board: Dashboard) -> None:
    async with board.client() as http:
        resp = await http.get("/")
        assert (resp.status_code, resp.headers["location"]) == (303, "/login")
        resp = await http.get("/applications/team/web?x=1")
        assert (resp.status_code, resp.headers["location"]) == (303, "/login?next=%2Fapplications%2Fteam%2Fweb%3Fx%3D1")
        resp = await http.get("/", headers={"Authorization": "Bearer wrong"})
        assert resp.status_code == 303


async def test_the_login_page_is_the_dashboards(board: Dashboard) -> None:
    async with board.client() as http:
        resp = await http.get("/login", params={"next": "/applications/team/web"})
        assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
        assert "Log in to gitward" in resp.text and rendering.asset("dashboard.css") in resp.text
        assert 'name="next" value="/applications/team/web"' in resp.text
        assert_csp_safe(resp.text)
        for hostile in ("//evil.example.com", "https://evil.example.com", "/\\evil", "javascript:alert(1)"):
            resp = await http.get("/login", params={"next": hostile})
            assert 'name="next" value="/"' in resp.text
        resp = await http.get("/login", params={"error": "invalid"})
        assert "That token is not valid." in resp.text
        # the login itself is auth's: a wrong token comes back here with the error
        resp = await http.post("/login", data={"token": "wrong", "next": "/"})
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?error=invalid")
    async with board.browser("viewer") as browser:
        resp = await browser.get("/login", params={"next": "/applications/team/web"})
        assert (resp.status_code, resp.headers["location"]) == (303, "/applications/team/web")


async def test_the_list(board: Dashboard) -> None:
    async with board.browser("viewer") as browser:
        resp = await browser.get("/")
        assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
        html = resp.text
        assert_csp_safe(html)
        assert "<strong>2</strong> applications" in html
        assert '<a class="chip tone-ok" href="/?sync=Synced">2 Synced</a>' in html
        assert 'href="/applications/team/web"' in html and 'href="/applications/ops/api"' in html
        assert '<span class="badge tone-ok">Synced</span>' in html
        assert f'<code class="sha" title="{"2" * 40}">2222222</code>' in html
        assert '<a href="https://git.example.com/org/config.git" rel="noopener noreferrer nofollow">' in html
        assert 'data-events="/api/v1/events"' in html
        assert "viewer-user" in html and ">viewer</span>" in html and 'action="/logout"' in html

        html = (await browser.get("/", params={"namespace": "ops"})).text
        assert 'href="/applications/ops/api"' in html and 'href="/applications/team/web"' not in html
        assert "<strong>1</strong> application <span" in html and "of 2" in html
        assert 'data-events="/api/v1/events?namespace=ops"' in html
        html = (await browser.get("/", params={"sync": "OutOfSync"})).text
        assert "No application matches these filters" in html
        html = (await browser.get("/", params={"sync": "<script>", "namespace": "../x"})).text
        assert "<strong>2</strong> applications" in html  # unknown filter values are ignored


async def test_an_empty_list_says_how_to_start(make_dashboard: MakeDashboard) -> None:
    board = make_dashboard([])
    async with board.client("viewer") as http:
        assert "No applications yet" in (await http.get("/")).text


def forms(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


async def test_viewers_get_no_operation_forms(board: Dashboard) -> None:
    async with board.browser("viewer") as browser:
        html = (await browser.get("/applications/team/web")).text
    assert_csp_safe(html)
    assert forms(html) == ["/logout"]
    assert "Roll back" not in html and ">Sync<" not in html and ">Refresh<" not in html
    assert "<h1>web</h1>" in html and "Automated · prune" in html and "successfully synced (1 configured)" in html


async def test_admins_get_the_forms_with_their_csrf_token(board: Dashboard) -> None:
    async with board.browser("admin") as browser:
        csrf = (await browser.get("/api/v1/session")).json()["csrfToken"]
        html = (await browser.get("/applications/team/web")).text
    assert_csp_safe(html)
    base = "/applications/team/web"
    assert forms(html) == ["/logout", f"{base}/sync", f"{base}/refresh", f"{base}/rollback"]
    assert html.count(f'name="csrf_token" value="{csrf}"') == 4
    assert '<input type="checkbox" name="prune" checked>' in html  # the automated policy prunes
    # entry 2 is deployed: only entry 1 can be rolled back to
    assert html.count(">Roll back</button>") == 1 and '<input type="hidden" name="id" value="1">' in html
    assert 'data-confirm="Roll back web to 1111111 (entry 1)?' in html


async def operate(browser: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    csrf = (await browser.get("/api/v1/session")).json()["csrfToken"]
    return await browser.post(path, data={"csrf_token": csrf, **form})


async def test_sync_refresh_rollback_resume(board: Dashboard) -> None:
    base = "/applications/team/web"
    async with board.browser("admin") as browser:
        resp = await operate(browser, f"{base}/sync", prune="on", revision="v1.2")
        assert (resp.status_code, resp.headers["location"]) == (303, base)
        html = (await browser.get(base)).text
        assert "Sync of v1.2 requested (with pruning)." in html and 'class="flash flash-success"' in html
        assert "flash" not in (await browser.get(base)).text.split("<main")[0], "shown once"
        kind, namespace, name, patch = board.kube.patches[-1]
        assert (kind, namespace, name) == ("Application", "team", "web")
        request = json.loads(patch["metadata"]["annotations"]["gitward.dev/sync"])
        assert (request["revision"], request["prune"], request["initiatedBy"]) == ("v1.2", True, "manual")

        await operate(browser, f"{base}/sync")
        request = json.loads(board.kube.patches[-1][3]["metadata"]["annotations"]["gitward.dev/sync"])
        assert request["prune"] is False and "revision" not in request

        resp = await operate(browser, f"{base}/sync", revision="--upload-pack=evil")
        assert "not a branch, tag or commit" in (await browser.get(base)).text
        assert len(board.kube.patches) == 2

        await operate(browser, f"{base}/refresh")
        assert "gitward.dev/refresh" in board.kube.patches[-1][3]["metadata"]["annotations"]
        assert "Refresh requested" in (await browser.get(base)).text

        await operate(browser, f"{base}/rollback", id="1")
        suspend, sync = board.kube.patches[-2:]
        assert suspend[3] == {"spec": {"suspend": True}}
        assert json.loads(sync[3]["metadata"]["annotations"]["gitward.dev/sync"])["revision"] == SHA1
        assert "Rollback to history entry 1 requested" in (await browser.get(base)).text

        count = len(board.kube.patches)
        await operate(browser, f"{base}/rollback", id="99")
        html = (await browser.get(base)).text
        assert "flash-error" in html and "has no history entry 99 (known: 1, 2)" in html
        await operate(browser, f"{base}/rollback", id="nope")
        assert "Choose a history entry" in (await browser.get(base)).text
        assert len(board.kube.patches) == count

        await operate(browser, f"{base}/resume")
        assert board.kube.patches[-1][3] == {"spec": {"suspend": False}}


async def test_forms_require_an_admin_and_the_csrf_token(board: Dashboard) -> None:
    base = "/applications/team/web"
    async with board.browser("viewer") as viewer:
        assert (await operate(viewer, f"{base}/sync")).status_code == 403
    async with board.browser("admin") as admin:
        assert (await admin.post(f"{base}/sync", data={"prune": "on"})).status_code == 403
        assert (await admin.post(f"{base}/refresh", data={"csrf_token": "forged"})).status_code == 403
        csrf = (await admin.get("/api/v1/session")).json()["csrfToken"]
        cross_site = {"Origin": "https://evil.example.com"}
        resp = await admin.post(f"{base}/refresh", data={"csrf_token": csrf}, headers=cross_site)
        assert resp.status_code == 403
        resp = await admin.post("/applications/team/nothere/refresh", data={"csrf_token": csrf})
        assert resp.status_code == 404 and "There is no application team/nothere." in resp.text
    async with board.client() as anonymous:
        assert (await anonymous.post(f"{base}/sync", data={})).status_code == 401
    assert board.kube.patches == []


@pytest.fixture
def hostile() -> dict[str, Any]:
    app = application(
        "evil",
        health={"status": "Degraded", "message": "<img src=x onerror=alert(1)>"},
        conditions=[{"type": "Ready", "status": "False", "reason": "<b>", "message": "<script>alert(2)</script>"}],
        resources=[{"group": "", "version": "v1", "kind": "Secret", "namespace": "team", "name": "creds",
                    "status": "OutOfSync", "health": {"status": "Healthy"}}],
    )  # fmt: skip
    app["spec"]["source"]["repoURL"] = "javascript:alert(document.cookie)//https://git.example.com"
    app["status"]["history"][0]["message"] = '"><script>alert(3)</script>'
    app["status"]["history"][0]["author"] = "<svg onload=alert(4)>"
    return app


async def test_hostile_data_is_text(make_dashboard: MakeDashboard, hostile: dict[str, Any]) -> None:
    secret = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "team"},
        "data": {"password": "c3VwZXItc2VjcmV0LXZhbHVl"}, "stringData": {"token": "super-secret-value"},
    }  # fmt: skip
    board = make_dashboard([hostile, secret])
    async with board.client("admin") as http:
        for path in ("/", "/applications/team/evil"):
            html = (await http.get(path)).text
            assert_csp_safe(html)
            assert "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html
            assert "javascript:alert(document.cookie)//https://git.example.com" in html  # as text
            assert "c3VwZXItc2VjcmV0LXZhbHVl" not in html and "super-secret-value" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    # Secrets are never read by the dashboard (the diff comes from the controller, masked)
    assert all(kind != "Secret" for kind, _ in board.kube.lists)
    assert "does not run in this replica" in html  # OutOfSync, but no controller here


async def test_the_resource_tree(make_dashboard: MakeDashboard) -> None:
    owner = lambda uid: [{"apiVersion": "apps/v1", "kind": "X", "name": "x", "uid": uid, "controller": True}]  # noqa: E731
    live = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team", "uid": "d"},
         "spec": {"replicas": 1}, "status": {"readyReplicas": 1}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d9", "namespace": "team",
         "uid": "rs", "ownerReferences": owner("d"), "annotations": {"deployment.kubernetes.io/revision": "1"}},
         "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-5d9-x2x", "namespace": "team", "uid": "p",
         "ownerReferences": owner("rs")}, "status": {"phase": "Running", "conditions": [{"type": "Ready",
         "status": "True"}], "containerStatuses": [{"ready": True, "restartCount": 0}]}},
    ]  # fmt: skip
    board = make_dashboard([application("web"), *live])
    async with board.client("viewer") as http:
        html = (await http.get("/applications/team/web")).text
    tree = html.split('id="app-tree"')[1].split("</section>")[0]
    deployment = tree.index('id="node-deployment-team-web"')
    replicaset = tree.index('id="node-replicaset-team-web-5d9"')
    pod = tree.index('id="node-pod-team-web-5d9-x2x"')
    assert deployment < replicaset < pod
    assert "rev 1 · 1/1 ready" in tree and "Running · 1/1 ready" in tree
    assert sorted(kind for kind, _ in board.kube.lists) == ["Deployment", "Pod", "ReplicaSet"]


async def test_error_pages_are_html(board: Dashboard) -> None:
    async with board.client("viewer") as http:
        resp = await http.get("/applications/team/nothere")
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
        assert "There is no application team/nothere." in resp.text
        assert_csp_safe(resp.text)
        resp = await http.get("/applications/Team/x_y")
        assert resp.status_code == 404
    board.backend.applications.synced.clear()
    board.backend.sync_timeout = 0.01
    async with board.client("viewer") as http:
        resp = await http.get("/")
        assert resp.status_code == 503 and "Not ready yet" in resp.text


async def test_without_an_auth_file_loopback_is_admin(make_dashboard: MakeDashboard) -> None:
    board = make_dashboard([application("web")], config=None)
    async with board.client() as http:
        resp = await http.get("/")
        assert resp.status_code == 403 and "only answers requests to localhost" in resp.text
        resp = await http.get("/applications/team/web", headers={"Host": "127.0.0.1:8080"})
        assert resp.status_code == 200 and "/applications/team/web/sync" in resp.text
        assert 'action="/logout"' not in resp.text and "anonymous" in resp.text
        resp = await http.get("/login", headers={"Host": "localhost"})
        assert (resp.status_code, resp.headers["location"]) == (303, "/")


async def test_assets(board: Dashboard) -> None:
    async with board.client() as http:
        for name, media_type in (("dashboard.css", "text/css"), ("live.js", "javascript"), ("favicon.svg", "svg")):
            resp = await http.get(rendering.asset(name))
            assert resp.status_code == 200 and media_type in resp.headers["content-type"], name
            assert resp.headers["content-security-policy"] == security.CSP
        assert (await http.get("/assets/../__init__.py")).status_code == 404
    text = (rendering.STATIC / "dashboard.css").read_text() + (rendering.STATIC / "live.js").read_text()
    assert "http://" not in text and "https://" not in text and "@import" not in text, "nothing from elsewhere"


async def test_only_the_login_page_is_replaced(board: Dashboard) -> None:
    routes = len(board.web.router.routes)
    dashboard.install(board.web)
    assert len(board.web.router.routes) == routes, "installing twice changes nothing"
    assert any(getattr(r, "path", "") == "/login" for r in auth.router.routes), "auth's own router is untouched"
    async with board.client() as http:
        assert "Log in to gitward" in (await http.get("/login")).text
        resp = await http.post("/login", data={"token": "admin-token-unit", "next": "/applications/team/web"})
        assert (resp.status_code, resp.headers["location"]) == (303, "/applications/team/web")
        assert resp.cookies.get(auth.SESSION_COOKIE)
