"""The dashboard's templates: one Jinja environment (autoescape on, strict undefined) and `page`,
which renders a template with what every page shows (user, role, CSRF token, flash message).

Called by the routes of gitward.server.dashboard (pages, login, and the error handlers). Pages are
never cached (they carry the CSRF token); assets are linked with a content hash (`asset`), so a new
version is fetched after an upgrade. Nothing here renders markup from data: filters return text or
`Markup` built with escaping (gitward.server.dashboard.filters).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from gitward.server import auth
from gitward.server.dashboard import filters, flashes

__all__ = ["ASSETS", "STATIC", "asset", "environment", "page"]

HERE = Path(__file__).parent
# Pages carry CSRF tokens: never cached. `same-origin` instead of the server's default `no-referrer`:
# with `no-referrer`, browsers send `Origin: null` on form posts, which the server's same-origin
# check (gitward.server.auth) must refuse; `same-origin` still sends nothing to other sites.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
STATIC = HERE / "static"
ASSETS = "/assets"


@functools.cache
def asset(name: str) -> str:
    """The URL of a static file, with a hash of its content for cache busting."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"{ASSETS}/{name}?v={digest}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        link=filters.link,
        display_url=filters.display_url,
        short_sha=filters.short_sha,
        short_url=filters.short_url,
        relative=filters.relative,
        absolute=filters.absolute,
        tone=filters.tone,
        first_line=filters.first_line,
        diff_lines=filters.diff_lines,
    )
    env.globals["asset"] = asset
    return env


environment = _environment()


def page(
    request: Request, template: str, principal: auth.Principal | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """`template` rendered for `principal` (None on the login page) as an uncached HTML response."""
    flash = flashes.pop(request)
    html = environment.get_template(template).render(
        principal=principal,
        csrf=principal.csrf_token if principal is not None else "",
        flash=flash,
        now=datetime.now(UTC),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code, headers=HEADERS)
    if flash is not None:
        flashes.clear(response)
    return response
