"""Raw Kubernetes manifests as plain data, and the identity of an object.

Every layer passes objects around as `Manifest` dicts (what YAML and the API server give us); this
module gives them a name (`ObjectRef`) and splits their apiVersion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Manifest: TypeAlias = dict[str, Any]
"""A Kubernetes object as a JSON-compatible dict (apiVersion, kind, metadata, ...)."""


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, order=True, slots=True)
class ObjectRef:
    """The identity of an object: group, kind, namespace ("" when cluster-scoped) and name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Manifest) -> ObjectRef:
        group, _ = split_api_version(str(obj.get("apiVersion", "")))
        meta = obj.get("metadata") or {}
        return cls(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))

    @property
    def inventory_id(self) -> str:
        """Flux-style inventory id: `<namespace>_<name>_<group>_<kind>`."""
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    @classmethod
    def from_inventory_id(cls, entry_id: str) -> ObjectRef:
        # names, namespaces and kinds never contain "_"; groups never do either (DNS subdomains)
        namespace, name, group, kind = entry_id.split("_", 3)
        return cls(group, kind, namespace, name)

    def __str__(self) -> str:
        """`Kind/namespace/name` or `Kind/name`: how messages name an object."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"
