"""Whose identity an Application's requests carry (SPEC §6): its destination cluster's client,
impersonating `spec.serviceAccountName` — or the controller's `--default-service-account` — in the
destination namespace, when either is set.

Used by the reconciler (dry-run, apply, prune) and the finalizer (cleanup), so both act as the same
ServiceAccount and the API server's RBAC judges both.
"""

from __future__ import annotations

from gitward.core import applications as apps
from gitward.core.errors import ValidationError
from gitward.kube.client import Identity, KubeClient

__all__ = ["Impersonation"]


class Impersonation:
    def __init__(self, default_service_account: str = "") -> None:
        self.default_service_account = default_service_account

    def client(self, spec: apps.ApplicationSpec, app_namespace: str, cluster_client: KubeClient) -> KubeClient:
        """`cluster_client` as the Application's ServiceAccount, or as is when it names none."""
        account = spec.service_account_name or self.default_service_account
        if not account:
            return cluster_client
        namespace = spec.destination.namespace or app_namespace
        try:
            identity = Identity.service_account(namespace, account)
        except ValueError as exc:  # the models check both names first; this is the last wall
            raise ValidationError(str(exc), reason="InvalidSpec") from exc
        return cluster_client.impersonating(identity)
