"""The notification engine: notices in, HTTP deliveries out, off the reconcile path.

`Notifier.submit` is what the Event recorder calls (through its observer): it appends to a bounded
intake and returns at once, so a sync never waits on a receiver. The `run` task routes each notice to
the Providers of the Alerts it matches (severity, sources, regexes), drops repeats within the
de-duplication window, and queues it per Provider (bounded: the oldest is dropped, and counted, when
full). One task per Provider with work delivers its queue in order, under a token-bucket rate limit,
retrying with exponential backoff (or the receiver's Retry-After) — a slow or dead receiver delays
only its own Provider's queue. Each Provider's `status.conditions` Ready says how its last delivery
went (the error redacted of its Secret's values); `gitward_notifications_total{provider,result}`
counts them. Alerts and Providers get Ready=False when their spec cannot be used.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pydantic

from gitward.appstatus import conditions
from gitward.controller import metrics
from gitward.controller.informers import Informer
from gitward.controller.notifications import delivery, matching, payloads
from gitward.core.applications import API_GROUP, API_VERSION
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.core.notifications import ALERT_KIND, FORGES, PROVIDER_KIND, AlertSpec, Notice, ProviderSpec
from gitward.core.redaction import redact
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient

log = get_logger(__name__)

SECRET_KEYS = ("token", "username", "password", "address")


@dataclass(frozen=True)
class Settings:
    intake: int = 1000  # notices waiting to be routed
    queue: int = 100  # notices waiting per Provider
    dedup_window: float = 300.0  # seconds: a repeat (same object, reason, message, revision) is dropped
    rate: float = 2.0  # deliveries per second per Provider, after a burst of
    burst: int = 20
    backoff: matching.Backoff = field(default_factory=matching.Backoff)
    timeout: float = delivery.TIMEOUT  # seconds per read; one attempt is given up after 3 times that


@dataclass(frozen=True)
class Delivery:
    """One finished delivery, kept in `Notifier.recent` (newest last)."""

    provider: str
    object: str
    reason: str
    revision: str
    result: str  # success | failure
    error: str
    at: float


class Notifier:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        providers: Informer,
        alerts: Informer,
        settings: Settings | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace  # the controller namespace: Providers, Alerts and their Secrets
        self.providers, self.alerts = providers, alerts
        self.settings = settings or Settings()
        self.dropped = 0
        self.recent: deque[Delivery] = deque(maxlen=100)
        self._intake: deque[Notice] = deque()
        self._wake = asyncio.Event()
        self._dirty: set[tuple[str, str]] = set()  # (kind, name) whose spec is to be checked
        self._queues: dict[str, deque[tuple[Notice, str]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._buckets: dict[str, matching.TokenBucket] = {}
        self._dedup = matching.Deduplicator(self.settings.dedup_window)
        self._alert_specs: dict[str, tuple[str, AlertSpec | str]] = {}  # name → (resourceVersion, spec or error)
        self._commit_states: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._written: dict[tuple[str, str], tuple[bool, str, str, Any]] = {}
        self._http: httpx2.AsyncClient | None = None
        providers.handlers.append(self._on_provider)
        alerts.handlers.append(self._on_alert)

    def tune(self, settings: Settings) -> None:
        """Use `settings` from now on (before the first delivery: tests and bench shorten timeouts)."""
        self.settings = settings
        self._dedup = matching.Deduplicator(settings.dedup_window)
        self._buckets.clear()

    # ------------------------------------------------------------------ intake (the reconcile path)

    def submit(self, notice: Notice) -> None:
        """Take a notice; never blocks, never raises (the Recorder's observer)."""
        if not self.alerts.store:
            return
        if len(self._intake) >= self.settings.intake:
            self._intake.popleft()
            self._drop("*")
        self._intake.append(notice)
        self._wake.set()

    # ------------------------------------------------------------------ the engine's task

    def _http_client(self) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = delivery.client(self.settings.timeout)
        return self._http

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._dirty:
                    kind, name = self._dirty.pop()
                    await self._check(kind, name)
                while self._intake:
                    self._route(self._intake.popleft())
        finally:
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            for task in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._workers.clear()
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    def _route(self, notice: Notice) -> None:
        now = time.monotonic()
        routed: set[str] = set()
        for ref, alert in sorted(self.alerts.store.items(), key=lambda item: item[0].name):
            spec = self._alert_spec(alert)
            if not isinstance(spec, AlertSpec) or not matching.matches(ref.namespace, spec, notice):
                continue
            provider = spec.provider_ref.name
            if provider in routed:
                continue
            routed.add(provider)
            if not self._dedup.first(provider, notice, now):
                metrics.NOTIFICATIONS.labels(provider, "deduplicated").inc()
                continue
            self._enqueue(provider, notice, spec.summary)

    def _enqueue(self, provider: str, notice: Notice, summary: str) -> None:
        queue = self._queues.setdefault(provider, deque())
        if len(queue) >= self.settings.queue:
            queue.popleft()
            self._drop(provider)
        queue.append((notice, summary))
        worker = self._workers.get(provider)
        if worker is None or worker.done():
            self._workers[provider] = asyncio.create_task(self._worker(provider), name=f"notifications {provider}")

    def _drop(self, provider: str) -> None:
        self.dropped += 1
        metrics.NOTIFICATIONS.labels(provider, "dropped").inc()

    async def _worker(self, provider: str) -> None:
        queue = self._queues.get(provider)
        while queue:
            notice, summary = queue.popleft()
            bucket = self._buckets.get(provider)
            if bucket is None:
                bucket = self._buckets[provider] = matching.TokenBucket(
                    self.settings.rate, self.settings.burst, time.monotonic()
                )
            wait = bucket.reserve(time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._deliver(provider, notice, summary)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one delivery must not stop the Provider's queue
                log.exception("notification delivery crashed", provider=provider, app=notice.key)

    # ------------------------------------------------------------------ one delivery

    async def _deliver(self, provider: str, notice: Notice, summary: str) -> None:
        obj = self.providers.store.get(ObjectRef(API_GROUP, PROVIDER_KIND, self.namespace, provider))
        if obj is None:
            log.info("notification for a Provider that does not exist", provider=provider, app=notice.key)
            return
        try:
            spec = ProviderSpec.model_validate(obj.get("spec") or {})
        except pydantic.ValidationError as exc:
            await self._set_ready(PROVIDER_KIND, obj, False, "InvalidSpec", _first_error(exc))
            return
        if spec.suspend:
            return
        creds = payloads.Credentials()
        try:
            if spec.secret_ref is not None:
                creds = await self._credentials(spec.secret_ref.name)
            request = payloads.build(spec, creds, notice, summary)
        except payloads.ConfigError as exc:
            await self._set_ready(PROVIDER_KIND, obj, False, "InvalidConfig", redact(str(exc), creds.values))
            self._finished(provider, notice, "failure", redact(str(exc), creds.values))
            return
        if request is None:
            return
        state_key = (provider, notice.key, notice.revision)
        state = payloads.commit_state(notice) if spec.type in FORGES else None
        if state is not None and self._commit_states.get(state_key) == state:
            return  # this commit already shows this state for this Application
        backoff = self.settings.backoff
        for attempt in range(1, backoff.attempts + 1):
            try:
                await delivery.send(self._http_client(), request)
            except delivery.DeliveryError as exc:
                error = redact(exc.message, creds.values)
                if not exc.retry or attempt == backoff.attempts:
                    tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                    await self._set_ready(PROVIDER_KIND, obj, False, "DeliveryFailed", error + tries)
                    self._finished(provider, notice, "failure", error + tries)
                    return
                metrics.NOTIFICATIONS.labels(provider, "retry").inc()
                await self._set_ready(PROVIDER_KIND, obj, False, "DeliveryFailed", f"{error}; retrying")
                await asyncio.sleep(backoff.delay(attempt, exc.retry_after))
                continue
            if state is not None:
                self._remember_state(state_key, state)
            await self._set_ready(PROVIDER_KIND, obj, True, "Succeeded", "the last delivery succeeded")
            self._finished(provider, notice, "success", "")
            return

    def _finished(self, provider: str, notice: Notice, result: str, error: str) -> None:
        metrics.NOTIFICATIONS.labels(provider, result).inc()
        self.recent.append(Delivery(provider, notice.key, notice.reason, notice.revision, result, error, time.time()))
        if result == "success":
            log.info("notification delivered", provider=provider, app=notice.key, reason=notice.reason)
        else:
            log.warning("notification failed", provider=provider, app=notice.key, reason=notice.reason, error=error)

    def _remember_state(self, key: tuple[str, str, str], state: str) -> None:
        self._commit_states[key] = state
        self._commit_states.move_to_end(key)
        while len(self._commit_states) > 10_000:
            self._commit_states.popitem(last=False)

    async def _credentials(self, name: str) -> payloads.Credentials:
        """The Provider's Secret, decoded; ConfigError when it is missing or unusable (its values
        never appear in the message)."""
        try:
            secret = await self.client.get("v1", "Secret", name, self.namespace)
        except kube_errors.APINotFoundError as exc:
            raise payloads.ConfigError(f"Secret {name} not found") from exc
        except kube_errors.KubeError as exc:
            raise payloads.ConfigError(f"Secret {name}: {exc.message}") from exc
        data = secret.get("data") or {}
        values: dict[str, str] = {}
        for key in SECRET_KEYS:
            if not isinstance(data.get(key), str):
                continue
            try:
                text = base64.b64decode(data[key], validate=True).decode().strip()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise payloads.ConfigError(f"Secret {name}: key {key} is not base64 text") from exc
            if not all(" " <= c <= "~" for c in text):
                raise payloads.ConfigError(f"Secret {name}: key {key} must be printable ASCII")
            values[key] = text
        return payloads.Credentials(**values)

    # ------------------------------------------------------------------ Provider and Alert specs

    def _on_provider(self, event: str, obj: Manifest) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if event == "DELETED":
            self._forget_provider(name)
        else:
            self._dirty.add((PROVIDER_KIND, name))
        self._dirty.update((ALERT_KIND, ref.name) for ref in self.alerts.store)  # their provider may be new or gone
        self._wake.set()

    def _on_alert(self, event: str, obj: Manifest) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if event == "DELETED":
            self._alert_specs.pop(name, None)
            self._written.pop((ALERT_KIND, name), None)
            return
        self._dirty.add((ALERT_KIND, name))
        self._wake.set()

    def _forget_provider(self, name: str) -> None:
        worker = self._workers.pop(name, None)
        if worker is not None:
            worker.cancel()
        self._queues.pop(name, None)
        self._buckets.pop(name, None)
        self._written.pop((PROVIDER_KIND, name), None)

    def _alert_spec(self, alert: Manifest) -> AlertSpec | str:
        """The Alert's parsed spec (cached per resourceVersion), or why it is invalid."""
        meta = alert.get("metadata") or {}
        name, version = str(meta.get("name")), str(meta.get("resourceVersion"))
        cached = self._alert_specs.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            spec: AlertSpec | str = AlertSpec.model_validate(alert.get("spec") or {})
        except pydantic.ValidationError as exc:
            spec = _first_error(exc)
        self._alert_specs[name] = (version, spec)
        return spec

    async def _check(self, kind: str, name: str) -> None:
        """Ready on a Provider or Alert whose spec is new: False with the reason it cannot be used."""
        informer = self.providers if kind == PROVIDER_KIND else self.alerts
        obj = informer.store.get(ObjectRef(API_GROUP, kind, self.namespace, name))
        if obj is None:
            return
        problem = _provider_problem(obj) if kind == PROVIDER_KIND else self._alert_problem(obj)
        status = obj.get("status") or {}
        current = conditions.find(status.get("conditions"), conditions.READY)
        generation = (obj.get("metadata") or {}).get("generation")
        if problem is not None:
            await self._set_ready(kind, obj, False, problem[0], problem[1])
        elif (
            current is None
            or status.get("observedGeneration") != generation
            or current.get("reason")
            in (
                "InvalidSpec",
                "ProviderNotFound",
            )
        ):
            message = "waiting for events" if kind == PROVIDER_KIND else "valid"
            await self._set_ready(kind, obj, True, "Valid", message)

    def _alert_problem(self, alert: Manifest) -> tuple[str, str] | None:
        spec = self._alert_spec(alert)
        if not isinstance(spec, AlertSpec):
            return "InvalidSpec", spec
        ref = ObjectRef(API_GROUP, PROVIDER_KIND, self.namespace, spec.provider_ref.name)
        if ref not in self.providers.store:
            return "ProviderNotFound", f"Provider {spec.provider_ref.name} not found"
        return None

    async def _set_ready(self, kind: str, obj: Manifest, ok: bool, reason: str, message: str) -> None:
        """Patch Ready on the object's status, only when it changes."""
        meta = obj.get("metadata") or {}
        name, generation = str(meta.get("name")), meta.get("generation")
        wanted = (ok, reason, message[:1024], generation)
        if self._written.get((kind, name)) == wanted:
            return
        old = (obj.get("status") or {}).get("conditions")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {
            "observedGeneration": generation,
            "conditions": conditions.apply(old, [conditions.Condition(conditions.READY, ok, reason, wanted[2])], now),
        }
        try:
            await self.client.patch(API_VERSION, kind, name, self.namespace, {"status": status}, subresource="status")
        except kube_errors.KubeError as exc:
            log.warning("status not written", kind=kind, name=name, error=exc.message)
            return
        self._written[(kind, name)] = wanted


def _provider_problem(obj: Manifest) -> tuple[str, str] | None:
    try:
        spec = ProviderSpec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError as exc:
        return "InvalidSpec", _first_error(exc)
    try:
        if spec.type in FORGES:
            payloads.repository_of(spec.address)
        elif spec.address:
            payloads.check_address(spec.address)
        elif spec.secret_ref is None:
            raise payloads.ConfigError("no address: set spec.address or the Secret's address")
    except payloads.ConfigError as exc:
        return "InvalidSpec", str(exc)
    return None


def _first_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"spec.{where}: {first.get('msg', 'invalid').removeprefix('Value error, ')}"
