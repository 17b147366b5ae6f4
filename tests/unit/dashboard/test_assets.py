"""The dashboard's assets: served by the app itself (no backend needed), under the server's CSP,
and nothing in them loads from elsewhere."""

from __future__ import annotations

import httpx2

from gitward.server import app as server_app
from gitward.server import security
from gitward.server.dashboard import templating


async def test_assets() -> None:
    web = server_app.build(server_app.Probe(lambda: True, lambda: {}))
    transport = httpx2.ASGITransport(app=web)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gitward.test") as http:
        for name, media_type in (("dashboard.css", "text/css"), ("live.js", "javascript"), ("favicon.svg", "svg")):
            resp = await http.get(templating.asset(name))
            assert resp.status_code == 200 and media_type in resp.headers["content-type"], name
            assert resp.headers["content-security-policy"] == security.CSP
        assert (await http.get("/assets/../__init__.py")).status_code == 404
        assert (await http.get("/assets/nothere.css")).status_code == 404
    text = (templating.STATIC / "dashboard.css").read_text() + (templating.STATIC / "live.js").read_text()
    assert "http://" not in text and "https://" not in text and "@import" not in text, "nothing from elsewhere"
