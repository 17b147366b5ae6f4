"""The image automation loop: watch the three kinds, and run what is due, in order (SPEC §12).

Started and stopped by the controller manager (`ImageAutomation.start()` / `stop()`). Informers keep
ImageRepositories, ImagePolicies and ImageUpdateAutomations of the watched namespace(s); once a
second, `tick()` scans the repositories that are due (their `interval`, a spec change or a
`gitward.dev/refresh` annotation), applies the policies whose repository was scanned or whose spec
changed, and runs the automations that are due — or at once when a policy of their namespace picked
a new image. One failing object never stops the others; each reports its own Ready condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from gitward.controller.images import scanning, signing, specs, updating
from gitward.controller.informers import Informer
from gitward.core.applications import REFRESH, parse_duration
from gitward.core.errors import SourceError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, invocations, normalize, oci

__all__ = ["ImageAutomation"]

log = get_logger(__name__)


class ImageAutomation:
    def __init__(
        self,
        client: KubeClient,
        namespace: str | None,
        registries: oci.Registries,
        applications: Informer,
        on_pushed: Callable[[str], None],
        *,
        allow_file: bool = False,
        tick_seconds: float = 1.0,
    ) -> None:
        self.client = client
        self.repos = Informer(client, specs.API_VERSION, "ImageRepository", namespace=namespace)
        self.policies = Informer(client, specs.API_VERSION, "ImagePolicy", namespace=namespace)
        self.automations = Informer(client, specs.API_VERSION, "ImageUpdateAutomation", namespace=namespace)
        self.applications, self.on_pushed = applications, on_pushed
        self.scans = scanning.Scans()
        self.scanner = scanning.Scanner(client, registries, self.scans)
        self.allow_file, self.tick_seconds = allow_file, tick_seconds
        self.git = invocations.GitEnvironment()
        self._next: dict[tuple[str, str], float] = {}  # (kind, key) → monotonic time of the next run
        self._seen: dict[tuple[str, str], str] = {}  # (kind, key) → generation and refresh request handled
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for informer in (self.repos, self.policies, self.automations):
            self._tasks.append(asyncio.create_task(informer.run(), name=f"{informer.kind} informer"))
        self._tasks.append(asyncio.create_task(self._loop(), name="image automation"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.git.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # one bad tick must not end image automation
                log.exception("image automation tick failed")
            await asyncio.sleep(self.tick_seconds)

    async def tick(self) -> None:
        scanned = await self._scan_due()
        new_images = await self._choose_due(scanned)
        await self._automate_due(new_images)

    # ------------------------------------------------------------------ steps

    async def _scan_due(self) -> set[str]:
        due = [obj for obj in list(self.repos.store.values()) if self._due("ImageRepository", obj)]
        await asyncio.gather(*(self._scan(obj) for obj in due))
        return {_key(obj) for obj in due}

    async def _scan(self, obj: Manifest) -> None:
        name = ((obj.get("spec") or {}).get("secretRef") or {}).get("name")
        try:
            creds = await self._secret_creds(_namespace(obj), str(name)) if name else None
        except SourceError as exc:  # a missing or unreadable Secret is the scan's failure, said as such
            await self.scanner.refuse(obj, exc)
            return
        await self.scanner.scan(obj, creds)

    async def _choose_due(self, scanned: set[str]) -> set[str]:
        """Apply the due policies; the namespaces where a policy picked a new image."""
        namespaces: set[str] = set()
        for obj in list(self.policies.store.values()):
            spec = (obj.get("spec") or {}).get("imageRepositoryRef") or {}
            repo = f"{_namespace(obj)}/{spec.get('name')}"
            if (repo in scanned or self._due("ImagePolicy", obj)) and await self.scanner.choose(obj):
                namespaces.add(_namespace(obj))
        return namespaces

    async def _automate_due(self, namespaces: set[str]) -> None:
        due = [
            obj
            for obj in list(self.automations.store.values())
            if self._due("ImageUpdateAutomation", obj, force=_namespace(obj) in namespaces)
        ]
        await asyncio.gather(*(self._automate(obj) for obj in due))

    async def _automate(self, obj: Manifest) -> None:
        key, namespace = _key(obj), _namespace(obj)
        started = _now()
        fields: dict[str, Any] = {"lastAutomationRunTime": started}
        try:
            spec = specs.AutomationSpec.model_validate(obj.get("spec") or {})
            app = self._application(namespace, spec.source_ref.name) if spec.source_ref else None
            if spec.source_ref and app is None:
                raise SourceError(f"Application/{namespace}/{spec.source_ref.name} not found", reason="SourceNotFound")
            plan = updating.Plan(key, spec, app)
            creds = await self._secret_creds(namespace, plan.secret_name)
            signing_key = await self._signing(namespace, plan.signing_secret, plan.signing_type)
            result = await updating.run(
                plan, self.git, creds, self._latest(namespace), signing_key, allow_file=self.allow_file
            )
        except (SourceError, ValidationError) as exc:
            reason = exc.reason if isinstance(exc, SourceError) else "InvalidSpec"
            message = exc.message if isinstance(exc, SourceError) else str(exc).splitlines()[0]
            log.warning("image update failed", object=f"ImageUpdateAutomation/{key}", reason=reason, error=message)
            await self._status(obj, fields, "False", reason, message)
            return
        if not result.sha:
            await self._status(obj, fields, "True", "NoChange", "no updates made")
            return
        fields.update(lastPushCommit=result.sha, lastPushTime=_now())
        log.info(
            "image update pushed", object=f"ImageUpdateAutomation/{key}", commit=result.sha, attempts=result.attempts
        )
        await self._status(obj, fields, "True", "Succeeded", f"pushed commit {result.sha[:12]} to {plan.push}")
        self._refresh_applications(namespace, plan.repo_url)

    # ------------------------------------------------------------------ inputs

    def _latest(self, namespace: str) -> dict[str, str]:
        """`ns:policy` → latestImage of the namespace's policies (this run's choices, else their status)."""
        latest: dict[str, str] = {}
        for obj in list(self.policies.store.values()):
            if _namespace(obj) != namespace:
                continue
            key = _key(obj)
            image = self.scans.latest.get(key) or str((obj.get("status") or {}).get("latestImage") or "")
            if image:
                latest[key.replace("/", ":", 1)] = image
        return latest

    def _application(self, namespace: str, name: str) -> Manifest | None:
        return next(
            (a for a in self.applications.store.values() if _namespace(a) == namespace and _name(a) == name), None
        )

    def _refresh_applications(self, namespace: str, repo_url: str) -> None:
        wanted = normalize(repo_url)
        for app in list(self.applications.store.values()):
            source = (app.get("spec") or {}).get("source") or {}
            if _namespace(app) == namespace and normalize(str(source.get("repoURL") or "")) == wanted:
                self.on_pushed(f"{namespace}/{_name(app)}")

    async def _secret_data(self, namespace: str, name: str) -> dict[str, str]:
        try:
            secret = await self.client.get("v1", "Secret", name, namespace)
        except kube_errors.APINotFoundError:
            raise SourceError(f"Secret/{namespace}/{name}: not found", reason="SecretNotFound") from None
        except kube_errors.KubeError as exc:
            raise SourceError(f"Secret/{namespace}/{name}: {exc.message}", reason="SecretUnavailable") from None
        return dict(secret.get("data") or {})

    async def _secret_creds(self, namespace: str, name: str) -> Credentials:
        if not name:
            return Credentials()
        return Credentials.from_secret_data(await self._secret_data(namespace, name), secret_name=name)

    async def _signing(self, namespace: str, name: str, kind: str) -> signing.Signing | None:
        if not name:
            return None
        data = await self._secret_data(namespace, name)
        return signing.from_secret_data(data, f"Secret/{namespace}/{name}", kind)

    # ------------------------------------------------------------------ bookkeeping

    def _due(self, kind: str, obj: Manifest, *, force: bool = False) -> bool:
        """Due when forced, when its spec or refresh request changed, or when its interval passed."""
        key = (kind, _key(obj))
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        seen = f"{meta.get('generation')}|{(meta.get('annotations') or {}).get(REFRESH, '')}"
        now = time.monotonic()
        if spec.get("suspend"):
            return False
        if not force and self._seen.get(key) == seen and now < self._next.get(key, 0.0):
            return False
        self._seen[key] = seen
        try:
            interval = parse_duration(str(spec.get("interval") or "1m"))
        except ValueError:
            interval = 60.0
        self._next[key] = now + max(interval, 1.0)
        return True

    async def _status(self, obj: Manifest, fields: dict[str, Any], ok: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        ready = {
            "type": "Ready",
            "status": ok,
            "reason": reason,
            "message": message[:1024],
            "lastTransitionTime": _now(),
        }
        status = {**fields, "observedGeneration": meta.get("generation"), "conditions": [ready]}
        try:
            await self.client.patch(
                specs.API_VERSION, "ImageUpdateAutomation", _name(obj), _namespace(obj), {"status": status},
                subresource="status",
            )  # fmt: skip
        except kube_errors.KubeError as exc:
            log.warning("status not written", object=f"ImageUpdateAutomation/{_key(obj)}", error=exc.message)


def _namespace(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("namespace"))


def _name(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("name"))


def _key(obj: Manifest) -> str:
    return f"{_namespace(obj)}/{_name(obj)}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
