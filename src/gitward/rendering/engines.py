"""Choosing and running the render engine for one Application source: the entry of `rendering`.

Called (as `gitward.rendering.render`) by the controller after sourcing has checked out a revision,
and by the CLI's `gitward render` / `gitward diff`. Resolves `source.path` safely inside the
checkout, picks the engine (Helm when asked for or when a `Chart.yaml` is there, kustomize when asked
for or when a kustomization file is there, plain directory otherwise), runs it and bounds the number
of objects. The result goes on to planning; nothing here talks to the Kubernetes API.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path

from gitward.core.applications import DirectorySource, HelmSource, Source
from gitward.core.errors import RenderError
from gitward.rendering import decryption, directory, helm, kustomizations, kustomize, paths
from gitward.rendering.documents import Rendered
from gitward.rendering.inputs import Inputs
from gitward.rendering.limits import DEFAULT_LIMITS, Limits


def render(
    root: Path,
    source: Source,
    limits: Limits = DEFAULT_LIMITS,
    *,
    allow_remote_bases: bool = False,
    target: helm.Target | None = None,
    helm_value_files: Sequence[Path] = (),
    inputs: Inputs | None = None,
    secrets_out: list[str] | None = None,
) -> list[Rendered]:
    """The objects of `source` in checkout `root` (a Git working tree), in a deterministic order.

    For charts, `target` names the Application and its destination (release name, namespace,
    capabilities) and `helm_value_files` are extra value files outside the checkout, chosen by the
    user (`gitward render --helm-values`), applied after `valueFiles` and before inline `values`.
    `inputs` are what the render takes from the cluster: `valuesFrom` documents (after `valueFiles`)
    and SOPS decryption keys (the render then reads a private decrypted copy, `decryption`); the
    values that were encrypted are added to `secrets_out`, to be masked wherever they are shown.
    Raises `RenderError` (message starting with the repo-relative file) for anything the
    repository gets wrong or any bound it crosses.
    """
    real = paths.real_root(root)
    given = inputs or Inputs()
    if given.decryption_keys:  # SOPS: render a private, decrypted copy, removed right after
        keys, label = given.decryption_keys, given.decryption_secret
        with decryption.decrypted_copy(real, keys, limits, label, secrets_out) as plain:
            rendered = _render(plain, source, limits, allow_remote_bases, target, helm_value_files, given, cache=False)
    else:
        rendered = _render(real, source, limits, allow_remote_bases, target, helm_value_files, given, cache=True)
    if len(rendered) > limits.max_objects:
        raise RenderError(f"{source.path}: renders more than {limits.max_objects} objects")
    return rendered


def locate(
    directory: Path, path: str = ".", *, value_files: Sequence[str] = (), limits: Limits = DEFAULT_LIMITS
) -> tuple[Path, str]:
    """Where to render a local `directory` (and `path` inside it) from, as `kustomize build DIR` would:
    (root, path inside root). The root is the smallest directory of the Git checkout holding DIR that
    contains DIR and everything it reaches (kustomization bases, a chart's `value_files`; a directory
    in no checkout is its own root, whole), so that
    whatever else the checkout holds (a virtualenv, build output, symlinks to elsewhere) is never
    copied or read; a reference that leaves the checkout is refused naming its file and entry."""
    checkout, where = paths.checkout_of(directory)
    rel = paths.normalize(path or ".", base=where)
    base = paths.resolve_inside(checkout, rel)
    if not base.is_dir() or not (checkout / ".git").exists():
        return checkout, rel  # the render says what is missing; a directory in no checkout is all read
    needed = {rel}
    if kustomizations.find(base) is not None:
        needed |= kustomizations.check_references(checkout, rel, limits, allow_remote=True)
    for name in value_files:
        needed.add(posixpath.dirname(paths.normalize(name, base=rel)) or ".")
    top = posixpath.commonpath([p for p in needed if p != "."]) if "." not in needed else "."
    return paths.resolve_inside(checkout, top or "."), posixpath.relpath(rel, top or ".")


def _render(
    real: Path,
    source: Source,
    limits: Limits,
    allow_remote_bases: bool,
    target: helm.Target | None,
    helm_value_files: Sequence[Path],
    inputs: Inputs,
    *,
    cache: bool,
) -> list[Rendered]:
    """The engine's objects, from resolved checkout `real`."""
    base = paths.resolve_inside(real, source.path)
    if not base.is_dir():
        raise RenderError(f"{source.path}: no such directory in the repository")
    directory_options = source.directory or DirectorySource()
    if source.helm is not None or source.chart or helm.is_chart(base):
        options, where = source.helm or HelmSource(), target or helm.Target()
        return helm.render(
            real, base, options, where, limits, extra_value_files=helm_value_files, value_documents=inputs.helm_values
        )
    if kustomizations.find(base) is None and source.kustomize is not None and not source.kustomize.is_empty():
        objects = directory.render(real, base, directory_options, limits, cache=cache)
        return kustomize.render_objects(objects, paths.relative(base, real), source.kustomize, limits)
    if source.kustomize is not None or kustomizations.find(base) is not None:
        return kustomize.render(real, base, limits, allow_remote_bases=allow_remote_bases, options=source.kustomize)
    return directory.render(real, base, directory_options, limits, cache=cache)
