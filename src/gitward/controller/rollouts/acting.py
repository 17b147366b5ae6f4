"""Whose identity the writes for a Rollout carry (SPEC §6, §10): the identity of the Application that
deployed it, the controller's own, or none at all (refused).

Called by `controller.rollouts.reconciling` at the start of every reconcile; the client it returns
makes every write for that Rollout (the primary, the target's replicas, the Services, the HTTPRoute,
analysis Jobs, the clean-up on deletion). The rule:

- A Rollout without a `gitward.dev/tracking-id` annotation was not deployed by an Application:
  the controller's identity, as before (and as Flagger does) — except in tenant mode
  (`--default-service-account`), where it is the default ServiceAccount of the Rollout's namespace,
  the identity an Application without `serviceAccountName` gets there: otherwise removing the
  annotation (or creating a Rollout directly, e.g. from a pod the tenant deployed) would reach the
  controller's rights, which tenant mode promises nobody gets.
- A tracking id is a claim that an Application deployed the Rollout, and the claim is checked,
  because anyone who can create a Rollout can write any annotation on it. It must name this very
  Rollout (`<app-ns>/<app>:gitward.dev/Rollout:<ns>/<name>`), the Application must exist, be valid
  and deploy to this cluster. A verified claim gives the Application's identity: its
  ServiceAccount, or the controller's `--default-service-account`, impersonated by
  `controller.impersonation.Impersonation` exactly as the Application's own writes are (so RBAC
  judges the Rollout's namespace as it judged the Rollout's own apply); the controller's identity
  only when the Application has neither — then nothing more is checked, since an untracked Rollout
  gets the controller's identity too in that mode.
- An impersonated identity is given only when the Application also lists the Rollout in its
  `status.inventory` (unless the Rollout is being deleted): otherwise anyone who may write a
  Rollout could borrow another Application's ServiceAccount by naming it. The inventory is written
  when the Application's sync ends, a moment after the Rollout was applied, so a Rollout younger than
  CLAIM_GRACE_SECONDS whose claim is not listed yet waits quietly (`Actor.pending`) instead of
  being refused.
- A claim that fails any check is refused: nothing is written for the Rollout except its status,
  which says why. Acting as the controller instead would let a tenant whose Application is
  impersonated reach the controller's rights by breaking its own tracking id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import ValidationError

from gitward.controller.clusters import IN_CLUSTER
from gitward.controller.impersonation import Impersonation
from gitward.core import applications as apps
from gitward.core import errors as core_errors
from gitward.core import rollouts as ro
from gitward.core.identifiers import GRAMMARS
from gitward.core.manifests import Manifest, ObjectRef, split_api_version
from gitward.kube import errors
from gitward.kube.client import Identity, KubeClient
from gitward.planning import inventory, normalizing

__all__ = ["Actor", "resolve"]

MAX_SHOWN = 200
"""Characters of a hostile tracking id quoted in a message."""
CLAIM_GRACE_SECONDS = 60.0
"""How long a new Rollout waits, quietly, for its Application's inventory to list it."""


@dataclass(frozen=True)
class Actor:
    """`client` makes the Rollout's writes (it carries the identity); None: refused, for `problem`."""

    client: KubeClient | None
    problem: str = ""
    pending: bool = False  # not refused yet: the claim may still be confirmed (see CLAIM_GRACE_SECONDS)


def _refused(problem: str) -> Actor:
    return Actor(None, problem)


def _untracked(client: KubeClient, impersonation: Impersonation, namespace: str) -> Actor:
    account = impersonation.default_service_account
    if not account:
        return Actor(client)
    try:
        identity = Identity.service_account(namespace, account)
    except ValueError as exc:  # the controller checked its flag at start; the namespace is the API server's
        return _refused(str(exc))
    return Actor(client.impersonating(identity))


def rollout_ref(rollout: Manifest) -> ObjectRef:
    meta = rollout.get("metadata") or {}
    group, _ = split_api_version(ro.API_VERSION)
    return ObjectRef(group, "Rollout", str(meta.get("namespace")), str(meta.get("name")))


def _young(rollout: Manifest, now: dt.datetime) -> bool:
    created = str((rollout.get("metadata") or {}).get("creationTimestamp") or "")
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (now - when).total_seconds() < CLAIM_GRACE_SECONDS


async def resolve(client: KubeClient, impersonation: Impersonation, rollout: Manifest, *, deleting: bool) -> Actor:
    """Who acts for `rollout` (see the module's rule). `client` is the controller's own; reading the
    Application goes through it, and API errors other than not-found propagate (retried later)."""
    claim = ((rollout.get("metadata") or {}).get("annotations") or {}).get(apps.TRACKING_ID)
    if claim is None:
        return _untracked(client, impersonation, rollout_ref(rollout).namespace)
    shown = repr(str(claim)[:MAX_SHOWN])
    owner = normalizing.parse_tracking_id(claim)
    if owner is None:
        return _refused(f"tracking-id {shown} is not <app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>")
    app_namespace, app_name = owner
    ref = rollout_ref(rollout)
    if claim != normalizing.tracking_id(app_namespace, app_name, ref):
        return _refused(f"tracking-id {shown} does not name this Rollout ({ref.namespace}/{ref.name})")
    if GRAMMARS["label"].problem(app_namespace) or GRAMMARS["subdomain"].problem(app_name):
        return _refused(f"tracking-id {shown} does not name an Application")
    application = f"Application {app_namespace}/{app_name}"
    try:
        app = await client.get_or_none(apps.API_VERSION, "Application", app_name, app_namespace)
    except errors.APIForbiddenError:  # a claim the controller cannot check is not believed
        return _refused(f"tracking-id names {application}, which the controller may not read")
    if app is None:
        return _refused(f"tracking-id names {application}, which does not exist")
    try:
        spec = apps.ApplicationSpec.model_validate(app.get("spec") or {})
    except ValidationError:
        return _refused(f"tracking-id names {application}, whose spec is invalid")
    if spec.destination.cluster not in IN_CLUSTER:
        return _refused(f"{application} deploys to cluster {spec.destination.cluster}, not this one")
    try:
        acting = impersonation.client(spec, app_namespace, client)
    except core_errors.ValidationError as exc:
        return _refused(f"{application}: {exc.message}")
    if acting is client or deleting:  # the controller's own identity: what an untracked Rollout gets
        return Actor(acting)
    listed = {entry.id for entry in inventory.from_status((app.get("status") or {}).get("inventory"))}
    if ref.inventory_id not in listed:
        problem = f"{application} does not list this Rollout in its status.inventory"
        return Actor(None, problem, pending=_young(rollout, dt.datetime.now(dt.UTC)))
    return Actor(acting)
