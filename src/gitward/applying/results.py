"""Outcomes of applying and pruning, as data (Flux's ChangeSet): one `Change` per object.

Produced by `applying.applier`, `applying.validating` and `applying.pruning`; read by the controller
to build `status.operationState.syncResult`, events and metrics.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gitward.core.manifests import ObjectRef


class Action(str, enum.Enum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Change:
    ref: ObjectRef
    action: Action
    message: str = ""

    def as_status(self) -> dict[str, str]:
        return {
            "kind": self.ref.kind,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "action": self.action.value,
            "message": self.message,
        }


def failures(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.action is Action.FAILED]
