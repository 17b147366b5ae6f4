"""The workload of the CEL measurements (`bench.cel`, `bench.cel_libraries`): three Policy-style rules
and Deployment-sized objects, with the same checks written in plain Python as the reference. Pure:
imports nothing of gitward or of any CEL library, so that `bench.cel_libraries` runs in a scratch
virtualenv."""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

OBJECTS = 1000
RULES = [
    "object.spec.replicas <= 10",
    "has(object.metadata.labels) && 'team' in object.metadata.labels",
    "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
]


def deployment(i: int, salt: str) -> dict[str, Any]:
    """A Deployment of the usual size (labels, annotations, one container with env and resources)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"web-{i}",
            "namespace": "apps",
            "labels": {"app": f"web-{i}", "team": "shop", "app.kubernetes.io/name": "web"},
            "annotations": {"gitward.dev/revision": salt},
        },
        "spec": {
            "replicas": 1 + i % 12,
            "selector": {"matchLabels": {"app": f"web-{i}"}},
            "template": {
                "metadata": {"labels": {"app": f"web-{i}"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": f"registry.example/web:{salt}-{i}",
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "env": [{"name": f"SETTING_{k}", "value": f"value-{k}"} for k in range(6)],
                            "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def plain(objects: list[dict[str, Any]]) -> list[list[bool]]:
    out = []
    for o in objects:
        labels = o["metadata"].get("labels")
        containers = o["spec"]["template"]["spec"]["containers"]
        out.append(
            [
                o["spec"]["replicas"] <= 10,
                labels is not None and "team" in labels,
                all(not c["image"].endswith(":latest") for c in containers),
            ]
        )
    return out


def projected(o: dict[str, Any], rule: int) -> dict[str, Any]:
    """What rule `rule` reads of `o` (what gitward's `celprojection` sends its worker for it)."""
    if rule == 0:
        return {"spec": {"replicas": o["spec"]["replicas"]}}
    if rule == 1:
        return {"metadata": {"labels": o["metadata"]["labels"]}}
    containers = o["spec"]["template"]["spec"]["containers"]
    return {"spec": {"template": {"spec": {"containers": [{"image": c["image"]} for c in containers]}}}}


def write_result(out: Path, runs: int, **fields: Any) -> None:
    """A measurement as JSON, with when, on what load and Python, and the workload it ran."""
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "objects": OBJECTS,
        "rules": RULES,
        "runs": runs,
        "load_average": os.getloadavg()[0],
        "python": sys.version.split()[0],
        **fields,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
