"""Choosing and running the render engine for one Application source: the entry of `rendering`.

Called (as `gitward.rendering.render`) by the controller after sourcing has checked out a revision,
and by the CLI's `gitward render` / `gitward diff`. Resolves `source.path` safely inside the
checkout, picks the engine (kustomize when asked for or when a kustomization file is there, Helm
refused for now, plain directory otherwise), runs it and bounds the number of objects. The result
goes on to planning; nothing here talks to the Kubernetes API.
"""

from __future__ import annotations

from pathlib import Path

from gitward.core.applications import DirectorySource, Source
from gitward.core.errors import RenderError
from gitward.rendering import directory, kustomizations, kustomize, paths
from gitward.rendering.documents import Rendered
from gitward.rendering.limits import DEFAULT_LIMITS, Limits


def render(
    root: Path,
    source: Source,
    limits: Limits = DEFAULT_LIMITS,
    *,
    allow_remote_bases: bool = False,
) -> list[Rendered]:
    """The objects of `source` in checkout `root` (a Git working tree), in a deterministic order.

    Raises `RenderError` (message starting with the repo-relative file) for anything the
    repository gets wrong or any bound it crosses.
    """
    if source.helm is not None:
        raise RenderError(f"{source.path}: helm sources are not supported yet")
    real = paths.real_root(root)
    base = paths.resolve_inside(real, source.path)
    if not base.is_dir():
        raise RenderError(f"{source.path}: no such directory in the repository")
    if source.kustomize is not None or kustomizations.find(base) is not None:
        rendered = kustomize.render(real, base, limits, allow_remote_bases=allow_remote_bases)
    else:
        rendered = directory.render(real, base, source.directory or DirectorySource(), limits)
    if len(rendered) > limits.max_objects:
        raise RenderError(f"{source.path}: renders more than {limits.max_objects} objects")
    return rendered
