"""Rendering: turn a checked-out path into Kubernetes objects (plain directories, kustomize, Helm).

Sits between sourcing (which checks out a revision) and planning (which compares the objects with
the cluster). The public surface is `render`, its result `Rendered`, its bounds `Limits`, and for
charts the `Target` (Application name, destination namespace, cluster `Capabilities`):

    render(root, source, limits, target=Target(...)) → [Rendered(manifest, file), ...]   or RenderError

The repository is hostile input: `paths` keeps every read inside the checkout, `scanning` bounds
YAML before it is built, `kustomize` runs kubectl on a private copy with a timeout, and `helm` runs
Helm's engine on a private copy in a bounded worker process.
"""

from gitward.rendering.documents import Rendered
from gitward.rendering.engines import locate, render
from gitward.rendering.helm import Capabilities, Target, has_chart
from gitward.rendering.inputs import Inputs, ValuesDocument
from gitward.rendering.limits import DEFAULT_LIMITS, Limits
from gitward.rendering.paths import checkout_of

__all__ = [
    "DEFAULT_LIMITS",
    "Capabilities",
    "Inputs",
    "Limits",
    "Rendered",
    "Target",
    "ValuesDocument",
    "checkout_of",
    "has_chart",
    "locate",
    "render",
]
