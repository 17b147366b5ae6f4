"""The node simulator: a stand-in for kubelets, for the embedded control plane only.

There is no kubelet (no container runtime) on a development machine, so this process plays the part
the kwok project plays: it registers a few Node objects (Ready, with capacity), keeps their Leases and
Ready conditions fresh, marks pods that the real scheduler bound to its nodes Running and Ready (pod
IP, container statuses), runs pods owned by Jobs to completion (Succeeded), and completes graceful
deletion the way a kubelet would, so ReplicaSets scale down and namespaces finish deleting. It binds
nothing itself. Started by `gitward.devcluster.cluster.up` as `python -m gitward.devcluster.nodesim`.

Pods annotated `nodesim.gitward.dev/phase: Failed` (or `CrashLoopBackOff`) are given that outcome, so
tests can exercise degraded health. Jobs complete or fail on demand the same way: a Job whose pod
template carries `nodesim.gitward.dev/phase: Failed` fails (its pods end Failed, so the job controller
marks it Failed once `backoffLimit` is spent); any other Job completes (the rollout analysis tests use
this for the `job` provider, SPEC §10). A pod that belongs to no Job but is annotated `Succeeded`
runs, then completes (a run-to-completion Pod, e.g. a sync hook).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import signal
from typing import Any

from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import MERGE_PATCH, KubeClient

NODE_PREFIX = "gitward-sim-node-"
PHASE_ANNOTATION = "nodesim.gitward.dev/phase"
HEARTBEAT_SECONDS = 10.0
NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_micro() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_manifest(name: str, index: int) -> Manifest:
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "gitward-node-simulator",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24"},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def node_status(index: int, version: str = "v1.20.2") -> Manifest:
    now = _now()
    cond = [
        ("Ready", "True", "KubeletReady", "node simulator is ready"),
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
        ("PIDPressure", "False", "KubeletHasSufficientPID", ""),
    ]
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"}
    return {
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": now, "lastTransitionTime": now}
                for t, s, r, m in cond
            ],
            "addresses": [{"type": "InternalIP", "address": f"127.0.1.{index + 1}"}],
            "nodeInfo": {
                "kubeletVersion": f"{version}-gitward-nodesim",
                "kubeProxyVersion": f"{version}-gitward-nodesim",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "nodesim://0",
                "osImage": "gitward node simulator",
                "kernelVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
    }


class NodeSimulator:
    def __init__(self, client: KubeClient, nodes: int, version: str = "v1.20.2") -> None:
        self.client = client
        self.version = version  # the kubelet version the nodes report: the control plane's
        self.names = [f"{NODE_PREFIX}{i}" for i in range(nodes)]
        self._ips: dict[str, str] = {}
        self._next_ip = int(ipaddress.IPv4Address("10.244.0.10"))

    async def register(self) -> None:
        for index, name in enumerate(self.names):
            with contextlib.suppress(errors.APIConflictError):
                await self.client.create(node_manifest(name, index))
            await self.heartbeat_node(index, name)

    async def heartbeat_node(self, index: int, name: str) -> None:
        await self.client.patch("v1", "Node", name, None, node_status(index, self.version), subresource="status")
        await self._untaint(name)
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _now_micro()},
        }
        with contextlib.suppress(errors.APINotFoundError):  # the namespace appears shortly after start
            await self.client.apply(lease, field_manager="gitward-nodesim")

    async def _untaint(self, name: str) -> None:
        """Drop the not-ready taint admission put on the new node (the node lifecycle controller's job)."""
        node = await self.client.get("v1", "Node", name)
        taints = (node.get("spec") or {}).get("taints") or []
        kept = [t for t in taints if t.get("key") not in NOT_READY_TAINTS]
        if len(kept) != len(taints):
            await self.client.patch("v1", "Node", name, None, {"spec": {"taints": kept or None}})

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for index, name in enumerate(self.names):
                with contextlib.suppress(errors.KubeError):
                    await self.heartbeat_node(index, name)

    async def run_pods(self) -> None:
        """List, then watch all pods; act on those bound to our nodes. Re-list on any watch failure."""
        while True:
            try:
                items, version = await self.client.list("v1", "Pod")
                for pod in items:
                    await self.handle(pod)
                async for event in self.client.watch("v1", "Pod", resource_version=version):
                    if event.type in ("ADDED", "MODIFIED"):
                        await self.handle(event.object)
            except errors.KubeError:
                await asyncio.sleep(0.5)

    async def handle(self, pod: Manifest) -> None:
        spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
        if spec.get("nodeName") not in self.names:
            return
        try:
            if meta.get("deletionTimestamp"):
                await self.client.delete("v1", "Pod", meta["name"], meta["namespace"], grace_period=0,
                                         preconditions_uid=meta.get("uid"))  # fmt: skip
                return
            patch = self.status_patch(pod)
            if patch is not None:
                await self.client.patch("v1", "Pod", meta["name"], meta["namespace"], patch,
                                        content_type=MERGE_PATCH, subresource="status")  # fmt: skip
        except (errors.APINotFoundError, errors.APIConflictError):
            return

    def _ip_for(self, uid: str) -> str:
        if uid not in self._ips:
            self._ips[uid] = str(ipaddress.IPv4Address(self._next_ip))
            self._next_ip += 1
        return self._ips[uid]

    def status_patch(self, pod: Manifest) -> Manifest | None:
        """The status a kubelet would report next, or None when there is nothing to change."""
        status, meta, spec = pod.get("status") or {}, pod.get("metadata") or {}, pod.get("spec") or {}
        phase = status.get("phase")
        wanted = (meta.get("annotations") or {}).get(PHASE_ANNOTATION, "")
        owned_by_job = any(ref.get("kind") == "Job" for ref in meta.get("ownerReferences") or [])
        completes = owned_by_job or wanted == "Succeeded"
        if phase in ("Succeeded", "Failed"):
            return None
        if phase == "Running" and not completes:
            return None
        if wanted == "CrashLoopBackOff":
            return _crashloop(pod, self._ip_for(str(meta.get("uid"))))
        if phase == "Running" and completes:
            return _terminated(pod, "Failed" if wanted == "Failed" else "Succeeded")
        if wanted == "Failed":
            return _terminated(pod, "Failed")
        return _running(pod, self._ip_for(str(meta.get("uid"))), str(spec.get("nodeName")))


def _containers(pod: Manifest) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def _conditions(ready: bool) -> list[dict[str, Any]]:
    now, flag = _now(), "True" if ready else "False"
    return [
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": flag, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
    ]


def _running(pod: Manifest, ip: str, node: str) -> Manifest:
    now = _now()
    statuses = [
        {
            "name": c.get("name"),
            "image": c.get("image", ""),
            "imageID": f"nodesim://{c.get('image', '')}",
            "containerID": f"nodesim://{pod['metadata'].get('uid')}/{c.get('name')}",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": now}},
        }
        for c in _containers(pod)
    ]
    return {
        "status": {
            "phase": "Running",
            "conditions": _conditions(True),
            "hostIP": "127.0.1.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
    }


def _terminated(pod: Manifest, phase: str) -> Manifest:
    now, code = _now(), 0 if phase == "Succeeded" else 1
    statuses = [
        {
            "name": c.get("name"),
            "image": c.get("image", ""),
            "imageID": f"nodesim://{c.get('image', '')}",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": code,
                    "reason": "Completed" if code == 0 else "Error",
                    "startedAt": now,
                    "finishedAt": now,
                }
            },
        }
        for c in _containers(pod)
    ]
    return {"status": {"phase": phase, "conditions": _conditions(False), "containerStatuses": statuses}}


def _crashloop(pod: Manifest, ip: str) -> Manifest:
    statuses = [
        {
            "name": c.get("name"),
            "image": c.get("image", ""),
            "ready": False,
            "started": False,
            "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}},
        }
        for c in _containers(pod)
    ]
    return {
        "status": {"phase": "Running", "conditions": _conditions(False), "podIP": ip, "containerStatuses": statuses}
    }


async def main_async(kubeconfig: str, nodes: int, version: str = "v1.20.2") -> None:
    client = KubeClient.connect(kubeconfig)
    sim = NodeSimulator(client, nodes, version)
    while True:
        try:
            await sim.register()
            break
        except errors.KubeError:
            await asyncio.sleep(0.2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(sim.heartbeats()), asyncio.create_task(sim.run_pods())]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="gitward node simulator (a kubelet stand-in for dev clusters)")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--kubelet-version", default="v1.20.2", help="the version the simulated nodes report")
    args = parser.parse_args()
    asyncio.run(main_async(args.kubeconfig, args.nodes, args.kubelet_version))


if __name__ == "__main__":
    main()
