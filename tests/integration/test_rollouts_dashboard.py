"""The dashboard's Rollout views against the real cluster and controller: the list, one Rollout's
steps, weight, analysis and history, and the promote/abort/retry buttons (admin session + CSRF token;
viewers get no buttons and may not post)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from tests.support import rollouts as r

from gitward.controller.manager import Controller
from gitward.core import rollouts as ro
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import tokens
from gitward.server.backend import Backend
from gitward.server.sessions import RateLimiter

TOKENS = {"viewer": "viewer-token-rollouts", "admin": "admin-token-rollouts"}
CONFIG = tokens.parse(
    "tokens:\n"
    + "".join(f"  - {{name: {k}-user, sha256: {tokens.hash_token(t)}, role: {k}}}\n" for k, t in TOKENS.items())
)
STEPS = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 60}, {"pause": {"duration": "1h"}}]


@asynccontextmanager
async def _browser(kube: KubeClient, namespace: str, role: str) -> AsyncIterator[httpx2.AsyncClient]:
    backend = Backend(kube, namespace, auth=CONFIG)
    await backend.start()
    web = server_app.build(server_app.Probe(lambda: True, lambda: {}), backend)
    web.state.auth.login_limiter = RateLimiter(burst=100)
    try:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=web), base_url="http://gitward.test"
        ) as client:
            resp = await client.post("/login", data={"token": TOKENS[role], "next": "/"})
            assert resp.status_code == 303, resp.text
            yield client
    finally:
        await backend.stop()


async def test_the_rollout_page_shows_steps_weight_history_and_its_buttons_operate(
    kube: KubeClient, namespace: str, controller: Controller
) -> None:
    await kube.create(r.deployment("web", namespace, "v1"))
    await kube.create(r.service("web", namespace, "web"))
    await kube.create(r.rollout("web", namespace, {"canary": {"steps": STEPS}}))
    await r.wait_rollout(kube, namespace, "web", r.phase("Healthy"))
    await r.set_version(kube, namespace, "v2")
    paused = await r.wait_rollout(kube, namespace, "web", r.phase("Paused"))
    page = f"/rollouts/{namespace}/web"

    async with _browser(kube, namespace, "viewer") as viewer:
        listed = await viewer.get("/rollouts")
        assert listed.status_code == 200 and f'href="{page}"' in listed.text
        html = (await viewer.get(page)).text
        assert "set weight 30%" in html and "pause until promoted" in html and "pause 1h" in html
        assert '<dd id="rollout-weight">30%</dd>' in html and paused["canaryRevision"] in html
        assert 'id="rollout-weights"' in html and "<polyline" in html  # the weight over time
        assert f"<td>30%</td><td><code>{paused['canaryRevision']}</code></td>" in html
        assert "<form" not in html.split("</header>")[-1]  # no buttons for viewers
        csrf = (await viewer.get("/api/v1/session")).json()["csrfToken"]
        assert (await viewer.post(f"{page}/promote", data={"csrf_token": csrf})).status_code == 403
        assert (await viewer.get(f"/rollouts/{namespace}/nope")).status_code == 404

    async with _browser(kube, namespace, "admin") as admin:
        html = (await admin.get(page)).text
        for op in ("promote", "promote-full", "abort", "retry"):
            assert f'action="{page}/{op}"' in html
        assert (await admin.post(f"{page}/promote", data={"csrf_token": "forged"})).status_code == 403
        csrf = (await admin.get("/api/v1/session")).json()["csrfToken"]
        resp = await admin.post(f"{page}/promote", data={"csrf_token": csrf})
        assert resp.status_code == 303 and resp.headers["location"] == page
        await r.wait_rollout(kube, namespace, "web", lambda s: s.get("canaryWeight") == 60)
        assert "Promotion requested." in (await admin.get(page)).text
        assert (await admin.post(f"{page}/abort", data={"csrf_token": csrf})).status_code == 303
        aborted = await r.wait_rollout(kube, namespace, "web", r.phase("Degraded"))
        html = (await admin.get(page)).text
        assert "Aborted" in html and aborted["history"][-1]["revision"] in html
        assert (await admin.post(f"{page}/explode", data={"csrf_token": csrf})).status_code == 404
    rollout = await kube.get(ro.API_VERSION, "Rollout", "web", namespace)
    assert ro.RETRY not in (rollout["metadata"].get("annotations") or {})
