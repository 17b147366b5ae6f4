"""`gitward diff DIR --app NAME`, and the diff engine it shares with `gitward app diff NAME`.

Called by the `diff` command below (a local checkout, e.g. a pull request's) and by `cli/app.py`'s
`app diff` (the Application's own source, fetched with `gitward.sourcing.Fetcher`). Both run the
controller's pipeline up to the decision, without the controller and without writing anything:

    render (gitward.rendering; a chart for the Application's release and the cluster's capabilities)
    → normalise for the Application (`normalized`: planning.normalizing, scopes from discovery)
    → GET each live object and each prune candidate (gitward.server.diffs.read_live, shared with the
    server's diffs) → `decide` (pure): comparing.needs_apply → diffing.unified (Secret values
    masked), + inventory entries no longer rendered → prune diffs

Unified diffs go to stdout, one line per differing object (why it differs) to stderr. Exit codes as
`kubectl diff`: 0 nothing differs, 1 something does, 2 error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import posixpath
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer
from rich.console import Console
from rich.text import Text

from gitward import rendering
from gitward.cli import app_sessions as sessions
from gitward.cli import terminal
from gitward.controller import capabilities, inputs
from gitward.core import applications as apps
from gitward.core import redaction
from gitward.core.manifests import Manifest, ObjectRef
from gitward.devcluster import assets
from gitward.kube.client import KubeClient
from gitward.planning import comparing, conflicts, diffing, hooks, ignoring, inventory, normalizing, prune
from gitward.rendering import substitution
from gitward.server import diffs
from gitward.sourcing import Credentials, Fetcher, Revision, oci

ERROR_CODE = 2
MAX_CONCURRENT_GETS = 8

_LABELS = {
    "create": "would be created",
    "update": "would be updated",
    "drift": "differs from Git",
    "prune": "would be pruned",
    "conflict": "cannot be synced",
}


@dataclass(frozen=True, slots=True)
class ObjectDiff:
    """One object that differs: what a sync would do (create, update, drift, prune, conflict) and why."""

    ref: ObjectRef
    action: str
    reason: str
    text: str  # the unified diff, live → desired; "" when no managed value differs


@dataclass(frozen=True, slots=True)
class Target:
    """The Application a render is compared for."""

    namespace: str
    name: str
    spec: apps.ApplicationSpec
    status: dict[str, Any]

    @classmethod
    def of(cls, app: Manifest) -> Target:
        meta = app["metadata"]
        try:
            spec = apps.ApplicationSpec.model_validate(app.get("spec") or {})
        except pydantic.ValidationError as exc:
            msg = f"Application {meta['namespace']}/{meta['name']}: invalid spec: {exc.errors()[0].get('msg')}"
            raise sessions.CliError(msg, ERROR_CODE) from None
        status = app.get("status")
        return cls(meta["namespace"], meta["name"], spec, status if isinstance(status, dict) else {})


# ------------------------------------------------------------------ planning


async def plan(
    client: KubeClient, target: Target, root: Path, source: apps.Source, *, allow_remote_bases: bool = False
) -> list[ObjectDiff]:
    """What syncing `source` from checkout `root` would change for `target` (see the module docstring):
    the I/O (render, discovery, live reads) around `decide`. What the render takes from the cluster
    (valuesFrom, substitution variables) is read with the user's kubeconfig; Secret-held values are
    masked in the diffs."""
    given = await inputs.RenderInputs(client, None).read(target.spec, target.namespace)
    decrypted: list[str] = []
    rendered = await asyncio.to_thread(
        rendering.render,
        root,
        source,
        allow_remote_bases=allow_remote_bases,
        target=await _chart_target(client, target, root, source),
        inputs=given,
        secrets_out=decrypted,
    )
    objs, secrets = [r.manifest for r in rendered], (*given.secret_values(), *decrypted)
    if source.substitute is not None:
        limit = rendering.DEFAULT_LIMITS.max_total_bytes
        done = substitution.substitute(objs, given.variables, strict=source.substitute.strict, max_bytes=limit)
        objs, secrets = done.objects, (*secrets, *done.secret_values)
    desired = normalized(target, objs, await client.scopes(objs))
    wanted = [(str(obj["apiVersion"]), ObjectRef.of(obj)) for obj in desired] + prune_candidates(target, desired)
    lives = await diffs.read_live(client, wanted, concurrency=MAX_CONCURRENT_GETS)
    found = decide(target, desired, {ref: live for (_, ref), live in zip(wanted, lives, strict=True)})
    return [dataclasses.replace(d, text=redaction.redact(d.text, secrets)) for d in found] if secrets else found


async def _chart_target(client: KubeClient, target: Target, root: Path, source: apps.Source) -> rendering.Target:
    """What a chart is rendered for, as the controller does: the Application's name as the release
    name, its destination namespace, and the cluster's capabilities (discovery, only for charts)."""
    namespace = target.spec.destination.namespace or target.namespace
    if source.helm is None and not await asyncio.to_thread(rendering.has_chart, root, source.path):
        return rendering.Target(app_name=target.name, namespace=namespace)
    return rendering.Target(target.name, namespace, await capabilities.Discovery(client).get())


def normalized(target: Target, objs: list[Manifest], scopes: Mapping[tuple[str, str], bool | None]) -> list[Manifest]:
    """`objs` as the controller would apply them for `target`; `scopes` says which (group, kind)
    is namespaced (`KubeClient.scopes`: discovery; None when the kind is unknown)."""
    return normalizing.normalize(
        objs,
        app_namespace=target.namespace,
        app_name=target.name,
        default_namespace=target.spec.destination.namespace or target.namespace,
        is_namespaced=lambda group, kind: scopes.get((group, kind)),
    )


def prune_candidates(target: Target, desired: list[Manifest]) -> list[tuple[str, ObjectRef]]:
    """(apiVersion, ref) of the inventory entries no longer rendered: what a sync would prune if
    they are still live. Nothing on an empty render, unless the automated policy allows it (the
    controller refuses to prune everything on an empty render)."""
    automated = target.spec.sync_policy.automated
    if not desired and not (automated and automated.allow_empty):
        return []
    gone = inventory.diff(inventory.from_status(target.status.get("inventory")), inventory.entries_of(desired))
    return [(f"{e.ref.group}/{e.v}" if e.ref.group else e.v, e.ref) for e in gone if inventory.valid_id(e.id)]


def decide(target: Target, desired: list[Manifest], live: Mapping[ObjectRef, Manifest | None]) -> list[ObjectDiff]:
    """The objects a sync would change, from plain data: each desired object against its live
    counterpart in `live` (missing: not live), then the prune candidates that are live and not
    protected from pruning."""
    rules = ignoring.rules_of(target.spec)
    _, desired = hooks.split(desired)  # hooks run around a sync, they are never applied
    found = [_compare(target, obj, live.get(ObjectRef.of(obj)), rules) for obj in desired]
    prunes = [
        ObjectDiff(ref, "prune", "no longer rendered from Git", diffing.unified(None, obj))
        for _, ref in prune_candidates(target, desired)
        if (obj := live.get(ref)) is not None and prune.skip_reason(obj, target.namespace, target.name) is None
    ]
    return [d for d in found if d is not None] + prunes


def _compare(
    target: Target, desired: Manifest, live: Manifest | None, rules: tuple[ignoring.Rule, ...] = ()
) -> ObjectDiff | None:
    ref = ObjectRef.of(desired)
    desired = ignoring.strip(desired, live, *ignoring.applies_to(rules, ref))  # spec.ignoreDifferences
    owner = conflicts.other_owner(live, target.namespace, target.name) if live is not None else None
    if owner is not None:
        return ObjectDiff(ref, "conflict", f"already managed by Application {owner}", "")
    decision = comparing.needs_apply(desired, live)
    if decision.action == "none":
        return None
    return ObjectDiff(ref, decision.action, decision.reason, diffing.unified(desired, live))


# ------------------------------------------------------------------ sources


async def credentials(client: KubeClient, target: Target) -> Credentials | None:
    """The repository credentials of `source.secretRef`, read with the user's kubeconfig."""
    ref = target.spec.source.secret_ref
    if ref is None:
        return None
    secret = await client.get_or_none("v1", "Secret", ref.name, target.namespace)
    if secret is None:
        raise sessions.CliError(f"Secret/{target.namespace}/{ref.name}: not found (source.secretRef)", ERROR_CODE)
    return Credentials.from_secret_data(secret.get("data") or {}, secret_name=ref.name)


def default_cache_dir() -> Path:
    """`~/.cache/gitward/cli` (under $GITWARD_CACHE_DIR when set)."""
    return assets.cache_root() / "cli"


@contextlib.asynccontextmanager
async def fetched(
    client: KubeClient, target: Target, revision: str, cache_dir: Path, *, allow_file: bool = False
) -> AsyncIterator[tuple[Path, Revision]]:
    """The Application's source at `revision` (default: its targetRevision), checked out in a
    temporary directory for the duration of the block; the Git cache stays in `cache_dir` (created
    by the Fetcher)."""
    source = target.spec.source
    if source.chart:
        msg = f"{source.chart}: `app diff` cannot fetch charts from a Helm repository yet; try `gitward diff DIR`"
        raise sessions.CliError(msg, ERROR_CODE)
    creds = await credentials(client, target)
    if source.is_oci:  # an OCI artifact (SPEC §12): pulled into the CLI's cache, once per digest
        registries = oci.Registries(cache_dir / "oci")
        wanted = revision or source.target_revision
        artifact = await registries.resolve(source.repo_url, wanted, creds, insecure=source.insecure)
        root = await registries.fetch(artifact, creds, insecure=source.insecure)
        yield root, Revision(artifact.digest, "", "", f"{artifact.ref.name}:{artifact.tag}", "", "")
        return
    with Fetcher(cache_dir / "git", allow_file=allow_file) as fetcher:
        commit = await fetcher.resolve_and_fetch(source.repo_url, revision or source.target_revision, creds)
        with tempfile.TemporaryDirectory(prefix="checkout-", dir=cache_dir) as work:
            root = Path(work) / "tree"
            await fetcher.checkout(source.repo_url, commit.sha, root, creds)
            yield root, commit


# ------------------------------------------------------------------ output


def show(diffs: list[ObjectDiff], out: Console, err: Console) -> int:
    """Print the diffs (stdout) and why each object differs (stderr); 0 when none, else 1."""
    for item in diffs:
        err.print(Text(f"{item.ref}: {_LABELS.get(item.action, item.action)} ({item.reason})", style="bold"))
        if item.text:
            out.print(_colored(item.text) if out.is_terminal else item.text, end="")
    if not diffs:
        err.print("no differences")
        return 0
    counts: dict[str, int] = {}
    for item in diffs:
        counts[item.action] = counts.get(item.action, 0) + 1
    detail = ", ".join(f"{n} {_LABELS.get(action, action)}" for action, n in sorted(counts.items()))
    err.print(f"{len(diffs)} {'object differs' if len(diffs) == 1 else 'objects differ'}: {detail}")
    return 1


def _colored(text: str) -> Text:
    styled = Text()
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            styled.append(line, style="bold")
        elif line.startswith("@@"):
            styled.append(line, style="cyan")
        elif line.startswith("+"):
            styled.append(line, style="green")
        elif line.startswith("-"):
            styled.append(line, style="red")
        else:
            styled.append(line)
    return styled


def consoles() -> tuple[Console, Console]:
    return terminal.console(highlight=False, soft_wrap=True), sessions.stderr()


# ------------------------------------------------------------------ `gitward diff DIR --app NAME`


def local_source(directory: Path, source: apps.Source, path: str | None) -> tuple[Path, apps.Source]:
    """The checkout root and the Application's source as read from local `directory`: DIR inside a
    Git checkout is rendered as `kustomize build DIR` would (the checkout is the repository, `--path`
    is relative to DIR); DIR at a checkout's root (or in none) renders `--path`, else the
    Application's own path."""
    checkout, where = rendering.checkout_of(directory)
    wanted = source.path if where == "." and path is None else posixpath.join(where, path or ".")
    value_files = source.helm.value_files if source.helm is not None else ()
    root, inside = rendering.locate(checkout, wanted, value_files=value_files)
    return root, source.model_copy(update={"path": inside})


def diff(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A local checkout of the Application's repository.")],
    app: Annotated[str, typer.Option("--app", help="The Application whose live objects to compare with.")],
    path: Annotated[
        str | None, typer.Option("--path", help="Directory inside DIR to render (default: the Application's path).")
    ] = None,
    allow_remote_bases: Annotated[
        bool, typer.Option("--allow-remote-bases", help="Allow kustomize remote bases.")
    ] = False,
    kubeconfig: sessions.Kubeconfig = None,
    context: sessions.Context = None,
    namespace: sessions.Namespace = sessions.DEFAULT_NAMESPACE,
) -> None:
    """Show how a local checkout would change the live objects of an Application (exit 1 if it would)."""
    sessions.quiet_logs()
    if not directory.is_dir():
        sessions.fail(f"{directory}: not a directory", ERROR_CODE)
    out, err = consoles()

    async def work(client: KubeClient) -> int:
        target = Target.of(await sessions.get_application(client, namespace, app, code=ERROR_CODE))
        root, source = local_source(directory, target.spec.source, path)
        diffs = await plan(client, target, root, source, allow_remote_bases=allow_remote_bases)
        return show(diffs, out, err)

    code = sessions.run(sessions.Session(kubeconfig, context, namespace), work, error_code=ERROR_CODE)
    raise typer.Exit(code)
