"""Objects another Application already manages: conflicts, reported on both, never fought over.

Called by the applier after `normalizing`, with the live objects of the rendered refs from the
watch cache. Every `Conflict` is excluded from apply and reported in the status of this
Application (and, by the controller, of the owner). The owner is read from the live object's
`gitward.dev/tracking-id` annotation; an object without one is not a conflict (gitward adopts it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitward.core.applications import TRACKING_ID
from gitward.core.manifests import Manifest, ObjectRef
from gitward.planning import _objects, normalizing


@dataclass(frozen=True, slots=True)
class Conflict:
    ref: ObjectRef
    owner: str  # "<namespace>/<name>" of the Application that tracks the object

    @property
    def message(self) -> str:
        return f"{self.ref}: already managed by Application {self.owner}"


def find_conflicts(
    desired: Iterable[Manifest], live_by_ref: Mapping[ObjectRef, Manifest], app_ns: str, app_name: str
) -> list[Conflict]:
    """The desired objects whose live counterpart is tracked by another Application."""
    found: list[Conflict] = []
    for obj in desired:
        ref = _objects.ref_of(obj)
        live = live_by_ref.get(ref)
        owner = other_owner(live, app_ns, app_name) if live is not None else None
        if owner is not None:
            found.append(Conflict(ref, owner))
    return found


def other_owner(live: Manifest, app_ns: str, app_name: str) -> str | None:
    """`ns/name` of the Application tracking `live` when it is not this one, else None."""
    owner = normalizing.parse_tracking_id(_objects.annotation(live, TRACKING_ID))
    if owner is None or owner == (app_ns, app_name):
        return None
    return f"{owner[0]}/{owner[1]}"
