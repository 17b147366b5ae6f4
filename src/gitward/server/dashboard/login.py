"""`GET /login`: the dashboard's login page, in place of the minimal form of gitward.server.auth.
The form posts to auth's `POST /login` (token, next), which sets the session cookie and redirects
to `next`, or back here with `?error=invalid`.

Installed by gitward.server.dashboard.install as the app's first route, so it answers before auth's
own GET /login. Already logged in, or without an auth file (anonymous loopback mode), the page
sends the browser on to `next` at once.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from gitward.server import auth
from gitward.server.dashboard import templating

__all__ = ["login_page"]


async def login_page(request: Request) -> Response:
    target = auth.safe_next(request.query_params.get("next"))
    try:
        await auth.authenticate(request)
    except HTTPException:
        pass
    else:
        return RedirectResponse(target, 303)
    error = "That token is not valid." if request.query_params.get("error") else ""
    return templating.page(request, "login.html", None, next=target, error=error)
