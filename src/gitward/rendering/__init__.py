"""Rendering: turn a checked-out path into Kubernetes objects (plain directories, kustomize, Helm).

Sits between sourcing (which checks out a revision) and planning (which compares the objects with
the cluster). The public surface is `render`, its result `Rendered` and its bounds `Limits`:

    render(root, source, limits) → [Rendered(manifest, file), ...]   or raises RenderError

The repository is hostile input: `paths` keeps every read inside the checkout, `scanning` bounds
YAML before it is built, and `kustomize` runs kubectl on a private copy with a timeout.
"""

from gitward.rendering.documents import Rendered
from gitward.rendering.engines import render
from gitward.rendering.limits import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_LIMITS", "Limits", "Rendered", "render"]
