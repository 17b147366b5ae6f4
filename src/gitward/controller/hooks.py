"""Running the sync hooks of one sync operation (SPEC §13; `planning.hooks` says what they are).

Called by the reconciler around the sync step, only for a sync operation (a new revision, a manual
sync, a retry, or an operation still running) — never for a self-heal or a re-check, so hooks run
once per operation. The operation's progress lives in the Application's status
(`operationState.hookRun`, `operationState.hooks`), so a restart resumes it without running a
finished hook twice:

    PreSync (wave by wave) → the sync → PostSync (wave by wave)      SyncFail when anything failed

While a hook runs, the operation stays `Running` (the reconciler comes back every second); a failed
PreSync hook fails the operation before anything of the revision is written.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gitward.applying.results import Action, Change
from gitward.controller.syncing import SyncOutcome
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.planning import hooks as plan
from gitward.planning.hooks import Hook, Phase

__all__ = ["HookRun", "sync_with_hooks"]

log = get_logger(__name__)

GONE_TIMEOUT = 30.0
RUNNING, SUCCEEDED, FAILED = "Running", "Succeeded", "Failed"


class HookRun:
    """The hooks of one sync operation, and what became of them so far."""

    def __init__(self, client: KubeClient, hooks: list[Hook], run_id: str, results: dict[str, str]) -> None:
        self.client = client
        self.hooks = hooks
        self.run_id = run_id
        self.results = results  # "<phase> <kind>/<namespace>/<name>" → Running | Succeeded | Failed

    @classmethod
    def of(cls, client: KubeClient, hooks: list[Hook], status: dict[str, Any], sha: str) -> HookRun:
        """Resume the running operation's hooks, or start a new operation."""
        operation = status.get("operationState") or {}
        run_id = str(operation.get("hookRun") or "")
        if operation.get("phase") == "Running" and run_id.startswith(sha[:12]):
            found = operation.get("hooks")
            rows = found if isinstance(found, list) else []
            done = {_key(r["phase"], r["kind"], r["namespace"], r["name"]): r["result"] for r in rows if _row(r)}
            return cls(client, hooks, run_id, done)
        return cls(client, hooks, f"{sha[:12]}-{time.time_ns() // 1_000_000}", {})

    async def phase(self, phase: Phase) -> tuple[str, list[Hook]]:
        """Run `phase` as far as it goes now: (Succeeded, []) when all its hooks succeeded (or it has
        none); (Running | Failed, the hooks running or failed) otherwise."""
        for wave in plan.of_phase(self.hooks, phase):
            states = await asyncio.gather(*(self._advance(phase, hook) for hook in wave))
            failed = [h for h, s in zip(wave, states, strict=True) if s == FAILED]
            if failed:
                return FAILED, failed
            running = [h for h, s in zip(wave, states, strict=True) if s == RUNNING]
            if running:
                return RUNNING, running
        return SUCCEEDED, []

    def rows(self) -> list[dict[str, str]]:
        rows = []
        for key, result in sorted(self.results.items()):
            phase, _, ref = key.partition(" ")
            kind, namespace, name = ref.split("/", 2)
            rows.append({"phase": phase, "kind": kind, "namespace": namespace, "name": name, "result": result})
        return rows

    async def _advance(self, phase: Phase, hook: Hook) -> str:
        key = _key(phase.value, hook.ref.kind, hook.ref.namespace, hook.ref.name)
        if self.results.get(key) in (SUCCEEDED, FAILED):
            return self.results[key]
        live = await self._get(hook.obj)
        if live is None or _annotation(live, plan.RUN) != self.run_id:
            if live is not None and not await self._delete_and_wait(hook.obj):
                self.results[key] = RUNNING
                return RUNNING  # the earlier operation's hook is still going away
            await self.client.apply(_stamped(hook.obj, self.run_id))
            log.info("hook created", hook=str(hook.ref), phase=phase.value, run=self.run_id)
            self.results[key] = RUNNING
            return RUNNING
        state = _state(live)
        self.results[key] = state
        if (state == SUCCEEDED and "HookSucceeded" in hook.delete_policies) or (
            state == FAILED and "HookFailed" in hook.delete_policies
        ):
            await self._delete(hook.obj)
        return state

    async def _get(self, obj: Manifest) -> Manifest | None:
        meta = obj["metadata"]
        return await self.client.get_or_none(
            str(obj["apiVersion"]), str(obj["kind"]), meta["name"], meta.get("namespace")
        )

    async def _delete(self, obj: Manifest) -> None:
        meta = obj["metadata"]
        await self.client.delete(str(obj["apiVersion"]), str(obj["kind"]), meta["name"], meta.get("namespace"))

    async def _delete_and_wait(self, obj: Manifest) -> bool:
        await self._delete(obj)
        deadline = time.monotonic() + GONE_TIMEOUT
        while await self._get(obj) is not None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True


SyncStep = Callable[[bool], Awaitable[SyncOutcome]]
"""The sync step: True = a sync that writes, False = only compare (for the status)."""


async def sync_with_hooks(run: HookRun | None, sync: SyncStep) -> SyncOutcome:
    """PreSync, the sync, PostSync; SyncFail when one of them failed (see the module docstring)."""
    if run is None or not run.hooks:
        return await sync(True)
    try:
        state, which = await run.phase(Phase.PRE_SYNC)
        if state != SUCCEEDED:
            outcome = await sync(False)
            _hold(outcome, Phase.PRE_SYNC, state, which)
        else:
            outcome = await sync(True)
            if not outcome.failed and not outcome.waiting:
                state, which = await run.phase(Phase.POST_SYNC)
                _hold(outcome, Phase.POST_SYNC, state, which)
        if outcome.failed:
            await run.phase(Phase.SYNC_FAIL)  # started, not waited for: the operation has failed already
    except errors.KubeError as exc:
        outcome = await sync(False)
        outcome.changes.append(Change(run.hooks[0].ref, Action.FAILED, f"hooks: {exc.message}"))
    outcome.hook_run, outcome.hooks = run.run_id, run.rows()
    return outcome


def _hold(outcome: SyncOutcome, phase: Phase, state: str, which: list[Hook]) -> None:
    names = ", ".join(str(h.ref) for h in which[:5])
    if state == RUNNING:
        outcome.waiting = f"waiting for {phase.value} hook {names}"
    elif state == FAILED:
        for hook in which:
            outcome.changes.append(Change(hook.ref, Action.FAILED, f"{phase.value} hook {hook.ref} failed"))


def _state(live: Manifest) -> str:
    status = live.get("status") or {}
    if live.get("kind") == "Pod":
        phase = status.get("phase")
        return phase if phase in (SUCCEEDED, FAILED) else RUNNING
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("status") == "True":
            if cond.get("type") == "Complete":
                return SUCCEEDED
            if cond.get("type") == "Failed":
                return FAILED
    return RUNNING


def _stamped(obj: Manifest, run_id: str) -> Manifest:
    meta = dict(obj["metadata"])
    meta["annotations"] = {**(meta.get("annotations") or {}), plan.RUN: run_id}
    return {**obj, "metadata": meta}


def _annotation(obj: Manifest, name: str) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(name) or "")


def _key(phase: str, kind: str, namespace: str, name: str) -> str:
    return f"{phase} {kind}/{namespace}/{name}"


def _row(row: Any) -> bool:
    keys = ("phase", "kind", "namespace", "name", "result")
    return isinstance(row, dict) and all(isinstance(row.get(k), str) for k in keys)
