"""Analysis (SPEC §10): AnalysisTemplates measured by a real Prometheus, a Kubernetes Job and a web
endpoint on loopback; a passing analysis promotes, a failing one rolls back at once.

Prometheus is the Debian package's binary, started by the test on loopback (tests.support.prometheus)
and scraping counters the test serves. Jobs are run by the node simulator: a pod template annotated
`nodesim.gitward.dev/phase: Failed` fails, any other completes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.support import apps
from tests.support import rollouts as r
from tests.support.prometheus import ERROR_RATIO, Prometheus, running_prometheus

from gitward.controller import metrics
from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient

STEPS = [{"setWeight": 50}, {"analysis": {"templates": [{"name": "check"}]}}]


def _template(namespace: str, *metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": ro.API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {"name": "check", "namespace": namespace},
        "spec": {"metrics": list(metrics)},
    }


def _job_metric(outcome: str) -> dict[str, Any]:
    annotations = {r.SIM_PHASE: "Failed"} if outcome == "fail" else {}
    pod = {
        "metadata": {"annotations": annotations},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "example.invalid/smoke:1"}]},
    }
    return {"name": "smoke", "provider": {"job": {"spec": {"template": pod}}}}


async def _start(
    kube: KubeClient, namespace: str, template: dict[str, Any], steps: list[dict[str, Any]] = STEPS, **spec: Any
) -> dict[str, Any]:
    await kube.create(template)
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, {"canary": {"steps": steps}}, **spec))
    first = await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await r.set_version(kube, namespace, "v2")
    return first


def _promoted(first: dict[str, Any]) -> Any:
    return lambda s: s.get("phase") == "Healthy" and s.get("stableRevision") != first["stableRevision"]


async def test_a_job_that_completes_promotes(kube: KubeClient, namespace: str, controller: Controller) -> None:
    first = await _start(kube, namespace, _template(namespace, _job_metric("succeed")))
    done = await r.wait_rollout(kube, namespace, "web", _promoted(first))
    [entry] = [a for a in done["analysis"] if a["metric"] == "smoke"]
    assert (entry["template"], entry["phase"], entry["value"]) == ("check", "Successful", "Complete")
    jobs, _ = await kube.list("batch/v1", "Job", namespace)
    assert len(jobs) == 1 and jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "Rollout"


async def test_a_job_that_fails_rolls_back(kube: KubeClient, namespace: str, controller: Controller) -> None:
    first = await _start(kube, namespace, _template(namespace, _job_metric("fail")))
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["stableRevision"] == first["stableRevision"]
    assert status["history"][-1]["result"] == "RolledBack" and "check/smoke" in status["history"][-1]["message"]
    [entry] = [a for a in status["analysis"] if a["metric"] == "smoke"]
    assert entry["phase"] == "Failed"
    primary = await kube.get("apps/v1", "Deployment", "web-primary", namespace)
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "example.invalid/web:v1"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    with running_prometheus(tmp_path / "prometheus") as running:
        yield running


def _prometheus_metric(prometheus: Prometheus) -> dict[str, Any]:
    return {
        "name": "error-rate",
        "interval": "1s",
        "count": 2,
        "successCondition": "result < 0.05",
        "provider": {"prometheus": {"address": prometheus.address, "query": ERROR_RATIO}},
    }


async def test_prometheus_analysis_of_a_good_canary_promotes(
    kube: KubeClient, namespace: str, controller: Controller, prometheus: Prometheus
) -> None:
    prometheus.exporter.serve("canary", requests=200, errors=1)
    prometheus.exporter.serve("primary", requests=200, errors=100)  # the primary's errors do not count
    await apps.wait_for(prometheus.scraped, message="first scrape")
    before = metrics.REGISTRY.get_sample_value("gitward_analysis_runs_total", {"result": "successful"}) or 0
    first = await _start(kube, namespace, _template(namespace, _prometheus_metric(prometheus)))
    done = await r.wait_rollout(kube, namespace, "web", _promoted(first))
    after = metrics.REGISTRY.get_sample_value("gitward_analysis_runs_total", {"result": "successful"}) or 0
    assert after - before >= 2  # count: 2 measurements
    [entry] = [a for a in done["analysis"] if a["metric"] == "error-rate"]
    assert entry["phase"] == "Successful" and float(entry["value"]) == pytest.approx(0.005)


async def test_prometheus_analysis_of_a_bad_canary_rolls_back(
    kube: KubeClient, namespace: str, controller: Controller, prometheus: Prometheus
) -> None:
    prometheus.exporter.serve("canary", requests=100, errors=30)
    await apps.wait_for(prometheus.scraped, message="first scrape")
    first = await _start(kube, namespace, _template(namespace, _prometheus_metric(prometheus)))
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["stableRevision"] == first["stableRevision"] and status["canaryWeight"] == 0
    [entry] = [a for a in status["analysis"] if a["metric"] == "error-rate"]
    assert entry["phase"] == "Failed" and float(entry["value"]) == pytest.approx(0.3)
    await apps.wait_for(
        lambda: r.has_event(kube, namespace, "web", "RolledBack", "Warning"), message="RolledBack Event"
    )


async def test_background_analysis_fails_a_canary_during_its_steps(
    kube: KubeClient, namespace: str, controller: Controller, prometheus: Prometheus
) -> None:
    prometheus.exporter.serve("canary", requests=100, errors=50)
    await apps.wait_for(prometheus.scraped, message="first scrape")
    template = _template(namespace, _prometheus_metric(prometheus))
    first = await _start(
        kube, namespace, template, [{"setWeight": 50}, {"pause": {}}], analysis={"templates": [{"name": "check"}]}
    )
    status = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
    assert status["stableRevision"] == first["stableRevision"]
    assert "error-rate" in status["history"][-1]["message"]


class _Json(BaseHTTPRequestHandler):
    body = b'{"checks": {"errorRate": 0.01}}'
    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self) -> None:
        type(self).seen.append((self.command, self.headers.get("X-Check", "")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Json)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/status"
    server.shutdown()
    thread.join(5)


async def test_web_analysis_reads_a_json_path(
    kube: KubeClient, namespace: str, controller: Controller, web_server: str
) -> None:
    metric = {
        "name": "web-errors",
        "successCondition": "result < 0.05",
        "provider": {
            "web": {
                "url": web_server,
                "method": "POST",
                "body": json.dumps({"q": 1}),
                "headers": [{"name": "X-Check", "value": "canary"}],
                "jsonPath": "$.checks.errorRate",
            }
        },
    }
    first = await _start(kube, namespace, _template(namespace, metric))
    done = await r.wait_rollout(kube, namespace, "web", _promoted(first))
    [entry] = [a for a in done["analysis"] if a["metric"] == "web-errors"]
    assert entry["phase"] == "Successful" and entry["value"] == "0.01"
    assert ("POST", "canary") in _Json.seen
