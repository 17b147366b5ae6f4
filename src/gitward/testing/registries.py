"""A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on loopback.

Used by the OCI and image automation tests (tests/integration/test_oci_*.py,
tests/integration/test_image_automation.py, through `tests.support.registry`). `Registry` writes its
own configuration file (never the system service's), and serves either
- HTTPS with a certificate from a CA of its own (`pki.generate`, the same code that makes the dev
  cluster's certificates: `ca_crt` is what clients must trust) and htpasswd (bcrypt) authentication,
  the password hashed by Debian's `htpasswd` (apache2-utils) reading it from stdin; or
- plain HTTP without authentication (the `insecure: true` case).

Images and artifacts are pushed by the tests with the `oras` SDK (`oras_client()`), never by hand.
`binary` runs another build of the same registry with the same configuration: the upstream v3 that
pages tag lists (`gitward.testing.upstream_registry`).
"""

from __future__ import annotations

import secrets
import socket
import ssl
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx2
import yaml

from gitward.devcluster import pki

__all__ = ["REGISTRY_BINARY", "Registry"]

REGISTRY_BINARY = "docker-registry"
REALM = "gitward-test-registry"


class Registry:
    """One registry process serving `root`; `host` is `127.0.0.1:<port>` once started."""

    def __init__(
        self,
        root: Path,
        *,
        tls: bool = True,
        username: str = "pusher",
        password: str = "",
        binary: str = REGISTRY_BINARY,
    ) -> None:
        self.root = root
        self.binary = binary  # another build of the distribution registry (`upstream_registry.ensure()`)
        self.tls = tls
        self.username = username if tls else ""
        self.password = (password or secrets.token_hex(12)) if tls else ""
        self.port = 0
        self.ca_crt: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path = root / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, repository: str, reference: str = "") -> str:
        """`oci://host/repository[:tag|@digest]`."""
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"oci://{self.host}/{repository}" + (f"{sep}{reference}" if reference else "")

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = self._config()
        path = self.root / "config.yml"
        path.write_text(yaml.safe_dump(config))
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen([self.binary, "serve", str(path)], stdout=log, stderr=log)
        self._wait_ready()
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def _config(self) -> dict[str, object]:
        http: dict[str, object] = {"addr": self.host, "secret": secrets.token_hex(16)}
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": http,
        }
        if self.tls:
            certs, _ = pki.generate(self.root / "pki")
            self.ca_crt = certs.ca_crt
            http["tls"] = {"certificate": str(certs.serving_crt), "key": str(certs.serving_key)}
            htpasswd = self.root / "htpasswd"
            _write_htpasswd(htpasswd, self.username, self.password)
            config["auth"] = {"htpasswd": {"realm": REALM, "path": str(htpasswd)}}
        return config

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this registry's CA (HTTPS registries only)."""
        assert self.ca_crt is not None
        return ssl.create_default_context(cafile=str(self.ca_crt))

    def _wait_ready(self, timeout: float = 30.0) -> None:
        scheme = "https" if self.tls else "http"
        verify = self.ssl_context() if self.tls else True
        deadline = time.monotonic() + timeout
        with httpx2.Client(verify=verify, timeout=2, trust_env=False) as http:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"docker-registry exited: {self.log_text()[-2000:]}")
                try:
                    if http.get(f"{scheme}://{self.host}/v2/").status_code in (
                        200,
                        401,
                    ):  # 401: up, asks for credentials
                        return
                except httpx2.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not answer on {self.host}: {self.log_text()[-2000:]}")
                time.sleep(0.05)

    def oras_client(self) -> Any:
        """An `oras` client for this registry, with the test bed's credentials (tests push with it)."""
        import oras.provider  # a test-only dependency, imported when a test pushes

        if not self.tls:
            return oras.provider.Registry(hostname=self.host, insecure=True)
        client = oras.provider.Registry(hostname=self.host, tls_verify=str(self.ca_crt), auth_backend="basic")
        client.auth.set_basic_auth(self.username, self.password)
        return client


def _write_htpasswd(path: Path, username: str, password: str) -> None:
    """A bcrypt htpasswd file made by Debian's `htpasswd` (the password goes through stdin)."""
    line = subprocess.run(
        ["htpasswd", "-n", "-i", "-B", username], input=password.encode(), capture_output=True, check=True
    ).stdout
    path.write_bytes(line.strip() + b"\n")
    path.chmod(0o600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
