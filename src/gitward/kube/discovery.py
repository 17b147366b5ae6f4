"""API discovery: which resource (plural, scope) serves a group/version/kind.

Used by `gitward.kube.client` to build URLs and by planning (through the client) to know whether a
kind is namespaced. Group versions are fetched lazily, once, and re-fetched when a kind is unknown
(a CRD may have been created since).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


def parse_resource_list(group: str, version: str, body: dict[str, Any]) -> dict[str, ResourceInfo]:
    """Map kind → ResourceInfo from an APIResourceList, skipping subresources."""
    found: dict[str, ResourceInfo] = {}
    for res in body.get("resources") or []:
        name = str(res.get("name", ""))
        if not name or "/" in name:
            continue
        kind = str(res.get("kind", ""))
        found.setdefault(
            kind,
            ResourceInfo(group, version, kind, name, bool(res.get("namespaced")), frozenset(res.get("verbs") or ())),
        )
    return found


def gv_path(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"
