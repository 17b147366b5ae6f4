"""ImageRepository scans and ImagePolicy choices (SPEC §12, Flux's image-reflector-controller).

Called by gitward.controller.images.running once per tick for the objects that are due: `scan()`
lists an ImageRepository's tags (every page, paced, at most four scans per registry at once, with
the Secret's registry credentials, `sourcing.oci`) and writes `status.lastScanResult`; `choose()`
applies an ImagePolicy (`filterTags`, then `semver` / `numerical` / `alphabetical`,
`sourcing.ocirefs`) to the tags of its repository's last scan and writes `status.latestImage`.
Both keep what they found in memory for the next step. Errors become a Ready=False condition with
a reason, never a crash; messages never carry credentials.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gitward.controller.images import specs
from gitward.core.errors import SourceError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, oci, ocirefs

__all__ = ["Scanner", "Scans", "image_url"]

log = get_logger(__name__)


@dataclass
class Scans:
    """What the last scans found: repository key (`ns/name`) → (image, tags); policy key → latestImage."""

    tags: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    latest: dict[str, str] = field(default_factory=dict)


def image_url(image: str) -> str:
    """`oci://host/repo` of an ImageRepository's `image` (`host/repo`, `oci://` optional)."""
    return image if image.startswith("oci://") else f"oci://{image}"


class Scanner:
    def __init__(self, client: KubeClient, registries: oci.Registries, scans: Scans, per_host: int = 4) -> None:
        self.client, self.registries, self.scans = client, registries, scans
        self.per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}  # at most `per_host` scans of one registry at once

    async def scan(self, obj: Manifest, credentials: Credentials | None) -> bool:
        """Scan one ImageRepository; whether its tags changed since the last scan."""
        key, namespace, name = _key(obj)
        try:
            spec = specs.RepositorySpec.model_validate(obj.get("spec") or {})
            ref = ocirefs.parse(image_url(spec.image))
            async with self._hosts.setdefault(ref.host, asyncio.Semaphore(self.per_host)):
                found = await self.registries.tags(ref.url(), credentials, insecure=spec.insecure, not_before=_mono())
        except (SourceError, ValidationError, ValueError) as exc:
            await self._status(obj, "ImageRepository", {}, _failed(exc))
            return False
        before = self.scans.tags.get(key)
        self.scans.tags[key] = (ref.name, found)
        result = {
            "tagCount": len(found),
            "scanTime": _now(),
            "latestTags": sorted(found, reverse=True)[:10],
        }
        ready = _ready("Succeeded", f"successful scan: found {len(found)} tags")
        await self._status(obj, "ImageRepository", {"lastScanResult": result, "canonicalImageName": ref.name}, ready)
        log.info("image repository scanned", object=f"ImageRepository/{namespace}/{name}", tags=len(found))
        return before is None or before[1] != found

    async def refuse(self, obj: Manifest, exc: SourceError) -> None:
        """Report a scan that could not start (its Secret is missing or unreadable)."""
        await self._status(obj, "ImageRepository", {}, _failed(exc))

    async def choose(self, obj: Manifest) -> bool:
        """Apply one ImagePolicy to its repository's last scan; whether latestImage changed."""
        key, namespace, _ = _key(obj)
        try:
            spec = specs.PolicySpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            await self._status(obj, "ImagePolicy", {}, _failed(exc))
            return False
        scanned = self.scans.tags.get(f"{namespace}/{spec.image_repository_ref.name}")
        if scanned is None:
            message = f"ImageRepository/{namespace}/{spec.image_repository_ref.name} has not been scanned (yet)"
            await self._status(obj, "ImagePolicy", {}, _not_ready("DependencyNotReady", message))
            return False
        image, tags = scanned
        try:
            filters = spec.filter_tags or specs.FilterTags()
            picked = ocirefs.select_tag(ocirefs.filter_tags(tags, filters.pattern, filters.extract), spec.policy)
        except ValueError as exc:
            await self._status(obj, "ImagePolicy", {}, _not_ready("InvalidPolicy", str(exc)))
            return False
        if picked is None:
            await self._status(obj, "ImagePolicy", {}, _not_ready("NoMatchingTag", "no tag matches the policy"))
            return False
        latest = f"{image}:{picked.tag}"
        previous = self.scans.latest.get(key) or str((obj.get("status") or {}).get("latestImage") or "")
        self.scans.latest[key] = latest
        fields: dict[str, Any] = {"latestImage": latest}
        if previous and previous != latest:
            fields["observedPreviousImage"] = previous
        await self._status(
            obj, "ImagePolicy", fields, _ready("Succeeded", f"latest image tag for {image} is {picked.tag}")
        )
        return previous != latest

    async def _status(self, obj: Manifest, kind: str, fields: dict[str, Any], ready: dict[str, str]) -> None:
        meta = obj.get("metadata") or {}
        old = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
        same = old is not None and old.get("status") == ready["status"] and old.get("reason") == ready["reason"]
        ready["lastTransitionTime"] = str(old.get("lastTransitionTime")) if same and old else _now()
        status = {**fields, "observedGeneration": meta.get("generation"), "conditions": [ready]}
        try:
            await self.client.patch(
                specs.API_VERSION, kind, str(meta.get("name")), str(meta.get("namespace")), {"status": status},
                subresource="status",
            )  # fmt: skip
        except kube_errors.KubeError as exc:
            log.warning(
                "status not written", object=f"{kind}/{meta.get('namespace')}/{meta.get('name')}", error=exc.message
            )


def _key(obj: Manifest) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    return f"{namespace}/{name}", namespace, name


def _ready(reason: str, message: str) -> dict[str, str]:
    return {"type": "Ready", "status": "True", "reason": reason, "message": message[:1024]}


def _not_ready(reason: str, message: str) -> dict[str, str]:
    return {"type": "Ready", "status": "False", "reason": reason, "message": message[:1024]}


def _failed(exc: Exception) -> dict[str, str]:
    if isinstance(exc, SourceError):
        return _not_ready(exc.reason, exc.message)
    if isinstance(exc, ValidationError):
        return _not_ready("InvalidSpec", "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    return _not_ready("InvalidSpec", str(exc))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mono() -> float:
    return time.monotonic()
