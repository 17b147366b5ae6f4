"""`gitward run`: the controller, with leader election, and its HTTP server, in one process (SPEC §3).

Only the holder of the Lease runs the controller (writes); every replica serves /healthz, /readyz,
/metrics, the REST API, the event stream and webhooks (gitward.server), each with its own
Application watch cache. Without `--auth-file` the server listens on loopback only and requests
are anonymous admins; with it, `--listen` is honoured and tokens are required. SIGTERM or Ctrl-C
ends the event streams, stops the workers, releases the Lease and stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from gitward.controller import metrics
from gitward.controller.leadership import LeaderElector
from gitward.controller.manager import Config, Controller
from gitward.core import logging as gwlogging
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import tokens
from gitward.server.backend import Backend

log = gwlogging.get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process shuts down in order, by itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"--listen must be HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def _parse_shard(shard: str | None) -> tuple[int, int] | None:
    if not shard:
        return None
    index, _, count = shard.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise typer.BadParameter(f"--shard must be I/N with 0 <= I < N, got {shard!r}")
    return int(index), int(count)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option("--context", help="The kubeconfig context.")] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Controller namespace (Applications, Projects, Lease).")
    ] = "gitward",
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch Applications in every namespace.")
    ] = False,
    listen: Annotated[
        str, typer.Option("--listen", help="HTTP address (API, dashboard, webhooks, metrics).")
    ] = "127.0.0.1:8080",
    shard: Annotated[str | None, typer.Option("--shard", help="Handle only shard I of N (I/N).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Applications reconciled concurrently.")] = 8,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="Git and render cache.")] = None,
    allow_file_repos: Annotated[bool, typer.Option("--allow-file-repos", help="Allow file:// repoURLs.")] = False,
    allow_remote_bases: Annotated[
        bool, typer.Option("--allow-remote-bases", help="Allow kustomize remote bases.")
    ] = False,
    default_service_account: Annotated[
        str,
        typer.Option(
            "--default-service-account", help="Impersonate this ServiceAccount for Applications that name none."
        ),
    ] = "",
    auth_file: Annotated[
        Path | None,
        typer.Option("--auth-file", help="YAML with API tokens (hashed) and the webhook secret; enables --listen."),
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text (key=value) or json.")] = "text",
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run the controller, the API, the dashboard, webhooks and metrics."""
    gwlogging.configure(log_level, json_output=log_format == "json")
    host, port = _parse_listen(listen)
    auth = _load_auth(auth_file)
    if auth is None and not _is_loopback(host):
        log.warning("no --auth-file: listening on loopback only", requested=listen, listen=f"127.0.0.1:{port}")
        host = "127.0.0.1"
    config = Config(
        namespace=None if all_namespaces else namespace,
        controller_namespace=namespace,
        workers=workers,
        shard=_parse_shard(shard),
        allow_file=allow_file_repos,
        allow_remote_bases=allow_remote_bases,
        default_service_account=default_service_account,
    )
    if cache_dir is not None:
        config.cache_dir = cache_dir
    try:
        asyncio.run(_serve(kubeconfig, context, config, host, port, auth))
    except errors.KubeError as exc:
        log.error("cannot start", error=exc.message)
        raise typer.Exit(1) from exc


def _load_auth(path: Path | None) -> tokens.AuthConfig | None:
    if path is None:
        log.info("no --auth-file: API and dashboard requests are anonymous admins; webhooks are disabled")
        return None
    try:
        auth = tokens.load(path)
    except tokens.AuthConfigError as exc:
        log.error("cannot use the auth file", error=str(exc))
        raise typer.Exit(1) from exc
    roles = {role.value: sum(t.role is role for t in auth.tokens) for role in tokens.Role}
    log.info("auth file loaded", path=str(path), **{f"{k}_tokens": v for k, v in roles.items()})
    if auth.webhook_key is None:
        log.warning("the auth file has no webhookSecret: every webhook is refused (401)")
    return auth


async def _serve(
    kubeconfig: str | None, context: str | None, config: Config, host: str, port: int, auth: tokens.AuthConfig | None
) -> None:
    client = KubeClient.connect(kubeconfig, context, hook=metrics.record_kube_request)
    await client.server_version()
    controller: Controller | None = None
    elector = LeaderElector(client, config.controller_namespace)

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
        return {"leader": elector.is_leader, "identity": elector.identity}

    backend = Backend(client, config.namespace, controller=lambda: controller, auth=auth)
    await backend.start()
    web = server_app.build(server_app.Probe(ready, detail), backend)
    server = _Server(
        uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("gitward running", listen=f"{host}:{port}", namespace=config.namespace or "*", identity=elector.identity)
    election = asyncio.create_task(elector.run(started, stopped), name="leader election")
    serving = asyncio.create_task(server.serve(), name="http server")
    await stop.wait()
    log.info("shutting down")
    await backend.stop()  # ends the event streams, so the server can finish its connections
    election.cancel()
    await asyncio.gather(election, return_exceptions=True)
    server.should_exit = True
    await asyncio.gather(serving, return_exceptions=True)
    await client.close()
