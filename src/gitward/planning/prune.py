"""Which objects of the last inventory to delete, and which to leave alone.

Called by the controller after a successful apply, with the last inventory (`inventory.from_status`),
the new entries (`inventory.entries_of` the rendered objects) and the live objects of the
candidates from the watch cache. The applier then deletes `PrunePlan.delete` in that order.

Safety rules (SPEC §2):
- only inventory entries are candidates, never an object merely labelled as gitward's;
- a candidate is deleted only when its live object was seen: a candidate missing from
  `live_by_ref` is skipped (already gone, or not visible; either way nothing is deleted blind);
- `gitward.dev/prune: disabled` (or `false`) on the live object → skipped, never deleted;
- a live object tracked by another Application → skipped; so is one that carries no tracking id at
  all (every object gitward applies carries this Application's: an inventory entry naming an
  untracked object, e.g. one written into the status by someone else, never deletes it);
- an empty render (`rendered_count == 0`) without `allowEmpty` deletes nothing at all and says so in
  `refused_reason`; the caller then keeps the old inventory.
Skipped objects leave the inventory: gitward stops managing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gitward.core.applications import PRUNE, TRACKING_ID
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import _objects, conflicts, inventory, normalizing, ordering

_DISABLED = frozenset({"disabled", "false"})


@dataclass(frozen=True, slots=True)
class PrunePlan:
    delete: list[ObjectRef] = field(default_factory=list)
    skipped: list[tuple[ObjectRef, str]] = field(default_factory=list)
    refused_reason: str = ""

    @property
    def refused(self) -> bool:
        return bool(self.refused_reason)


def prune_set(
    old_inventory: Iterable[inventory.Entry],
    new_entries: Iterable[inventory.Entry],
    live_by_ref: Mapping[ObjectRef, Manifest],
    *,
    allow_empty: bool,
    rendered_count: int,
    app_namespace: str,
    app_name: str,
) -> PrunePlan:
    """The prune plan of one sync (see the module docstring)."""
    candidates = inventory.refs_of(inventory.diff(old_inventory, new_entries))
    if not candidates:
        return PrunePlan()
    if rendered_count == 0 and not allow_empty:
        return PrunePlan(refused_reason=_refusal(len(candidates)))
    delete: list[ObjectRef] = []
    skipped: list[tuple[ObjectRef, str]] = []
    for ref in candidates:
        reason = skip_reason(live_by_ref.get(ref), app_namespace, app_name)
        if reason is None:
            delete.append(ref)
        else:
            skipped.append((ref, reason))
    return PrunePlan(ordering.prune_order(delete), skipped)


def skip_reason(live: Manifest | None, app_namespace: str, app_name: str) -> str | None:
    """Why a candidate must not be deleted, or None when it may be."""
    if live is None:
        return "not found in the cluster"
    if (_objects.annotation(live, PRUNE) or "").strip().lower() in _DISABLED:
        return f"pruning disabled by annotation {PRUNE}"
    owner = conflicts.other_owner(live, app_namespace, app_name)
    if owner is not None:
        return f"managed by Application {owner}"
    if normalizing.parse_tracking_id(_objects.annotation(live, TRACKING_ID)) is None:
        return f"not tracked by this Application (no {TRACKING_ID} annotation)"
    return None


def _refusal(count: int) -> str:
    return (
        f"the revision rendered no objects; refusing to prune {count} object(s) "
        "(set syncPolicy.automated.allowEmpty to allow it)"
    )
