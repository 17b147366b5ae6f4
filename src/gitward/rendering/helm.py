"""The Helm engine: a chart (from the repository, or unpacked from a chart repository) → objects.

Called by `engines.render` when `source.helm` or `source.chart` is set or the source path holds a
`Chart.yaml`. The flow, like `helm template --include-crds` as Argo CD runs it:

    values (helm_values: valueFiles → extra files → inline values)
      → private copy of the checkout (copying; symlinks checked, sizes bounded)
      → Helm's own engine in a bounded worker process (helm_runner → helm_worker), with the release
        name (default: the Application's name), the destination namespace and the destination
        cluster's capabilities (`.Capabilities.KubeVersion`, `.Capabilities.APIVersions`)
      → YAML of every template through `documents` (bounded), NOTES.txt left out
      → hooks as sync waves (helm_hooks); the chart's `crds/` first.

Dependencies come from the chart's `charts/` directory only: nothing is downloaded while rendering.
`lookup` is not supported: gitward renders offline, so it returns nothing (as in `helm template`),
and a chart that calls it is logged with a warning. Nothing here talks to the Kubernetes API.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitward.core.applications import HelmSource
from gitward.core.errors import RenderError
from gitward.core.logging import get_logger
from gitward.rendering import copying, documents, helm_hooks, helm_runner, helm_values, paths, scanning
from gitward.rendering.inputs import ValuesDocument
from gitward.rendering.limits import Limits

CHART_FILE = "Chart.yaml"
DEFAULT_RELEASE_NAME = "release-name"
"""`helm template`'s release name when neither `releaseName` nor an Application name is known."""
DEFAULT_NAMESPACE = "default"

_log = get_logger(__name__)
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_RELEASE_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
"""Helm's release-name grammar (a DNS-1123 subdomain): the name lands in templates as text, so a
line break in it could add YAML of its own to any chart that prints `.Release.Name`."""
_NAMESPACE = re.compile(_LABEL)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What `.Capabilities` shows a chart: the destination cluster's version and served APIs.

    Empty fields leave Helm's defaults (its own Kubernetes version and built-in API list). API
    versions are added to Helm's built-in list, as `helm template --api-versions` does.
    """

    kube_version: str = ""
    """The API server's `gitVersion`, e.g. `v1.20.2`."""
    api_versions: tuple[str, ...] = ()
    """Served `group/version` and `group/version/Kind` strings (`v1`, `apps/v1/Deployment`, ...)."""

    def fingerprint(self) -> str:
        """A short digest, part of render cache keys: a new CRD on the cluster changes it."""
        text = "\n".join((self.kube_version, *sorted(self.api_versions)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a render goes, as Helm needs to know it: the Application and its destination."""

    app_name: str = ""
    """The default release name (`releaseName` overrides it)."""
    namespace: str = ""
    """`.Release.Namespace`: the destination namespace."""
    capabilities: Capabilities = field(default_factory=Capabilities)


def is_chart(directory: Path) -> bool:
    """Whether `directory` (resolved, inside the checkout) holds a chart."""
    return (directory / CHART_FILE).is_file()


def has_chart(root: Path, path: str) -> bool:
    """Whether repo-relative `path` of checkout `root` holds a chart (RenderError if it leaves `root`)."""
    return is_chart(paths.resolve_inside(root, path))


def release_name(options: HelmSource, target: Target) -> str:
    return options.release_name or target.app_name or DEFAULT_RELEASE_NAME


def check_release(release: str, namespace: str) -> None:
    """RenderError (naming the field) unless the release name and namespace are DNS-1123 names."""
    if not _RELEASE_NAME.fullmatch(release):
        raise RenderError(f"helm.releaseName {release[:80]!r}: not a Helm release name (a DNS-1123 subdomain)")
    if len(namespace) > 63 or not _NAMESPACE.fullmatch(namespace):
        raise RenderError(f"destination namespace {namespace[:80]!r}: not a DNS-1123 label")


def render(
    root: Path,
    chart: Path,
    options: HelmSource,
    target: Target,
    limits: Limits,
    *,
    extra_value_files: Sequence[Path] = (),
    value_documents: Sequence[ValuesDocument] = (),
) -> list[documents.Rendered]:
    """The objects of the chart at `chart` (resolved, inside the resolved checkout `root`)."""
    chart_rel = paths.relative(chart, root)
    if not is_chart(chart):
        raise RenderError(f"{chart_rel}: no {CHART_FILE} here: not a Helm chart")
    values = helm_values.compose(
        root,
        chart,
        options.value_files,
        options.values,
        limits,
        extra_files=extra_value_files,
        from_cluster=value_documents,
    )
    release, namespace = release_name(options, target), target.namespace or DEFAULT_NAMESPACE
    check_release(release, namespace)
    request = {
        "values": values,
        "release": release,
        "namespace": namespace,
        "kube_version": target.capabilities.kube_version,
        "api_versions": list(target.capabilities.api_versions),
    }
    with tempfile.TemporaryDirectory(prefix="gitward-helm-") as tmp:
        work = Path(os.path.realpath(tmp))
        copying.copy_checkout(root, work / "repo", limits)
        request["chart"] = str(work / "repo" / chart_rel)
        answer = helm_runner.run(request, work, chart_rel, limits)
    return objects(answer, chart_rel, limits)


def objects(answer: dict[str, Any], chart_rel: str, limits: Limits) -> list[documents.Rendered]:
    """The worker's answer as objects: CRDs first, then the templates (sorted), hooks mapped."""
    manifests, crds, lookups = answer.get("manifests"), answer.get("crds"), answer.get("lookups")
    if not isinstance(manifests, dict) or not isinstance(crds, list) or not isinstance(lookups, list):
        raise RenderError(f"{chart_rel}: the Helm engine gave an answer of an unexpected shape")
    if lookups:
        _log.warning("helm lookup is not supported: it returns nothing", chart=chart_rel, templates=lookups[:20])
    budget = scanning.Budget(limits.max_total_bytes)
    rendered: list[documents.Rendered] = []
    for crd in crds:
        if isinstance(crd, dict):
            label = repo_path(chart_rel, str(crd.get("file", "")))
            rendered.extend(documents.load(str(crd.get("data", "")).encode(), label, limits, budget))
    templates: list[documents.Rendered] = []
    for name, text in sorted(manifests.items()):
        if not isinstance(text, str) or name.endswith("NOTES.txt") or not text.strip():
            continue
        templates.extend(documents.load(text.encode(), f"helm:{repo_path(chart_rel, name)}", limits, budget))
    return rendered + helm_hooks.map_hooks(templates)


def repo_path(chart_rel: str, helm_path: str) -> str:
    """Helm's `<chart name>/templates/x.yaml` as a path in the repository: `<chart path>/templates/x.yaml`."""
    _, _, inside = helm_path.partition("/")
    if chart_rel == ".":
        return inside or helm_path
    return f"{chart_rel}/{inside}" if inside else chart_rel
