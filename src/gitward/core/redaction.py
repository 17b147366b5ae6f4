"""Redaction of credentials in text that may reach logs, conditions, events or HTTP responses.

Called by every layer that turns an error into a message: sourcing (Git URLs with userinfo),
applying (API server messages that may echo Secret values), and the logging processor.
"""

from __future__ import annotations

import re

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_URL_QUERY = re.compile(r"(?P<base>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"]+)\?[^\s#'\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*)(basic|bearer)?\s*\S+")

MASK = "***"


def redact_url(url: str) -> str:
    """`https://user:pw@host/x?token=1` → `https://***@host/x?***`."""
    return redact(url)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL userinfo and query strings, bearer tokens and any of `secrets` from `text`."""
    out = text
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):  # whole values first
        if len(secret) >= 3:
            out = out.replace(secret, MASK)
    out = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", out)
    out = _URL_QUERY.sub(lambda m: f"{m.group('base')}?{MASK}", out)
    out = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MASK}", out)
    return _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", out)
