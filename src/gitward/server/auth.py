"""Who is asking, and may they: bearer tokens, browser sessions, CSRF, the login flow (SPEC §4).

Used by every protected route as a FastAPI dependency:

    @router.get(...)  def f(principal: auth.Viewer)     # any valid token or session
    @router.post(...) def g(principal: auth.Admin)      # admin role; CSRF-checked for cookies

Credentials, in order: `Authorization: Bearer <token>` (hashed, compared in constant time with
the auth file's entries), else the session cookie of a browser login (`POST /login`). No or an
unknown credential → 401 with `WWW-Authenticate: Bearer`; a viewer on a state-changing route →
403. A state-changing request authenticated by a cookie must be same-origin and carry the
session's CSRF token (header `X-CSRF-Token`, or form field `csrf_token`; `csrf_token(request)`
gives it to the dashboard's templates). Without an auth file (`gitward run` then listens on
loopback only) every request is an anonymous admin, but only when addressed to a loopback host
name (DNS-rebinding guard) and, for form posts, with the CSRF token too.

Installed by `gitward.server.app.build` (`install`), which also mounts `router`: `GET /login`
(a minimal form the dashboard may replace), `POST /login`, `POST /logout`, `GET /api/v1/session`.
State: `AuthState` on `app.state.auth`; sessions and the login rate limiter are bounded
(`gitward.server.sessions`). Tokens, session ids and CSRF tokens are never logged.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from gitward.core.logging import get_logger
from gitward.server import security
from gitward.server.sessions import RateLimiter, Session, SessionStore
from gitward.server.tokens import AuthConfig, Role, TokenTable

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Admin",
    "AuthState",
    "Principal",
    "RateLimiter",
    "SessionStore",
    "Viewer",
    "audit",
    "authenticate",
    "client_host",
    "csrf_token",
    "install",
    "read_form",
    "require_admin",
    "require_viewer",
    "router",
    "safe_next",
]

log = get_logger(__name__)

SESSION_COOKIE = "gitward_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 16 * 1024
MAX_TOKEN_LENGTH = 4096
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: Literal["token", "session", "anonymous"]
    csrf_token: str = field(default="", repr=False)
    session_id: str = field(default="", repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class AuthState:
    """The process's authentication state: the auth file (None = anonymous loopback mode), the
    token table, browser sessions and the login rate limiter."""

    def __init__(
        self, config: AuthConfig | None, sessions: SessionStore | None = None, limiter: RateLimiter | None = None
    ) -> None:
        self.config = config
        self.tokens = TokenTable(config.tokens if config is not None else ())
        self.sessions = sessions or SessionStore()
        self.login_limiter = limiter or RateLimiter()
        self.anonymous_csrf = secrets.token_urlsafe(32)

    @property
    def anonymous(self) -> bool:
        return self.config is None

    @property
    def webhook_key(self) -> bytes | None:
        return self.config.webhook_key if self.config is not None else None


def install(app: FastAPI, config: AuthConfig | None) -> AuthState:
    state = AuthState(config)
    app.state.auth = state
    app.include_router(router)
    return state


def state_of(request: Request) -> AuthState:
    state = getattr(request.app.state, "auth", None)
    if not isinstance(state, AuthState):
        raise RuntimeError("gitward.server.auth.install() was not called for this app")
    return state


# ---------------------------------------------------------------------------------------------- checks


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="gitward"'})


def _bearer(request: Request) -> str | None:
    """The bearer token, None without an Authorization header; 401 for any other scheme."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise _unauthorized("expected Authorization: Bearer <token>")
    return token


def _loopback_host(request: Request) -> bool:
    host = (request.headers.get("host") or "").strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def authenticate(request: Request) -> Principal:
    """The caller, from a bearer token or a session cookie (see the module docstring)."""
    state = state_of(request)
    if state.anonymous:
        if not _loopback_host(request):
            raise HTTPException(403, "without an auth file gitward only answers requests to localhost")
        return Principal("anonymous", Role.ADMIN, "anonymous", state.anonymous_csrf)
    token = _bearer(request)
    if token is not None:
        entry = state.tokens.find(token)
        if entry is None:
            raise _unauthorized("unknown token")
        return Principal(entry.name, entry.role, "token")
    session_id = request.cookies.get(SESSION_COOKIE, "")
    session = state.sessions.get(session_id) if session_id else None
    if session is None:
        raise _unauthorized("authentication required: Authorization: Bearer <token>, or log in")
    return _from_session(session, session_id)


def _from_session(session: Session, session_id: str) -> Principal:
    return Principal(session.user, Role(session.role), "session", session.csrf_token, session_id)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Origin, Sec-Fetch-Site)."""
    origin = request.headers.get("origin")
    if origin is not None:
        # the host part only: behind a TLS-terminating proxy the scheme seen here may differ
        netloc = urllib.parse.urlsplit(origin).netloc if origin != "null" else ""
        if not netloc or netloc.lower() != request.headers.get("host", "").lower():
            return False
    fetch_site = request.headers.get("sec-fetch-site")
    return fetch_site in (None, "same-origin", "none")


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form of the request (first value per field), read once with a size cap and
    cached for the route; {} for other content types."""
    cached: dict[str, str] | None = getattr(request.state, "gitward_form", None)
    if cached is not None:
        return cached
    form: dict[str, str] = {}
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type == FORM_TYPE:
        body = await security.read_body(request, MAX_FORM_BYTES)
        try:
            pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=100)
        except (UnicodeDecodeError, ValueError) as exc:
            raise HTTPException(400, "malformed form body") from exc
        for key, value in pairs:
            form.setdefault(key, value)
    request.state.gitward_form = form
    return form


async def check_csrf(request: Request, principal: Principal) -> None:
    """403 unless a cookie-authenticated (or anonymous) state-changing request is same-origin and,
    where needed, carries the CSRF token."""
    if request.method in SAFE_METHODS or principal.via == "token":
        return
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    if principal.via == "anonymous" and security.is_json(request.headers.get("content-type")):
        return  # a cross-site page cannot send application/json without a CORS preflight
    presented = request.headers.get(CSRF_HEADER) or (await read_form(request)).get(CSRF_FIELD, "")
    if not presented or not hmac.compare_digest(presented.encode(), principal.csrf_token.encode()):
        raise HTTPException(403, f"missing or invalid CSRF token ({CSRF_HEADER} header or {CSRF_FIELD} field)")


async def require_viewer(request: Request) -> Principal:
    return await authenticate(request)


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise HTTPException(403, f"{principal.name}: the {principal.role} role may not change anything")
    await check_csrf(request, principal)
    return principal


Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]


async def csrf_token(request: Request) -> str:
    """The CSRF token to embed in the forms of a page for this request's session ("" for tokens)."""
    try:
        return (await authenticate(request)).csrf_token
    except HTTPException:
        return ""


# ---------------------------------------------------------------------------------------------- login flow

router = APIRouter()


class SessionInfo(BaseModel):
    name: str
    role: Role
    via: str
    csrfToken: str | None = None


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a local absolute path, else "/" — never `//host`, `/\\host`, a
    scheme or a control character (open redirect). Also used by the dashboard's login page."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2048:
        return "/"
    return "/" if any(ord(c) < 0x21 or c in "\\\x7f" for c in target) else target


def client_host(request: Request) -> str:
    """The peer's address, for rate limits and logs ("unknown" when the server does not know it)."""
    return request.client.host if request.client is not None else "unknown"


def audit(operation: str, namespace: str, name: str, principal: Principal, **extra: object) -> None:
    """Log who requested an operation on an Application (the REST API's and the dashboard's forms)."""
    log.info("operation requested", operation=operation, app=f"{namespace}/{name}", user=principal.name, **extra)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gitward: log in</title></head>
<body><main><h1>gitward</h1>{error}
<form method="post" action="/login">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Log in</button>
</form></main></body></html>
"""


@router.get("/login", include_in_schema=False)
async def login_page(request: Request) -> HTMLResponse:
    error = '<p role="alert">Invalid token.</p>' if request.query_params.get("error") else ""
    target = html.escape(safe_next(request.query_params.get("next")), quote=True)
    return HTMLResponse(_LOGIN_PAGE.format(error=error, next=target))


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Form `token` (+ `next`) → a session cookie and a redirect to `next`; rate limited per client."""
    state = state_of(request)
    wait = state.login_limiter.allow(client_host(request))
    if wait > 0:
        raise HTTPException(429, "too many login attempts; try again later", headers={"Retry-After": f"{wait:.0f}"})
    if not same_origin(request):
        raise HTTPException(403, "cross-site request refused")
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_TYPE:
        raise HTTPException(415, f"log in with a {FORM_TYPE} form")
    form = await read_form(request)
    target = safe_next(form.get("next"))
    if state.anonymous:
        return RedirectResponse(target, 303)
    entry = state.tokens.find(form.get("token", "")[:MAX_TOKEN_LENGTH])
    if entry is None:
        log.warning("login failed", client=client_host(request))
        query = urllib.parse.urlencode({"error": "invalid", "next": target})
        return RedirectResponse(f"/login?{query}", 303)
    session_id, _ = state.sessions.create(entry.name, entry.role.value)
    log.info("login", user=entry.name, role=entry.role.value, client=client_host(request))
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(state.sessions.max_age),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    principal = await authenticate(request)
    await check_csrf(request, principal)
    if principal.session_id:
        state_of(request).sessions.delete(principal.session_id)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/v1/session", response_model=SessionInfo, tags=["auth"])
async def session_info(principal: Viewer) -> SessionInfo:
    """Who the caller is; for a browser session also its CSRF token (for `X-CSRF-Token`)."""
    return SessionInfo(
        name=principal.name, role=principal.role, via=principal.via, csrfToken=principal.csrf_token or None
    )
