"""How `gitward app list | get | history` show Applications: rich tables and a summary, or the raw
objects as JSON/YAML (`-o json|yaml`).

Called by `cli/app.py` with Application objects as the API server returns them. Pure: builds rich
renderables and strings, prints nothing; `now` is passed in so ages are testable.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable
from typing import Any

import yaml
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gitward.appstatus import compaction
from gitward.core import applications as apps
from gitward.core import redaction
from gitward.core.manifests import Manifest
from gitward.server import views

SHORT_SHA = 7

SYNC_STYLES = {"Synced": "green", "OutOfSync": "yellow", "Pruned": "dim", "Failed": "red"}
HEALTH_STYLES = {
    "Healthy": "green",
    "Suspended": "blue",
    "Progressing": "cyan",
    "Missing": "yellow",
    "Degraded": "red",
    "Unknown": "dim",
}
RESULT_STYLES = {"Succeeded": "green", "Failed": "red", "Error": "red", "Running": "cyan"}


class Output(str, enum.Enum):
    table = "table"
    json = "json"
    yaml = "yaml"


# ------------------------------------------------------------------ raw output


def raw(obj: Manifest) -> Manifest:
    """The object as the API server returned it, without `metadata.managedFields` (as kubectl shows it)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def dump(data: Any, output: Output) -> str:
    """`data` as JSON or YAML text, ending with a newline."""
    if output is Output.json:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096)


# ------------------------------------------------------------------ small formats


def parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def age(value: object, now: dt.datetime) -> str:
    """kubectl-style age of an RFC 3339 time: `42s`, `5m`, `3h`, `12d`; `-` when there is none."""
    when = parse_time(value)
    if when is None:
        return "-"
    seconds = max(int((now - when).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def timestamp(value: object) -> str:
    """`2025-06-01 14:03 UTC`, or `-`."""
    when = parse_time(value)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if when else "-"


def short(sha: object) -> str:
    """A commit SHA's first characters; an OCI digest (`sha256:…`, SPEC §12) keeps its prefix."""
    return apps.short_revision(sha, SHORT_SHA) if isinstance(sha, str) and sha else "-"


def first_line(text: object, limit: int = 60) -> str:
    line = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def styled(value: object, styles: dict[str, str]) -> Text:
    text = str(value) if value else "-"
    return Text(text, style=styles.get(text, ""))


def status_of(app: Manifest) -> dict[str, Any]:
    """The Application's status ({} when it has none, or a wrong-typed one)."""
    status = app.get("status")
    return status if isinstance(status, dict) else {}


def _part(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def sync_of(app: Manifest) -> str:
    return str(_part(status_of(app), "sync").get("status") or "Unknown")


def health_of(app: Manifest) -> str:
    return str(_part(status_of(app), "health").get("status") or "Unknown")


def last_sync(app: Manifest) -> str:
    """When the last operation finished (or started, while it runs)."""
    operation = _part(status_of(app), "operationState")
    return str(operation.get("finishedAt") or operation.get("startedAt") or "")


def _source(app: Manifest) -> dict[str, Any]:
    return _part(_part(app, "spec"), "source")


def repo_url(app: Manifest) -> str:
    """The repository URL, without any credentials it may carry."""
    return redaction.redact_url(str(_source(app).get("repoURL") or "-"))


def repo_path(app: Manifest) -> str:
    path = _source(app).get("path") or "."
    return f"{repo_url(app)} {path}" if path != "." else repo_url(app)


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


# ------------------------------------------------------------------ list


def list_table(items: Iterable[Manifest], now: dt.datetime, *, all_namespaces: bool) -> Table:
    columns = ["NAME", "NAMESPACE"] if all_namespaces else ["NAME"]
    table = _table(*columns, "SYNC", "HEALTH", "REVISION", "LAST SYNC", "REPO/PATH")
    for app in items:
        meta = app.get("metadata") or {}
        names = [meta.get("name", ""), meta.get("namespace", "")][: len(columns)]
        revision = _part(status_of(app), "sync").get("revision")
        table.add_row(
            *names,
            styled(sync_of(app), SYNC_STYLES),
            styled(health_of(app), HEALTH_STYLES),
            short(revision),
            age(last_sync(app), now),
            repo_path(app),
        )
    return table


# ------------------------------------------------------------------ get


def summary(app: Manifest, now: dt.datetime) -> RenderableType:
    """Everything a user wants to know about one Application, top to bottom."""
    parts: list[RenderableType] = [_overview(app, now)]
    conditions = [c for c in status_of(app).get("conditions") or [] if isinstance(c, dict)]
    if conditions:
        parts += [Text(""), Text("Conditions", style="bold"), _conditions_table(conditions, now)]
    resources = compaction.expand_rows(status_of(app))  # every object, also from a compacted status
    if resources:
        parts += [Text(""), Text("Resources", style="bold"), _resources_table(resources)]
    return Group(*parts)


def _overview(app: Manifest, now: dt.datetime) -> Table:
    meta, spec, status = app.get("metadata") or {}, _part(app, "spec"), status_of(app)
    source, destination = _source(app), _part(spec, "destination")
    sync, health = _part(status, "sync"), _part(status, "health")
    operation = views.operation(status)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    rows: list[tuple[str, RenderableType]] = [
        ("Name", f"{meta.get('namespace', '')}/{meta.get('name', '')}"),
        ("Project", str(spec.get("project") or "default")),
        ("Repository", repo_url(app)),
        ("Path", str(source.get("path") or ".")),
        ("Target", str(source.get("targetRevision") or "HEAD")),
        ("Destination", f"{destination.get('cluster') or 'in-cluster'} / {destination.get('namespace') or '-'}"),
        ("Sync policy", _policy_line(spec)),
        ("Sync", Text.assemble(styled(sync_of(app), SYNC_STYLES), f"  {short(sync.get('revision'))}")),
        ("Health", Text.assemble(styled(health_of(app), HEALTH_STYLES), _suffix(health))),
        ("Last synced", short(status.get("lastSyncedRevision"))),
    ]
    if operation is not None:
        rows.append(("Operation", _operation_line(operation, now)))
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _suffix(health: dict[str, Any]) -> str:
    return f"  {health['message']}" if health.get("message") else ""


def _policy_line(spec: dict[str, Any]) -> Text:
    """`automated (prune, selfHeal), every 3m`, or `manual, every 1m, SUSPENDED`."""
    policy = views.policy(spec)
    text = "manual"
    if policy.automated:
        text = "automated" + (f" ({', '.join(policy.flags)})" if policy.flags else "")
    text += f", every {policy.interval or '3m'}"
    if policy.suspended:
        return Text.assemble((text + ", ", ""), ("SUSPENDED", "bold yellow"))
    return Text(text)


def _operation_line(operation: views.Operation, now: dt.datetime) -> Text:
    when = operation.finished_at or operation.started_at
    text = Text.assemble(styled(operation.phase, RESULT_STYLES), f"  {short(operation.revision)}  {age(when, now)} ago")
    if operation.message:
        text.append(f"  {operation.message}")
    return text


def _conditions_table(conditions: list[dict[str, Any]], now: dt.datetime) -> Table:
    table = _table("TYPE", "STATUS", "REASON", "MESSAGE", "AGE")
    for cond in conditions:
        bad = cond.get("type") != "Ready" and cond.get("status") == "True"
        good = cond.get("type") == "Ready" and cond.get("status") == "True"
        style = "red" if bad else "green" if good else ""
        table.add_row(
            Text(str(cond.get("type", "")), style=style),
            str(cond.get("status", "")),
            str(cond.get("reason", "")),
            str(cond.get("message", "")),
            age(cond.get("lastTransitionTime"), now),
        )
    return table


def _resources_table(resources: list[dict[str, Any]]) -> Table:
    table = _table("KIND", "NAMESPACE", "NAME", "SYNC", "HEALTH", "MESSAGE")
    for row in resources:
        health = row.get("health")
        health_status = health.get("status") if isinstance(health, dict) else health
        health_message = health.get("message", "") if isinstance(health, dict) else ""
        table.add_row(
            str(row.get("kind", "")),
            str(row.get("namespace") or "-"),
            str(row.get("name", "")),
            styled(row.get("status"), SYNC_STYLES),
            styled(health_status, HEALTH_STYLES),
            "; ".join(m for m in (str(row.get("message") or ""), str(health_message or "")) if m),
        )
    return table


# ------------------------------------------------------------------ history


def history_of(app: Manifest) -> list[dict[str, Any]]:
    return [h for h in status_of(app).get("history") or [] if isinstance(h, dict)]


def history_table(entries: Iterable[dict[str, Any]]) -> Table:
    table = _table("ID", "REVISION", "AUTHOR", "MESSAGE", "COMMITTED", "DEPLOYED", "INITIATED BY", "RESULT")
    for entry in entries:
        table.add_row(
            str(entry.get("id", "")),
            short(entry.get("revision")),
            str(entry.get("author") or "-"),
            first_line(entry.get("message")) or "-",
            timestamp(entry.get("committedAt")),
            timestamp(entry.get("deployedAt")),
            " ".join(str(v) for v in (entry.get("initiatedBy") or "-", entry.get("initiator")) if v),
            styled(entry.get("result"), RESULT_STYLES),
        )
    return table
