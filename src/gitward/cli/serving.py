"""The body of `gitward run`: leader election, the controller of the Lease holder and the HTTP
server, until SIGTERM or Ctrl-C. Imported by `gitward.cli.run` only when that command runs, so
other commands start without loading the server and controller."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from gitward.controller import metrics
from gitward.controller.leadership import LeaderElector, lease_name
from gitward.controller.manager import Config, Controller
from gitward.core import logging as gwlogging
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import tokens
from gitward.server.backend import Backend

log = gwlogging.get_logger(__name__)


SHUTDOWN_GRACE = 20.0
"""Seconds SIGTERM gives reconciles in flight to finish (the kubelet's default grace period is 30 s)."""


class ListenError(Exception):
    """An address of --listen / --probe-listen cannot be bound (in use, not local, no permission)."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process shuts down in order, by itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    kubeconfig: str | None,
    context: str | None,
    config: Config,
    host: str,
    port: int,
    auth: tokens.AuthConfig | None,
    probe_listen: tuple[str, int] | None = None,
) -> None:
    # bound first: a port in use is one clear error before anything leads or writes
    sockets = [_bind(host, port)] + ([_bind(*probe_listen)] if probe_listen is not None else [])
    client = KubeClient.connect(kubeconfig, context, hook=metrics.record_kube_request)
    await client.server_version()
    controller: Controller | None = None
    elector = LeaderElector(client, config.controller_namespace, lease_name(config.shard))

    async def started() -> None:
        nonlocal controller
        controller = Controller(client, config)
        await controller.start()

    async def stopped() -> None:
        nonlocal controller
        if controller is not None:
            await controller.stop()
            controller = None

    def ready() -> bool:
        return not elector.is_leader or (controller is not None and controller.synced)

    def detail() -> dict[str, object]:
        # anonymous callers (probes) learn whether this replica leads, never who it is (pod, host)
        return {"leader": elector.is_leader}

    backend = Backend(client, config.namespace, controller=lambda: controller, auth=auth)
    await backend.start()
    probe = server_app.Probe(ready, detail)
    servers = [_server(server_app.build(probe, backend), host, port)]
    if probe_listen is not None:
        servers.append(_server(server_app.build_probes(probe), *probe_listen))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("gitward running", listen=f"{host}:{port}", namespace=config.namespace or "*", identity=elector.identity)
    election = asyncio.create_task(elector.run(started, stopped), name="leader election")
    serving = [
        asyncio.create_task(server.serve(sockets=[sock]), name="http server")
        for server, sock in zip(servers, sockets, strict=True)
    ]
    await stop.wait()
    log.info("shutting down")
    await backend.stop()  # ends the event streams, so the server can finish its connections
    if controller is not None:  # still leading (the Lease is renewed meanwhile): finish syncs in flight
        await controller.stop(grace=SHUTDOWN_GRACE)
        controller = None
    election.cancel()  # releases the Lease, so a standby takes over at once
    await asyncio.gather(election, return_exceptions=True)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*serving, return_exceptions=True)
    await client.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _server(app: FastAPI, host: str, port: int) -> _Server:
    return _Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    )
