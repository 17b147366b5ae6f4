"""What the HTTP server needs from the process: the Kubernetes client, a watch cache of the
Applications it serves, the in-process controller when this replica leads, and the auth file.

Built by `gitward.cli.run` (and by tests) and passed to `gitward.server.app.build`. Every replica
keeps its own Application informer, so list, get and the event stream cost no request to the API
server; `controller()` returns the leader's `Controller` or None (diffs need its last render,
webhooks use it for an in-process refresh).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from gitward.controller.informers import Informer
from gitward.controller.manager import Controller, in_shard
from gitward.core import applications as apps
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.server.tokens import AuthConfig

__all__ = ["Backend", "Unavailable", "of"]

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class Unavailable(Exception):
    """The server cannot answer yet or here (cache not synced, not the leader); answered with 503."""

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class Backend:
    client: KubeClient
    namespace: str | None  # where Applications are served; None = every namespace
    controller: Callable[[], Controller | None] = lambda: None
    auth: AuthConfig | None = None
    sync_timeout: float = 10.0
    applications: Informer = field(init=False)
    stopping: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    on_stop: list[Callable[[], None]] = field(init=False, default_factory=list)  # e.g. end event streams
    _task: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.applications = Informer(
            self.client, apps.API_VERSION, "Application", namespace=self.namespace, transform=_without_managed_fields
        )

    async def start(self) -> None:
        """Start the Application informer (returns at once; requests wait for its first list)."""
        if self._task is None:
            self._task = asyncio.create_task(self.applications.run(), name="server applications informer")

    async def stop(self) -> None:
        """End the event streams and the informer."""
        self.stopping.set()
        for callback in self.on_stop:
            callback()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def in_scope(self, namespace: str) -> bool:
        return self.namespace is None or namespace == self.namespace

    async def synced(self) -> None:
        """Wait for the informer's first list; Unavailable when it does not come or failed."""
        try:
            await asyncio.wait_for(self.applications.synced.wait(), self.sync_timeout)
        except TimeoutError:
            raise Unavailable("the Application cache is not synced yet") from None
        if self.applications.failed and not self.applications.store:
            raise Unavailable(f"cannot list Applications: {self.applications.failed}", retry_after=5)

    async def list(self) -> list[Manifest]:
        await self.synced()
        return sorted(self.applications.store.values(), key=_sort_key)

    async def get(self, namespace: str, name: str) -> Manifest | None:
        """One Application from the cache, else from the API server (just created); None when
        it does not exist or is outside what this server serves."""
        if not (_NAME.match(namespace) and _NAME.match(name) and self.in_scope(namespace)):
            return None
        await self.synced()
        found = self.applications.store.get(ObjectRef(apps.API_GROUP, "Application", namespace, name))
        if found is not None:
            return found
        try:
            return await self.client.get(apps.API_VERSION, "Application", name, namespace)
        except errors.APINotFoundError:
            return None

    def owning_controller(self, namespace: str, name: str) -> Controller | None:
        """The in-process controller, when it runs here and reconciles this Application."""
        controller = self.controller()
        if controller is None:
            return None
        config = controller.config
        key = f"{namespace}/{name}"
        if config.namespace not in (None, namespace) or not in_shard(key, config.shard):
            return None
        return controller


def _without_managed_fields(app: Manifest) -> Manifest:
    """The server never shows managedFields: do not keep them in memory either."""
    meta = app.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return app


def _sort_key(app: Manifest) -> tuple[str, str]:
    meta = app.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def of(request: Request) -> Backend:
    """The backend of the app serving `request` (a FastAPI dependency)."""
    backend = getattr(request.app.state, "backend", None)
    if not isinstance(backend, Backend):
        raise Unavailable("this server has no Kubernetes backend", retry_after=60)
    return backend
