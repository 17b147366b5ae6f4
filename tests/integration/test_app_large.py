"""A large Application (SPEC §2 "Size"): past the ~4,500 objects where a status listing every object
outgrows etcd's limit, it syncs, its status stays small (compacted rows, compressed inventory,
only changes in syncResult), the API still shows every object, pruning uses the compressed inventory,
and a re-check writes no managed object."""

from __future__ import annotations

import json
from typing import Any

from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo

from gitward.appstatus import compaction
from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient
from gitward.planning import inventory

COUNT = 5000
PER_FILE = 250


def _files(count: int, value: str = "v1") -> dict[str, str]:
    """`count` ConfigMaps in multi-document files of PER_FILE each."""
    files: dict[str, str] = {}
    for start in range(0, count, PER_FILE):
        docs = [
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  value: {value}\n"
            for i in range(start, min(start + PER_FILE, count))
        ]
        files[f"cms/part-{start // PER_FILE:03d}.yaml"] = "---\n".join(docs)
    return files


async def _managed_versions(kube: KubeClient, namespace: str) -> dict[str, str]:
    items, _ = await kube.list("v1", "ConfigMap", namespace, label_selector="app.kubernetes.io/managed-by=gitward")
    return {cm["metadata"]["name"]: cm["metadata"]["resourceVersion"] for cm in items}


def _refreshed(value: str) -> Any:
    return lambda status: status.get("lastHandledRefresh") == value


async def test_a_5000_object_application_stays_small_and_prunes(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    sha = repo.commit(_files(COUNT))
    app = apps.application("big", namespace, f"file://{repo.path}", "cms")
    app["spec"]["syncPolicy"]["interval"] = "10m"
    await kube.create(app)
    status = await apps.wait_status(kube, namespace, "big", apps.synced_at(sha), timeout=600)

    whole = await apps.get_app(kube, namespace, "big")
    assert len(json.dumps(whole)) < 512 * 1024, "the Application must stay far below etcd's limit"
    assert status["summary"]["objects"] == COUNT and status["summary"]["synced"] == COUNT
    assert len(status.get("resources") or []) < COUNT  # compacted: Synced+Healthy rows are left out
    assert set(status["inventory"]) == {"compressed", "count"} and status["inventory"]["count"] == COUNT
    assert len(inventory.from_status(status["inventory"])) == COUNT
    result = status["operationState"]["syncResult"]
    assert result["summary"] == {"created": COUNT}
    assert len(result["resources"]) <= compaction.FULL_ROWS
    assert len(await _managed_versions(kube, namespace)) == COUNT

    # the API still shows every object
    async with http_api.serving(kube, namespace) as api, api.client("viewer") as http:
        resp = await http.get(f"/api/v1/applications/{namespace}/big/resources")
        assert resp.status_code == 200
        names = {item["name"] for item in resp.json()["items"]}
        assert names == {f"cm-{i}" for i in range(COUNT)}

    # a re-check of an unchanged revision writes no managed object
    before = await _managed_versions(kube, namespace)
    await kube.patch(apps.API_VERSION, "Application", "big", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "recheck"}}})  # fmt: skip
    await apps.wait_status(kube, namespace, "big", _refreshed("recheck"), timeout=300)
    assert await _managed_versions(kube, namespace) == before

    # half of the objects leave Git: exactly those are pruned, through the compressed inventory
    files = _files(COUNT)
    kept = {name: text for name, text in files.items() if int(name[len("cms/part-") : -len(".yaml")]) % 2 == 0}
    sha = repo.commit({name: (kept.get(name)) for name in files})
    await kube.patch(apps.API_VERSION, "Application", "big", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "pruned"}}})  # fmt: skip
    status = await apps.wait_status(kube, namespace, "big", apps.synced_at(sha), timeout=600)
    expected = {f"cm-{i}" for i in range(COUNT) if (i // PER_FILE) % 2 == 0}
    assert set(await _managed_versions(kube, namespace)) == expected
    assert status["summary"]["objects"] == len(expected)
    assert {e.ref.name for e in inventory.from_status(status["inventory"])} == expected
    assert status["operationState"]["syncResult"]["summary"]["pruned"] == COUNT - len(expected)
