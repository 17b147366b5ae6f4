"""`make demo`: bring up the embedded control plane and show what runs, until Ctrl-C.

Run as `python -m gitward.devcluster.demo` by the Makefile. It grows with the product: the Git
server, demo repository, CRDs, Applications and `gitward run` join it as they are built.
"""

from __future__ import annotations

import signal
import threading

from rich.console import Console

from gitward.devcluster import assets, cluster


def main() -> None:
    console = Console()
    assets.ensure(console)
    state = cluster.default_state_dir()
    info = cluster.up(state)
    console.print("[bold green]gitward demo[/] — a real Kubernetes control plane is running on loopback:")
    console.print("  etcd, kube-apiserver, kube-controller-manager, kube-scheduler, node simulator (3 nodes)")
    console.print(f"  API server: {info.server}")
    console.print("\nTry, in another terminal:")
    console.print(f"  {info.export_line}")
    console.print("  kubectl get nodes")
    console.print("  kubectl create deployment web --image=nginx --replicas=2 && kubectl get pods -w")
    console.print("\n[dim]Ctrl-C stops everything.[/]")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    stopped = cluster.down(state)
    console.print(f"\nstopped: {', '.join(stopped)}")


if __name__ == "__main__":
    main()
