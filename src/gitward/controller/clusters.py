"""Destination clusters: the controller's own (`in-cluster`) and clusters named by Secrets.

Called by the reconciler for every Application (`destination.cluster`, SPEC §2): a name other than
`in-cluster` is a Secret in the controller namespace whose `kubeconfig` entry (or `config`) holds a
kubeconfig with embedded credentials. Each cluster gets its own API client, watch caches of managed
objects (their events wake the same Applications) and value fingerprints; a changed Secret (new
resourceVersion) replaces the client.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitward.controller.capabilities import Discovery
from gitward.controller.informers import Handler, InformerSet
from gitward.controller.syncing import Fingerprints
from gitward.core.errors import ValidationError
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient, RequestHook

IN_CLUSTER = frozenset({"", "in-cluster", "https://kubernetes.default.svc"})
KUBECONFIG_KEYS = ("kubeconfig", "config", "value")


@dataclass
class Target:
    name: str
    client: KubeClient
    informers: InformerSet
    fingerprints: Fingerprints = field(default_factory=dict)
    version: str = ""
    discovery: Discovery = field(init=False)
    """The cluster's capabilities for Helm charts (version and served APIs), cached."""

    def __post_init__(self) -> None:
        self.discovery = Discovery(self.client)


class Clusters:
    def __init__(
        self, home: KubeClient, namespace: str, handlers: list[Handler], hook: RequestHook | None = None
    ) -> None:
        self.namespace = namespace
        self.handlers = handlers
        self.hook = hook
        self.home = Target("in-cluster", home, self._informers(home))
        self._remote: dict[str, Target] = {}

    def _informers(self, client: KubeClient) -> InformerSet:
        informers = InformerSet(client)
        informers.handlers.extend(self.handlers)
        return informers

    async def get(self, name: str) -> Target:
        """The cluster `name`; raises ValidationError when its Secret is missing or unusable."""
        if name in IN_CLUSTER:
            return self.home
        try:
            secret = await self.home.client.get("v1", "Secret", name, self.namespace)
        except errors.APINotFoundError as exc:
            raise ValidationError(
                f"destination cluster {name}: no Secret {self.namespace}/{name} with a kubeconfig",
                reason="ClusterNotFound",
            ) from exc
        version = str(secret["metadata"].get("resourceVersion", ""))
        known = self._remote.get(name)
        if known is not None and known.version == version:
            return known
        try:
            client = KubeClient.from_kubeconfig_data(_kubeconfig(name, secret), hook=self.hook)
        except errors.KubeError as exc:
            raise ValidationError(f"destination cluster {name}: {exc.message}", reason="InvalidCluster") from exc
        target = Target(name, client, self._informers(client), version=version)
        self._remote[name] = target
        if known is not None:
            await known.informers.stop()
            await known.client.close()
        return target

    async def stop(self) -> None:
        await self.home.informers.stop()
        for target in self._remote.values():
            await target.informers.stop()
            await target.client.close()
        self._remote.clear()


def _kubeconfig(name: str, secret: Manifest) -> dict[str, Any]:
    data = secret.get("data") or {}
    raw = next((data[k] for k in KUBECONFIG_KEYS if data.get(k)), None)
    if raw is None:
        raise ValidationError(f"destination cluster {name}: Secret has no kubeconfig entry", reason="InvalidCluster")
    try:
        conf = yaml.safe_load(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"destination cluster {name}: kubeconfig is not valid", reason="InvalidCluster") from exc
    if not isinstance(conf, dict):
        raise ValidationError(f"destination cluster {name}: kubeconfig is not a mapping", reason="InvalidCluster")
    return conf
