"""The destination cluster's capabilities for Helm charts: its version and the APIs it serves.

Called by `Sources` (through the provider the manager gives it) before rendering a chart, so that
`.Capabilities.KubeVersion` and `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"` answer
for the real cluster, as `helm install` (and Argo CD's `--api-versions`) would. Discovery reads
`/version`, `/api`, `/apis` and each group version's resource list (kinds give the
`group/version/Kind` entries); the answer is cached for `ttl` seconds and shared, and a group
version that fails to answer (an unavailable aggregated API) is left out rather than failing renders.
When the cluster cannot be asked at all, the render waits: a `TemporaryError`, retried with backoff.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gitward import rendering
from gitward.core.errors import TemporaryError
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient


class Discovery:
    """`await Discovery(client).get()` → `rendering.Capabilities` of the cluster behind `client`."""

    def __init__(self, client: KubeClient, ttl: float = 60.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cached: tuple[float, rendering.Capabilities] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> rendering.Capabilities:
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
            try:
                found = await self._discover()
            except kube_errors.KubeError as exc:
                message = f"cluster discovery for Helm capabilities failed: {exc.message}"
                raise TemporaryError(message, reason="DiscoveryFailed") from exc
            self._cached = (time.monotonic(), found)
            return found

    def forget(self) -> None:
        self._cached = None

    async def _discover(self) -> rendering.Capabilities:
        version = await self.client.server_version()
        core = await self.client.request("GET", "/api") or {}
        groups = await self.client.request("GET", "/apis") or {}
        group_versions = [str(v) for v in core.get("versions") or []]
        for group in groups.get("groups") or []:
            group_versions += [str(v.get("groupVersion")) for v in group.get("versions") or [] if v.get("groupVersion")]
        kinds = await asyncio.gather(*(self._kinds(gv) for gv in group_versions))
        api_versions = set(group_versions) | {
            f"{gv}/{kind}" for gv, listed in zip(group_versions, kinds, strict=True) for kind in listed
        }
        return rendering.Capabilities(str(version.get("gitVersion") or ""), tuple(sorted(api_versions)))

    async def _kinds(self, group_version: str) -> list[str]:
        path = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
        try:
            body: dict[str, Any] = await self.client.request("GET", path) or {}
        except kube_errors.KubeError:
            return []
        return sorted({str(r["kind"]) for r in body.get("resources") or [] if r.get("kind") and "/" not in r["name"]})
