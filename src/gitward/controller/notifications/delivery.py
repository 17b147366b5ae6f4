"""One HTTP delivery: send a built request with timeouts, follow a redirect only to the same origin,
read no response body (except a bounded one from an API that answers errors with 200, like Slack's
Web API: `{"ok": false, "error": "channel_not_found"}`, or says with a 400 that the commit status
asked for is already there, like GitLab), and say whether a failure is worth retrying
(and when: Retry-After, or GitHub's x-ratelimit-reset on a 403/429). Called by the engine's Provider workers.

Error messages name the host and the HTTP status only — never the URL's path or query (a Slack or
Teams webhook URL is itself the credential), never a header, never the receiver's body — and are
redacted once more against the Provider's Secret values by the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx2

from gitward.controller.notifications.payloads import Request

MAX_REDIRECTS = 3
TIMEOUT = 10.0  # seconds per read/write; an attempt as a whole gets DEADLINE_FACTOR times that
DEADLINE_FACTOR = 3
MAX_ANSWER = 64 * 1024  # bytes read of an answer that must be checked
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")  # what Slack's `error` field holds


@dataclass
class DeliveryError(Exception):
    message: str
    retry: bool = True
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message


def client(timeout: float = TIMEOUT) -> httpx2.AsyncClient:
    """The HTTP client for deliveries: timeouts, no automatic redirects, no proxy or netrc from the
    environment (an address is never sent anywhere but where its Provider says)."""
    limits = httpx2.Timeout(timeout, connect=min(timeout, 5.0))
    return httpx2.AsyncClient(timeout=limits, follow_redirects=False, trust_env=False)


async def send(http: httpx2.AsyncClient, request: Request) -> int:
    """Deliver `request`; its 2xx status code, or DeliveryError."""
    url = request.url
    read = http.timeout.read or TIMEOUT
    deadline = read * DEADLINE_FACTOR
    for _ in range(MAX_REDIRECTS + 1):
        host = urlsplit(url).netloc
        answer = b""
        try:
            async with asyncio.timeout(deadline):
                async with http.stream(request.method, url, headers=request.headers, content=request.body) as resp:
                    status, headers = resp.status_code, resp.headers
                    if (request.check_ok and 200 <= status < 300) or (request.already and status == 400):
                        answer = await _read_bounded(resp)
        except TimeoutError as exc:
            raise DeliveryError(f"{host}: no answer within {deadline:g}s") from exc
        except httpx2.TimeoutException as exc:
            raise DeliveryError(f"{host}: timed out ({type(exc).__name__})") from exc
        except httpx2.HTTPError as exc:
            raise DeliveryError(f"{host}: {type(exc).__name__}: {_cause(exc)}") from exc
        if 200 <= status < 300:
            if request.check_ok:
                _check_ok(host, answer)
            return status
        if status in (307, 308):
            target = urljoin(url, headers.get("location", ""))
            if _origin(target) != _origin(url):
                raise DeliveryError(f"{host}: HTTP {status} redirect to another host, not followed", retry=False)
            url = target
            continue
        if 300 <= status < 400:
            raise DeliveryError(f"{host}: HTTP {status} redirect, not followed", retry=False)
        if status == 400 and request.already and request.already in answer:
            return status  # what was asked for is already so
        if status in (403, 429):
            wait = rate_limit_wait(headers)
            if status == 429 or wait is not None:  # a 403 is a rate limit only when its headers say so
                raise DeliveryError(f"{host}: HTTP {status} (rate limited)", retry_after=wait)
        if status >= 500 or status == 408:
            raise DeliveryError(f"{host}: HTTP {status}", retry_after=retry_after(headers.get("retry-after")))
        raise DeliveryError(f"{host}: HTTP {status}", retry=False)
    raise DeliveryError(f"{urlsplit(url).netloc}: more than {MAX_REDIRECTS} redirects", retry=False)


async def _read_bounded(resp: httpx2.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER:
            break
    return b"".join(chunks)[:MAX_ANSWER]


def _check_ok(host: str, answer: bytes) -> None:
    """An API answering `{"ok": true}` or `{"ok": false, "error": "<code>"}` with HTTP 200: a false
    `ok` is a failure (not retried), named by its error code when that is a plain code."""
    try:
        body = json.loads(answer)
    except ValueError as exc:
        raise DeliveryError(f"{host}: the answer is not JSON", retry=False) from exc
    if isinstance(body, dict) and body.get("ok") is True:
        return
    code = body.get("error") if isinstance(body, dict) else None
    named = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "unknown error"
    if named == "ratelimited":
        raise DeliveryError(f"{host}: rate limited (ok=false)")
    raise DeliveryError(f"{host}: refused: {named}", retry=False)


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds a rate-limited client must wait, from `Retry-After`, or (GitHub, GitLab) from
    `x-ratelimit-remaining: 0` with `x-ratelimit-reset` in UTC epoch seconds; None when neither says."""
    wait = retry_after(headers.get("retry-after"))
    if wait is not None:
        return wait
    remaining, reset = headers.get("x-ratelimit-remaining", ""), headers.get("x-ratelimit-reset", "").strip()
    if remaining.strip() == "0" and reset.isdigit() and len(reset) <= 12:
        return max(0.0, int(reset) - time.time())
    return None


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _cause(exc: BaseException) -> str:
    """The innermost reason (e.g. "Connection refused"), never a URL."""
    text = str(exc) or type(exc).__name__
    return text.split(" for url ")[0][:200]
