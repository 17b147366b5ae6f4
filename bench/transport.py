"""`python -m bench.transport [--cluster STATE_DIR] [-n 2000] [--rounds 5] [--connections 16]`:
is gitward's hand-written HTTP/1.1 transport (`gitward.kube.transport`) worth its risk?

Standalone (not a scenario of `python -m bench`, and not a test). It starts its own control plane
(or reuses the one of `--cluster`, left running), then sends the same N server-side-apply PATCHes
(each one a real change) and N GETs of those ConfigMaps through `KubeClient`, `--connections`
requests in flight at a time, over:

- `direct`: gitward's transport on the direct path (`Http11Transport.exchange`, no httpx2 request
  and response objects), what the controller uses with a static token or client certificate;
- `gitward-httpx2`: gitward's transport under an httpx2 client (token files, exec plugins);
- `stock`: httpx2's own `AsyncHTTPTransport`, the same client settings and connection limit.

The client's CPU time (`time.process_time`: the API server runs in other processes) and wall time
are taken per phase, the variants interleaved in a rotating order for `--rounds` rounds; the median
per request and the ratios against `direct` are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
from lightkube.config import client_adapter

from bench import apiserver, report, workloads
from bench.apiserver import ApiServer
from gitward.devcluster import cluster
from gitward.kube import config as kubeconfig
from gitward.kube.client import KubeClient

VARIANTS = ("direct", "gitward-httpx2", "stock")
NAMESPACE = "bench-transport"


def client(variant: str, kubeconfig_path: str, connections: int) -> KubeClient:
    single = kubeconfig.load(kubeconfig_path)
    namespace = kubeconfig.default_namespace(single)
    if variant == "stock":  # what `kubeconfig.connection` builds, with httpx2's own transport
        params = client_adapter.ConnectionParams(timeout=httpx2.Timeout(30.0), trust_env=False)
        kwargs = params.httpx_params(single)
        kwargs["limits"] = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        return KubeClient(httpx2.AsyncClient(**kwargs), default_namespace=namespace)
    http, direct = kubeconfig.connection(single, max_connections=connections)
    if variant == "gitward-httpx2":
        direct = None
    return KubeClient(http, default_namespace=namespace, direct=direct)


async def timed(count: int, connections: int, one: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    """Run `one(0..count-1)`, `connections` at a time: CPU and wall seconds."""
    slots = asyncio.Semaphore(connections)

    async def bounded(index: int) -> None:
        async with slots:
            await one(index)

    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(count)))
    return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def measure(variant: str, kubeconfig_path: str, count: int, connections: int, mark: str) -> dict[str, Any]:
    """One round of one variant: warm up (connections, discovery), then N PATCHes and N GETs."""
    kube = client(variant, kubeconfig_path, connections)
    try:

        def configmap(index: int) -> dict[str, Any]:
            obj = workloads.configmap(f"cm-{index:05d}", mark)  # a new value every round: a real write
            obj["metadata"]["namespace"] = NAMESPACE
            return obj

        async def apply(index: int) -> None:
            await kube.apply(configmap(index))

        async def get(index: int) -> None:
            await kube.get("v1", "ConfigMap", f"cm-{index:05d}", NAMESPACE)

        await asyncio.gather(*(kube.get_or_none("v1", "ConfigMap", f"cm-{i:05d}", NAMESPACE) for i in range(64)))
        return {
            "variant": variant,
            "patch": await timed(count, connections, apply),
            "get": await timed(count, connections, get),
        }
    finally:
        await kube.close()


async def rounds(kubeconfig_path: str, count: int, connections: int, number: int) -> list[dict[str, Any]]:
    await measure("direct", kubeconfig_path, count, connections, "setup")  # every round updates, none creates
    results: list[dict[str, Any]] = []
    for round_index in range(number):
        order = VARIANTS[round_index % 3 :] + VARIANTS[: round_index % 3]
        for variant in order:
            mark = f"{round_index}-{variant}"
            result = await measure(variant, kubeconfig_path, count, connections, mark)
            result["round"] = round_index
            results.append(result)
            print(
                f"round {round_index} {variant:15} "
                f"PATCH cpu {result['patch']['cpu']:.2f}s wall {result['patch']['wall']:.2f}s  "
                f"GET cpu {result['get']['cpu']:.2f}s wall {result['get']['wall']:.2f}s",
                flush=True,
            )
    return results


def summary(results: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """Median per request (µs) of each variant and phase, and its ratio to `direct`."""
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for variant in VARIANTS:
        mine = [r for r in results if r["variant"] == variant]
        medians[variant] = {
            phase: {
                measure: statistics.median(r[phase][measure] for r in mine) / count * 1e6 for measure in ("cpu", "wall")
            }
            for phase in ("patch", "get")
        }
    ratios = {
        variant: {
            phase: {m: medians[variant][phase][m] / medians["direct"][phase][m] for m in ("cpu", "wall")}
            for phase in ("patch", "get")
        }
        for variant in VARIANTS
    }
    return {"us_per_request": medians, "ratio_to_direct": ratios}


def table(result: dict[str, Any]) -> str:
    lines = [
        "variant          | PATCH cpu µs/req | PATCH wall µs/req | GET cpu µs/req | GET wall µs/req",
        "-----------------|------------------|-------------------|----------------|----------------",
    ]
    for variant in VARIANTS:
        med, ratio = result["us_per_request"][variant], result["ratio_to_direct"][variant]
        cells = [
            f"{med[phase][m]:7.0f} ({ratio[phase][m]:.2f}×)" for phase in ("patch", "get") for m in ("cpu", "wall")
        ]
        lines.append(f"{variant:16} | " + " | ".join(f"{cell:>16}" for cell in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__)
    parser.add_argument("--cluster", type=Path, default=None, metavar="STATE_DIR",
                        help="reuse (or start and leave running) the control plane of this state dir")  # fmt: skip
    parser.add_argument("-n", "--requests", type=int, default=2000, help="PATCHes and GETs per phase")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16, help="connection limit = requests in flight")
    today = datetime.date.today().isoformat()
    parser.add_argument("--output", type=Path, default=report.RESULTS_DIR / f"transport-{today}.json")
    args = parser.parse_args(argv)
    state = args.cluster or Path(tempfile.mkdtemp(prefix="gitward-bench-transport-"))
    print(f"control plane in {state}", flush=True)
    info = cluster.up(state)
    api = ApiServer(info)
    try:
        api.create_namespace(NAMESPACE)
        apiserver.floor(api, [workloads.configmap(f"warm-{i:04d}") for i in range(300)], NAMESPACE)  # warm-up
        started = time.time()
        results = asyncio.run(rounds(info.kubeconfig, args.requests, args.connections, args.rounds))
        result = {
            "benchmark": "bench.transport",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 1),
            "requests_per_phase": args.requests,
            "connections": args.connections,
            "rounds": args.rounds,
            "python": sys.version.split()[0],
            **summary(results, args.requests),
            "runs": results,
        }
    finally:
        api.close()
        if args.cluster is None:
            cluster.down(state)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
