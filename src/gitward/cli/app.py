"""`gitward app list | get | diff | sync | refresh | history | rollback | suspend | resume | delete`
(SPEC §3): operate Applications with the user's kubeconfig, so Kubernetes RBAC decides who may.

Registered by `cli/main.py` as the `app` sub-command. Reads go straight to the API server; every
operation is a change of the Application written through `gitward.controller.operations` (the
`gitward.dev/sync` / `gitward.dev/refresh` annotations, `spec.suspend`), which the controller acts
on — the CLI never touches managed objects. `--wait` follows the controller (`app_waiting`);
tables and `-o json|yaml` come from `app_views`; `app diff` uses the engine in `cli/diff.py`.
Exit codes: 0 success, 1 failure (a missing Application, a Kubernetes error, a failed sync),
2 timeout of `--wait`; `app diff` exits 0 (no differences), 1 (differences) or 2 (error).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from gitward.cli import app_sessions as sessions
from gitward.cli import app_views as views
from gitward.cli import app_waiting as waiting
from gitward.cli import diff as diffs
from gitward.cli import terminal
from gitward.controller import operations
from gitward.core import applications as apps
from gitward.core import identifiers, redaction
from gitward.core.manifests import Manifest
from gitward.kube.client import KubeClient

app = typer.Typer(
    help="Inspect and operate Applications through the Kubernetes API (your kubeconfig, your RBAC).",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The Application's name.")]
OutputOpt = Annotated[views.Output, typer.Option("--output", "-o", help="Output format.")]
Wait = Annotated[bool, typer.Option("--wait", help="Wait until the controller has handled it.")]
Timeout = Annotated[str, typer.Option("--timeout", help="How long --wait waits (e.g. 90s, 5m).")]
DEFAULT_TIMEOUT = "5m"


def _session(kubeconfig: str | None, context: str | None, namespace: str) -> sessions.Session:
    return sessions.Session(kubeconfig, context, namespace)


def _out() -> Console:
    """stdout; tables are not squeezed to 80 columns when it is not a terminal."""
    console = terminal.console(highlight=False)
    if not console.is_terminal:
        console = terminal.console(highlight=False, width=4096)
    return console


def _print(renderable: RenderableType | str) -> None:
    """Print to stdout; into a pipe or file without the padding that tables leave at line ends."""
    console = _out()
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _seconds(timeout: str) -> float:
    try:
        return float(timeout) if timeout.replace(".", "", 1).isdigit() else apps.parse_duration(timeout)
    except ValueError:
        raise typer.BadParameter(f"--timeout must be a duration such as 90s or 5m, got {timeout!r}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _request(session: sessions.Session, work: Callable[[KubeClient], Awaitable[waiting.Progress | None]]) -> None:
    """Run an operation's `work`; after a `--wait` (a Progress), report its end and exit with its code."""
    progress = sessions.run(session, work)
    if progress is None:
        return
    if progress.code == 0:
        _print(Text(progress.message))
        return
    sessions.fail(progress.message, progress.code)


async def _follow(
    client: KubeClient, namespace: str, name: str, judge: waiting.Judge, timeout: float, title: str
) -> waiting.Progress:
    return await waiting.follow(client, namespace, name, judge, timeout=timeout, console=_out(), title=title)


# ------------------------------------------------------------------ reading


@app.command("list")
def list_(
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Applications of every namespace.")
    ] = False,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """List Applications with their sync and health status."""

    async def work(client: KubeClient) -> list[Manifest]:
        await sessions.check_crd(client)
        items, _ = await client.list(apps.API_VERSION, "Application", None if all_namespaces else namespace)
        return sorted(items, key=lambda a: (a["metadata"].get("namespace", ""), a["metadata"]["name"]))

    items = sessions.run(_session(kubeconfig, context, namespace), work)
    if output is not views.Output.table:
        sys.stdout.write(views.dump([views.raw(item) for item in items], output))
    elif not items:
        where = "any namespace" if all_namespaces else f"namespace {namespace}"
        sessions.stderr().print(f"no Applications in {where}")
    else:
        _print(views.list_table(items, _now(), all_namespaces=all_namespaces))


@app.command()
def get(
    name: Name,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show one Application: source, sync, health, operation, conditions and resources."""

    async def work(client: KubeClient) -> Manifest:
        return await sessions.get_application(client, namespace, name)

    found = sessions.run(_session(kubeconfig, context, namespace), work)
    if output is views.Output.table:
        _print(views.summary(found, _now()))
    else:
        sys.stdout.write(views.dump(views.raw(found), output))


@app.command()
def history(
    name: Name,
    output: OutputOpt = views.Output.table,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show an Application's deployment history (the IDs are what `rollback` takes)."""

    async def work(client: KubeClient) -> Manifest:
        return await sessions.get_application(client, namespace, name)

    entries = views.history_of(sessions.run(_session(kubeconfig, context, namespace), work))
    if output is not views.Output.table:
        sys.stdout.write(views.dump(entries, output))
    elif not entries:
        sessions.stderr().print(f"Application {namespace}/{name} has no history yet")
    else:
        _print(views.history_table(entries))


@app.command()
def diff(
    name: Name,
    revision: Annotated[
        str, typer.Option("--revision", help="Compare this branch, tag or SHA (default: targetRevision).")
    ] = "",
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Git cache (default ~/.cache/gitward/cli).")
    ] = None,
    allow_file_repos: Annotated[bool, typer.Option("--allow-file-repos", help="Allow file:// repoURLs.")] = False,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show what a sync would change: Git (fetched now) against the live objects (exit 1 if anything)."""
    sessions.quiet_logs()
    out, err = diffs.consoles()

    async def work(client: KubeClient) -> int:
        target = diffs.Target.of(await sessions.get_application(client, namespace, name, code=diffs.ERROR_CODE))
        folder = cache_dir or diffs.default_cache_dir()
        async with diffs.fetched(client, target, revision, folder, allow_file=allow_file_repos) as (root, commit):
            where = redaction.redact_url(target.spec.source.repo_url)
            err.print(f"comparing {where} at {apps.short_revision(commit.sha, 7)} with the live objects")
            return diffs.show(await diffs.plan(client, target, root, target.spec.source), out, err)

    code = sessions.run(_session(kubeconfig, context, namespace), work, error_code=diffs.ERROR_CODE)
    raise typer.Exit(code)


# ------------------------------------------------------------------ operations


@app.command()
def sync(
    name: Name,
    revision: Annotated[str, typer.Option("--revision", help="Sync this branch, tag or SHA instead.")] = "",
    prune: Annotated[
        bool | None, typer.Option("--prune/--no-prune", help="Delete objects that left Git (default: the policy).")
    ] = None,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Ask the controller to sync now (with --wait: until Synced and Healthy, or failed)."""
    seconds = _seconds(timeout)
    problem = identifiers.GRAMMARS["revision"].problem(revision) if revision else None
    if problem is not None:
        raise typer.BadParameter(f"--revision {problem}")

    async def work(client: KubeClient) -> waiting.Progress | None:
        found = await sessions.get_application(client, namespace, name)
        try:
            operations.check_sync_revision(found, revision)
        except operations.OperationError as exc:
            raise sessions.CliError(str(exc)) from None
        who = await operations.whoami(client)
        request = await operations.request_sync(client, namespace, name, revision, prune, initiator=who)
        what = f" of {revision}" if revision else ""
        _print(f"sync{what} requested for Application {namespace}/{name}")
        if not wait:
            return None
        return await _follow(client, namespace, name, waiting.sync_judge(request), seconds, "sync")

    _request(_session(kubeconfig, context, namespace), work)


@app.command()
def refresh(
    name: Name,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Ask the controller to re-check Git and the cluster now."""
    seconds = _seconds(timeout)

    async def work(client: KubeClient) -> waiting.Progress | None:
        await sessions.get_application(client, namespace, name)
        request = await operations.request_refresh(client, namespace, name)
        _print(f"refresh requested for Application {namespace}/{name}")
        if not wait:
            return None
        return await _follow(client, namespace, name, waiting.refresh_judge(request), seconds, "refresh")

    _request(_session(kubeconfig, context, namespace), work)


@app.command()
def rollback(
    name: Name,
    history_id: Annotated[int, typer.Argument(metavar="ID", help="The history entry to go back to.")],
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Sync the revision of a history entry and suspend automated sync (resume with `app resume`)."""
    seconds = _seconds(timeout)

    async def work(client: KubeClient) -> waiting.Progress | None:
        found = await sessions.get_application(client, namespace, name)
        try:
            request = await operations.rollback(client, namespace, name, history_id, await operations.whoami(client))
        except operations.OperationError as exc:
            raise sessions.CliError(str(exc)) from None
        entry = next((h for h in views.history_of(found) if h.get("id") == history_id), {})
        _print(
            f"rolling Application {namespace}/{name} back to history entry {history_id} "
            f"(revision {views.short(entry.get('revision'))})\n"
            f"automated sync is suspended (spec.suspend=true) until `gitward app resume {name} -n {namespace}`"
        )
        if not wait:
            return None
        return await _follow(client, namespace, name, waiting.sync_judge(request), seconds, "rollback")

    _request(_session(kubeconfig, context, namespace), work)


def _set_suspend(session: sessions.Session, name: str, suspend: bool) -> None:
    async def work(client: KubeClient) -> None:
        await sessions.get_application(client, session.namespace, name)
        await operations.set_suspend(client, session.namespace, name, suspend)

    sessions.run(session, work)
    done = "suspended: automated sync is paused" if suspend else "resumed: automated sync is active again"
    _print(f"Application {session.namespace}/{name} {done}")


@app.command()
def suspend(
    name: Name,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Pause automated sync (spec.suspend=true); manual syncs still work."""
    _set_suspend(_session(kubeconfig, context, namespace), name, True)


@app.command()
def resume(
    name: Name,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Resume automated sync (spec.suspend=false)."""
    _set_suspend(_session(kubeconfig, context, namespace), name, False)


@app.command()
def delete(
    name: Name,
    cascade: Annotated[
        bool | None,
        typer.Option(
            "--cascade/--orphan",
            help="Delete the managed objects too, or keep them (default: the Application's deletion-policy).",
        ),
    ] = None,
    wait: Wait = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Delete an Application; its managed objects go too unless --orphan."""
    seconds = _seconds(timeout)

    async def work(client: KubeClient) -> waiting.Progress | None:
        found = await sessions.get_application(client, namespace, name)
        orphan = await _deletion_policy(client, found, cascade)
        await client.delete(apps.API_VERSION, "Application", name, namespace)
        then = "its managed objects are kept" if orphan else "the controller deletes its managed objects with it"
        _print(f"Application {namespace}/{name} is being deleted; {then}")
        if not wait:
            return None
        return await _follow(client, namespace, name, waiting.deletion_judge, seconds, "delete")

    _request(_session(kubeconfig, context, namespace), work)


async def _deletion_policy(client: KubeClient, found: Manifest, cascade: bool | None) -> bool:
    """Write the deletion policy asked for (`gitward.dev/deletion-policy`); return whether it orphans."""
    meta = found["metadata"]
    current = (meta.get("annotations") or {}).get(apps.DELETION_POLICY) == "orphan"
    orphan = current if cascade is None else not cascade
    if orphan != current:
        patch = {"metadata": {"annotations": {apps.DELETION_POLICY: "orphan" if orphan else None}}}
        await client.patch(apps.API_VERSION, "Application", meta["name"], meta["namespace"], patch)
    return orphan
