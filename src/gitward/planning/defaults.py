"""Defaults the API server applies that server-side apply needs spelled out.

Called by `normalizing.normalize`. Kubernetes before 1.21 rejects a server-side apply of a Service or
a pod template whose port omits `protocol` ("associative list with keys has an element that omits key
field protocol"): the list's merge key is (port, protocol). Like Flux's ssa package, gitward fills in
`protocol: TCP` where it is missing, which is what the server would default anyway.
"""

from __future__ import annotations

from typing import Any

from gitward.core.manifests import Manifest

_POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def set_protocol_defaults(obj: Manifest) -> None:
    """Fill in `protocol: TCP` on Service ports and container ports that have none (in place)."""
    kind = obj.get("kind")
    if kind == "Service" and obj.get("apiVersion") == "v1":
        _default_ports(_dig(obj, ("spec",)), "ports")
        return
    path = _POD_TEMPLATE_PATHS.get(str(kind))
    if path is None:
        return
    pod_spec = _dig(obj, path)
    for key in ("containers", "initContainers"):
        containers = pod_spec.get(key)
        if isinstance(containers, list):
            for container in containers:
                if isinstance(container, dict):
                    _default_ports(container, "ports")


def _dig(obj: Any, path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if isinstance(obj, dict) else {}


def _default_ports(holder: dict[str, Any], key: str) -> None:
    ports = holder.get(key)
    if not isinstance(ports, list):
        return
    for port in ports:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
