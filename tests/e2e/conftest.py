"""The dashboard's end-to-end test bed: headless Chromium (Debian's, driven by Playwright), and the
real HTTP server (gitward.server.app.build + gitward.server.dashboard.install) on a free loopback
port with an auth file written by the test (tokens stored as SHA-256), backed by the test's
in-process controller.

    async with serving(kube, namespace, controller, tmp_path) as site:
        page = await site.login(browser, "admin")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from gitward.controller.manager import Controller
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient
from gitward.server import app as server_app
from gitward.server import dashboard, tokens
from gitward.server.backend import Backend

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
TOKENS = {"viewer": "e2e-viewer-token-5b0c9d", "admin": "e2e-admin-token-81f3aa"}
VIEWPORT = {"width": 1360, "height": 860}
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def write_auth_file(path: Path) -> Path:
    """An auth file as an operator writes it: one viewer (alice) and one admin (bob), hashed."""
    names = {"viewer": "alice", "admin": "bob"}
    lines = ["tokens:"]
    for role, token in TOKENS.items():
        lines.append(f"  - name: {names[role]}\n    sha256: {tokens.hash_token(token)}\n    role: {role}")
    path.write_text("\n".join(lines) + "\n")
    return path


class _Server(uvicorn.Server):
    """uvicorn without signal handlers (pytest keeps its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Site:
    url: str
    backend: Backend
    contexts: list[BrowserContext] = field(default_factory=list)

    async def login(self, browser: Browser, role: str, start: str = "/", javascript: bool = True) -> Page:
        """A new browser context logged in as `role` through the login form, on `start`."""
        context = await browser.new_context(viewport=VIEWPORT, java_script_enabled=javascript)  # type: ignore[arg-type]
        context.set_default_timeout(30_000)
        self.contexts.append(context)
        page = await context.new_page()
        await page.goto(self.url + start)
        assert "/login" in page.url, page.url
        await page.fill("#token", TOKENS[role])
        await page.click("button[type=submit]")
        await page.wait_for_url(self.url + start)
        return page


@asynccontextmanager
async def serving(kube: KubeClient, namespace: str, controller: Controller, tmp_path: Path) -> AsyncIterator[Site]:
    config = tokens.load(write_auth_file(tmp_path / "auth.yaml"))
    backend = Backend(kube, namespace, controller=lambda: controller, auth=config)
    await backend.start()
    web = server_app.build(server_app.Probe(lambda: True, lambda: {}), backend)
    dashboard.install(web)
    port = free_port()
    site = Site(f"http://127.0.0.1:{port}", backend)
    server = _Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield site
    finally:
        for context in site.contexts:
            with contextlib.suppress(Exception):
                await context.close()
        await backend.stop()
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the tests save their screenshots: docs/images/ with GITWARD_SCREENSHOTS=1 (`make
    screenshots`), otherwise the test's temporary directory (a test run changes no tracked file)."""
    return DOCS_IMAGES if os.environ.get("GITWARD_SCREENSHOTS") == "1" else tmp_path / "screenshots"


@pytest.fixture
async def site(kube: KubeClient, namespace: str, controller: Controller, tmp_path: Path) -> AsyncIterator[Site]:
    async with serving(kube, namespace, controller, tmp_path) as running:
        yield running
