"""What one reconcile knows, and what the controller remembers of an Application between them.

`Memory` lives across reconciles (not persisted: a restart starts afresh, safely). `Pass` is built
by the reconciler for one reconcile and handed to the stages that need more than one or two of its
parts — the desired-state stage (`controller.desiring`) and the status writer
(`controller.statuses`) — instead of long parameter lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitward import rendering
from gitward.controller import fights, triggers
from gitward.controller.clusters import Target
from gitward.core import applications as apps
from gitward.core.manifests import Manifest
from gitward.sourcing import Revision

__all__ = ["Memory", "Pass"]


@dataclass
class Memory:
    """What the controller remembers of one Application between reconciles (not persisted)."""

    revision: Revision | None = None  # the last revision that passed the source checks (fetch, signature)
    attempted: Revision | None = None  # the newest revision tried, even when refused (lastAttemptedRevision)
    source_key: str = ""
    checked_at: float = 0.0
    retries: int = 0  # failed attempts of the current sync operation (syncPolicy.retry.limit)
    retry_at: float = 0.0  # monotonic time its retry backoff ends
    desired: list[Manifest] = field(default_factory=list)  # the last normalised render
    desired_key: tuple[str, ...] = ()  # what it was rendered from; () = render again next time
    effective: list[Manifest] = field(default_factory=list)  # `desired` as last compared: ignored fields out
    refresh_requested: float | None = None  # monotonic time of an explicit refresh not yet handled
    refresh_reason: str = ""  # who asked for it (webhook, manual): recorded in the history
    fight_guard: fights.FightGuard = field(default_factory=fights.FightGuard)  # objects changed back by others
    inputs: rendering.Inputs | None = None  # ConfigMaps/Secrets the render takes, read on full re-checks
    secret_values: tuple[str, ...] = ()  # Secret-held strings in the last render (masked in diffs)

    def retries_spent(self, limit: int) -> bool:
        """Whether the failed operation may not be tried again: `limit` retries after its first attempt
        are used up (syncPolicy.retry.limit)."""
        return self.retries > limit


@dataclass
class Pass:
    """One reconcile of one Application: its inputs, and what the stages found so far."""

    app: Manifest
    spec: apps.ApplicationSpec
    interval: float  # seconds between full re-checks (spec.syncPolicy.interval)
    memory: Memory
    why: triggers.Triggers  # manual refresh/sync requests, spec changes
    full: bool = False  # a full re-check: the source is resolved again
    target: Target | None = None  # the destination cluster, once known
    revision: Revision | None = None  # the revision this pass deploys, once resolved
    desired: list[Manifest] = field(default_factory=list)  # its normalised objects, once rendered

    @property
    def namespace(self) -> str:
        return str(self.app["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.app["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def destination_namespace(self) -> str:
        """Where namespaced objects without a namespace go: the destination's, else the Application's."""
        return self.spec.destination.namespace or self.namespace
