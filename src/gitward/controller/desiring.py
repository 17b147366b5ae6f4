"""The desired state of one Application: Project bounds, destination cluster, source (credentials,
revision, signature), render and normalisation — everything a reconcile needs before it may write.

Called by the reconciler once per reconcile with its `Pass`; fills in `Pass.target` and
`Pass.revision` and returns the normalised objects. Every refusal is a `ReconcileError` (SourceError,
RenderError, ValidationError, VerificationError) raised before anything is written; the reconciler
turns it into the status in one place. After the Project's object check, every rendered object is
checked against the Policies (`controller.policies`, SPEC §13): a Deny refuses the revision whole.
A refused render is never remembered as the desired state: the next reconcile checks it again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from gitward import rendering, sourcing
from gitward.controller import metrics
from gitward.controller.clusters import Clusters, Target
from gitward.controller.context import Pass
from gitward.controller.impersonation import Impersonation
from gitward.controller.informers import Informer
from gitward.controller.inputs import RenderInputs
from gitward.controller.policies import Policies
from gitward.controller.sources import Sources
from gitward.core import applications as apps
from gitward.core.errors import ReconcileError, RenderError, SourceError, ValidationError
from gitward.core.logging import get_logger
from gitward.core.manifests import Manifest, ObjectRef
from gitward.kube import errors as kube_errors
from gitward.kube.client import KubeClient
from gitward.planning import normalizing, projects, windows
from gitward.rendering import substitution
from gitward.sourcing import Credentials, Revision, verification

__all__ = ["DesiredState", "needs_source_check"]

log = get_logger(__name__)


class DesiredState:
    def __init__(
        self,
        client: KubeClient,
        clusters: Clusters,
        sources: Sources,
        projects: Informer | None,
        policies: Policies | None = None,
        inputs: RenderInputs | None = None,
    ) -> None:
        self.client = client  # the controller's own cluster: Secrets of the Application's namespace
        self.clusters = clusters
        self.sources = sources
        self.projects = projects
        self.policies = policies  # wired by the manager (the Policy informer of the controller namespace)
        self.inputs = inputs or RenderInputs(client, Impersonation())  # ConfigMaps/Secrets a render takes (SPEC §15)

    async def of(self, p: Pass) -> list[Manifest]:
        """The normalised objects `p` should deploy; sets `p.target` and `p.revision`."""
        bounds = self._project_bounds(p)
        p.target = await self.clusters.get(p.spec.destination.cluster)
        creds = await self._credentials(p) if p.full or p.memory.revision is None else None
        if p.full or p.memory.revision is None:
            p.revision = await self._revision(p, creds)
        else:
            p.revision = p.memory.revision
        if p.full or p.memory.inputs is None:
            p.memory.inputs = await self.inputs.read(p.spec, p.namespace)
        key = _render_key(p, p.revision, p.target)
        p.desired, complete = await self._render(p, p.revision, creds, p.target, key)
        _check_objects(bounds, p.spec, p.desired)
        if self.policies is not None:
            await self.policies.check(p.app, p.spec.project, p.revision.sha, key, p.desired, p.target.informers.get)
        p.memory.desired_key = key if complete else ()  # only a render that passed every check
        return p.desired

    def sync_windows(self, p: Pass, now: dt.datetime) -> windows.State:
        """Whether the Project's sync windows let `p` sync now (SPEC §13); a window that does not
        parse blocks nothing and is named in the message."""
        project = self._project(p.spec.project)
        found, problems = windows.parse((project or {}).get("spec"))
        state = windows.state(found, p.name, now)
        if problems:
            note = f"Project {p.spec.project}: " + "; ".join(problems[:3])
            return dataclasses.replace(state, message=f"{state.message}; {note}" if state.message else note)
        return state

    def _project(self, name: str) -> Manifest | None:
        if self.projects is None:
            return None
        return self.projects.get(ObjectRef(apps.API_GROUP, "Project", self.projects.namespace or "", name))

    def _project_bounds(self, p: Pass) -> projects.Bounds:
        """The Application's Project bounds; source and destination are checked here, before any fetch."""
        name = p.spec.project
        project = self._project(name)
        if project is None and name != projects.DEFAULT:
            raise ValidationError(f"Project {name} not found", reason="ProjectNotFound")
        bounds = projects.ALLOW_ALL if project is None else projects.Bounds.from_spec(project.get("spec"))
        url = p.spec.source.repo_url
        problem = projects.application_violation(bounds, p.namespace)
        problem = problem or projects.source_violation(bounds, url, sourcing.normalize(url))
        problem = problem or projects.destination_violation(bounds, p.spec.destination.cluster, p.destination_namespace)
        if problem is not None:
            raise ValidationError(f"Project {name}: {problem}", reason="ProjectViolation")
        return bounds

    async def _credentials(self, p: Pass) -> Credentials | None:
        ref = p.spec.source.secret_ref
        if ref is None:
            return None
        secret = await self._secret(p, ref.name, SourceError, "source.secretRef")
        try:
            return Credentials.from_secret_data(secret.get("data") or {}, secret_name=ref.name)
        except ValueError as exc:
            raise SourceError(str(exc), reason="InvalidCredentials") from exc

    async def _secret(self, p: Pass, name: str, error: type[ReconcileError], why: str) -> Manifest:
        """A Secret of the Application's namespace (repository credentials, trusted keys), read with the
        Application's identity: in tenant mode as its ServiceAccount, so a tenant can never hand the
        controller a Secret it could not `get` itself (SPEC §6: every read goes through impersonation)."""
        namespace = p.namespace
        try:
            return await self.inputs.client_for(p.spec, namespace).get("v1", "Secret", name, namespace)
        except kube_errors.APINotFoundError as exc:
            raise error(f"Secret/{namespace}/{name}: not found ({why})", reason="SecretNotFound") from exc
        except kube_errors.KubeError as exc:
            raise error(
                f"Secret/{namespace}/{name}: cannot be read ({why}): {exc.message}", reason="SecretUnavailable"
            ) from exc

    async def _revision(self, p: Pass, creds: Credentials | None) -> Revision:
        """Resolve and fetch the revision to deploy (verified when the source asks for it)."""
        memory, why = p.memory, p.why
        source = p.spec.source
        if why.sync is not None and why.sync.revision:
            source = source.model_copy(update={"target_revision": why.sync.revision})
        started = time.monotonic()
        not_before = memory.refresh_requested
        if why.refresh or why.sync:
            not_before = time.monotonic()
        elif memory.revision is None:  # first sight: Git as it was when the Application was created, or later
            fresh_enough = time.monotonic() - self.sources.fetcher.ls_remote_ttl
            created = str(p.app["metadata"].get("creationTimestamp") or "")
            not_before = max(not_before or 0.0, _monotonic_of(created), fresh_enough)
        revision = await self.sources.revision(source, creds, not_before)
        memory.refresh_requested = None
        memory.refresh_reason = ""
        metrics.GIT_FETCH_DURATION.observe(time.monotonic() - started)
        memory.attempted = revision  # seen, whatever the checks below say of it
        await self._verify(p, revision, creds)
        memory.revision = revision
        return revision

    async def _verify(self, p: Pass, revision: Revision, creds: Credentials | None) -> None:
        """With verify.mode head, refuse a head commit without a trusted signature (before rendering)."""
        source = p.spec.source
        verify = source.verify
        if verify is None or verify.mode != "head":
            return
        if source.chart or source.is_oci:
            raise verification.VerificationError(
                "verify.mode head checks Git commit signatures; a chart from a Helm repository has none "
                "(its archive is checked against the index digest) — remove verify or use a Git source"
            )
        if verify.secret_ref is None:
            raise verification.VerificationError("verify.mode head needs verify.secretRef (the trusted keys)")
        secret = await self._secret(p, verify.secret_ref.name, verification.VerificationError, "verify.secretRef")
        keys = verification.TrustedKeys.from_secret_data(secret.get("data") or {}, verify.secret_ref.name)
        signer = await verification.verify_head(self.sources.fetcher, source.repo_url, revision.sha, keys, creds)
        log.info("commit signature verified", repo=source.repo_url, sha=revision.sha, signer=signer)

    async def _render(
        self, p: Pass, revision: Revision, creds: Credentials | None, target: Target, key: tuple[str, ...]
    ) -> tuple[list[Manifest], bool]:
        """The normalised objects, and whether every kind's scope was known (else render again next time)."""
        memory, spec = p.memory, p.spec
        if memory.desired_key == key and memory.desired:
            return memory.desired, True  # same commit, source and destination: the same objects (no re-parse)
        memory.desired_key = ()  # set again by `of` once the new objects passed every check
        given = memory.inputs or rendering.Inputs()
        decrypted: list[str] = []
        objs = await self.sources.render(
            spec.source,
            revision.sha,
            creds,
            app_name=p.name,
            namespace=p.destination_namespace,
            capabilities=target.discovery.get,
            inputs=given,
            secrets_out=decrypted,
        )
        memory.secret_values = (*given.secret_values(), *decrypted)
        if spec.source.substitute is not None:
            done = substitution.substitute(
                objs,
                given.variables,
                strict=spec.source.substitute.strict,
                max_bytes=self.sources.limits.max_total_bytes,
            )
            objs, memory.secret_values = done.objects, (*memory.secret_values, *done.secret_values)
        scopes = await _scopes(objs, target)
        desired = normalizing.normalize(
            objs,
            app_namespace=p.namespace,
            app_name=p.name,
            default_namespace=p.destination_namespace,
            is_namespaced=lambda group, kind: scopes.get((group, kind)),
        )
        return desired, all(scope is not None for scope in scopes.values())


def _render_key(p: Pass, revision: Revision, target: Target) -> tuple[str, ...]:
    """What a render depends on: the same key, the same objects."""
    spec = p.spec
    inputs = p.memory.inputs.fingerprint() if p.memory.inputs is not None else ""
    decryption = spec.decryption.model_dump_json() if spec.decryption is not None else ""
    return (
        revision.sha,
        spec.source.model_dump_json(),
        spec.destination.model_dump_json(),
        target.name,
        inputs,
        decryption,
    )


def needs_source_check(p: Pass, now: float) -> tuple[bool, str]:
    """Whether this reconcile resolves the source again, and the source key to remember (pure)."""
    why, memory = p.why, p.memory
    source_key = p.spec.source.model_dump_json() + (why.sync.revision if why.sync else "")
    due = now - memory.checked_at >= p.interval * 0.9
    needed = bool(
        memory.revision is None
        or source_key != memory.source_key
        or due
        or memory.refresh_requested is not None
        or why.refresh
        or why.sync
        or why.spec_changed
    )
    return needed, source_key


async def _scopes(objs: list[Manifest], target: Target) -> dict[tuple[str, str], bool | None]:
    """Kind scopes from the destination cluster's discovery."""
    try:
        return await target.client.scopes(objs)
    except kube_errors.KubeError as exc:
        raise RenderError(f"discovery on cluster {target.name} failed: {exc.message}") from exc


def _check_objects(bounds: projects.Bounds, spec: apps.ApplicationSpec, desired: list[Manifest]) -> None:
    problems = projects.object_violations(bounds, spec.destination.cluster, desired, lambda ref: not ref.namespace)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        message = f"Project {spec.project}: " + "; ".join(problems[:3]) + more
        raise ValidationError(message, reason="ProjectViolation")


def _monotonic_of(timestamp: str) -> float:
    """The monotonic clock's reading at wall-clock `timestamp` (RFC 3339); 0 when unknown."""
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    age = (dt.datetime.now(dt.UTC) - then).total_seconds()
    return time.monotonic() - max(age, 0.0) - 1.0  # one second of slack: timestamps have second precision
