"""Authentication and authorization in memory (no cluster): bearer tokens and roles, the browser
login with its session cookie and CSRF token, the login rate limit, anonymous loopback mode,
security headers and the JSON-only rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx2
import pytest
from fastapi import Depends, FastAPI, Request

from gitward.server import auth, errors, security, tokens
from gitward.server.sessions import RateLimiter

VIEWER, ADMIN = "viewer-secret-token", "admin-secret-token"
CONFIG = tokens.parse(
    f"tokens:\n"
    f"  - {{name: alice, sha256: {tokens.hash_token(VIEWER)}, role: viewer}}\n"
    f"  - {{name: bob, sha256: {tokens.hash_token(ADMIN)}, role: admin}}\n"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def make_app(config: tokens.AuthConfig | None) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    auth.install(app, config)
    app.add_middleware(security.SecurityHeaders)

    @app.get("/api/v1/read")
    async def read(principal: auth.Viewer) -> dict[str, str]:
        return {"name": principal.name, "via": principal.via}

    @app.post("/api/v1/write")
    async def write(principal: auth.Admin, _: Annotated[None, Depends(security.require_json)]) -> dict[str, str]:
        return {"name": principal.name}

    @app.post("/form")
    async def form(principal: auth.Admin, request: Request) -> dict[str, str]:
        return {"name": principal.name, **(await auth.read_form(request))}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    app = make_app(CONFIG)
    app.state.auth.login_limiter = RateLimiter(burst=100)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gitward.test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_and_roles(client: httpx2.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, bearer("wrong"), {"Authorization": "Bearer"}):
        resp = await client.get("/api/v1/read", headers=headers)
        assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
        assert "detail" in resp.json()
    resp = await client.get("/api/v1/read", headers={"Authorization": f"bearer {VIEWER}"})
    assert resp.status_code == 200 and resp.json() == {"name": "alice", "via": "token"}
    resp = await client.post("/api/v1/write", headers=bearer(VIEWER) | JSON, content=b"{}")
    assert resp.status_code == 403 and "viewer" in resp.json()["detail"]
    resp = await client.post("/api/v1/write", headers=bearer(ADMIN) | JSON, content=b"{}")
    assert resp.status_code == 200 and resp.json() == {"name": "bob"}
    # bearer requests need no CSRF token, whatever the Origin
    resp = await client.post("/api/v1/write", headers=bearer(ADMIN) | JSON | {"Origin": "https://evil.example"})
    assert resp.status_code == 200


async def test_order_401_then_403_then_415(client: httpx2.AsyncClient) -> None:
    assert (await client.post("/api/v1/write", content=b"x")).status_code == 401
    assert (await client.post("/api/v1/write", headers=bearer(VIEWER), content=b"x")).status_code == 403
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""):
        resp = await client.post("/api/v1/write", headers=bearer(ADMIN) | {"Content-Type": content_type})
        assert resp.status_code == 415, content_type
    resp = await client.post(
        "/api/v1/write", headers=bearer(ADMIN) | {"Content-Type": "application/json; charset=utf-8"}
    )
    assert resp.status_code == 200


async def test_security_headers_everywhere(client: httpx2.AsyncClient) -> None:
    for resp in (await client.get("/api/v1/read"), await client.get("/login"), await client.get("/nowhere")):
        assert resp.headers["content-security-policy"] == security.CSP
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "same-origin"
        assert resp.headers["x-frame-options"] == "DENY"
    assert (await client.get("/api/v1/read")).headers["cache-control"] == "no-store"


async def login(client: httpx2.AsyncClient, token: str, next_: str = "/") -> httpx2.Response:
    return await client.post("/login", headers=FORM, content=f"token={token}&next={next_}".encode())


async def test_login_session_and_csrf(client: httpx2.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200 and 'name="token"' in page.text and "<script" not in page.text

    resp = await login(client, ADMIN, "/applications/a/b")
    assert resp.status_code == 303 and resp.headers["location"] == "/applications/a/b"
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert ADMIN not in cookie

    resp = await client.get("/api/v1/read")
    assert resp.json() == {"name": "bob", "via": "session"}
    info = (await client.get("/api/v1/session")).json()
    assert info["name"] == "bob" and info["role"] == "admin" and info["via"] == "session"
    csrf = info["csrfToken"]
    assert csrf

    resp = await client.post("/api/v1/write", headers=JSON, content=b"{}")
    assert resp.status_code == 403 and "CSRF" in resp.json()["detail"]
    resp = await client.post("/api/v1/write", headers=JSON | {auth.CSRF_HEADER: "wrong"}, content=b"{}")
    assert resp.status_code == 403
    resp = await client.post("/api/v1/write", headers=JSON | {auth.CSRF_HEADER: csrf}, content=b"{}")
    assert resp.status_code == 200
    resp = await client.post("/form", headers=FORM, content=f"csrf_token={csrf}&action=sync".encode())
    assert resp.status_code == 200 and resp.json()["action"] == "sync"
    resp = await client.post("/form", headers=FORM, content=b"action=sync")
    assert resp.status_code == 403
    cross = {auth.CSRF_HEADER: csrf, "Origin": "https://evil.example"}
    assert (await client.post("/api/v1/write", headers=JSON | cross, content=b"{}")).status_code == 403
    cross = {auth.CSRF_HEADER: csrf, "Sec-Fetch-Site": "cross-site"}
    assert (await client.post("/api/v1/write", headers=JSON | cross, content=b"{}")).status_code == 403
    same = {auth.CSRF_HEADER: csrf, "Origin": "http://gitward.test", "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/api/v1/write", headers=JSON | same, content=b"{}")).status_code == 200

    resp = await client.post("/logout", headers=FORM, content=f"csrf_token={csrf}".encode())
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    client.cookies.clear()
    assert (await client.get("/api/v1/read")).status_code == 401


async def test_a_viewer_session_cannot_write(client: httpx2.AsyncClient) -> None:
    await login(client, VIEWER)
    csrf = (await client.get("/api/v1/session")).json()["csrfToken"]
    resp = await client.post("/api/v1/write", headers=JSON | {auth.CSRF_HEADER: csrf}, content=b"{}")
    assert resp.status_code == 403


async def test_failed_login_and_open_redirects(client: httpx2.AsyncClient) -> None:
    resp = await login(client, "wrong", "/x")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login?error=invalid")
    assert "set-cookie" not in resp.headers
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil", "/%0d%0aX:y"):
        resp = await login(client, ADMIN, target)
        location = resp.headers["location"]
        assert location.startswith("/") and not location.startswith("//") and "evil" not in location.split("?")[0][:3]
    assert (await client.post("/login", content=b"token=x", headers=JSON)).status_code == 415
    cross = FORM | {"Origin": "https://evil.example"}
    assert (await client.post("/login", content=f"token={ADMIN}".encode(), headers=cross)).status_code == 403
    resp = await client.post("/login", headers=FORM, content=b"token=" + b"x" * 20_000)
    assert resp.status_code == 413


async def test_login_is_rate_limited_per_client() -> None:
    app = make_app(CONFIG)
    app.state.auth.login_limiter = RateLimiter(burst=3, rate=0.01)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gitward.test") as c:
        codes = [(await login(c, "guess")).status_code for _ in range(5)]
        assert codes == [303, 303, 303, 429, 429]
        resp = await login(c, ADMIN)  # even the right token waits
        assert resp.status_code == 429 and int(resp.headers["retry-after"]) > 0


async def test_https_sessions_get_secure_cookies() -> None:
    app = make_app(CONFIG)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="https://gitward.test") as c:
        resp = await login(c, ADMIN)
        assert "Secure" in resp.headers["set-cookie"]


async def test_sessions_expire() -> None:
    app = make_app(CONFIG)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gitward.test") as c:
        await login(c, ADMIN)
        app.state.auth.sessions.idle = 0.0
        assert (await c.get("/api/v1/read")).status_code == 401


async def test_anonymous_loopback_mode() -> None:
    app = make_app(None)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
        resp = await c.get("/api/v1/read")
        assert resp.status_code == 200 and resp.json() == {"name": "anonymous", "via": "anonymous"}
        assert (await c.get("/api/v1/read", headers={"Host": "localhost:8080"})).status_code == 200
        assert (await c.get("/api/v1/read", headers={"Host": "[::1]:8080"})).status_code == 200
        for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example", "0.0.0.0:8080"):
            assert (await c.get("/api/v1/read", headers={"Host": host})).status_code == 403, host  # DNS rebinding
        assert (await c.post("/api/v1/write", headers=JSON, content=b"{}")).status_code == 200
        cross = JSON | {"Origin": "https://evil.example"}
        assert (await c.post("/api/v1/write", headers=cross, content=b"{}")).status_code == 403
        assert (await c.post("/form", headers=FORM, content=b"a=1")).status_code == 403  # form posts need the token
        csrf = (await c.get("/api/v1/session")).json()["csrfToken"]
        assert (await c.post("/form", headers=FORM, content=f"csrf_token={csrf}".encode())).status_code == 200
        resp = await c.post("/login", headers=FORM, content=b"token=&next=/apps")
        assert resp.status_code == 303 and resp.headers["location"] == "/apps"


async def test_csrf_token_helper(client: httpx2.AsyncClient) -> None:
    app = make_app(CONFIG)

    @app.get("/page")
    async def page(request: Request) -> dict[str, str]:
        return {"csrf": await auth.csrf_token(request)}

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gitward.test") as c:
        assert (await c.get("/page")).json() == {"csrf": ""}
        await login(c, VIEWER)
        assert (await c.get("/page")).json()["csrf"] == (await c.get("/api/v1/session")).json()["csrfToken"]
