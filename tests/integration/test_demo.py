"""`make demo`'s pieces: the demo repository renders for every demo Application, is served by a real
git daemon that accepts pushes, and the demo Applications sync on the real control plane."""

from __future__ import annotations

import base64
import copy
import subprocess
from pathlib import Path

from tests.support import apps

from gitward import rendering
from gitward.cli import demo, demo_sops
from gitward.controller import celeval
from gitward.controller.manager import Controller
from gitward.core.applications import Source
from gitward.devcluster import processes
from gitward.kube.client import KubeClient


def test_every_demo_application_renders() -> None:
    for _, path, _ in demo.APPS:
        objs = rendering.render(demo.DEMO_REPO, Source(repoURL="git://demo", path=path))
        kinds = {o.manifest["kind"] for o in objs}
        assert kinds == {"Policy"} if path == "platform" else kinds >= {"Deployment", "Service", "ConfigMap"}


def test_the_demo_policy_passes_the_demo_and_refuses_latest() -> None:
    [policy] = rendering.render(demo.DEMO_REPO, Source(repoURL="git://demo", path="platform"))
    expression = policy.manifest["spec"]["validations"][0]["expression"]
    deployments = [
        o.manifest
        for _, path, _ in demo.APPS
        for o in rendering.render(demo.DEMO_REPO, Source(repoURL="git://demo", path=path))
        if o.manifest["kind"] == "Deployment"
    ]
    latest = copy.deepcopy(deployments[0])
    latest["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/guestbook:latest"
    untagged = copy.deepcopy(deployments[0])
    untagged["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/guestbook"
    evaluator = celeval.Evaluator()
    try:
        items = [celeval.Item({"object": d, "oldObject": None}, (0,)) for d in [*deployments, latest, untagged]]
        results = [r[0] for r in evaluator.run([expression], items)]
    finally:
        evaluator.close()
    assert [(r.value, r.error) for r in results] == [(True, "")] * len(deployments) + [(False, "")] * 2


async def test_demo_repository_served_and_synced(
    kube: KubeClient, namespace: str, controller: Controller, tmp_path: Path
) -> None:
    state = tmp_path / "demo"
    _, work = demo.prepare_repository(state)
    url = demo.start_git_daemon(state)
    try:
        keys = demo_sops.keys_secret(state, namespace)
        assert keys is not None, "the demo repository has one SOPS-encrypted Secret (age-keygen is installed)"
        await kube.create(keys)
        assert "demo-password" not in (work / demo_sops.ENCRYPTED_FILE).read_text()
        app = demo.application("guestbook", "apps/guestbook", namespace, url, decrypt=True)
        app["metadata"]["namespace"] = namespace
        await kube.create(app)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
        await apps.wait_status(kube, namespace, "guestbook", apps.synced_at(sha))
        decrypted = await kube.get("v1", "Secret", "guestbook-credentials", namespace)
        assert base64.b64decode(decrypted["data"]["admin-password"]) == b"demo-password-decrypted-by-gitward"
        (work / "apps/guestbook/configmap.yaml").write_text(
            (work / "apps/guestbook/configmap.yaml").read_text().replace("Hello from Git", "Hello again")
        )
        demo._git("commit", "-qam", "New greeting", cwd=work)
        demo._git("push", "-q", cwd=work)
        new = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
        controller.refresh(f"{namespace}/guestbook")
        await apps.wait_status(kube, namespace, "guestbook", apps.synced_at(new))
        assert (await kube.get("v1", "ConfigMap", "guestbook-settings", namespace))["data"]["greeting"] == "Hello again"

        # the guestbook is delivered by a Rollout: its stable copy runs, and the Application stays Synced
        async def rollout_healthy() -> bool:
            found = await kube.get_or_none("gitward.dev/v1alpha1", "Rollout", "guestbook", namespace)
            return bool(found and (found.get("status") or {}).get("phase") == "Healthy")

        await apps.wait_for(rollout_healthy, timeout=90, message="the demo Rollout Healthy")
        assert await kube.get_or_none("apps/v1", "Deployment", "guestbook-primary", namespace) is not None
        status = await apps.wait_status(kube, namespace, "guestbook", apps.synced_at(new))
        assert status["sync"]["status"] == "Synced"
    finally:
        processes.stop_all(state, ["git-daemon"])
