"""The values a chart is rendered with: value files from the repository, extra files, inline values.

Called by `helm.render` before the chart goes to the Helm engine. Precedence follows `helm template
-f ... -f ...`, Argo CD and Flux: the chart's own values.yaml (applied by Helm itself) < `valueFiles`
in order < `valuesFrom` ConfigMaps and Secrets in order (read by the controller) < extra files given
on the command line (`gitward render --helm-values F`) < inline `values`. A document from a Secret
that does not parse is refused without quoting it (parser messages show the offending line).
Maps merge deeply; anything else (lists included) is replaced; `null` removes a chart default.

`valueFiles` are repository paths relative to the chart: `..` may reach other files of the same
repository, but no path, symlink or URL may lead outside it (`paths`); every file is bounded in size
and loaded through the same YAML bounds as manifests (`documents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitward.core.errors import RenderError
from gitward.rendering import documents, paths, scanning
from gitward.rendering.inputs import ValuesDocument
from gitward.rendering.limits import Limits


def compose(
    root: Path,
    chart: Path,
    value_files: Sequence[str],
    inline: dict[str, Any],
    limits: Limits,
    *,
    extra_files: Sequence[Path] = (),
    from_cluster: Sequence[ValuesDocument] = (),
) -> dict[str, Any]:
    """The values for the chart at `chart` (resolved, inside the resolved checkout `root`)."""
    budget = scanning.Budget(limits.max_total_bytes)
    chart_rel = paths.relative(chart, root)
    values: dict[str, Any] = {}
    for name in value_files:
        rel, real = resolve(root, chart_rel, name)
        merge(values, load(paths.read_bounded(real, rel, limits.max_file_bytes), rel, limits, budget))
    for doc in from_cluster:
        merge(values, _load_document(doc, limits, budget))
    for path in extra_files:
        label = str(path)
        if not paths.is_regular_file(path):
            raise RenderError(f"{label}: value file not found")
        merge(values, load(paths.read_bounded(path, label, limits.max_file_bytes), label, limits, budget))
    merge(values, inline)
    return values


def _load_document(doc: ValuesDocument, limits: Limits, budget: scanning.Budget) -> dict[str, Any]:
    """The mapping of one `valuesFrom` document; a Secret's content is never quoted in the error."""
    if len(doc.text.encode()) > limits.max_file_bytes:
        raise RenderError(f"{doc.label}: values are larger than the limit of {limits.max_file_bytes} bytes")
    try:
        return load(doc.text.encode(), doc.label, limits, budget)
    except RenderError as exc:
        if doc.secret:
            raise RenderError(f"{doc.label}: not a YAML mapping of values (content not shown: a Secret)") from None
        raise exc from None


def resolve(root: Path, chart_rel: str, name: str) -> tuple[str, Path]:
    """The repo-relative path and real path of value file `name`; refuses anything outside `root`."""
    if "://" in name:
        raise RenderError(f"{name}: remote value files are not supported, only files in the repository")
    try:
        rel = paths.normalize(name, base=chart_rel)
        real = paths.resolve_inside(root, rel)
    except RenderError as exc:
        raise RenderError(f"value file {exc.message}") from None
    if not paths.is_regular_file(real):
        raise RenderError(f"{rel}: value file not found in the repository")
    return rel, real


def load(data: bytes, label: str, limits: Limits, budget: scanning.Budget) -> dict[str, Any]:
    """The mapping in a values file (an empty file is an empty mapping)."""
    parsed = [doc for _, doc in documents.parse_yaml(documents.decode(data, label), label, limits, budget)]
    found = [doc for doc in parsed if doc is not None]
    if not found:
        return {}
    if len(found) > 1 or not isinstance(found[0], dict):
        raise RenderError(f"{label}: a values file holds one mapping")
    values: dict[str, Any] = found[0]
    return values


def merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    """Merge `values` into `into` the way Helm merges several `-f` files."""
    for key, value in values.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merge(current, value)
        else:
            into[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
