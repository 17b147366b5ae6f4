"""A hostile registry's tag list (SPEC §12): pages that link to more pages for ever, or back to
themselves, are refused with a clear error instead of being followed without end. The registry is
a loopback HTTP server speaking the distribution spec's tag-list pagination: no real registry
misbehaves on purpose."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import oci, ocilayers


class _Endless(http.server.BaseHTTPRequestHandler):
    loop = False  # link back to the first page instead of to a new one
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        if self.path.startswith("/v2/") and "/tags/list" in self.path:
            page = type(self).requests
            nxt = "/v2/team/web/tags/list?n=1000" if self.loop else f"/v2/team/web/tags/list?n=1000&last=p{page}"
            body = json.dumps({"name": "team/web", "tags": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Link", f'<{nxt}>; rel="next"')
        else:
            body = b"{}"
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[tuple[str, type[_Endless]]]:
    handler = type("Handler", (_Endless,), {"requests": 0, "loop": False})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"oci://127.0.0.1:{server.server_address[1]}/team/web", handler
    finally:
        server.shutdown()
        server.server_close()


async def test_a_tag_list_that_never_ends_is_refused(endless: tuple[str, type[_Endless]], tmp_path: Path) -> None:
    url, handler = endless
    registries = oci.Registries(tmp_path, ocilayers.LayerLimits(max_tag_pages=25))
    with pytest.raises(SourceError, match=r"tag list sent more than 25 pages"):
        await registries.tags(url, None, insecure=True)
    assert handler.requests == 25


async def test_a_tag_list_that_links_back_is_refused(endless: tuple[str, type[_Endless]], tmp_path: Path) -> None:
    url, handler = endless
    handler.loop = True
    with pytest.raises(SourceError, match=r"tag list links a page it already sent"):
        await oci.Registries(tmp_path).tags(url, None, insecure=True)
    assert handler.requests == 1
