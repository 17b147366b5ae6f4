"""Sync hooks (SPEC §13, Argo CD's resource hooks): Jobs and Pods annotated `gitward.dev/hook` that
run around a sync operation instead of being applied with it.

Called by the reconciler on the normalised objects of a render: `split` takes the hooks out (they
are not part of the inventory, never pruned, never drift), and the hook runner
(`controller.hooks`) runs them. Pure.

- `gitward.dev/hook: PreSync` — before anything is applied; a failed PreSync hook fails the sync and
  nothing of the revision is written. `PostSync` — after every object was applied. `SyncFail` — when
  the sync failed. Several phases, comma-separated, are allowed (`PreSync,SyncFail`: rare).
- Within a phase, hooks run by `gitward.dev/sync-wave` (lower first, each wave finished before the
  next), then by name.
- `gitward.dev/hook-delete-policy` (comma-separated): `BeforeHookCreation` (the default: the hook of
  an earlier operation is deleted before this operation creates it again), `HookSucceeded`,
  `HookFailed` (deleted once it finished that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gitward.core.applications import SYNC_WAVE
from gitward.core.errors import RenderError
from gitward.core.manifests import Manifest, ObjectRef

__all__ = ["DELETE_POLICY", "HOOK", "Hook", "Phase", "split"]

HOOK = "gitward.dev/hook"
DELETE_POLICY = "gitward.dev/hook-delete-policy"
RUN = "gitward.dev/hook-run"
"""Set by gitward on a hook object it created: the sync operation it belongs to."""

HOOK_KINDS = frozenset({("batch", "Job"), ("", "Pod")})
DELETE_POLICIES = frozenset({"BeforeHookCreation", "HookSucceeded", "HookFailed"})


class Phase(StrEnum):
    PRE_SYNC = "PreSync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


@dataclass(frozen=True)
class Hook:
    obj: Manifest
    phases: frozenset[Phase]
    delete_policies: frozenset[str]
    wave: int

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.of(self.obj)


def split(objs: list[Manifest]) -> tuple[list[Hook], list[Manifest]]:
    """(the hooks, the other objects); a malformed hook annotation refuses the render."""
    hooks: list[Hook] = []
    rest: list[Manifest] = []
    for obj in objs:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(HOOK) if isinstance(annotations, dict) else None
        if value is None:
            rest.append(obj)
            continue
        hooks.append(_hook(obj, str(value), str(annotations.get(DELETE_POLICY) or "BeforeHookCreation")))
    hooks.sort(key=lambda h: (h.wave, h.ref.kind, h.ref.namespace, h.ref.name))
    return hooks, rest


def _hook(obj: Manifest, value: str, policy: str) -> Hook:
    ref = ObjectRef.of(obj)
    if (ref.group, ref.kind) not in HOOK_KINDS:
        raise RenderError(f"{ref}: {HOOK} is only for a Job or a Pod")
    phases = set()
    for item in value.split(","):
        try:
            phases.add(Phase(item.strip()))
        except ValueError:
            raise RenderError(f"{ref}: {HOOK} must be PreSync, PostSync or SyncFail (got {value[:64]!r})") from None
    policies = {p.strip() for p in policy.split(",") if p.strip()}
    unknown = policies - DELETE_POLICIES
    if unknown:
        raise RenderError(f"{ref}: {DELETE_POLICY} must be among {', '.join(sorted(DELETE_POLICIES))}")
    return Hook(obj, frozenset(phases), frozenset(policies), _wave(obj))


def _wave(obj: Manifest) -> int:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = str(annotations.get(SYNC_WAVE) or "0").strip()
    try:
        return max(min(int(raw), 999_999_999), -999_999_999) if len(raw) <= 10 else 0
    except ValueError:
        return 0


def of_phase(hooks: list[Hook], phase: Phase) -> list[list[Hook]]:
    """The hooks of `phase`, grouped by wave, lowest first."""
    waves: dict[int, list[Hook]] = {}
    for hook in hooks:
        if phase in hook.phases:
            waves.setdefault(hook.wave, []).append(hook)
    return [waves[w] for w in sorted(waves)]
