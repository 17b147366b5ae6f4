"""One-shot messages ("Sync requested.") carried from a form post to the page it redirects to.

Called by gitward.server.dashboard.actions (`redirect`) and gitward.server.dashboard.templating
(`pop`, `clear`). The message travels in a short-lived HttpOnly, SameSite=Strict cookie that the
next page shows once and deletes; it is plain text (escaped when shown), never markup.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

__all__ = ["COOKIE", "Flash", "clear", "pop", "redirect"]

COOKIE = "gitward_flash"
MAX_LENGTH = 600
Kind = Literal["success", "error"]


@dataclass(frozen=True)
class Flash:
    kind: Kind
    message: str


def redirect(target: str, kind: Kind, message: str) -> RedirectResponse:
    """A 303 to `target` (a local path) that shows `message` there."""
    response = RedirectResponse(target, 303)
    value = urllib.parse.quote(f"{kind}:{message[:MAX_LENGTH]}", safe="")
    response.set_cookie(COOKIE, value, max_age=60, path="/", httponly=True, samesite="strict")
    return response


def pop(request: Request) -> Flash | None:
    """The message waiting for this request, if any (the page then calls `clear`)."""
    raw = urllib.parse.unquote(request.cookies.get(COOKIE, ""))[: MAX_LENGTH + 10]
    kind, _, message = raw.partition(":")
    if kind == "success" and message:
        return Flash("success", message)
    if kind == "error" and message:
        return Flash("error", message)
    return None


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
