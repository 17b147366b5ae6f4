"""Helpers for tests of the controller: Application manifests, a controller running in the test's
event loop, and polling for status conditions.

Used by the integration tests of the core loop (tests/integration/test_app_*.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gitward.controller.manager import Config, Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

Status = dict[str, Any]


def application(name: str, namespace: str, repo_url: str, path: str = ".", **spec: Any) -> dict[str, Any]:
    """An Application manifest; `spec` keys (camelCase) override the defaults."""
    body: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
        "destination": {"namespace": namespace},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "interval": "1m"},
    }
    for key, value in spec.items():
        body[key] = value
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def project(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Project manifest (SPEC §6) in `namespace` (the controller's)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def get_app(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return await kube.get(API_VERSION, "Application", name, namespace)


async def wait_for(
    check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, message: str = "condition"
) -> Any:
    """Poll the async or sync `check` until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}; last value: {last!r}")


async def wait_status(
    kube: KubeClient, namespace: str, name: str, predicate: Callable[[Status], bool], timeout: float = 30.0
) -> Status:
    """Wait until the Application's status satisfies `predicate`; return that status."""
    seen: Status = {}

    async def check() -> Status | None:
        nonlocal seen
        seen = (await get_app(kube, namespace, name)).get("status") or {}
        return seen if predicate(seen) else None

    try:
        return await wait_for(check, timeout, 0.1, "status")  # type: ignore[no-any-return]
    except AssertionError as exc:
        raise AssertionError(f"status never matched; last: {_brief(seen)}") from exc


def _brief(status: Status) -> dict[str, Any]:
    return {k: status.get(k) for k in ("sync", "health", "conditions", "operationState", "lastSyncedRevision")}


def condition(status: Status, type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def synced_at(sha: str) -> Callable[[Status], bool]:
    return lambda s: (s.get("sync") or {}).get("status") == "Synced" and (s.get("sync") or {}).get("revision") == sha


def healthy(s: Status) -> bool:
    return (s.get("health") or {}).get("status") == "Healthy"


def refreshed(request: str) -> Callable[[Status], bool]:
    """The controller handled the refresh request whose `gitward.dev/refresh` value is `request`."""
    return lambda s: s.get("lastHandledRefresh") == request


def all_of(*predicates: Callable[[Status], bool]) -> Callable[[Status], bool]:
    """Every predicate holds for the same status (wait for what the assertions need, all at once)."""
    return lambda s: all(predicate(s) for predicate in predicates)


@asynccontextmanager
async def running_controller(
    kube: KubeClient, namespace: str, cache_dir: Path, **config: Any
) -> AsyncIterator[Controller]:
    """A controller watching `namespace`, in this event loop, stopped on exit."""
    controller = Controller(
        kube, Config(namespace=namespace, controller_namespace=namespace, cache_dir=cache_dir, **config)
    )
    await controller.start()
    try:
        yield controller
    finally:
        await controller.stop()
