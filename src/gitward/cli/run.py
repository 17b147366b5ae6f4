"""`gitward run`: the controller, with leader election, and its HTTP server, in one process (SPEC §3).

Only the holder of the Lease runs the controller (writes); every replica serves /healthz, /readyz,
/metrics, the REST API, the event stream and webhooks (gitward.server), each with its own
Application watch cache. Without `--auth-file` the server listens on loopback only and requests
are anonymous admins; with it, `--listen` is honoured and tokens are required. SIGTERM or Ctrl-C
ends the event streams, stops the workers, releases the Lease and stops the server.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gitward.core import logging as gwlogging
from gitward.core.identifiers import GRAMMARS
from gitward.kube import errors

if TYPE_CHECKING:
    from gitward.server import tokens

log = gwlogging.get_logger(__name__)


class LogFormat(str, enum.Enum):
    text = "text"
    json = "json"


class LogLevel(str, enum.Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def _parse_listen(listen: str, flag: str = "--listen") -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{flag} must be HOST:PORT with a port from 1 to 65535, got {listen!r}")
    return host.strip("[]"), int(port)


def _parse_shard(shard: str | None, hostname: str | None = None) -> tuple[int, int] | None:
    """`I/N`, or `auto/N`: I is the ordinal of this StatefulSet pod (its hostname ends in `-<I>`)."""
    if not shard:
        return None
    index, _, count = shard.partition("/")
    if index == "auto" and count.isdigit():
        host = hostname if hostname is not None else socket.gethostname()
        ordinal = host.rpartition("-")[2]
        if not ordinal.isdigit():
            raise typer.BadParameter(
                f"--shard auto/{count}: the hostname {host!r} is not a StatefulSet pod's (<name>-<ordinal>)"
            )
        index = ordinal
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise typer.BadParameter(f"--shard must be I/N or auto/N with 0 <= I < N, got {shard!r}")
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
    probe_listen: Annotated[
        str | None,
        typer.Option("--probe-listen", help="HOST:PORT serving /healthz, /readyz and /metrics alone (kubelet)."),
    ] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", help="Handle only shard I of N (I/N, or auto/N in a StatefulSet).")
    ] = None,
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
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="text (key=value) or json.", case_sensitive=False)
    ] = LogFormat.text,
    log_level: Annotated[LogLevel, typer.Option("--log-level", case_sensitive=False)] = LogLevel.info,
) -> None:
    """Run the controller, the API, the dashboard, webhooks and metrics."""
    from gitward.cli import serving  # the server and controller load only for this command
    from gitward.controller.manager import Config

    gwlogging.configure(log_level.value, json_output=log_format is LogFormat.json)
    host, port = _parse_listen(listen)
    problem = GRAMMARS["optional-subdomain"].problem(default_service_account)
    if problem is not None:  # it becomes an impersonation header: held to the ServiceAccount name grammar
        raise typer.BadParameter(f"--default-service-account {problem}")
    probes = _parse_listen(probe_listen, "--probe-listen") if probe_listen else None
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
        asyncio.run(serving.serve(kubeconfig, context, config, host, port, auth, probes))
    except errors.KubeError as exc:
        log.error("cannot start", error=exc.message)
        raise typer.Exit(1) from exc
    except serving.ListenError as exc:
        log.error("cannot start", error=str(exc))
        raise typer.Exit(1) from exc


def _load_auth(path: Path | None) -> tokens.AuthConfig | None:
    from gitward.server import tokens

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
