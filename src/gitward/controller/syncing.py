"""One sync of one Application: compare with the watch cache, validate, apply in steps, prune.

Called by the reconciler with the normalised desired objects. Reads straight down, like Flux's
kustomize-controller: compare → validate (dry-run of what will be written, before the first write)
→ record the inventory-to-be → apply step by step (CRDs Established before their resources, each
wave healthy before the next) → prune → new inventory. Unchanged objects cost no request at all.
Returns a `SyncOutcome` (data); only the engine's own failures raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gitward import health
from gitward.applying import applier, pruning, replacing, validating
from gitward.applying.results import Action, Change, failures
from gitward.controller import fights
from gitward.controller.informers import InformerSet
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.planning import comparing, conflicts, fingerprints, ignoring, inventory, ordering, prune

WAVE_HEALTH_TIMEOUT = 30.0


@dataclass(frozen=True)
class Policy:
    write: bool  # write objects that differ (a sync); False: only report
    prune: bool
    allow_empty: bool
    hold: frozenset[ObjectRef] = frozenset()  # never written by this sync, even when they differ (drift fights)
    name_writers: frozenset[ObjectRef] = frozenset()  # when drifted, look up who changed them (a GET each)
    replace: bool = False  # syncOptions Replace=true / Force=true: every object may be deleted and re-created


@dataclass
class SyncOutcome:
    decisions: dict[ObjectRef, comparing.Decision] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    conflicts: list[conflicts.Conflict] = field(default_factory=list)
    invalid: list[Change] = field(default_factory=list)
    prune_plan: prune.PrunePlan = field(default_factory=prune.PrunePlan)
    inventory: list[inventory.Entry] = field(default_factory=list)
    awaiting_prune: list[ObjectRef] = field(default_factory=list)
    waiting: str = ""  # a wave is not healthy yet: the sync continues on the next reconcile
    wrote: bool = False
    unchanged: int = 0  # desired objects already in sync, not written (syncResult.summary)
    out_of_sync: dict[ObjectRef, str] = field(default_factory=dict)
    """Every object found out of sync (written or not) → for the drift of an object in
    `Policy.name_writers`, the field manager that changed it last (before any write); else ""."""
    hook_run: str = ""  # the sync operation's hooks (controller.hooks): its id ...
    hooks: list[dict[str, str]] = field(default_factory=list)  # ... and each hook's result so far
    effective: list[Manifest] = field(default_factory=list)
    """The desired objects as compared and written: without the fields `ignoreDifferences` ignores."""

    @property
    def failed(self) -> list[Change]:
        return self.invalid + failures(self.changes)

    @property
    def written(self) -> list[ObjectRef]:
        """The objects this sync created or configured."""
        return [c.ref for c in self.changes if c.action in (Action.CREATED, Action.CONFIGURED)]


PersistInventory = Callable[[list[inventory.Entry]], Awaitable[None]]


@dataclass(frozen=True)
class _Writes:
    """What one sync's write step works from."""

    mine: list[Manifest]  # the desired objects this Application may write (no conflicts)
    pending: list[Manifest]  # those out of sync and not held
    live: dict[ObjectRef, Manifest]
    old: list[inventory.Entry]
    new_entries: list[inventory.Entry]
    originals: dict[ObjectRef, Manifest]  # the desired objects before ignored fields were taken out
    replaceable: replacing.Replaceable


@dataclass(slots=True)
class Known:
    """What gitward remembers of one object it wrote or found in sync (not persisted)."""

    desired_hash: str
    fingerprint: str  # of the live values at the desired leaf paths, when last known in sync
    verified_version: str = ""  # the live resourceVersion last found in sync with `desired_hash`


Fingerprints = dict[ObjectRef, Known]
"""Per object, shared by the reconciles of one cluster. An object whose desired hash and live
resourceVersion are those last found in sync is in sync again without any comparison: a re-check
of unchanged objects costs a dictionary lookup per object (profiles of a no-op re-check of 1,000
objects: ownership walk and fingerprints were 50-60 ms of CPU; now about 1 ms)."""

IN_SYNC = comparing.Decision("none", "in sync")


@dataclass
class Syncer:
    client: KubeClient
    informers: InformerSet
    app_namespace: str
    app_name: str
    fingerprints: Fingerprints = field(default_factory=dict)
    ignore: tuple[ignoring.Rule, ...] = ()  # spec.ignoreDifferences

    async def live_of(self, objs: list[Manifest], old: list[inventory.Entry]) -> dict[ObjectRef, Manifest]:
        """Live objects of the desired and inventoried refs, from the watch cache — or, for an
        Application that impersonates a ServiceAccount, read as that account (RBAC decides what it
        may see; a forbidden read refuses the revision)."""
        kinds = {(str(o.get("apiVersion")), str(o.get("kind"))) for o in objs}
        kinds |= {(_api_version(e), e.ref.kind) for e in old}
        await asyncio.gather(*(self.informers.ensure(av, k) for av, k in kinds))
        wanted = {ObjectRef.of(o): str(o.get("apiVersion")) for o in objs}
        wanted.update({e.ref: _api_version(e) for e in old if e.ref not in wanted})
        if self.client.identity is not None:
            return await self._read_as_identity(wanted)
        return {ref: live for ref in wanted if (live := self.informers.get(ref)) is not None}

    async def _read_as_identity(self, wanted: dict[ObjectRef, str]) -> dict[ObjectRef, Manifest]:
        limit = asyncio.Semaphore(8)

        async def read(ref: ObjectRef, api_version: str) -> tuple[ObjectRef, Manifest | None]:
            async with limit:
                try:
                    found = await self.client.get_or_none(api_version, ref.kind, ref.name, ref.namespace or None)
                except errors.APINotFoundError:  # a kind the server does not serve (yet)
                    return ref, None
            return ref, found

        pairs = await asyncio.gather(*(read(ref, av) for ref, av in wanted.items()))
        return {ref: live for ref, live in pairs if live is not None}

    async def sync(
        self, desired: list[Manifest], old: list[inventory.Entry], policy: Policy, persist: PersistInventory
    ) -> SyncOutcome:
        out = SyncOutcome()
        live = await self.live_of(desired, old)
        await self._reread_for_new_managers(desired, live)
        originals = {ObjectRef.of(o): o for o in desired}
        desired = out.effective = self._without_ignored(desired, live)
        out.conflicts = conflicts.find_conflicts(desired, live, self.app_namespace, self.app_name)
        conflicted = {c.ref for c in out.conflicts}
        mine = [o for o in desired if ObjectRef.of(o) not in conflicted]
        out.decisions, verified = self._decide(mine, live)
        await self._value_drift([o for o in mine if ObjectRef.of(o) not in verified], live, out.decisions)
        out.out_of_sync = await self._out_of_sync(out.decisions, live, policy.name_writers)
        new_entries = inventory.entries_of(mine)
        out.prune_plan = prune.prune_set(
            old,
            new_entries,
            live,
            allow_empty=policy.allow_empty,
            rendered_count=len(desired),
            app_namespace=self.app_namespace,
            app_name=self.app_name,
        )
        pending = [o for o in mine if (ref := ObjectRef.of(o)) in out.out_of_sync and ref not in policy.hold]
        out.unchanged = sum(1 for o in mine if ObjectRef.of(o) not in out.out_of_sync)
        if policy.write and pending:
            plan = _Writes(mine, pending, live, old, new_entries, originals, self._replaceable(policy))
            await self._write(plan, out, persist)
        if policy.write and policy.prune and not out.failed and not out.waiting:
            out.changes += await self._prune(out.prune_plan)
        out.inventory = self._inventory(old, new_entries, out, policy)
        return out

    def _without_ignored(self, desired: list[Manifest], live: dict[ObjectRef, Manifest]) -> list[Manifest]:
        out = []
        for obj in desired:
            ref = ObjectRef.of(obj)
            pointers, managers = ignoring.applies_to(self.ignore, ref)
            out.append(ignoring.strip(obj, live.get(ref), pointers, managers))
        return out

    async def _reread_for_new_managers(self, desired: list[Manifest], live: dict[ObjectRef, Manifest]) -> None:
        """The caches drop other managers' managedFields entries: when a rule names a manager they did
        not keep yet, read the objects it matches again (once), so its fields are known."""
        named = {m for rule in self.ignore for m in rule.managers}
        if not named or self.client.identity is not None:  # read as the identity: fresh objects already
            return
        new = self.informers.keep_managers(named)
        refs = [
            ref
            for o in desired
            if (ref := ObjectRef.of(o)) in live and any(r.matches(ref) and set(r.managers) & new for r in self.ignore)
        ]
        limit = asyncio.Semaphore(8)

        async def reread(ref: ObjectRef) -> None:
            cached = live[ref]
            async with limit:
                fresh = await self.client.get_or_none(
                    str(cached.get("apiVersion")), ref.kind, ref.name, ref.namespace or None
                )
            if fresh is not None:
                self.informers.put(ref, fresh)
                live[ref] = self.informers.get(ref) or fresh

        await asyncio.gather(*(reread(ref) for ref in refs))

    async def _write(self, plan: _Writes, out: SyncOutcome, persist: PersistInventory) -> None:
        mine, pending, live, old, new_entries = plan.mine, plan.pending, plan.live, plan.old, plan.new_entries
        deferred = _needs_prerequisites(pending, mine, live)
        replaceable = plan.replaceable
        out.invalid = await validating.dry_run(
            self.client, [o for o in pending if ObjectRef.of(o) not in deferred], replaceable=replaceable
        )
        if out.invalid:
            return
        known = {e.id for e in old}
        if any(e.id not in known for e in new_entries):
            await persist(inventory.merge(new_entries, old))
        pending_refs = {ObjectRef.of(o) for o in pending}
        steps = ordering.plan_steps(mine)
        for index, step in enumerate(steps):
            todo = [o for o in step.objects if ObjectRef.of(o) in pending_refs]
            late = [o for o in todo if ObjectRef.of(o) in deferred]
            if late:
                out.invalid = await validating.dry_run(self.client, late, replaceable=replaceable)
                if out.invalid:
                    return
            out.changes += await self._apply(todo, live, plan.originals, replaceable)
            out.wrote = out.wrote or bool(todo)
            if failures(out.changes):
                return
            await self._after_step(step)
            if _next_wave_in_stage(steps, index) and not await self._wave_healthy(step):
                out.waiting = f"waiting for wave {step.wave} to become healthy"
                return

    async def _apply(
        self,
        objs: list[Manifest],
        live: dict[ObjectRef, Manifest],
        originals: dict[ObjectRef, Manifest],
        replaceable: replacing.Replaceable,
    ) -> list[Change]:
        pairs = [
            (self._as_written(o, originals, live), Action.CONFIGURED if ObjectRef.of(o) in live else Action.CREATED)
            for o in objs
        ]
        desired = {ObjectRef.of(o): o for o in objs}

        def written(ref: ObjectRef, result: Manifest) -> None:
            self.informers.put(ref, result)
            self._remember(desired[ref], result)

        return await applier.apply(self.client, pairs, on_written=written, replaceable=replaceable)

    @staticmethod
    def _replaceable(policy: Policy) -> replacing.Replaceable:
        return lambda obj: replacing.opted_in(obj, policy.replace)

    def _as_written(
        self, obj: Manifest, originals: dict[ObjectRef, Manifest], live: dict[ObjectRef, Manifest]
    ) -> Manifest:
        """Fields ignored by JSON pointer: Git's values on a create, else the live ones (left alone)."""
        ref = ObjectRef.of(obj)
        pointers, _ = ignoring.applies_to(self.ignore, ref)
        return ignoring.as_written(obj, originals.get(ref, obj), live.get(ref), pointers) if pointers else obj

    def _decide(
        self, objs: list[Manifest], live: dict[ObjectRef, Manifest]
    ) -> tuple[dict[ObjectRef, comparing.Decision], set[ObjectRef]]:
        """Every object's decision, and the refs found in sync by their remembered version alone."""
        decisions: dict[ObjectRef, comparing.Decision] = {}
        verified: set[ObjectRef] = set()
        for obj in objs:
            ref = ObjectRef.of(obj)
            current = live.get(ref)
            known = self.fingerprints.get(ref)
            if (
                current is not None
                and known is not None
                and known.verified_version
                and known.verified_version == _version(current)
                and known.desired_hash == _desired_hash(obj)
            ):
                decisions[ref] = IN_SYNC
                verified.add(ref)
            else:
                decisions[ref] = comparing.needs_apply(obj, current)
        return decisions, verified

    def _remember(self, desired: Manifest, live: Manifest) -> None:
        """`live` (what a write returned, or the live object) is in sync with `desired`."""
        ref = ObjectRef.of(desired)
        known = Known(_desired_hash(desired), fingerprints.fingerprint(desired, live))
        self.fingerprints[ref] = known
        _mark_verified(known, desired, live)

    async def _value_drift(
        self, objs: list[Manifest], live: dict[ObjectRef, Manifest], decisions: dict[ObjectRef, comparing.Decision]
    ) -> None:
        """Catch values changed by writes that moved no field ownership (see planning.fingerprints)."""
        unsure = []
        for obj in objs:
            ref = ObjectRef.of(obj)
            current = live.get(ref)
            if current is None or decisions[ref].action != "none":
                continue
            known = self.fingerprints.get(ref)
            if known is not None and known.desired_hash == _desired_hash(obj):
                if fingerprints.fingerprint(obj, current) != known.fingerprint:
                    path = fingerprints.first_difference(obj, current) or "a field"
                    decisions[ref] = comparing.Decision("drift", f"drift: {path} was changed by another writer")
                else:
                    _mark_verified(known, obj, current)
            elif fingerprints.first_difference(obj, current) is None:
                self._remember(obj, current)
            else:
                unsure.append(obj)
        await asyncio.gather(*(self._confirm_by_dry_run(o, live[ObjectRef.of(o)], decisions) for o in unsure))

    async def _confirm_by_dry_run(
        self, obj: Manifest, current: Manifest, decisions: dict[ObjectRef, comparing.Decision]
    ) -> None:
        """No fingerprint yet and values look different: ask the server what it would store."""
        ref = ObjectRef.of(obj)
        try:
            would = await self.client.apply(obj, dry_run=True)
        except errors.KubeError:
            return  # validation reports it if a sync is attempted
        if fingerprints.fingerprint(obj, would) == fingerprints.fingerprint(obj, current):
            self._remember(obj, current)
            return
        path = fingerprints.first_difference(would, current) or fingerprints.first_difference(obj, current)
        decisions[ref] = comparing.Decision("drift", f"drift: {path or 'a field'} differs from Git")

    async def _out_of_sync(
        self,
        decisions: dict[ObjectRef, comparing.Decision],
        live: dict[ObjectRef, Manifest],
        named: frozenset[ObjectRef],
    ) -> dict[ObjectRef, str]:
        """The objects out of sync, with the writer of those in `named` that drifted. The watch cache
        keeps only gitward's managedFields entry: each of those costs a GET."""
        found = {ref: "" for ref, decision in decisions.items() if decision.action != "none"}
        asked = [ref for ref in found if ref in named and decisions[ref].action == "drift" and ref in live]
        writers = await asyncio.gather(*(self._last_writer(live[ref]) for ref in asked))
        found.update(zip(asked, writers, strict=True))
        return found

    async def _last_writer(self, cached: Manifest) -> str:
        meta = cached.get("metadata") or {}
        try:
            live = await self.client.get_or_none(
                str(cached.get("apiVersion")), str(cached.get("kind")), str(meta.get("name")), meta.get("namespace")
            )
        except errors.KubeError:
            live = None
        return fights.last_writer(live or cached)

    async def _after_step(self, step: ordering.Step) -> None:
        crds = [str(o["metadata"]["name"]) for o in step.objects if o.get("kind") == "CustomResourceDefinition"]
        if crds:
            await applier.wait_crds(self.client, crds)
            await self.informers.reset_failed()

    async def _wave_healthy(self, step: ordering.Step) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAVE_HEALTH_TIMEOUT
        while True:
            statuses = [self.informers.get(ObjectRef.of(o)) for o in step.objects]
            worst = health.worst(
                health.assess(s) if s else health.Health(health.HealthStatus.Missing) for s in statuses
            )
            if worst.status in (health.HealthStatus.Healthy, health.HealthStatus.Suspended):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.2)

    async def _prune(self, plan: prune.PrunePlan) -> list[Change]:
        if plan.refused or not plan.delete:
            return []
        targets = []
        for ref in plan.delete:
            live = self.informers.get(ref)
            version = str((live or {}).get("apiVersion") or "")
            if version:
                targets.append((ref, version))
        changes = await pruning.prune(self.client, targets)
        for change in changes:
            if change.action is Action.PRUNED:
                self.informers.forget(change.ref)
        return changes

    def _inventory(
        self, old: list[inventory.Entry], new_entries: list[inventory.Entry], out: SyncOutcome, policy: Policy
    ) -> list[inventory.Entry]:
        pruned = {c.ref for c in out.changes if c.action is Action.PRUNED}
        skipped = {ref for ref, _ in out.prune_plan.skipped}
        leftovers = [e for e in inventory.diff(old, new_entries) if e.ref not in pruned and e.ref not in skipped]
        leftovers = [e for e in leftovers if self.informers.get(e.ref) is not None or not policy.prune]
        out.awaiting_prune = [e.ref for e in leftovers]
        if not policy.write and not out.wrote:
            # nothing was synced: new objects join the inventory only once written
            written = {e.id for e in old}
            new_entries = [e for e in new_entries if e.id in written or self.informers.get(e.ref) is not None]
        return inventory.merge(new_entries, leftovers)


def _version(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _mark_verified(known: Known, desired: Manifest, live: Manifest) -> None:
    """Remember that `live`'s version is in sync. Not for Secrets: their hash leaves out the data,
    which `comparing` checks on every re-check."""
    if desired.get("kind") != "Secret" or desired.get("apiVersion") != "v1":
        known.verified_version = _version(live)


def _desired_hash(obj: Manifest) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(comparing.DESIRED_HASH, ""))


def _api_version(entry: inventory.Entry) -> str:
    group = entry.ref.group
    return f"{group}/{entry.v}" if group else entry.v


def _needs_prerequisites(
    pending: list[Manifest], mine: list[Manifest], live: dict[ObjectRef, Manifest]
) -> set[ObjectRef]:
    """Objects that cannot be dry-run yet: their Namespace or CRD is created by this same sync."""
    new_namespaces = {
        str(o["metadata"]["name"]) for o in pending if o.get("kind") == "Namespace" and ObjectRef.of(o) not in live
    }
    new_kinds = set()
    for o in pending:
        if o.get("kind") == "CustomResourceDefinition" and ObjectRef.of(o) not in live:
            spec = o.get("spec") or {}
            new_kinds.add((str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))))
    deferred = set()
    for o in pending:
        ref = ObjectRef.of(o)
        if ref.namespace in new_namespaces or (ref.group, ref.kind) in new_kinds:
            deferred.add(ref)
    return deferred


def _next_wave_in_stage(steps: list[ordering.Step], index: int) -> bool:
    return index + 1 < len(steps) and steps[index + 1].stage == steps[index].stage
