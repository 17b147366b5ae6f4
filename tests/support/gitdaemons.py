"""Real `git daemon` (git://) and `sshd` (ssh://) servers for tests.

Used through `tests.support.gitserver`. Both run as child processes in their own process group on
127.0.0.1:<free port> and are stopped (the whole group) by `stop()` or the context manager, so no
process outlives a test. `SshGitServer` runs the system's sshd in the foreground with a private
configuration: a generated host key, one generated client key (`client_private_key`), public-key
authentication only, and `known_hosts` (a line `[127.0.0.1]:<port> <host key>`) for the client.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from gitward.testing.gitrepos import BareRepos, git_env

__all__ = ["GitDaemon", "ServerStartError", "SshGitServer", "free_port", "generate_key"]


class ServerStartError(RuntimeError):
    """A test server could not be started (its log is in the message)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def generate_key(path: Path, comment: str) -> tuple[str, str]:
    """Create an ed25519 key pair at `path` (no passphrase); return (private key text, public key line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


class _Process(BareRepos):
    """A server process in its own process group, started with retries on a fresh port."""

    def __init__(self, root: Path, workdir: Path) -> None:
        super().__init__(root)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"

    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def start(self) -> _Process:
        for _ in range(5):
            port = free_port()
            with self.log.open("wb") as log:
                self._proc = subprocess.Popen(
                    self._command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    env=git_env(self.workdir), start_new_session=True,
                )  # fmt: skip
            if _wait_for_port(port, self._proc, timeout=10):
                self.port = port
                return self
            self.stop()
        raise ServerStartError(f"{type(self).__name__} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _reap_group(proc.pid)

    def __enter__(self) -> _Process:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class GitDaemon(_Process):
    """`git daemon` serving the bare repositories under `root` at git://127.0.0.1:<port>/<name>."""

    def _command(self, port: int) -> list[str]:
        return [
            "git", "daemon", "--export-all", "--reuseaddr", "--informative-errors", "--listen=127.0.0.1",
            f"--port={port}", f"--base-path={self.root}", f"--pid-file={self.workdir / 'daemon.pid'}",
        ]  # fmt: skip

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"


class SshGitServer(_Process):
    """sshd serving the bare repositories under `root` at ssh://<user>@127.0.0.1:<port><root>/<name>."""

    def __init__(self, root: Path, workdir: Path) -> None:
        super().__init__(root, workdir)
        self.user = getpass.getuser()
        keys = self.workdir / "keys"
        keys.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.host_key = keys / "host_ed25519"
        _, self.host_public_key = generate_key(self.host_key, "gitward-test-host")
        self.client_private_key, client_public = generate_key(keys / "client_ed25519", "gitward-test-client")
        self.authorized_keys = keys / "authorized_keys"
        self.authorized_keys.write_text(f"restrict {client_public}\n")

    @property
    def known_hosts(self) -> str:
        """A known_hosts line for this server's host key."""
        key_type, key = self.host_public_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"

    def url(self, name: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root}/{name}"

    def _command(self, port: int) -> list[str]:
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.path.isabs(sshd) or not os.path.exists(sshd):
            raise ServerStartError("sshd is not installed (apt-get install -y openssh-server)")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        config = self.workdir / "sshd_config"
        config.write_text(self._config(port))
        return [sshd, "-D", "-e", "-f", str(config)]

    def _config(self, port: int) -> str:
        return "\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}", f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.user}", "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
            "AcceptEnv GIT_PROTOCOL", "PrintMotd no", "LogLevel VERBOSE", "",
        ])  # fmt: skip


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.02)
    return False


def _reap_group(pgid: int) -> None:
    """Kill what is left of a process group (per-connection children of a daemon)."""
    for _ in range(50):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.02)
