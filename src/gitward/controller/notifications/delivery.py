"""One HTTP delivery: send a built request with timeouts, follow a redirect only to the same origin,
read no response body, and say whether a failure is worth retrying (and when, for 429 Retry-After).

Error messages name the host and the HTTP status only — never the URL's path or query (a Slack or
Teams webhook URL is itself the credential), never a header, never the receiver's body — and are
redacted once more against the Provider's Secret values by the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from gitward.controller.notifications.payloads import Request

MAX_REDIRECTS = 3
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEADLINE = 30.0  # seconds for one attempt, whatever the receiver does


@dataclass
class DeliveryError(Exception):
    message: str
    retry: bool = True
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message


def client() -> httpx.AsyncClient:
    """The HTTP client for deliveries: timeouts, no automatic redirects, no proxy or netrc from the
    environment (an address is never sent anywhere but where its Provider says)."""
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


async def send(http: httpx.AsyncClient, request: Request) -> int:
    """Deliver `request`; its 2xx status code, or DeliveryError."""
    url = request.url
    for _ in range(MAX_REDIRECTS + 1):
        host = urlsplit(url).netloc
        try:
            async with asyncio.timeout(DEADLINE):
                async with http.stream(request.method, url, headers=request.headers, content=request.body) as resp:
                    status, headers = resp.status_code, resp.headers
        except TimeoutError as exc:
            raise DeliveryError(f"{host}: no answer within {DEADLINE:.0f}s") from exc
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{host}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{host}: {type(exc).__name__}: {_cause(exc)}") from exc
        if 200 <= status < 300:
            return status
        if status in (307, 308):
            target = urljoin(url, headers.get("location", ""))
            if _origin(target) != _origin(url):
                raise DeliveryError(f"{host}: HTTP {status} redirect to another host, not followed", retry=False)
            url = target
            continue
        if 300 <= status < 400:
            raise DeliveryError(f"{host}: HTTP {status} redirect, not followed", retry=False)
        if status == 429:
            raise DeliveryError(f"{host}: HTTP 429 (rate limited)", retry_after=retry_after(headers.get("retry-after")))
        if status >= 500 or status == 408:
            raise DeliveryError(f"{host}: HTTP {status}", retry_after=retry_after(headers.get("retry-after")))
        raise DeliveryError(f"{host}: HTTP {status}", retry=False)
    raise DeliveryError(f"{urlsplit(url).netloc}: more than {MAX_REDIRECTS} redirects", retry=False)


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
