"""The dashboard (SPEC §5): server-rendered pages, live-updated over server-sent events.

`install(app)` is called on the app that gitward.server.app.build made (at the end of `build`, and
by the dashboard's tests), after gitward.server.auth installed the login flow:

    GET  /                                        the application list          (pages)
    GET  /applications/{ns}/{name}                one application               (pages)
    GET  /notifications                           Providers, Alerts, deliveries (notifications)
    POST /applications/{ns}/{name}/sync|refresh|rollback|resume   admin forms   (actions)
    GET  /applicationsets                         ApplicationSets and their Applications (fleets)
    GET  /rollouts, /rollouts/{ns}/{name}         Rollouts: steps, weights, analysis, history (rollouts)
    POST /rollouts/{ns}/{name}/promote|promote-full|abort|retry   admin forms   (rollouts)
    GET  /login                                   the login page, in front of auth's minimal one (login)
    GET  /assets/...                              CSS, JavaScript, icon         (static/)

Everything is same-origin and fits the server's CSP (no inline script or style): templates/ hold
the HTML (Jinja, autoescaped), static/ the stylesheet and the small vanilla script that follows
/api/v1/events. Nothing is fetched from elsewhere at run time.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from gitward.server.dashboard import access, actions, fleets, login, notifications, pages, rollouts, templating

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Mount the dashboard's routes, assets and error pages on `app` (built by
    gitward.server.app.build); a second call changes nothing."""
    if getattr(app.state, "dashboard", False):
        return
    app.state.dashboard = True
    # first, so that it answers GET /login before auth's minimal page (auth's POST /login stays)
    app.router.routes.insert(0, APIRoute("/login", login.login_page, methods=["GET"], include_in_schema=False))
    for router in (pages.router, actions.router, notifications.router, fleets.router, rollouts.router):
        app.include_router(router)
    app.mount(templating.ASSETS, StaticFiles(directory=templating.STATIC), name="dashboard-assets")
    app.add_exception_handler(access.LoginRequired, _login_required)
    app.add_exception_handler(access.PageError, _page_error)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, access.LoginRequired)
    return RedirectResponse(access.login_url(exc.target), 303)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, access.PageError)
    context = {"title": exc.title, "message": exc.message}
    return templating.page(request, "error.html", exc.principal, exc.status, **context)
