"""The rollout controller (I/O): watches Rollouts, AnalysisTemplates and Deployments, and steps each
Rollout through `steps.advance`, converging the objects around it.

Started and stopped by `controller.manager.Controller` (`start()` / `stop()`), with its own
informers and work queue. One reconcile reads straight down:

1. parse the spec (an invalid one is Degraded with the reason, nothing touched);
2. measure the analysis entries that are due (`measuring`, `providers`);
3. observe the target, the primary and the operations asked for; `steps.advance` gives the next
   status and Events; the status is written before anything else changes;
4. converge: the primary (only ever from a target that runs `stableRevision`), the target's
   replicas, the Services, the HTTPRoute — every write a forced server-side apply by
   `gitward-rollout`, the field manager Applications leave alone.

Every write for the Rollout (steps 2 and 4, and the clean-up on deletion) is made as `acting`
decides: the identity of the Application that deployed it (in tenant mode its ServiceAccount), or
the controller's. A forged tracking id is refused before anything else: the status says why and
nothing else is written. A write refused by RBAC is never retried as the controller: it shows as
phase Degraded with the API server's message (`status.refused` keeps the step machine's own phase
and message underneath, so the rollout resumes where it was once the rights are granted).

A restarted controller resumes from the status: converging is idempotent, and a promotion is
recorded once, when the status moves to Healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from gitward.controller import celeval, kube_events, metrics
from gitward.controller.impersonation import Impersonation
from gitward.controller.informers import Informer
from gitward.controller.queueing import WorkQueue
from gitward.controller.rollouts import acting, measuring, objects, releasing, steps
from gitward.controller.rollouts.providers import Providers
from gitward.core import rollouts as ro
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors
from gitward.kube.client import KubeClient

__all__ = ["RolloutController"]

log = get_logger(__name__)

RUNNING_REQUEUE = 1.0
REFUSED_REQUEUE = 5.0
"""Seconds between attempts while a Rollout is refused (a claim checked again, RBAC granted later)."""
CLAIM_REQUEUE = 1.0
"""Seconds between checks while a new Rollout's claim waits for its Application's inventory."""
WORKERS = 2
REFUSED = "refused"
"""`status.refused`: the step machine's phase and message under a refusal's Degraded."""


class RolloutController:
    def __init__(
        self,
        client: KubeClient,
        namespace: str | None,
        recorder: kube_events.Recorder,
        accept: Callable[[str], bool] = lambda key: True,
        default_service_account: str = "",
    ) -> None:
        self.client = client
        self.impersonation = Impersonation(default_service_account)
        self.accept = accept  # the shard filter: only this controller's Rollouts
        self.recorder = recorder
        self.queue = WorkQueue()
        self.rollouts = Informer(client, ro.API_VERSION, "Rollout", namespace=namespace)
        self.templates = Informer(client, ro.API_VERSION, "AnalysisTemplate", namespace=namespace)
        self.deployments = Informer(client, "apps/v1", "Deployment", namespace=namespace, transform=_slim)
        self.evaluator = celeval.Evaluator(declared=("result",))
        self.providers = Providers(client, self.evaluator)
        self._tasks: list[asyncio.Task[None]] = []
        self.rollouts.handlers.append(self._on_rollout)
        self.templates.handlers.append(self._on_template)
        self.deployments.handlers.append(self._on_deployment)

    async def start(self) -> None:
        for informer in (self.templates, self.deployments, self.rollouts):
            self._tasks.append(asyncio.create_task(informer.run(), name=f"{informer.kind} informer (rollouts)"))
        self._tasks.append(asyncio.create_task(self.queue.run_timer(), name="rollouts queue timer"))
        self._tasks += [asyncio.create_task(self._worker(), name=f"rollouts worker {i}") for i in range(WORKERS)]
        await asyncio.gather(self.templates.synced.wait(), self.deployments.synced.wait(), self.rollouts.synced.wait())

    async def stop(self) -> None:
        self.queue.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.providers.close()
        self.evaluator.close()

    # ------------------------------------------------------------------ events

    def _on_rollout(self, event: str, rollout: Manifest) -> None:
        meta = rollout.get("metadata") or {}
        if event == "DELETED":
            metrics.forget_rollout(str(meta.get("namespace")), str(meta.get("name")))
            return
        self.queue.add(f"{meta.get('namespace')}/{meta.get('name')}")

    def _on_template(self, event: str, template: Manifest) -> None:
        namespace = (template.get("metadata") or {}).get("namespace")
        for ref in list(self.rollouts.store):
            if ref.namespace == namespace:
                self.queue.add(f"{ref.namespace}/{ref.name}")

    def _on_deployment(self, event: str, deployment: Manifest) -> None:
        meta = deployment.get("metadata") or {}
        name = str(meta.get("name"))
        for ref, rollout in list(self.rollouts.store.items()):
            target = str(((rollout.get("spec") or {}).get("targetRef") or {}).get("name"))
            if ref.namespace == meta.get("namespace") and name in (target, f"{target}-primary"):
                self.queue.add(f"{ref.namespace}/{ref.name}")

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if not self.accept(key):
                self.queue.done(key)
                continue
            try:
                delay = await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except errors.KubeError as exc:
                log.warning("rollout reconcile failed", rollout=key, error=exc.message)
                delay = 2.0
            except Exception as exc:
                log.exception("rollout reconcile crashed", rollout=key, error=str(exc))
                delay = 5.0
            finally:
                self.queue.done(key)
            if delay is not None:
                self.queue.add_after(key, delay)

    # ------------------------------------------------------------------ one reconcile

    async def reconcile(self, key: str) -> float | None:
        namespace, _, name = key.partition("/")
        rollout = await self.client.get_or_none(ro.API_VERSION, "Rollout", name, namespace)
        if rollout is None:
            return None
        stored: dict[str, Any] = dict(rollout.get("status") or {})
        status = _lifted(stored)
        deleting = bool((rollout.get("metadata") or {}).get("deletionTimestamp"))
        actor = await acting.resolve(self.client, self.impersonation, rollout, deleting=deleting)
        if actor.pending:
            return CLAIM_REQUEUE  # its Application's sync has not written its inventory yet
        if actor.client is None:
            return await self._refuse(rollout, stored, status, f"refused to act: {actor.problem}", deleting)
        try:
            spec = ro.RolloutSpec.model_validate(rollout.get("spec") or {})
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            if deleting:  # nothing to give back by this spec
                await self._drop_finalizer(rollout)
                return None
            await self._write(
                rollout, stored, {**status, "phase": "Degraded", "message": f"invalid spec: {problem}"[:1024]}
            )
            return None
        if await self._finalize(rollout, spec, actor):
            return None
        now = dt.datetime.now(dt.UTC)
        templates = self._templates(namespace)
        if status.get("phase") in ("Progressing", "Paused"):
            status = await self._measure(rollout, status, templates, now, actor)
        target = self.deployments.get(ObjectRef("apps", "Deployment", namespace, spec.target_ref.name))
        primary = self.deployments.get(ObjectRef("apps", "Deployment", namespace, spec.primary_name))
        replicas = _primary_replicas(primary, target)
        seen = self._observe(spec, rollout, status, target, primary, replicas, templates, now)
        new, notices = steps.advance(spec, status, seen)
        # a refusal stays shown until a converge succeeds (no flapping between it and the step's phase)
        shown = _refusing(new, str(stored.get("message") or "")) if REFUSED in stored else new
        await self._write(rollout, stored, shown)
        for notice in notices:
            await self.recorder.emit(
                rollout,
                notice.type,
                notice.reason,
                notice.message,
                revision=str(new.get("canaryRevision") or ""),
                kind="Rollout",
            )
        if target is not None:
            assert actor.client is not None
            try:
                await self._converge(actor.client, spec, rollout, new, target, primary, replicas, now)
            except objects.RolloutObjectError as exc:
                await self._write(
                    rollout, shown, {**new, "phase": "Degraded", "message": f"Deployment/{spec.target_ref.name}: {exc}"}
                )
                metrics.set_rollout_phase(namespace, name, "Degraded")
                return None
            except errors.APIForbiddenError as exc:
                return await self._refuse(rollout, shown, new, f"refused by RBAC: {exc.message}", deleting)
        await self._write(rollout, shown, new)  # the refusal, if any, is over
        metrics.set_rollout_phase(namespace, name, str(new.get("phase") or ""))
        return _next_check(new, now)

    async def _refuse(
        self, rollout: Manifest, stored: dict[str, Any], underneath: dict[str, Any], message: str, deleting: bool
    ) -> float | None:
        """Show a refusal (phase Degraded, `message`), never acting as the controller instead; a
        Rollout being deleted loses its finalizer with nothing given back (nobody may write for it)."""
        meta = rollout.get("metadata") or {}
        if deleting:
            if releasing.FINALIZER in (meta.get("finalizers") or []):
                await self._drop_finalizer(rollout)
            return None
        shown = _refusing(underneath, message[: steps.MAX_MESSAGE])
        if shown.get("message") != stored.get("message"):
            log.warning("rollout refused", rollout=f"{meta.get('namespace')}/{meta.get('name')}", reason=message)
            await self.recorder.emit(rollout, "Warning", "Refused", shown["message"], kind="Rollout")
        await self._write(rollout, stored, shown)
        metrics.set_rollout_phase(str(meta.get("namespace")), str(meta.get("name")), "Degraded")
        return REFUSED_REQUEUE

    async def _finalize(self, rollout: Manifest, spec: ro.RolloutSpec, actor: acting.Actor) -> bool:
        """Keep the finalizer on a live Rollout; give the target back from a deleted one (True: done)."""
        meta = rollout.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        name, namespace = str(meta.get("name")), str(meta.get("namespace"))
        if not meta.get("deletionTimestamp"):
            if releasing.FINALIZER not in finalizers:
                patch = {
                    "metadata": {
                        "finalizers": [*finalizers, releasing.FINALIZER],
                        "resourceVersion": meta.get("resourceVersion"),
                    }
                }
                await self.client.patch(ro.API_VERSION, "Rollout", name, namespace, patch)
            return False
        if releasing.FINALIZER in finalizers:
            assert actor.client is not None
            try:
                await releasing.release(actor.client, spec, namespace)
            except errors.APIForbiddenError as exc:  # a finalizer nobody may finish would block the namespace
                why = f"target not given back: refused by RBAC: {exc.message}"[: steps.MAX_MESSAGE]
                await self.recorder.emit(rollout, "Warning", "Refused", why, kind="Rollout")
            await self._drop_finalizer(rollout)
        return True

    async def _drop_finalizer(self, rollout: Manifest) -> None:
        meta = rollout.get("metadata") or {}
        kept = [f for f in meta.get("finalizers") or [] if f != releasing.FINALIZER]
        patch = {"metadata": {"finalizers": kept or None, "resourceVersion": meta.get("resourceVersion")}}
        await self.client.patch(ro.API_VERSION, "Rollout", str(meta.get("name")), str(meta.get("namespace")), patch)

    def _templates(self, namespace: str) -> dict[str, ro.AnalysisTemplateSpec | str]:
        out: dict[str, ro.AnalysisTemplateSpec | str] = {}
        for ref, template in list(self.templates.store.items()):
            if ref.namespace != namespace:
                continue
            try:
                out[ref.name] = ro.AnalysisTemplateSpec.model_validate(template.get("spec") or {})
            except ValidationError as exc:
                out[ref.name] = f"invalid spec: {exc.errors()[0]['msg']}"[:512]
        return out

    async def _measure(
        self,
        rollout: Manifest,
        status: dict[str, Any],
        templates: dict[str, ro.AnalysisTemplateSpec | str],
        now: dt.datetime,
        actor: acting.Actor,
    ) -> dict[str, Any]:
        entries = []
        for entry in status.get("analysis") or []:
            metric = _metric(templates, entry)
            if (
                metric is not None
                and entry.get("revision") == status.get("canaryRevision")
                and measuring.due(entry, metric, now)
            ):
                try:
                    outcome = await self.providers.measure(rollout, entry, metric, actor.client)
                except errors.APIForbiddenError as exc:  # not a measurement: the metric cannot run at all
                    message = f"refused by RBAC: {exc.message}"[: measuring.MAX_VALUE]
                    entry = {**entry, "phase": "Failed", "measuredAt": steps.stamp(now), "message": message}
                    outcome = None
                if outcome is not None:
                    entry = measuring.record(entry, metric, outcome, now)
                    metrics.ANALYSIS_RUNS.labels(_result(outcome)).inc()
            entries.append(entry)
        return {**status, "analysis": entries}

    def _observe(
        self,
        spec: ro.RolloutSpec,
        rollout: Manifest,
        status: dict[str, Any],
        target: Manifest | None,
        primary: Manifest | None,
        replicas: int,
        templates: dict[str, ro.AnalysisTemplateSpec | str],
        now: dt.datetime,
    ) -> steps.Observed:
        annotations = (rollout.get("metadata") or {}).get("annotations") or {}
        operations = {op: str(annotations.get(key) or "") for op, key in ro.OPERATIONS.items()}
        seen_before = status.get("operations") or {}
        requested = frozenset(op for op, value in operations.items() if value and value != seen_before.get(op, ""))
        want = steps.world(spec, status, replicas, now).canary_replicas
        running = (primary or {}).get("metadata", {}).get("annotations", {}).get(ro.REVISION_ANNOTATION)
        return steps.Observed(
            now=now,
            target_revision=objects.revision_of(target) if target is not None else None,
            canary_ready=target is not None and _available(target, want),
            primary_ready=primary is not None
            and (primary.get("metadata") or {}).get("annotations", {}).get(ro.REVISION_ANNOTATION)
            == status.get("stableRevision")
            and _available(primary, int((primary.get("spec") or {}).get("replicas", 1))),
            primary_revision="" if primary is None else str(running or ""),
            requested=requested,
            operations=operations,
            templates=templates,
        )

    async def _write(self, rollout: Manifest, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old == new:
            return
        meta = rollout.get("metadata") or {}
        patch = {**{k: None for k in old if k not in new}, **new}
        await self.client.patch(
            ro.API_VERSION,
            "Rollout",
            str(meta.get("name")),
            str(meta.get("namespace")),
            {"status": patch},
            subresource="status",
        )

    async def _converge(
        self,
        client: KubeClient,
        spec: ro.RolloutSpec,
        rollout: Manifest,
        status: dict[str, Any],
        target: Manifest,
        primary: Manifest | None,
        replicas: int,
        now: dt.datetime,
    ) -> None:
        revision = objects.revision_of(target)
        stable = status.get("stableRevision")
        current = (primary or {}).get("metadata", {}).get("annotations", {}).get(ro.REVISION_ANNOTATION)
        if revision == stable and (primary is None or current != revision):
            await _apply(client, objects.primary(spec, rollout, target, revision, replicas))
        state = steps.world(spec, status, replicas, now)
        labels = ((target.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        labelled = labels.get(objects.TRACK_LABEL) == "canary"
        have = int((target.get("spec") or {}).get("replicas", 1))
        serving = primary is not None and current == stable and _available(primary, _primary_replicas(primary, None))
        if status.get("phase") == "Healthy" and not serving:
            # the primary does not serve the stable version yet (first sight): the target's pods keep
            # serving, reached by Git's selector, until it does (Flagger's initialization)
            state = steps.World(0, max(state.canary_replicas, have), "both")
        # more canary pods before traffic moves to them; traffic away from them before fewer
        if have < state.canary_replicas or not labelled:
            await _apply(client, objects.target_fields(rollout, target, state.canary_replicas))
        await self._traffic(client, spec, rollout, target, state)
        if have > state.canary_replicas:
            await _apply(client, objects.target_fields(rollout, target, state.canary_replicas))

    async def _traffic(
        self, client: KubeClient, spec: ro.RolloutSpec, rollout: Manifest, target: Manifest, state: steps.World
    ) -> None:
        """The Services and the HTTPRoute for `state`."""
        namespace = str((rollout.get("metadata") or {}).get("namespace"))
        name = spec.service.name
        apex = await client.get_or_none("v1", "Service", name, namespace)
        canary_selector = objects.canary_selector(target)
        primary_selector = objects.primary_selector(target)
        for suffix, selector in (("-primary", primary_selector), ("-canary", canary_selector)):
            await _apply(client, objects.service(spec, rollout, f"{name}{suffix}", selector, apex, owned=True))
        choices = {"primary": primary_selector, "canary": canary_selector, "both": objects.selector_of(target)}
        if apex is None or (apex.get("spec") or {}).get("selector") != choices[state.apex]:
            await _apply(client, objects.service(spec, rollout, name, choices[state.apex], apex, owned=False))
        routing = spec.strategy.canary.traffic_routing if spec.strategy.canary is not None else None
        if routing is not None and routing.gateway_api is not None:
            await _route(client, spec, namespace, routing.gateway_api.http_route, state.weight)


async def _route(client: KubeClient, spec: ro.RolloutSpec, namespace: str, route_name: str, weight: int) -> None:
    route = await client.get_or_none("gateway.networking.k8s.io/v1", "HTTPRoute", route_name, namespace)
    if route is None:
        return
    rules = objects.route_rules(route, spec, weight)
    if rules is not None:
        await _apply(
            client,
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": route_name, "namespace": namespace},
                "spec": {"rules": rules},
            },
        )


async def _apply(client: KubeClient, obj: Manifest) -> None:
    await client.apply(obj, field_manager=ro.FIELD_MANAGER, force=True)


def _lifted(stored: dict[str, Any]) -> dict[str, Any]:
    """The step machine's status under a refusal (`status.refused`), or `stored` as it is."""
    under = stored.get(REFUSED)
    if not isinstance(under, dict):
        return {k: v for k, v in stored.items() if k != REFUSED}
    rest = {k: v for k, v in stored.items() if k != REFUSED}
    return {**rest, "phase": str(under.get("phase") or ""), "message": str(under.get("message") or "")}


def _refusing(status: dict[str, Any], message: str) -> dict[str, Any]:
    """`status` shown refused: phase Degraded and `message`, its own phase and message kept underneath."""
    under = {"phase": str(status.get("phase") or ""), "message": str(status.get("message") or "")}
    return {**status, "phase": "Degraded", "message": message, REFUSED: under}


def _slim(obj: Manifest) -> Manifest:
    """Deployments are kept for their spec and status only (memory)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _metric(templates: dict[str, ro.AnalysisTemplateSpec | str], entry: dict[str, Any]) -> ro.Metric | None:
    template = templates.get(str(entry.get("template")))
    if not isinstance(template, ro.AnalysisTemplateSpec):
        return None
    return next((m for m in template.metrics if m.name == entry.get("metric")), None)


def _result(outcome: measuring.Outcome) -> str:
    return "inconclusive" if outcome.passed is None else "successful" if outcome.passed else "failed"


def _primary_replicas(primary: Manifest | None, target: Manifest | None) -> int:
    """The primary keeps its size; a new primary takes the target's (as Git has it, before scaling)."""
    source = primary if primary is not None else target
    value = ((source or {}).get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) and value >= 0 else 1


def _available(deployment: Manifest, replicas: int) -> bool:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    if spec.get("replicas", 1) != replicas or int(status.get("observedGeneration") or 0) < int(
        meta.get("generation") or 0
    ):
        return False
    if replicas == 0:
        return True
    return (
        int(status.get("replicas") or 0) == replicas
        and int(status.get("updatedReplicas") or 0) >= replicas
        and int(status.get("availableReplicas") or 0) >= replicas
    )


def _next_check(status: dict[str, Any], now: dt.datetime) -> float | None:
    if status.get("phase") in ("Progressing", "Paused"):
        return RUNNING_REQUEUE
    scale_down = steps.parse_stamp(status.get("scaleDownAt"))
    if scale_down is not None and scale_down > now:
        return (scale_down - now).total_seconds() + 0.5
    return None
