"""`gitward rollout list | get | promote [--full] | abort | retry` (SPEC §10): inspect and operate
Rollouts with the user's kubeconfig, so Kubernetes RBAC decides who may.

Registered by `cli/main.py` as the `rollout` sub-command. Reads go straight to the API server;
operations are annotations on the Rollout written through `controller.rollouts.operations`, which
the rollout controller acts on. Exit codes: 0 success, 1 failure (a missing Rollout, a Kubernetes error).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from gitward.cli import app_sessions as sessions
from gitward.cli import app_views as views
from gitward.cli import terminal
from gitward.controller.rollouts import operations
from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest
from gitward.kube.client import KubeClient

app = typer.Typer(
    help="Inspect and operate Rollouts (progressive delivery) with your kubeconfig.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The Rollout's name.")]
OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="Output format.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="The Rollout's namespace.")]


def _print(renderable: Any) -> None:
    console = terminal.console(highlight=False, width=None if sys.stdout.isatty() else 4096)
    with console.capture() as captured:
        console.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


async def _get(client: KubeClient, namespace: str, name: str) -> Manifest:
    try:
        return await operations.get(client, namespace, name)
    except operations.RolloutNotFoundError as exc:
        raise sessions.CliError(str(exc)) from None


def _row(rollout: Manifest, all_namespaces: bool) -> list[str]:
    meta, status = rollout.get("metadata") or {}, rollout.get("status") or {}
    cells = [
        str(status.get(k, "")) for k in ("phase", "canaryWeight", "currentStep", "stableRevision", "canaryRevision")
    ]
    return [*([str(meta.get("namespace"))] if all_namespaces else []), str(meta.get("name")), *cells]


@app.command("list")
def list_(
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Rollouts of every namespace.")
    ] = False,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """List Rollouts with their phase, weight, step and revisions."""

    async def work(client: KubeClient) -> list[Manifest]:
        items, _ = await client.list(ro.API_VERSION, "Rollout", None if all_namespaces else namespace)
        return sorted(items, key=lambda r: (r["metadata"].get("namespace", ""), r["metadata"]["name"]))

    items = sessions.run(sessions.Session(kubeconfig, context, namespace), work)
    if output is not views.Output.table:
        sys.stdout.write(views.dump([views.raw(item) for item in items], output))
        return
    table = Table(box=None, pad_edge=False)
    for column in [*(["NAMESPACE"] if all_namespaces else []), "NAME", "PHASE", "WEIGHT", "STEP", "STABLE", "CANARY"]:
        table.add_column(column)
    for item in items:
        table.add_row(*_row(item, all_namespaces))
    _print(table)


@app.command()
def get(
    name: Name,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show one Rollout: phase, steps, weight, analysis and history."""

    async def work(client: KubeClient) -> Manifest:
        return await _get(client, namespace, name)

    found = sessions.run(sessions.Session(kubeconfig, context, namespace), work)
    if output is not views.Output.table:
        sys.stdout.write(views.dump(views.raw(found), output))
        return
    _print(describe(found))


def describe(rollout: Manifest) -> Group:
    status = rollout.get("status") or {}
    lines = [
        Text(f"{k}: {status.get(k, '')}")
        for k in ("phase", "currentStep", "canaryWeight", "stableRevision", "canaryRevision", "message")
    ]
    analysis = Table(
        "TEMPLATE", "METRIC", "PHASE", "VALUE", "MEASURED", "MESSAGE", title="analysis", box=None, pad_edge=False
    )
    for a in status.get("analysis") or []:
        analysis.add_row(
            *(str(a.get(k, "")) for k in ("template", "metric", "phase", "value", "measuredAt", "message"))
        )
    history = Table("REVISION", "RESULT", "AT", "MESSAGE", title="history", box=None, pad_edge=False)
    for h in status.get("history") or []:
        history.add_row(*(str(h.get(k, "")) for k in ("revision", "result", "at", "message")))
    return Group(*lines, analysis, history)


def _operate(
    name: str, operation: operations.Operation, kubeconfig: str | None, context: str | None, namespace: str
) -> None:
    async def work(client: KubeClient) -> str:
        await _get(client, namespace, name)
        return await operations.request(client, namespace, name, operation)

    sessions.run(sessions.Session(kubeconfig, context, namespace), work)
    _print(Text(f"Rollout {namespace}/{name}: {operation} requested"))


@app.command()
def promote(
    name: Name,
    full: Annotated[bool, typer.Option("--full", help="Skip every remaining step (gitward.dev/promote-full).")] = False,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Finish the current step (a pause waits for this), or with --full promote now."""
    _operate(name, "promote-full" if full else "promote", kubeconfig, context, namespace)


@app.command()
def abort(
    name: Name,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Abort the rollout in progress: weight 0, the primary untouched, phase Degraded."""
    _operate(name, "abort", kubeconfig, context, namespace)


@app.command()
def retry(
    name: Name,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Deliver the rolled-back or aborted revision again, from step 0."""
    _operate(name, "retry", kubeconfig, context, namespace)
