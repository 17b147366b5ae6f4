"""The bench's own client of the API server (admin token, plain httpx), and the "floor" baselines.

Used by every scenario: objects and Applications are created through it, request counts come from
the API server's own `apiserver_request_total` (GET /metrics), and the floors are the API server's
limit for N writes, with nothing else around the requests:
- `floor()`: a bare sequential loop of server-side-apply PATCH requests on one keep-alive connection;
- `parallel_floor()`: the same requests from `connections` keep-alive connections at once (8 is the
  best on this machine, see docs/performance.md), optionally each object dry-run first and then
  applied — the validation gitward does before it writes. Its client is gitward's own HTTP/1.1
  transport (`Http11Transport.exchange`, ~0.2 ms of CPU per request), the leanest client at hand,
  so that on 2 cores the floor measures the API server and not the client.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx  # the one HTTP client family (httpx2, as the kube client)

from gitward.devcluster.cluster import ClusterInfo
from gitward.kube.transport import Http11Transport

Manifest = dict[str, Any]

WRITE_VERBS = frozenset({"APPLY", "PATCH", "POST", "CREATE", "PUT", "UPDATE", "DELETE", "DELETECOLLECTION"})
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Counts:
    """Requests the API server answered for one resource (all namespaces), by kind of request."""

    writes: int = 0  # APPLY/PATCH/POST/PUT/DELETE without dryRun
    dry_runs: int = 0
    reads: int = 0  # GET of one object
    lists: int = 0  # LIST and WATCH

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.writes - other.writes,
            self.dry_runs - other.dry_runs,
            self.reads - other.reads,
            self.lists - other.lists,
        )

    def brief(self) -> str:
        return f"{self.writes} writes, {self.dry_runs} dry-runs, {self.reads} GETs"


class ApiServer:
    """A small synchronous client with the admin token."""

    def __init__(self, info: ClusterInfo) -> None:
        self.info = info
        self.ca = f"{info.state_dir}/pki/ca.crt"
        self.http = self.connect()

    def connect(self) -> httpx.Client:
        """A new client (its own connection) with the admin token."""
        headers = {"Authorization": f"Bearer {self.info.admin_token}", "Accept": "application/json"}
        return httpx.Client(base_url=self.info.server, verify=self.ca, headers=headers, timeout=60.0)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ metrics

    def counts(self, resource: str, group: str = "") -> Counts:
        """The API server's request counters for `resource` right now."""
        text = self.http.get("/metrics").raise_for_status().text
        writes = dry_runs = reads = lists = 0
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match is None:
                continue
            labels = dict(_LABEL.findall(match["labels"]))
            if labels.get("resource") != resource or labels.get("group") != group or labels.get("subresource"):
                continue
            value = int(float(match["value"]))
            verb = labels.get("verb", "")
            if verb in WRITE_VERBS:
                if labels.get("dry_run"):
                    dry_runs += value
                else:
                    writes += value
            elif verb == "GET":
                reads += value
            elif verb in ("LIST", "WATCH"):
                lists += value
        return Counts(writes, dry_runs, reads, lists)

    # ------------------------------------------------------------------ objects

    def create(self, path: str, obj: Manifest) -> Manifest:
        resp = self.http.post(path, json=obj)
        if resp.status_code == 409:
            return {}
        return dict(resp.raise_for_status().json())

    def get(self, path: str) -> Manifest:
        return dict(self.http.get(path).raise_for_status().json())

    def merge_patch(self, path: str, patch: Manifest, field_manager: str = "bench") -> Manifest:
        headers = {"Content-Type": "application/merge-patch+json"}
        resp = self.http.patch(path, params={"fieldManager": field_manager}, content=json.dumps(patch), headers=headers)
        return dict(resp.raise_for_status().json())

    def create_namespace(self, name: str) -> None:
        self.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # pods and SA admission want the default ServiceAccount
            if self.http.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status_code == 200:
                return
            time.sleep(0.05)

    def delete_namespaces(self, names: Iterable[str], timeout: float = 300.0) -> bool:
        """Delete namespaces and wait until they are gone; False when some are still there."""
        names = list(names)
        for name in names:
            self.http.delete(f"/api/v1/namespaces/{name}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.http.get(f"/api/v1/namespaces/{n}").status_code == 404 for n in names):
                return True
            time.sleep(0.5)
        return False


def apply_path(obj: Manifest) -> str:
    """The REST path of a namespaced core/v1 or group object (the kinds the bench deploys)."""
    meta = obj["metadata"]
    plural = PLURALS[obj["kind"]]
    api_version = obj["apiVersion"]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"


PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets", "Role": "roles", "Application": "applications"}


def _bodies(objs: list[Manifest], namespace: str) -> list[tuple[str, bytes]]:
    bodies = []
    for obj in objs:
        copy = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
        bodies.append((apply_path(copy), json.dumps(copy).encode()))
    return bodies


def floor(api: ApiServer, objs: list[Manifest], namespace: str, field_manager: str = "floor") -> float:
    """Seconds for a bare sequential loop of server-side-apply PATCHes of `objs` into `namespace`,
    on one keep-alive connection of a fresh client (the API server's own limit for these writes)."""
    bodies = _bodies(objs, namespace)
    params = {"fieldManager": field_manager, "force": "true"}
    headers = {"Content-Type": "application/apply-patch+yaml"}
    with api.connect() as http:
        http.get("/version").raise_for_status()  # connection and TLS set up before the clock starts
        started = time.monotonic()
        for path, body in bodies:
            http.patch(path, params=params, content=body, headers=headers).raise_for_status()
        return time.monotonic() - started


def parallel_floor(
    api: ApiServer,
    objs: list[Manifest],
    namespace: str,
    *,
    connections: int = 8,
    dry_run: bool = False,
    field_manager: str = "floor",
) -> float:
    """Seconds for server-side-apply PATCHes of `objs` into `namespace` from `connections` workers,
    each on its own keep-alive connection, taking the next object as soon as it is done; with
    `dry_run`, each object is first sent with `dryRun=All` and then applied (2 requests per object)."""
    return asyncio.run(_parallel_floor(api, _bodies(objs, namespace), connections, dry_run, field_manager))


async def _parallel_floor(
    api: ApiServer, bodies: list[tuple[str, bytes]], connections: int, dry_run: bool, field_manager: str
) -> float:
    url = urllib.parse.urlsplit(api.info.server)
    origin = (url.scheme, url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
    transport = Http11Transport(ssl.create_default_context(cafile=api.ca), max_connections=connections)
    headers = [
        (b"Host", url.netloc.encode()),
        (b"Authorization", f"Bearer {api.info.admin_token}".encode()),
        (b"Accept", b"application/json"),
    ]
    patch_headers = [*headers, (b"Content-Type", b"application/apply-patch+yaml")]
    query = urllib.parse.urlencode({"fieldManager": field_manager, "force": "true"})
    queue = list(reversed(bodies))

    async def send(method: str, target: str, body: bytes = b"") -> None:
        sent = patch_headers if body else headers
        status, data = await transport.exchange(origin, method, target.encode(), sent, body, 60.0)
        if status >= 400:
            raise RuntimeError(f"{method} {target}: HTTP {status} {data[:200]!r}")

    async def worker() -> None:
        while queue:
            path, body = queue.pop()
            if dry_run:
                await send("PATCH", f"{path}?{query}&dryRun=All", body)
            await send("PATCH", f"{path}?{query}", body)

    try:
        # every connection set up (TCP and TLS) before the clock starts
        await asyncio.gather(*(send("GET", "/version") for _ in range(connections)))
        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.monotonic() - started
    finally:
        await transport.aclose()
