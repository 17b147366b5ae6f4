"""The Notifications page in a real browser (headless Chromium): a viewer follows the top bar's
Notifications link from the application list and sees the Providers, the Alerts and the recent
deliveries (a success to a loopback receiver, a failure to a port nothing listens on), with the
Provider's address shown as scheme and host only and no Secret value anywhere on the page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, expect

from gitward.controller.manager import Controller
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient
from tests.support import apps, receivers
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer
from tests.support.notifications import CONFIGMAP, alert, provider, ready, secret

from .conftest import Site

HOOK_PATH = "/hooks/e2e-path-secret-2c7f"
HMAC_KEY = "e2e-hmac-key-91d0"


async def test_a_viewer_sees_providers_alerts_and_deliveries(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    site: Site,
    browser: Browser,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    screenshots: Path,
) -> None:
    dead = free_port()
    async with receivers.receiver(receivers.generic()) as hook:
        await secret(kube, namespace, "signing", address=hook.url + HOOK_PATH, token=HMAC_KEY)
        await provider(kube, namespace, "audit-log", type="generic-hmac", secretRef={"name": "signing"})
        await provider(kube, namespace, "pager", type="generic", address=f"http://127.0.0.1:{dead}{HOOK_PATH}")
        await alert(kube, namespace, "everything", "audit-log")
        await alert(kube, namespace, "failures", "pager", eventSeverity="error")
        repo = make_repo()
        repo.commit({"config.yaml": CONFIGMAP})
        await kube.create(apps.application("web", namespace, git_http_server.publish(repo, "c.git")))
        await apps.wait_for(lambda: hook.requests, 60, message="a delivery")

        page = await site.login(browser, "viewer")
        await page.get_by_role("link", name="Notifications").click()
        await page.wait_for_url(site.url + "/notifications")
        await expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
        await expect(page.locator('tr[data-provider="audit-log"]')).to_contain_text("generic-hmac")
        await expect(page.locator('tr[data-provider="audit-log"]')).to_contain_text("from the Secret")
        await expect(page.locator('tr[data-provider="pager"]')).to_contain_text(f"http://127.0.0.1:{dead}")
        await expect(page.locator('tr[data-alert="failures"]')).to_contain_text("error")
        delivered = page.locator("#deliveries tr", has_text=f"{namespace}/web").filter(has_text="success")
        await expect(delivered.first).to_contain_text("audit-log")
        await ready(kube, namespace, "Provider", "audit-log", "True")
        await page.reload()
        await expect(page.locator('tr[data-provider="audit-log"]')).to_contain_text(re.compile("Ready"))
        html = await page.content()
        assert HOOK_PATH not in html and HMAC_KEY not in html
        screenshots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshots / "notifications.png"), full_page=True)
