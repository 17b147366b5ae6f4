"""The Kubernetes REST client gitward uses: discovery-driven paths, server-side apply, dry-run,
list/watch, status patches and impersonation, on one keep-alive connection pool.

Callers: applying (dry-run, apply, prune), controller (watch cache, status, events, leases),
cli, server, devcluster (node simulator). Payloads are plain dicts; failures raise
`gitward.kube.errors`.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx2

from gitward.core.manifests import Manifest, split_api_version
from gitward.kube import config as kubeconfig
from gitward.kube import errors
from gitward.kube.discovery import ResourceInfo, check_path, gv_path, is_group_version, parse_resource_list

FIELD_MANAGER = "gitward"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

RequestHook = Callable[[str, int], None]
"""Called after every request with (verb, HTTP status code; 0 when there was no answer). A request
refused before sending (`errors.UnsafeRequestError`) is no request: the hook is not called."""

_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who requests are made as, through impersonation headers."""

    user: str
    groups: tuple[str, ...] = ()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Identity:
        """The identity of ServiceAccount `namespace`/`name`; ValueError unless the namespace is a
        DNS-1123 label and the name a DNS-1123 subdomain (what Kubernetes allows: no `:`, no CR/LF)."""
        if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
            raise ValueError(f"ServiceAccount namespace {namespace[:80]!r} is not a DNS-1123 label")
        if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            raise ValueError(f"ServiceAccount name {name[:80]!r} is not a DNS-1123 subdomain")
        # no Impersonate-Group: for a ServiceAccount user the API server adds its groups itself
        # (system:serviceaccounts, system:serviceaccounts:<ns>, system:authenticated), and asking for
        # them would need `impersonate` on groups too — more than the controller's role grants
        return cls(f"system:serviceaccount:{namespace}:{name}")


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    object: Manifest


class _Discovery:
    """Lazily filled kind → resource map per group/version, shared by all clients of a connection."""

    def __init__(self) -> None:
        self.by_gv: dict[tuple[str, str], dict[str, ResourceInfo]] = {}
        self.lock = asyncio.Lock()


class KubeClient:
    """An API client; `impersonating()` returns a view that shares the connection pool and discovery."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        default_namespace: str = "default",
        identity: Identity | None = None,
        discovery: _Discovery | None = None,
        hook: RequestHook | None = None,
        direct: kubeconfig.Direct | None = None,
    ) -> None:
        self._http = http
        self._direct = direct
        self.default_namespace = default_namespace
        self.identity = identity
        self._discovery = discovery or _Discovery()
        self._hook = hook
        self._headers: dict[str, str] = {}
        if identity is not None:
            self._headers["Impersonate-User"] = identity.user

    @classmethod
    def connect(
        cls,
        kubeconfig_path: str | None = None,
        context: str | None = None,
        *,
        hook: RequestHook | None = None,
        timeout: float = 30.0,
    ) -> KubeClient:
        single = kubeconfig.load(kubeconfig_path, context)
        http, direct = kubeconfig.connection(single, timeout=timeout)
        return cls(http, default_namespace=kubeconfig.default_namespace(single), hook=hook, direct=direct)

    @classmethod
    def from_kubeconfig_data(
        cls, conf: dict[str, Any], *, hook: RequestHook | None = None, timeout: float = 30.0
    ) -> KubeClient:
        """A client for the cluster of a kubeconfig given as data (clusters named by Secrets)."""
        single = kubeconfig.load_dict(conf)
        http, direct = kubeconfig.connection(single, timeout=timeout)
        return cls(http, default_namespace=kubeconfig.default_namespace(single), hook=hook, direct=direct)

    def impersonating(self, identity: Identity | None) -> KubeClient:
        if identity is None:
            return self
        return KubeClient(
            self._http,
            default_namespace=self.default_namespace,
            identity=identity,
            discovery=self._discovery,
            hook=self._hook,
            direct=self._direct,
        )

    def set_hook(self, hook: RequestHook | None) -> None:
        self._hook = hook

    @property
    def hook(self) -> RequestHook | None:
        """What is called after every request (metrics), shared with clients made for other clusters."""
        return self._hook

    async def close(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------- raw requests

    def _request_headers(self, content_type: str | None = None) -> list[tuple[bytes, bytes]]:
        """Per-request headers, as the bytes both request paths send (UTF-8; the transport refuses
        CR, LF, NUL and other control characters in them)."""
        headers = [(b"Accept", b"application/json")]
        if content_type:
            headers.append((b"Content-Type", content_type.encode()))
        if self.identity is not None:
            headers.append((b"Impersonate-User", self.identity.user.encode()))
            headers.extend((b"Impersonate-Group", g.encode()) for g in self.identity.groups)
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body or raise a `gitward.kube.errors` error.

        `path` is held to `discovery.check_path` and every header to the transport's checks: an
        unsafe request raises `errors.UnsafeRequestError` and is never sent, nor sent changed."""
        check_path(path)
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
            content_type = content_type or "application/json"
        try:
            if self._direct is not None:
                status, data = await self._send_direct(self._direct, method, path, params, content, content_type)
            else:
                resp = await self._http.request(
                    method, path, params=params, content=content, headers=self._request_headers(content_type)
                )
                status, data = resp.status_code, resp.content
        except httpx2.HTTPError as exc:
            self._record(method, 0)
            raise errors.APIConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        self._record(method, status)
        if status >= 400:
            raise _error_of(status, data, f"{method} {path}")
        if not data:
            return None
        return json.loads(data)

    async def _send_direct(
        self,
        direct: kubeconfig.Direct,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        content_type: str | None,
    ) -> tuple[int, bytes]:
        """The request straight through the transport (static authentication; see `kube.config`)."""
        target = direct.prefix + urllib.parse.quote(path, safe=_PATH_SAFE)
        if params:
            target += ("&" if "?" in target else "?") + _query(params)
        headers = [*direct.headers, *self._request_headers(content_type)]
        return await direct.transport.exchange(
            direct.origin, method, target.encode(), headers, content or b"", direct.timeout
        )

    def _record(self, method: str, code: int) -> None:
        if self._hook is not None:
            self._hook(method.upper(), code)

    # ---------------------------------------------------------------- discovery

    async def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """The resource serving `kind` in `api_version`; refreshes discovery once on a miss.
        An `api_version` that cannot name an API (`a/b/v1`, `../v1`) is not found, without a request."""
        group, version = split_api_version(api_version)
        if not is_group_version(group, version):
            raise errors.APINotFoundError(
                f"the server has no resource for kind {kind} in {api_version[:120]!r}: not a valid apiVersion",
                code=404,
                status=None,
            )
        known = self._discovery.by_gv.get((group, version))
        if known is not None and kind in known:
            return known[kind]
        async with self._discovery.lock:
            try:
                body = await self.request("GET", gv_path(group, version))
            except errors.APINotFoundError:
                body = {}
            known = parse_resource_list(group, version, body or {})
            self._discovery.by_gv[(group, version)] = known
        if kind not in known:
            raise errors.APINotFoundError(
                f"the server has no resource for kind {kind} in {api_version}", code=404, status=None
            )
        return known[kind]

    def forget_discovery(self) -> None:
        self._discovery.by_gv.clear()

    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        return (await self.resource(api_version, kind)).namespaced

    async def scopes(self, objs: list[Manifest]) -> dict[tuple[str, str], bool | None]:
        """Whether each (group, kind) of `objs` is namespaced; None for a kind the server does not
        serve (yet: a CRD of the same render, or a mistake that dry-run will name)."""
        kinds = {(str(o.get("apiVersion", "")), str(o.get("kind", ""))) for o in objs}

        async def scope(api_version: str, kind: str) -> tuple[tuple[str, str], bool | None]:
            key = (split_api_version(api_version)[0], kind)
            try:
                return key, await self.is_namespaced(api_version, kind)
            except errors.APINotFoundError:
                return key, None

        return dict(await asyncio.gather(*(scope(av, k) for av, k in kinds)))

    async def server_version(self) -> dict[str, Any]:
        return dict(await self.request("GET", "/version"))

    # ---------------------------------------------------------------- verbs

    async def _path_of(self, obj: Manifest, subresource: str = "") -> str:
        info = await self.resource(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (self.default_namespace if info.namespaced else None)
        return info.path(namespace, str(meta.get("name") or ""), subresource)  # no name: refused, never the collection

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest:
        info = await self.resource(api_version, kind)
        return dict(await self.request("GET", info.path(namespace, name)))

    async def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Manifest | None:
        try:
            return await self.get(api_version, kind, name, namespace)
        except errors.APINotFoundError:
            return None

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Manifest], str]:
        """All objects (paged), with apiVersion/kind filled in, and the list's resourceVersion."""
        info = await self.resource(api_version, kind)
        params: dict[str, Any] = {"limit": 500}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        items: list[Manifest] = []
        while True:
            body = await self.request("GET", info.path(namespace), params=params)
            for item in body.get("items") or []:
                item.setdefault("apiVersion", info.api_version)
                item.setdefault("kind", info.kind)
                items.append(item)
            cont = (body.get("metadata") or {}).get("continue")
            if not cont:
                return items, str((body.get("metadata") or {}).get("resourceVersion", ""))
            params["continue"] = cont

    async def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """Stream watch events until the server closes the watch; 410 Gone raises APIGoneError."""
        info = await self.resource(api_version, kind)
        params: dict[str, Any] = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        timeout = httpx2.Timeout(30.0, read=timeout_seconds + 30.0)
        path = check_path(info.path(namespace))
        try:
            async with self._http.stream(
                "GET", path, params=params, headers=self._request_headers(), timeout=timeout
            ) as resp:
                self._record("WATCH", resp.status_code)
                if resp.status_code >= 400:
                    raise _error_of(resp.status_code, await resp.aread(), f"WATCH {path}")
                async for line in resp.aiter_lines():
                    if not line:
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        code = int(obj.get("code") or 500)
                        raise errors.from_status(code, obj, f"WATCH {path}")
                    if event.get("type") != "BOOKMARK":
                        obj.setdefault("apiVersion", info.api_version)
                        obj.setdefault("kind", info.kind)
                    yield WatchEvent(str(event.get("type")), obj)
        except httpx2.HTTPError as exc:
            raise errors.APIConnectionError(f"WATCH {path}: {type(exc).__name__}") from exc

    async def apply(
        self,
        obj: Manifest,
        *,
        field_manager: str = FIELD_MANAGER,
        force: bool = True,
        dry_run: bool = False,
        subresource: str = "",
    ) -> Manifest:
        """Server-side apply of `obj` (creates it when missing)."""
        params: dict[str, Any] = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        path = await self._path_of(obj, subresource)
        return dict(await self.request("PATCH", path, params=params, body=obj, content_type=APPLY_PATCH))

    async def create(self, obj: Manifest, *, dry_run: bool = False) -> Manifest:
        info = await self.resource(str(obj["apiVersion"]), str(obj["kind"]))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (self.default_namespace if info.namespaced else None)
        params = {"dryRun": "All"} if dry_run else None
        return dict(await self.request("POST", info.path(namespace), params=params, body=obj))

    async def replace(self, obj: Manifest, *, subresource: str = "") -> Manifest:
        return dict(await self.request("PUT", await self._path_of(obj, subresource), body=obj))

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str = "",
        field_manager: str | None = None,
    ) -> Manifest:
        info = await self.resource(api_version, kind)
        params = {"fieldManager": field_manager} if field_manager else None
        path = info.path(namespace, name, subresource)
        return dict(await self.request("PATCH", path, params=params, body=patch, content_type=content_type))

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        grace_period: int | None = None,
        preconditions_uid: str | None = None,
    ) -> bool:
        """Delete one object; False when it was already gone."""
        info = await self.resource(api_version, kind)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if preconditions_uid:
            body["preconditions"] = {"uid": preconditions_uid}
        try:
            await self.request("DELETE", info.path(namespace, name), body=body)
        except errors.APINotFoundError:
            return False
        return True


_PATH_SAFE = "/:@!$&'()*+,;=-._~%?"
"""Left as they are in the direct path's target: `%` keeps the escapes of segments encoded by
`ResourceInfo.path` (no double encoding; `check_path` refused a `%` that is not an escape), `?`
starts the query as on the httpx2 path."""


def _query(params: dict[str, Any]) -> str:
    """Query parameters as httpx2 encodes them (booleans as true/false)."""
    pairs = [
        (key, ("true" if value else "false") if isinstance(value, bool) else str(value))
        for key, value in params.items()
    ]
    return urllib.parse.urlencode(pairs)


def _error_of(code: int, content: bytes, fallback: str) -> errors.APIError:
    status: dict[str, Any] | None = None
    try:
        decoded = json.loads(content) if content else None
        if isinstance(decoded, dict):
            status = decoded
    except ValueError:
        status = None
    return errors.from_status(code, status, f"{fallback}: HTTP {code}")
