"""The base of the test beds' HTTP servers: a threaded HTTP server on 127.0.0.1, served from a
daemon thread between `start()` and `stop()` (or for the duration of a `with` block).

Used by `gitward.testing.githttp.GitHttpServer` and the tests' Helm chart repository
(`tests.support.helmrepo`); a subclass says how to bind (`bind`).
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Serves what `bind()` returns from a daemon thread, polling for shutdown every 50 ms."""

    port: int = 0  # the bound port once started (a restart binds the same one again)
    _serving: tuple[ThreadingHTTPServer, threading.Thread] | None = None

    def bind(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def start(self) -> Self:
        httpd = self.bind()
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self._serving = (httpd, thread)
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the serving thread (bounded)."""
        if self._serving is not None:
            httpd, thread = self._serving
            self._serving = None
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
