"""`gitward dev up | down | env | build`: the embedded local control plane (SPEC §8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gitward.devcluster import assets, cluster, releases

app = typer.Typer(help="Run a real local Kubernetes control plane (etcd, kube-apiserver, ...) on loopback.")
err = Console(stderr=True)

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Where the control plane keeps its data (default ~/.cache/gitward/dev)."),
]
Kubernetes = Annotated[
    str | None,
    typer.Option(
        "--kubernetes",
        metavar="VERSION",
        help=f"The Kubernetes release: {' or '.join(releases.known())} (default "
        f"{releases.default(releases.known()).name}, or ${releases.ENV} when set).",
    ),
]


def _state(state_dir: Path | None) -> Path:
    return (state_dir or cluster.default_state_dir()).resolve()


@app.command()
def up(
    state_dir: StateDir = None,
    nodes: Annotated[int, typer.Option(help="Number of simulated nodes.")] = 3,
    kubernetes: Kubernetes = None,
    with_gateway_api: Annotated[
        bool, typer.Option("--with-gateway-api", help="Also install Gateway API's standard-channel CRDs.")
    ] = False,
) -> None:
    """Start the control plane in the background (building Kubernetes once if needed)."""
    state = _state(state_dir)
    try:
        if not cluster.is_running(state):
            if with_gateway_api:
                cluster.check_gateway_api(assets.release_of(kubernetes))
            assets.ensure(err, kubernetes)  # the build's progress goes to stderr
        info = cluster.up(state, nodes=nodes, kubernetes=kubernetes, gateway_api=with_gateway_api)
    except (assets.AssetError, cluster.ClusterError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print(f"API server   {info.server}  (Kubernetes {info.kubernetes})")
    err.print(f"admin        {info.kubeconfig}")
    err.print(f"user         {info.user_kubeconfig}  (unprivileged user {info.user_name})")
    err.print(
        f"running      etcd, kube-apiserver, kube-controller-manager, kube-scheduler, node simulator ({nodes} nodes)"
    )
    if with_gateway_api:
        err.print(f"Gateway API  {releases.GATEWAY_API_VERSION}, standard channel")
    err.print(f"stop with    gitward dev down{'' if state_dir is None else f' --state-dir {state_dir}'}")
    print(info.export_line)


@app.command()
def down(state_dir: StateDir = None) -> None:
    """Stop every process the control plane of this state dir started."""
    stopped = cluster.down(_state(state_dir))
    err.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def env(state_dir: StateDir = None) -> None:
    """Print the `export KUBECONFIG=...` line of the running control plane."""
    info = cluster.read_info(_state(state_dir))
    if info is None or not cluster.is_running(_state(state_dir)):
        err.print("[red]error:[/] no control plane is running there; start one with `gitward dev up`")
        raise typer.Exit(1)
    print(info.export_line)


@app.command()
def build(kubernetes: Kubernetes = None) -> None:
    """Build (once) and cache the Kubernetes binaries."""
    try:
        release = assets.release_of(kubernetes)
        binaries = assets.ensure(err, release)
    except assets.AssetError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    err.print(f"Kubernetes {release.version}")
    err.print(f"kube-apiserver: {binaries.kube_apiserver}")
    err.print(f"etcd:           {binaries.etcd}")


@app.command()
def demo() -> None:
    """The whole product on this machine (what `make demo` runs), until Ctrl-C."""
    from gitward.cli import demo as demo_module  # imported on use: it pulls in the installer and server

    demo_module.main()
