"""The dashboard in a real browser: log in, the application list with its badges and filters, an
application's resource tree (Deployment → ReplicaSet → Pod, pods run by the node simulator), the
diff of a live edit, a rollback by an admin, no operation buttons for a viewer, and live updates
over server-sent events without a reload. Also takes the screenshots of docs/images/: written there
only with GITWARD_SCREENSHOTS=1 (`make screenshots`), so that `make test` leaves the tree clean."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Dialog, Page, expect

from gitward.controller import operations
from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from . import manifests
from .conftest import VIEWPORT, Site

AUTHOR = ("Grace Hopper", "grace@example.com")
REVIEWER = ("Alan Turing", "alan@example.com")
MANUAL = {"interval": "1m"}
AUTOMATED = {"automated": {"prune": True, "selfHeal": True}, "interval": "1m"}
NO_SELF_HEAL = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}


def row(page: Page, namespace: str, name: str) -> Any:
    return page.locator(f'tr[data-app="{namespace}/{name}"]')


async def greeting(kube: KubeClient, namespace: str) -> str:
    settings = await kube.get_or_none("v1", "ConfigMap", "web-settings", namespace)
    return str((settings or {}).get("data", {}).get("greeting", ""))


async def accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_an_admin_sees_the_tree_and_a_diff_and_rolls_back(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    site: Site,
    browser: Browser,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    screenshots: Path,
) -> None:
    repo = make_repo()
    first = repo.commit(manifests.web("1.4.0", "Welcome back"), message="Deploy the storefront 1.4.0", author=AUTHOR)
    url = git_http_server.publish(repo, "storefront.git")
    await kube.create(apps.application("storefront", namespace, url, syncPolicy=NO_SELF_HEAL))
    await apps.wait_status(kube, namespace, "storefront", apps.synced_at(first))
    second = repo.commit(
        manifests.web("1.5.0", "Hello again"), message="Storefront 1.5.0: a warmer greeting", author=REVIEWER
    )
    git_http_server.publish(repo, "storefront.git")
    controller.refresh(f"{namespace}/storefront")
    await apps.wait_status(
        kube, namespace, "storefront", lambda s: apps.synced_at(second)(s) and apps.healthy(s), timeout=60
    )

    # log in, see the list, open the application
    page = await site.login(browser, "admin")
    await expect(page.locator(".session")).to_contain_text("bob")
    await expect(page.locator(".session .role")).to_have_text("admin")
    await expect(page.locator("#counts")).to_contain_text("1 application")
    storefront = row(page, namespace, "storefront")
    await expect(storefront.locator(".badge").nth(0)).to_have_text("Synced")
    await expect(storefront.locator(".badge").nth(1)).to_have_text("Healthy")
    await expect(storefront.locator("code.sha")).to_have_text(second[:7])
    await expect(storefront.locator("code.sha")).to_have_attribute("title", second)
    await storefront.locator("a.app-name").click()
    await page.wait_for_url(f"{site.url}/applications/{namespace}/storefront")

    # the resource tree from owner references: Deployment → ReplicaSet → Pod
    deployment = page.locator(f"#node-deployment-{namespace}-web")
    await expect(deployment.locator(":scope > .node .badge")).to_have_text(["Synced", "Healthy"])
    newest = deployment.locator(":scope > ul > li").first
    await expect(newest.locator(":scope > .node .kind")).to_have_text("ReplicaSet")
    await expect(newest.locator(":scope > .node .node-info")).to_contain_text("2/2 ready")
    pods = newest.locator(":scope > ul > li")
    await expect(pods.locator(":scope > .node .kind")).to_have_text(["Pod", "Pod"])
    await expect(pods.first.locator(".node-info")).to_contain_text("Running · 1/1 ready")
    await expect(page.locator(f"#node-configmap-{namespace}-web-settings")).to_be_visible()

    # a live edit without selfHeal: the page turns OutOfSync and shows the diff, without a reload
    await page.evaluate("window.__sameDocument = true")
    patch = {"spec": {"replicas": 4}}
    await kube.patch("apps/v1", "Deployment", "web", namespace, patch, field_manager="kubectl-edit")
    await expect(page.locator("#app-head .title-badges .badge").first).to_have_text("OutOfSync")
    diff = page.locator(f"#diff-deployment-{namespace}-web")
    await expect(diff.locator(".d-del", has_text="replicas: 4")).to_have_count(1)
    await expect(diff.locator(".d-add", has_text="replicas: 2")).to_have_count(1)
    await expect(deployment.locator(":scope > .node .badge").first).to_have_text("OutOfSync")
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    await apps.wait_for(lambda: _ready_replicas(kube, namespace, 4), timeout=30, message="4 ready replicas")
    await page.reload()  # for the picture: all four pods
    await expect(newest.locator(":scope > ul > li")).to_have_count(4)
    await _screenshot(page, screenshots, "dashboard-application.png")

    # roll back to the first deployment
    history = page.locator("#app-history tbody tr")
    await expect(history).to_have_count(2)
    await expect(history.nth(0)).to_contain_text("Storefront 1.5.0: a warmer greeting")
    await expect(history.nth(0)).to_contain_text("deployed")
    await expect(history.nth(0).get_by_role("button", name="Roll back")).to_have_count(0)
    entry = page.locator('#app-history tr[data-history-id="1"]')
    await expect(entry).to_contain_text("Deploy the storefront 1.4.0")
    await expect(entry).to_contain_text("Grace Hopper")
    page.once("dialog", accept)
    await entry.get_by_role("button", name="Roll back").click()
    await expect(page.locator(".flash-success")).to_contain_text("Rollback to history entry 1 requested")
    # the ConfigMap is applied before the Deployment (kind order): wait for both
    await apps.wait_for(lambda: _rolled_back(kube, namespace), timeout=30, message="rolled back")
    # ... and the page shows it as it happens
    await page.evaluate("window.__sameDocument = true")
    rolled = page.locator('#app-history tr[data-history-id="3"]')
    await expect(rolled).to_contain_text("rollback")
    await expect(rolled).to_contain_text(first[:7])
    await expect(page.locator("#app-head")).to_contain_text("automated sync suspended")
    await expect(page.get_by_role("button", name="Resume automated sync")).to_be_visible()
    assert await page.evaluate("window.__sameDocument") is True


async def _ready_replicas(kube: KubeClient, namespace: str, count: int) -> bool:
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    return bool((deployment.get("status") or {}).get("readyReplicas") == count)


async def _rolled_back(kube: KubeClient, namespace: str) -> bool:
    """The first deployment's greeting and image are live again."""
    web = await kube.get("apps/v1", "Deployment", "web", namespace)
    image = str(web["spec"]["template"]["spec"]["containers"][0]["image"])
    return await greeting(kube, namespace) == "Welcome back" and image.endswith(":1.4.0")


async def _screenshot(page: Page, directory: Path, name: str) -> None:
    """The whole page, as tall as its content: in docs/images/ (shown in the README) only when
    asked for (`make screenshots`), else in the test's temporary directory."""
    directory.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": VIEWPORT["width"], "height": 400})
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await page.screenshot(path=str(directory / name), full_page=True, animations="disabled")
    await page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]
    assert (directory / name).read_bytes().startswith(b"\x89PNG"), name


async def test_a_viewer_sees_live_updates_and_no_buttons(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    site: Site,
    browser: Browser,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    screenshots: Path,
) -> None:
    repo = make_repo()
    sha = repo.commit(manifests.platform(), message="Import the shop platform", author=AUTHOR)
    url = git_http_server.publish(repo, "platform.git")
    specs = {
        "storefront": ("apps/storefront", AUTOMATED),
        "payments-api": ("apps/payments", AUTOMATED),
        "nightly-report": ("apps/reports", AUTOMATED),
        "shop-settings": ("apps/settings", MANUAL),
    }
    for name, (path, policy) in specs.items():
        await kube.create(apps.application(name, namespace, url, path, syncPolicy=policy))
    await apps.wait_status(kube, namespace, "shop-settings", lambda s: s.get("sync", {}).get("status") == "OutOfSync")
    await operations.request_sync(kube, namespace, "shop-settings")
    for name in ("storefront", "payments-api", "shop-settings"):
        await apps.wait_status(kube, namespace, name, lambda s: apps.synced_at(sha)(s) and apps.healthy(s), timeout=60)
    await apps.wait_status(kube, namespace, "nightly-report", _degraded, timeout=60)

    page = await site.login(browser, "viewer")
    await expect(page.locator(".session")).to_contain_text("alice")
    await expect(page.locator(".session .role")).to_have_text("viewer")
    await expect(page.locator("tbody tr")).to_have_count(4)
    await expect(page.locator("#counts")).to_contain_text("4 applications")
    await expect(page.locator("#counts")).to_contain_text("3 Healthy")
    await expect(page.locator("#counts")).to_contain_text("1 Degraded")
    report = row(page, namespace, "nightly-report")
    await expect(report.locator(".badge").nth(1)).to_have_text("Degraded")
    await expect(report).to_contain_text("Job failed")

    # filters are query parameters: a shareable link
    await page.select_option("select[name=health]", "Degraded")
    await page.wait_for_url(re.compile(r".*\?.*health=Degraded"))
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("#counts")).to_contain_text("1 application of 4")
    await page.goto(site.url + "/")

    # a viewer has no operation buttons, and the forms' routes refuse them
    await page.goto(f"{site.url}/applications/{namespace}/storefront")
    await expect(page.locator("#app-history tbody tr")).to_have_count(1)
    for name in ("Sync", "Refresh", "Roll back", "Resume automated sync"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    assert await page.locator("form[action*='/applications/']").count() == 0
    response = await page.request.post(
        f"{site.url}/applications/{namespace}/storefront/sync", form={"csrf_token": "guess"}
    )
    assert response.status == 403

    # a commit makes the manually synced application OutOfSync: the list shows it without a reload
    await page.goto(site.url + "/")
    settings = row(page, namespace, "shop-settings")
    await expect(settings.locator(".badge").first).to_have_text("Synced")
    await expect(page.locator("#live-indicator")).to_have_text("Live")
    await page.evaluate("window.__sameDocument = true")
    newer = repo.commit(
        {"apps/settings/configmap.yaml": manifests.SETTINGS.format(theme="dark")}, message="Dark theme", author=AUTHOR
    )
    git_http_server.publish(repo, "platform.git")
    for name in specs:
        controller.refresh(f"{namespace}/{name}")
    await expect(settings.locator(".badge").first).to_have_text("OutOfSync")
    await expect(settings.locator("code.sha")).to_have_text(newer[:7])
    await expect(page.locator("#counts")).to_contain_text("1 OutOfSync")
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    await apps.wait_status(kube, namespace, "storefront", apps.synced_at(newer))
    await expect(row(page, namespace, "storefront").locator("code.sha")).to_have_text(newer[:7])
    await _screenshot(page, screenshots, "dashboard-list.png")

    # without JavaScript: the same data, and the filters still work (their button submits the form)
    plain = await site.login(browser, "viewer", javascript=False)
    await expect(row(plain, namespace, "shop-settings").locator(".badge").first).to_have_text("OutOfSync")
    await plain.select_option("select[name=sync]", "OutOfSync")
    await plain.get_by_role("button", name="Filter").click()
    await plain.wait_for_url(re.compile(r".*\?sync=OutOfSync"))
    await expect(plain.locator("tbody tr")).to_have_count(1)
    await plain.locator("a.app-name").click()
    await expect(plain.locator("#app-head h1")).to_have_text("shop-settings")
    await expect(plain.locator("#live-indicator")).to_be_hidden()


def _degraded(status: dict[str, Any]) -> bool:
    return (status.get("health") or {}).get("status") == "Degraded"
