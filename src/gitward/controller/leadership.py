"""Leader election on a coordination.k8s.io Lease, so two replicas never both write.

Called by `gitward.controller.manager`: `LeaderElector.run(on_started, on_stopped)` campaigns for the
Lease `gitward-controller` in the controller namespace, renews it while leading, and calls
`on_stopped` as soon as a renewal fails past the renew deadline (the caller then stops writing).
Writes use the Lease's resourceVersion (optimistic concurrency), like client-go's leaderelection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

log = get_logger(__name__)

LEASE_API = "coordination.k8s.io/v1"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


LEASE_NAME = "gitward-controller"


def lease_name(shard: tuple[int, int] | None) -> str:
    """The Lease a replica campaigns on (SPEC §9): one per shard, so shards run side by side and only
    replicas of the same shard stand by for each other."""
    if shard is None or shard[1] <= 1:
        return LEASE_NAME
    return f"{LEASE_NAME}-shard-{shard[0]}-of-{shard[1]}"


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str = LEASE_NAME,
        *,
        lease_seconds: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        identity: str | None = None,
    ) -> None:
        self.client, self.namespace, self.name = client, namespace, name
        self.lease_seconds, self.renew_deadline, self.retry_period = lease_seconds, renew_deadline, retry_period
        self.identity = identity or f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.is_leader = False

    def _spec(self, acquired: str | None, transitions: int) -> Manifest:
        now = _fmt(_now())
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_seconds),
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this process holds the Lease afterwards."""
        lease = await self.client.get_or_none(LEASE_API, "Lease", self.name, self.namespace)
        if lease is None:
            body = {
                "apiVersion": LEASE_API,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(None, 0),
            }
            try:
                await self.client.create(body)
            except errors.APIConflictError:
                return False
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        renewed = _parse(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        expired = renewed is None or (_now() - renewed).total_seconds() > duration
        if holder and holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        acquired = spec.get("acquireTime") if holder == self.identity else None
        lease["spec"] = self._spec(acquired, transitions)
        try:
            await self.client.replace(lease)
        except errors.APIConflictError:
            return False
        return True

    async def run(self, on_started: Callable[[], Awaitable[None]], on_stopped: Callable[[], Awaitable[None]]) -> None:
        """Campaign, lead, and step down; loops until cancelled (then releases the Lease)."""
        try:
            while True:
                await self._campaign()
                self.is_leader = True
                log.info("leadership acquired", lease=f"{self.namespace}/{self.name}", identity=self.identity)
                await on_started()
                await self._hold()
                self.is_leader = False
                log.warning("leadership lost", lease=f"{self.namespace}/{self.name}")
                await on_stopped()
        except asyncio.CancelledError:
            if self.is_leader:
                self.is_leader = False
                await on_stopped()
                await asyncio.shield(self._release())
            raise

    async def _campaign(self) -> None:
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
            except errors.KubeError as exc:
                log.warning("leader election attempt failed", error=exc.message)
            await asyncio.sleep(self.retry_period)

    async def _hold(self) -> None:
        loop = asyncio.get_running_loop()
        last_ok = loop.time()
        while True:
            await asyncio.sleep(self.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    last_ok = loop.time()
                    continue
                return  # someone else holds it now
            except errors.KubeError as exc:
                log.warning("lease renewal failed", error=exc.message)
            if loop.time() - last_ok > self.renew_deadline:
                return

    async def _release(self) -> None:
        try:
            lease = await self.client.get_or_none(LEASE_API, "Lease", self.name, self.namespace)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["leaseDurationSeconds"] = 1
                await self.client.replace(lease)
        except errors.KubeError:
            return
