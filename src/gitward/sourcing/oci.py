"""OCI registries: resolve a tag, semver range or digest, pull an artifact, list tags, push a directory.

Called by the controller's `Sources` for Applications with `repoURL: oci://host/repo` (SPEC §12):
`resolve()` turns `targetRevision` into a manifest digest (the revision in status and history),
`fetch()` downloads and unpacks that artifact once per repository and digest into a cache shared by
every Application; by the image automation controllers (`tags()`), and by `gitward push artifact`
(`push()`).

Why httpx2 and not the `oras` SDK: the controller is asyncio and needs streamed, byte-capped,
digest-checked downloads and its own extraction rules; oras is synchronous (requests), extracts
directories itself, and its token backend mistakes a Basic challenge for a token realm. The
distribution API's few calls and its auth flow (Basic, or a Bearer token from the realm the
`WWW-Authenticate` challenge names) are small; the tests push with oras and pull with this client,
so both sides of the wire are checked against the real registry.

HTTPS always, verified against the system's CAs plus the Secret's `ca.crt`; plain HTTP only with
`insecure` (`source.insecure: true`). Credentials (Secret `username`/`password`, or a
`.dockerconfigjson`) go to the registry and its token realm only; messages never carry them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.sourcing import helmrepo, ocilayers, ocirefs
from gitward.sourcing.credentials import Credentials, registry_login
from gitward.sourcing.ocirefs import Reference
from gitward.sourcing.registryauth import RegistryAuth

__all__ = ["ARTIFACT_MEDIA_TYPE", "Artifact", "Registries"]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join(
    (MANIFEST, "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.index.v1+json")
)
ARTIFACT_MEDIA_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip"
CONFIG_MEDIA_TYPE = "application/vnd.cncf.flux.config.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
_LIMITS = ocilayers.LayerLimits()
_MAX_MANIFESTS = 4096
_TTL = 2.0  # seconds a tag list or resolved tag is shared, like `git ls-remote`


@dataclass(frozen=True, slots=True)
class Artifact:
    """A resolved artifact: its manifest digest and what the manifest says about it."""

    ref: Reference
    digest: str
    tag: str
    layers: tuple[tuple[str, str, int], ...]
    """(mediaType, digest, size) of each layer."""
    annotations: dict[str, str]
    config_media_type: str = ""


class Registries:
    """One client for every registry: short-lived tag and digest caches, artifacts cached by digest."""

    def __init__(self, cache_dir: Path, limits: ocilayers.LayerLimits = _LIMITS) -> None:
        self.cache_dir, self.limits = cache_dir, limits
        self._auth = RegistryAuth(limits.timeout_seconds)
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}
        self._tags: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self._manifests: dict[tuple[str, str], Artifact] = {}
        self.pulls = 0
        self.tag_pages = 0  # tag-list pages read (metrics and tests)
        self.max_cached, self.idle_seconds = 64, 600.0
        """Unpacked artifacts kept on disk beyond which those idle for `idle_seconds` are removed."""
        self._last_use: dict[Path, float] = {}
        self.page_size = 1000
        """Tags asked for per page of a tag list (`?n=`); the registry may send fewer."""

    # ------------------------------------------------------------ resolving

    async def resolve(
        self,
        url: str,
        revision: str,
        creds: Credentials | None,
        *,
        insecure: bool = False,
        not_before: float | None = None,
    ) -> Artifact:
        """The artifact `revision` (a tag, a semver range, a `sha256:` digest; empty/HEAD = latest)
        names in `url` (`oci://host/repo`)."""
        ref = ocirefs.parse(url)
        wanted = revision.strip()
        if wanted in ("", "HEAD"):
            wanted = "latest"
        if ocirefs.is_digest(wanted):
            return await self.manifest(ref.at(wanted), creds, insecure=insecure)
        if ocirefs.TAG.fullmatch(wanted):
            found = await self._tag_if_present(ref.at(wanted), creds, insecure)
            if found is not None:
                return found
        tags = await self.tags(url, creds, insecure=insecure, not_before=not_before)
        try:
            # Helm writes a version's build metadata `+` as `_` in OCI tags (tags cannot hold `+`)
            picked = ocirefs.pick_semver([ocirefs.Tag(t, t.replace("_", "+")) for t in tags], wanted)
        except ValueError:
            raise SourceError(f"{ref.name}: no tag {wanted!r}", reason="RevisionNotFound") from None
        if picked is None:
            raise SourceError(f"{ref.name}: no tag matches {wanted!r}", reason="RevisionNotFound")
        return await self.manifest(ref.at(picked.tag), creds, insecure=insecure)

    async def _tag_if_present(self, ref: Reference, creds: Credentials | None, insecure: bool) -> Artifact | None:
        try:
            return await self.manifest(ref, creds, insecure=insecure)
        except SourceError as exc:
            if exc.reason == "RevisionNotFound":
                return None
            raise

    async def manifest(self, ref: Reference, creds: Credentials | None, *, insecure: bool = False) -> Artifact:
        """The manifest `ref` (tag or digest) names, its body checked against its digest."""
        if ocirefs.is_digest(ref.reference) and (ref.name, ref.reference) in self._manifests:
            return self._manifests[(ref.name, ref.reference)]
        path = f"/v2/{ref.repository}/manifests/{ref.reference}"
        body, headers = await self._get(ref, path, creds, insecure, self.limits.max_manifest_bytes, ACCEPT)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ocirefs.is_digest(ref.reference) and digest != ref.reference:
            raise SourceError(f"{ref.url()}: the manifest does not match its digest", reason="DigestMismatch")
        artifact = _artifact(ref, digest, body, headers.get("content-type", ""))
        self._manifests[(ref.name, digest)] = artifact
        while len(self._manifests) > _MAX_MANIFESTS:  # forget the oldest manifests (they are re-read if needed)
            del self._manifests[next(iter(self._manifests))]
        return artifact

    async def tags(
        self, url: str, creds: Credentials | None, *, insecure: bool = False, not_before: float | None = None
    ) -> list[str]:
        """Every tag of `url`'s repository (pages followed, at most `max_tags`), briefly shared."""
        ref = ocirefs.parse(url)
        key = (ref.name, (creds or Credentials()).identity())
        async with self._locks.setdefault(("tags", *key), asyncio.Lock()):
            cached = self._tags.get(key)
            now = time.monotonic()
            if cached and now - cached[0] < _TTL and (not_before is None or cached[0] >= not_before):
                return cached[1]
            found = await self._list_tags(ref, creds, insecure)
            self._tags[key] = (now, found)
            return found

    async def _list_tags(self, ref: Reference, creds: Credentials | None, insecure: bool) -> list[str]:
        found: list[str] = []
        path: str | None = f"/v2/{ref.repository}/tags/list?n={self.page_size}"
        seen: set[str] = set()
        while path is not None:
            if path in seen or len(seen) >= self.limits.max_tag_pages:
                what = "links a page it already sent" if path in seen else f"sent more than {len(seen)} pages"
                raise SourceError(f"{ref.name}: the registry's tag list {what}", reason="TooLarge")
            seen.add(path)
            body, headers = await self._get(ref, path, creds, insecure, self.limits.max_manifest_bytes, "")
            self.tag_pages += 1
            try:
                page = json.loads(body).get("tags") or []
            except (ValueError, AttributeError):
                raise SourceError(f"{ref.name}: the registry sent an invalid tag list", reason="FetchFailed") from None
            found.extend(t for t in page if isinstance(t, str) and ocirefs.TAG.fullmatch(t))
            if len(found) > self.limits.max_tags:
                raise SourceError(f"{ref.name}: more than {self.limits.max_tags} tags", reason="TooLarge")
            path = ocirefs.next_page(headers.get("link", ""), ref)
            if path is not None:
                await asyncio.sleep(0.02)  # a gentle rate: at most ~50 pages a second per scan
        return found

    # ------------------------------------------------------------ pulling

    async def fetch(self, artifact: Artifact, creds: Credentials | None, *, insecure: bool = False) -> Path:
        """The unpacked content of `artifact`: every tar+gzip layer, in order, pulled once per digest."""
        home = self.cache_dir / hashlib.sha256(artifact.ref.name.encode()).hexdigest()[:16] / artifact.digest[7:]
        self._used(home)
        async with self._locks.setdefault(("pull", str(home)), asyncio.Lock()):
            if (home / "content").is_dir():
                return home / "content"
            layers = [layer for layer in artifact.layers if layer[0].endswith(("tar+gzip", ".tar.gzip", "tar.gzip"))]
            if not layers:
                raise SourceError(f"{artifact.ref.url()}: the artifact has no tar+gzip layer", reason="InvalidArtifact")
            if len(artifact.layers) > self.limits.max_layers:
                raise SourceError(f"{artifact.ref.url()}: more than {self.limits.max_layers} layers", reason="TooLarge")
            home.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home.parent))
            try:
                budget = None
                for index, (_, digest, _size) in enumerate(layers):
                    blob = staging / f"layer-{index}"
                    await self._blob(artifact.ref, digest, blob, creds, insecure)
                    label = f"{artifact.ref.name}@{artifact.digest[:19]}"
                    budget = await asyncio.to_thread(
                        ocilayers.unpack, blob, staging / "content", label, self.limits, budget
                    )
                    blob.unlink()
                self.pulls += 1
                shutil.rmtree(home, ignore_errors=True)
                os.replace(staging, home)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return home / "content"

    async def chart(self, artifact: Artifact, chart: str, creds: Credentials | None, *, insecure: bool) -> Path:
        """The unpacked chart directory of a Helm OCI artifact (its chart layer checked by digest)."""
        if artifact.config_media_type != HELM_CONFIG or not any(m == HELM_CHART for m, _, _ in artifact.layers):
            raise SourceError(f"{artifact.ref.url()}: not a Helm chart artifact", reason="InvalidChart")
        home = self.cache_dir / "charts" / hashlib.sha256(artifact.ref.name.encode()).hexdigest()[:16]
        home = home / artifact.digest[7:]
        self._used(home)
        async with self._locks.setdefault(("chart", str(home)), asyncio.Lock()):
            if not (home / "chart").is_dir():
                home.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home.parent))
                try:
                    digest = next(d for m, d, _ in artifact.layers if m == HELM_CHART)
                    await self._blob(artifact.ref, digest, staging / "chart.tgz", creds, insecure)
                    limits = helmrepo.RepoLimits()
                    await asyncio.to_thread(helmrepo.unpack, staging / "chart.tgz", staging / "chart", chart, limits)
                    shutil.rmtree(home, ignore_errors=True)
                    os.replace(staging, home)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
        return next(p for p in (home / "chart").iterdir() if p.is_dir())

    def _used(self, home: Path) -> None:
        """Note that `home` is in use now; remove the unpacked artifacts beyond `max_cached` that no
        one asked for in `idle_seconds` (a render in progress is never that old: none is deleted under it)."""
        self._last_use.pop(home, None)
        self._last_use[home] = time.monotonic()
        idle = time.monotonic() - self.idle_seconds
        while len(self._last_use) > self.max_cached:
            oldest, used = next(iter(self._last_use.items()))
            if used > idle:
                break
            del self._last_use[oldest]
            self._locks.pop(("pull", str(oldest)), None)
            self._locks.pop(("chart", str(oldest)), None)
            shutil.rmtree(oldest, ignore_errors=True)

    async def _blob(self, ref: Reference, digest: str, dest: Path, creds: Credentials | None, insecure: bool) -> None:
        if not ocirefs.is_digest(digest):
            raise SourceError(f"{ref.url()}: a layer has an invalid digest", reason="InvalidArtifact")
        path = f"/v2/{ref.repository}/blobs/{digest}"
        cap = self.limits.max_layer_bytes
        async with self._auth.stream(ref, "GET", path, _login(creds, ref), insecure, _context(creds)) as response:
            _check(response, ref, creds)
            hasher = hashlib.sha256()
            size = 0
            with dest.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise SourceError(f"{ref.url()}: a layer is larger than {cap} bytes", reason="TooLarge")
                    hasher.update(chunk)
                    out.write(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            raise SourceError(f"{ref.url()}: a layer does not match its digest", reason="DigestMismatch")

    async def _get(
        self, ref: Reference, path: str, creds: Credentials | None, insecure: bool, cap: int, accept: str
    ) -> tuple[bytes, httpx2.Headers]:
        headers = {"Accept": accept} if accept else {}
        login = _login(creds, ref)
        async with self._auth.stream(ref, "GET", path, login, insecure, _context(creds), headers) as response:
            _check(response, ref, creds)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise SourceError(
                        f"{ref.url()}: the registry's answer is larger than {cap} bytes", reason="TooLarge"
                    )
                chunks.append(chunk)
            return b"".join(chunks), response.headers

    # ------------------------------------------------------------ pushing

    async def push(
        self,
        url: str,
        directory: Path,
        creds: Credentials | None,
        *,
        annotations: dict[str, str],
        insecure: bool = False,
    ) -> str:
        """Push `directory` as a one-layer artifact to `url` (`oci://host/repo:tag`); its digest."""
        ref = ocirefs.parse(url, with_reference=True)
        if not ref.reference or ocirefs.is_digest(ref.reference):
            raise SourceError(f"{url}: give a tag to push to (oci://host/repo:tag)", reason="InvalidRepoURL")
        layer = await asyncio.to_thread(ocilayers.pack, directory)
        config = b"{}"
        login, context = _login(creds, ref), _context(creds)
        for blob in (layer, config):
            await self._auth.upload(ref, blob, login, insecure, context)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": _descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [_descriptor(ARTIFACT_MEDIA_TYPE, layer)],
            "annotations": annotations,
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        await self._auth.put_manifest(ref, body, MANIFEST, login, insecure, context)
        return "sha256:" + hashlib.sha256(body).hexdigest()


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


def _artifact(ref: Reference, digest: str, body: bytes, content_type: str) -> Artifact:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise SourceError(f"{ref.url()}: the manifest is not JSON", reason="InvalidArtifact") from None
    if not isinstance(manifest, dict):
        raise SourceError(f"{ref.url()}: the manifest is not a JSON object", reason="InvalidArtifact")
    media_type = str(manifest.get("mediaType") or content_type)
    if "index" in media_type or "manifest.list" in media_type:
        raise SourceError(f"{ref.url()}: an image index, not an artifact", reason="InvalidArtifact")
    layers = tuple(
        (str(layer.get("mediaType") or ""), str(layer.get("digest") or ""), int(layer.get("size") or 0))
        for layer in manifest.get("layers") or []
        if isinstance(layer, dict)
    )
    raw = manifest.get("annotations")
    annotations = {str(k): str(v)[:1024] for k, v in raw.items()} if isinstance(raw, dict) else {}
    config = manifest.get("config")
    config_type = str(config.get("mediaType") or "") if isinstance(config, dict) else ""
    tag = "" if ocirefs.is_digest(ref.reference) else ref.reference
    return Artifact(ref, digest, tag, layers, annotations, config_type)


def _login(creds: Credentials | None, ref: Reference) -> tuple[str, str]:
    return registry_login(creds, ref.host)


def _context(creds: Credentials | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if creds is not None and creds.ca_cert:
        try:
            context.load_verify_locations(cadata=creds.ca_cert)
        except ssl.SSLError:
            raise SourceError(
                "Secret data key 'ca.crt' is not a PEM certificate", reason="InvalidCredentials"
            ) from None
    return context


def _check(response: httpx2.Response, ref: Reference, creds: Credentials | None) -> None:
    code = response.status_code
    if code == 200:
        return
    shown = ref.url()
    if code in (401, 403):
        who = "with the Secret's credentials" if any(_login(creds, ref)) else "without credentials"
        raise SourceError(f"{shown}: authentication failed {who} (HTTP {code})", reason="AuthenticationFailed")
    if code == 404:
        raise SourceError(f"{shown}: not found in the registry", reason="RevisionNotFound")
    raise SourceError(redact(f"{shown}: HTTP {code}", creds.secrets() if creds else ()), reason="FetchFailed")
