"""The distribution API's authentication flow and transport, for gitward.sourcing.oci.

Every request goes to `https://host/v2/…` (or `http://` with `insecure`). A 401 carries a
`WWW-Authenticate` challenge: `Basic` (htpasswd registries) → retry with the login; `Bearer
realm=…,service=…,scope=…` (Docker Hub, GHCR, Harbor…) → ask the realm for a token, with the login
as Basic credentials when there is one, then retry with `Bearer <token>`. The header that worked is
kept per registry, repository, access and login until it expires, so a re-check costs one request.
Redirects (blob storage) are followed; httpx2 drops the Authorization header on a change of origin.
Errors are SourceErrors that never carry the login.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode, urlsplit

import httpx2

from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.sourcing.ocirefs import Reference

__all__ = ["RegistryAuth"]

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_TOKEN_TTL = 50.0  # seconds a token is reused when the realm gives no expires_in


class RegistryAuth:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._headers: dict[tuple[str, ...], tuple[float, str]] = {}

    @asynccontextmanager
    async def stream(
        self,
        ref: Reference,
        method: str,
        path: str,
        login: tuple[str, str],
        insecure: bool,
        context: ssl.SSLContext,
        headers: dict[str, str] | None = None,
        *,
        content: bytes | None = None,
        access: str = "pull",
    ) -> AsyncIterator[httpx2.Response]:
        """The response to `method path` on `ref`'s registry, authenticated as the registry asks."""
        scheme = "http" if insecure else "https"
        url = f"{scheme}://{ref.host}{path}"
        key = (ref.host, ref.repository, access, _identity(login))
        secrets = tuple(s for s in login if s)
        async with httpx2.AsyncClient(timeout=self.timeout, verify=context, follow_redirects=True) as client:
            try:
                for attempt in range(2):
                    sent = dict(headers or {})
                    cached = self._headers.get(key)
                    if cached and cached[0] > time.monotonic():
                        sent["Authorization"] = cached[1]
                    request = client.build_request(method, url, headers=sent, content=content)
                    response = await client.send(request, stream=True)
                    if response.status_code != 401 or attempt == 1:
                        try:
                            yield response
                        finally:
                            await response.aclose()
                        return
                    challenge = response.headers.get("www-authenticate", "")
                    await response.aclose()
                    self._headers[key] = await self._answer(client, challenge, ref, login, access, insecure)
            except httpx2.HTTPError as exc:
                raise _unreachable(ref, exc, insecure, secrets) from None

    async def _answer(
        self,
        client: httpx2.AsyncClient,
        challenge: str,
        ref: Reference,
        login: tuple[str, str],
        access: str,
        insecure: bool,
    ) -> tuple[float, str]:
        scheme, _, params_text = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not any(login):
                raise SourceError(
                    f"{ref.url()}: the registry asks for credentials (set secretRef)", reason="AuthenticationFailed"
                )
            return time.monotonic() + 3600, _basic(login)
        if scheme.lower() != "bearer":
            raise SourceError(
                f"{ref.url()}: unsupported registry authentication {scheme[:20]!r}", reason="AuthenticationFailed"
            )
        params = dict(_PARAM.findall(params_text))
        realm = params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not insecure):
            raise SourceError(f"{ref.url()}: the registry names an unusable token realm", reason="AuthenticationFailed")
        query = {
            "service": params.get("service", ""),
            "scope": params.get("scope") or f"repository:{ref.repository}:{access}",
        }
        headers = {"Authorization": _basic(login)} if any(login) else {}
        response = await client.get(f"{realm}?{urlencode(query)}", headers=headers)
        if response.status_code != 200:
            raise SourceError(
                f"{ref.url()}: the token service refused the credentials (HTTP {response.status_code})",
                reason="AuthenticationFailed",
            )
        try:
            body = response.json()
            token = str(body.get("token") or body.get("access_token") or "")
            expires = float(body.get("expires_in") or _TOKEN_TTL)
        except (ValueError, AttributeError):
            token, expires = "", 0.0
        if not token or any(ord(c) < 0x21 for c in token):
            raise SourceError(f"{ref.url()}: the token service sent no usable token", reason="AuthenticationFailed")
        return time.monotonic() + min(expires, 300.0) - 5, f"Bearer {token}"

    async def upload(
        self, ref: Reference, blob: bytes, login: tuple[str, str], insecure: bool, context: ssl.SSLContext
    ) -> None:
        """Upload `blob` (monolithic: POST for a session, then PUT with the digest) unless present."""
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        path = f"/v2/{ref.repository}/blobs/{digest}"
        async with self.stream(ref, "HEAD", path, login, insecure, context, access="pull,push") as response:
            if response.status_code == 200:
                return
        start = f"/v2/{ref.repository}/blobs/uploads/"
        async with self.stream(ref, "POST", start, login, insecure, context, access="pull,push") as response:
            _expect(response, ref, 202)
            location = response.headers.get("location", "")
        target = urlsplit(location)
        if target.netloc not in ("", ref.host) or not target.path.startswith(f"/v2/{ref.repository}/blobs/uploads/"):
            raise SourceError(f"{ref.url()}: the registry sent an unexpected upload location", reason="PushFailed")
        sep = "&" if target.query else "?"
        put = f"{target.path}?{target.query}{sep}{urlencode({'digest': digest})}".replace("??", "?")
        headers = {"Content-Type": "application/octet-stream"}
        async with self.stream(
            ref, "PUT", put, login, insecure, context, headers, content=blob, access="pull,push"
        ) as response:
            _expect(response, ref, 201)

    async def put_manifest(
        self,
        ref: Reference,
        body: bytes,
        media_type: str,
        login: tuple[str, str],
        insecure: bool,
        context: ssl.SSLContext,
    ) -> None:
        path = f"/v2/{ref.repository}/manifests/{ref.reference}"
        headers = {"Content-Type": media_type}
        async with self.stream(
            ref, "PUT", path, login, insecure, context, headers, content=body, access="pull,push"
        ) as response:
            _expect(response, ref, 201)


def _expect(response: httpx2.Response, ref: Reference, code: int) -> None:
    if response.status_code == code:
        return
    if response.status_code in (401, 403):
        raise SourceError(
            f"{ref.url()}: authentication failed (HTTP {response.status_code})", reason="AuthenticationFailed"
        )
    raise SourceError(f"{ref.url()}: the registry answered HTTP {response.status_code}", reason="PushFailed")


def _basic(login: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode("ascii")


def _identity(login: tuple[str, str]) -> str:
    return hashlib.sha256("\0".join(login).encode()).hexdigest()[:16] if any(login) else "anonymous"


def _unreachable(ref: Reference, exc: httpx2.HTTPError, insecure: bool, secrets: tuple[str, ...]) -> SourceError:
    text = f"{type(exc).__name__}: {exc}"
    if not insecure and isinstance(exc, httpx2.ConnectError) and "WRONG_VERSION_NUMBER" in text:
        return SourceError(
            f"{ref.url()}: the registry does not speak HTTPS; a plain-HTTP registry needs `insecure: true`",
            reason="InsecureRegistry",
        )
    if isinstance(exc, httpx2.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in text:
        return SourceError(
            f"{ref.url()}: the registry's TLS certificate is not trusted (put its CA in the Secret as ca.crt)",
            reason="TLSError",
        )
    return SourceError(redact(f"{ref.url()}: cannot reach the registry: {text[:300]}", secrets), reason="FetchFailed")
