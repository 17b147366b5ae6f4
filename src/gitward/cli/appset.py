"""`gitward appset list | get` (SPEC §11): ApplicationSets and the Applications they generated,
read with the user's kubeconfig (Kubernetes RBAC decides who may).

Registered by `cli/main.py` as the `appset` sub-command. `list` shows each set's readiness and
number of Applications; `get` shows its generators, conditions and generated Applications (with
their sync, health and rollout step). `-o json|yaml` prints the resources as the API returns them
(without managedFields). Exit codes: 0 success, 1 failure (a missing set, a Kubernetes error).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gitward.cli import app_sessions as sessions
from gitward.cli import app_views as views
from gitward.cli import terminal
from gitward.core import applications as apps
from gitward.core import applicationsets as sets
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

app = typer.Typer(help="Inspect ApplicationSets and the Applications they generate.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The ApplicationSet's name.")]
OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="Output format.")]
STYLES = {"True": "green", "False": "red", "Synced": "green", "OutOfSync": "yellow", "Healthy": "green",
          "Progressing": "cyan", "Degraded": "red", "Missing": "yellow"}  # fmt: skip


def _print(renderable: RenderableType) -> None:
    """To stdout, wide and without trailing padding when it is not a terminal (as `gitward app`)."""
    console = terminal.console(highlight=False)
    if console.is_terminal:
        console.print(renderable)
        return
    console = terminal.console(highlight=False, width=4096)
    with console.capture() as captured:
        console.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


async def _check_crd(client: KubeClient) -> None:
    try:
        await client.resource(apps.API_VERSION, sets.KIND)
    except errors.APINotFoundError:
        msg = "the cluster has no gitward ApplicationSet resource; install the CRDs with `gitward install --crds-only`"
        raise sessions.CliError(msg) from None


@app.command("list")
def list_(
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Sets of every namespace.")] = False,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """List ApplicationSets: ready or not, and how many Applications each generated."""

    async def work(client: KubeClient) -> list[Manifest]:
        await _check_crd(client)
        items, _ = await client.list(apps.API_VERSION, sets.KIND, None if all_namespaces else namespace)
        return sorted(items, key=lambda a: (a["metadata"].get("namespace", ""), a["metadata"]["name"]))

    items = sessions.run(sessions.Session(kubeconfig, context, namespace), work)
    if output is not views.Output.table:
        sys.stdout.write(views.dump([views.raw(item) for item in items], output))
        return
    if not items:
        where = "any namespace" if all_namespaces else f"namespace {namespace}"
        sessions.stderr().print(f"no ApplicationSets in {where}")
        return
    now = dt.datetime.now(dt.UTC)
    columns = ["NAME", "NAMESPACE"] if all_namespaces else ["NAME"]
    table = _table(*columns, "READY", "APPLICATIONS", "STRATEGY", "AGE", "MESSAGE")
    for item in items:
        meta, status = item["metadata"], item.get("status") or {}
        ready = _condition(status, "Ready")
        first = [meta["name"], meta.get("namespace", "")] if all_namespaces else [meta["name"]]
        table.add_row(
            *first,
            views.styled(ready.get("status", "Unknown"), STYLES),
            str((status.get("summary") or {}).get("applications", 0)),
            str(((item.get("spec") or {}).get("strategy") or {}).get("type") or "AllAtOnce"),
            views.age(meta.get("creationTimestamp"), now),
            views.first_line(ready.get("message", ""), 80),
        )
    _print(table)


@app.command()
def get(
    name: Name,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show one ApplicationSet: generators, conditions and the Applications it generated."""

    async def work(client: KubeClient) -> tuple[Manifest, list[Manifest]]:
        await _check_crd(client)
        found = await client.get_or_none(apps.API_VERSION, sets.KIND, name, namespace)
        if found is None:
            raise sessions.CliError(f"ApplicationSet {namespace}/{name} not found (choose the namespace with -n)")
        selector = f"{sets.SET_LABEL}={name}"
        generated, _ = await client.list(apps.API_VERSION, "Application", namespace, label_selector=selector)
        return found, sorted(generated, key=lambda a: str(a["metadata"]["name"]))

    found, generated = sessions.run(sessions.Session(kubeconfig, context, namespace), work)
    if output is not views.Output.table:
        sys.stdout.write(views.dump(views.raw(found), output))
        return
    _print(_summary(found, generated))


def _summary(appset: Manifest, generated: list[Manifest]) -> RenderableType:
    meta, spec, status = appset["metadata"], appset.get("spec") or {}, appset.get("status") or {}
    overview = _table("", "")
    overview.add_row("Name", f"{meta.get('namespace')}/{meta['name']}")
    kinds = [next(iter(g), "?") for g in spec.get("generators") or [] if isinstance(g, dict)]
    overview.add_row("Generators", ", ".join(kinds))
    overview.add_row("Strategy", str((spec.get("strategy") or {}).get("type") or "AllAtOnce"))
    policy = spec.get("syncPolicy") or {}
    overview.add_row("Applications sync", str(policy.get("applicationsSync") or "sync"))
    for revision in status.get("revisions") or []:
        overview.add_row(
            "Revision", f"{revision.get('repoURL')}@{revision.get('revision')}: {views.short(revision.get('sha'))}"
        )
    conditions = _table("CONDITION", "STATUS", "REASON", "MESSAGE")
    for cond in status.get("conditions") or []:
        conditions.add_row(
            cond.get("type", ""),
            views.styled(cond.get("status", ""), STYLES),
            cond.get("reason", ""),
            cond.get("message", ""),
        )
    rows = _table("APPLICATION", "SYNC", "HEALTH", "STEP")
    for app in generated:
        annotations = app["metadata"].get("annotations") or {}
        rows.add_row(
            app["metadata"]["name"],
            views.styled(views.sync_of(app), STYLES),
            views.styled(views.health_of(app), STYLES),
            str(annotations.get(sets.ROLLOUT_STEP, "")),
        )
    parts: list[RenderableType] = [overview, Text(""), conditions, Text("")]
    parts.append(rows if generated else Text("no Applications generated"))
    return Group(*parts)


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})
