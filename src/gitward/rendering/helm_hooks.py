"""Helm hooks as sync waves, the way Argo CD maps them (pure; no Kubernetes, no Helm).

Called by `helm.render` on the objects a chart renders. gitward keeps no release state and has no
hook phases of its own: it applies a render in stages, and within a stage in waves
(`gitward.dev/sync-wave`, lower first, each wave healthy before the next). So, as Argo CD does:

    helm.sh/hook                          becomes
    pre-install, pre-upgrade, crd-install  a wave below every main object   (Argo CD: PreSync)
    (no hook)                              the object's own wave (default 0) (Argo CD: Sync)
    post-install, post-upgrade             a wave above every main object   (Argo CD: PostSync)
    test, test-success, test-failure,      not rendered                     (Argo CD: skipped)
    pre/post-delete, pre/post-rollback

`helm.sh/hook-weight` (an integer; anything else counts as 0, as in Helm) orders hooks of one phase:
pre hooks get waves `lo - 1 - (max_weight - weight)` and post hooks `hi + 1 + (weight - min_weight)`,
where `lo`/`hi` are the lowest/highest wave of the main objects. A hook listing both a pre and a post
event runs once, before. The wave set on a hook replaces any `gitward.dev/sync-wave` it carried.
"""

from __future__ import annotations

import re
from enum import StrEnum

from gitward.core.applications import SYNC_WAVE
from gitward.core.errors import RenderError
from gitward.rendering.documents import Rendered

HOOK = "helm.sh/hook"
HOOK_WEIGHT = "helm.sh/hook-weight"
MAX_WAVE = 999_999_999
"""The largest wave magnitude `gitward.dev/sync-wave` accepts (planning reads at most 9 digits)."""

_PRE = frozenset({"pre-install", "pre-upgrade", "crd-install"})
_POST = frozenset({"post-install", "post-upgrade"})
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")


class Phase(StrEnum):
    PRE = "pre"
    MAIN = "main"
    POST = "post"
    SKIPPED = "skipped"


def phase_of(manifest: dict[str, object]) -> Phase:
    """Where an object's `helm.sh/hook` annotation puts it."""
    value = _annotations(manifest).get(HOOK)
    if not isinstance(value, str):
        return Phase.MAIN
    events = {event.strip() for event in value.split(",") if event.strip()}
    if events & _PRE:
        return Phase.PRE
    if events & _POST:
        return Phase.POST
    return Phase.SKIPPED


def weight_of(manifest: dict[str, object]) -> int:
    """`helm.sh/hook-weight` as Helm reads it: an integer, 0 when absent or not a number."""
    return _integer(_annotations(manifest).get(HOOK_WEIGHT))


def map_hooks(rendered: list[Rendered]) -> list[Rendered]:
    """`rendered` without skipped hooks, pre/post hooks annotated with their waves, order kept."""
    phases = [(item, phase_of(item.manifest)) for item in rendered]
    main = [_integer(_annotations(item.manifest).get(SYNC_WAVE)) for item, phase in phases if phase is Phase.MAIN]
    low, high = (min(main), max(main)) if main else (0, 0)
    pre = [weight_of(item.manifest) for item, phase in phases if phase is Phase.PRE]
    post = [weight_of(item.manifest) for item, phase in phases if phase is Phase.POST]
    result: list[Rendered] = []
    for item, phase in phases:
        if phase is Phase.SKIPPED:
            continue
        if phase is Phase.PRE:
            item = _with_wave(item, low - 1 - (max(pre) - weight_of(item.manifest)))
        elif phase is Phase.POST:
            item = _with_wave(item, high + 1 + (weight_of(item.manifest) - min(post)))
        result.append(item)
    return result


def _with_wave(item: Rendered, wave: int) -> Rendered:
    if abs(wave) > MAX_WAVE:
        raise RenderError(f"{item.file}: {_name(item)}: hook weights lead to sync wave {wave}, beyond ±{MAX_WAVE}")
    manifest = dict(item.manifest)
    metadata = dict(manifest.get("metadata") or {})
    metadata["annotations"] = {**_annotations(manifest), SYNC_WAVE: str(wave)}
    manifest["metadata"] = metadata
    return Rendered(manifest, item.file)


def _annotations(manifest: dict[str, object]) -> dict[str, object]:
    metadata = manifest.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return dict(annotations) if isinstance(annotations, dict) else {}


def _integer(value: object) -> int:
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    return 0


def _name(item: Rendered) -> str:
    metadata = item.manifest.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{item.manifest.get('kind')}/{name}"
