"""Analysis providers (I/O): one measurement of a metric from Prometheus, a web endpoint or a Job.

Called by `controller.rollouts.reconciling` when a Running analysis entry is due
(`measuring.due`). Every answer is hostile input: responses are read up to `MAX_RESPONSE` bytes,
requests time out, and a provider that cannot answer gives an inconclusive `Outcome` (retried at
the next interval) rather than a failed one. `successCondition` is CEL over `result`, evaluated by
the project's bounded evaluator (`controller.celeval`) off the event loop.

Jobs take longer than one reconcile: the first call creates the Job (named after the Rollout, the
metric, the revision and the measurement number) and returns None while it runs; a later call sees
it Complete (passed) or Failed. Jobs are read and created with the client the reconcile acts with
(`controller.rollouts.acting`: in tenant mode the Application's ServiceAccount); a refusal by RBAC
is not a measurement and is raised (`kube.errors.APIForbiddenError`) for the caller to report.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx2

from gitward.controller import celeval
from gitward.controller.rollouts.measuring import Outcome
from gitward.core import rollouts as ro
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

__all__ = ["MAX_RESPONSE", "Providers"]

MAX_RESPONSE = 1024 * 1024
"""Bytes read from a Prometheus or web response; a longer one is inconclusive."""
PROMETHEUS_TIMEOUT = 10.0
JOB_LABEL = "gitward.dev/rollout"
JOB_DEADLINE = 600
"""`activeDeadlineSeconds` of an analysis Job whose spec sets none."""


class ProviderError(Exception):
    """The provider could not answer (inconclusive)."""


class Providers:
    def __init__(self, client: KubeClient, evaluator: celeval.Evaluator) -> None:
        self.client = client
        self.evaluator = evaluator
        self.http = httpx2.AsyncClient(follow_redirects=False, trust_env=False)

    async def close(self) -> None:
        await self.http.aclose()

    async def measure(
        self, rollout: Manifest, entry: dict[str, Any], metric: ro.Metric, client: KubeClient | None = None
    ) -> Outcome | None:
        """One measurement of `metric` for `entry` (None: a Job still runs); Jobs through `client`
        (default: the controller's)."""
        provider = metric.provider
        try:
            if provider.job is not None:
                return await self._job(client or self.client, rollout, entry, metric, provider.job)
            if provider.prometheus is not None:
                value: Any = await self._prometheus(provider.prometheus)
            else:
                assert provider.web is not None
                value = await self._web(provider.web)
        except ProviderError as exc:
            return Outcome(None, "", str(exc))
        return await self._judge(metric, value)

    async def _judge(self, metric: ro.Metric, value: Any) -> Outcome:
        shown = json.dumps(value)[:256] if not isinstance(value, float) else f"{value:g}"
        if not metric.success_condition:
            return Outcome(True, shown)
        item = celeval.Item({"result": value}, (0,))
        result = (await asyncio.to_thread(self.evaluator.run, [metric.success_condition], [item]))[0][0]
        if result.error:
            return Outcome(None, shown, f"successCondition: {result.error}")
        return Outcome(
            result.value, shown, "" if result.value else f"result {shown} fails {metric.success_condition!r}"
        )

    async def _get_bounded(self, request: httpx2.Request, timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                response = await self.http.send(request, stream=True)
                try:
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_RESPONSE:
                            raise ProviderError(f"response larger than {MAX_RESPONSE} bytes")
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise ProviderError(f"no answer within {timeout:g}s") from exc
        except httpx2.HTTPError as exc:
            raise ProviderError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        if response.status_code >= 400:
            raise ProviderError(f"HTTP {response.status_code}")
        return body

    async def _prometheus(self, spec: ro.Prometheus) -> float:
        url = spec.address.rstrip("/") + "/api/v1/query"
        request = self.http.build_request("GET", url, params={"query": spec.query}, timeout=PROMETHEUS_TIMEOUT)
        body = _json(await self._get_bounded(request, PROMETHEUS_TIMEOUT))
        return prometheus_value(body)

    async def _web(self, spec: ro.Web) -> Any:
        headers = {h.name: h.value for h in spec.headers}
        content = spec.body.encode() if spec.method == "POST" else None
        request = self.http.build_request(
            spec.method, spec.url, headers=headers, content=content, timeout=spec.timeout_seconds
        )
        return json_path(_json(await self._get_bounded(request, float(spec.timeout_seconds))), spec.json_path)

    async def _job(
        self, client: KubeClient, rollout: Manifest, entry: dict[str, Any], metric: ro.Metric, spec: ro.JobProvider
    ) -> Outcome | None:
        meta = rollout.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        name = job_name(
            str(meta.get("name")),
            metric.name,
            str(entry.get("revision")),
            int(entry.get("measurements") or 0) + int(entry.get("inconclusive") or 0),
        )
        live = await client.get_or_none("batch/v1", "Job", name, namespace)
        if live is None:
            job_spec = dict(spec.spec)
            job_spec.setdefault("backoffLimit", 0)
            job_spec.setdefault("activeDeadlineSeconds", JOB_DEADLINE)  # a Job that never ends fails
            job = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {JOB_LABEL: str(meta.get("name"))},
                    "ownerReferences": [_owner(rollout)],
                },
                "spec": job_spec,
            }
            try:
                await client.create(job)
            except errors.APIConflictError:
                return None
            except errors.APIForbiddenError:
                raise
            except errors.KubeError as exc:
                return Outcome(None, "", f"Job/{name}: {exc.message}"[:256])
            return None
        for condition in (live.get("status") or {}).get("conditions") or []:
            if condition.get("status") != "True":
                continue
            if condition.get("type") == "Complete":
                return Outcome(True, "Complete", f"Job/{name} completed")
            if condition.get("type") == "Failed":
                return Outcome(False, "Failed", f"Job/{name} failed: {condition.get('reason', '')}")
        return None


def job_name(rollout: str, metric: str, revision: str, attempt: int) -> str:
    prefix = f"{rollout}-{metric}"[:40].rstrip("-")
    return f"{prefix}-{revision[:10]}-{attempt}"


def _owner(rollout: Manifest) -> dict[str, Any]:
    meta = rollout.get("metadata") or {}
    return {"apiVersion": ro.API_VERSION, "kind": "Rollout", "name": meta.get("name"), "uid": meta.get("uid")}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProviderError("response is not JSON") from exc


def prometheus_value(body: Any) -> float:
    """The value of an instant query's answer: a scalar, or a vector of exactly one sample."""
    if not isinstance(body, dict) or body.get("status") != "success":
        raise ProviderError(f"query failed: {str(body.get('error') if isinstance(body, dict) else body)[:200]}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        raw = result[1]
    elif kind == "vector" and isinstance(result, list):
        if len(result) != 1:
            raise ProviderError(f"query returned {len(result)} samples, expected 1")
        sample = result[0].get("value") if isinstance(result[0], dict) else None
        if not isinstance(sample, list) or len(sample) != 2:
            raise ProviderError("malformed sample")
        raw = sample[1]
    else:
        raise ProviderError(f"unsupported result type {str(kind)[:40]}")
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ProviderError("sample value is not a number") from exc
    if math.isnan(value):
        raise ProviderError("sample value is NaN")
    return value


def json_path(body: Any, path: str) -> Any:
    """`$.a.b[0]` (the grammar the model allows) applied to a JSON document."""
    node = body
    for part in path[1:].replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                raise ProviderError(f"{path}: no element {index}")
            node = node[index]
        else:
            if not isinstance(node, dict) or part not in node:
                raise ProviderError(f"{path}: no field {part!r}")
            node = node[part]
    return node
