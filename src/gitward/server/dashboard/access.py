"""Who may see a dashboard page: the viewer dependency of the pages, which sends a browser without
a session to the login page instead of answering 401 JSON.

Used by gitward.server.dashboard.pages and login; the exceptions are turned into responses by the
handlers that gitward.server.dashboard.install registers. Form posts use `auth.Admin` directly
(role and CSRF checked by gitward.server.auth).
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from gitward.server import auth

__all__ = ["LoginRequired", "PageError", "Viewer", "login_url", "viewer"]


class LoginRequired(Exception):
    """No valid session: answered with a redirect to the login page, then back to `target`."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class PageError(Exception):
    """A page cannot be shown (not found, not ready): answered with an HTML error page."""

    def __init__(self, status: int, title: str, message: str, principal: auth.Principal | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.principal = status, title, message, principal


def login_url(target: str) -> str:
    return "/login?" + urllib.parse.urlencode({"next": target}) if target not in ("", "/") else "/login"


async def viewer(request: Request) -> auth.Principal:
    try:
        return await auth.authenticate(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            query = f"?{request.url.query}" if request.url.query else ""
            raise LoginRequired(request.url.path + query) from None
        raise PageError(exc.status_code, "Not allowed", str(exc.detail)) from None


Viewer = Annotated[auth.Principal, Depends(viewer)]
