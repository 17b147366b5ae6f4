"""How gitward runs git: a private, minimal environment and a bounded subprocess runner.

Used only by the `Fetcher` (gitward.sourcing.git). `GitEnvironment` owns a private 0700 directory
(HOME, the askpass helper, per-call SSH key and known_hosts files) and builds each git process's
environment: no system or global config, no terminal prompts, no hooks, only the URL's protocol
allowed, credentials passed through environment variables and files — never in argv or in the URL.
`run` starts git in its own process group and kills the whole group on timeout or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitward.core.errors import SourceError
from gitward.sourcing.credentials import Credentials, authorization_header
from gitward.sourcing.urls import RepoURL

__all__ = ["Completed", "GitEnvironment", "OutputTooLarge", "ProcessTimeout", "run"]

_PASSTHROUGH = (
    "PATH", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
)  # fmt: skip

_BASE_CONFIG: tuple[tuple[str, str], ...] = (
    ("protocol.allow", "never"),
    ("core.symlinks", "true"),
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.autocrlf", "false"),
    ("core.protectNTFS", "true"),
    ("core.protectHFS", "true"),
    ("credential.helper", ""),
    ("fetch.recurseSubmodules", "false"),
    ("submodule.recurse", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("init.defaultBranch", "main"),
    ("http.lowSpeedLimit", "1000"),
    ("http.lowSpeedTime", "30"),
)

_ASKPASS = """#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "${GITWARD_GIT_USERNAME-}" ;;
  *) printf '%s\\n' "${GITWARD_GIT_PASSWORD-}" ;;
esac
"""


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: str


class ProcessTimeout(Exception):
    """The process ran longer than its timeout and was killed."""


class OutputTooLarge(Exception):
    """The process printed more than allowed and was killed."""


class GitEnvironment:
    """The private directory and environment every git process of one Fetcher runs with."""

    def __init__(self, *, connect_timeout: float = 10.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gitward-git-"))
        self.home = self.root / "home"
        self.home.mkdir(mode=0o700)
        self.askpass = self.root / "askpass.sh"
        self.askpass.write_text(_ASKPASS)
        self.askpass.chmod(0o700)
        self._connect_timeout = max(1, int(connect_timeout))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.root, True)

    def close(self) -> None:
        self._finalizer()

    def local(self) -> dict[str, str]:
        """Environment for git commands that must not touch the network at all."""
        return self._env(_BASE_CONFIG)

    @contextlib.contextmanager
    def remote(self, url: RepoURL, creds: Credentials) -> Iterator[dict[str, str]]:
        """Environment for one git command that talks to `url`; per-call files are removed after."""
        config = [*_BASE_CONFIG, (f"protocol.{url.scheme}.allow", "always")]
        extra: dict[str, str] = {}
        call_dir = Path(tempfile.mkdtemp(prefix="call-", dir=self.root))
        try:
            if url.scheme in ("http", "https"):
                config += _http_auth(creds, extra)
            elif url.scheme == "ssh":
                extra.update(self._ssh(url, creds, call_dir))
            env = self._env(config)
            env.update(extra)
            yield env
        finally:
            shutil.rmtree(call_dir, ignore_errors=True)

    def _env(self, config: Sequence[tuple[str, str]]) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
        env.setdefault("PATH", os.defpath)
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            LC_ALL="C",
            LANG="C",
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_PROTOCOL_FROM_USER="0",
            GIT_NO_REPLACE_OBJECTS="1",
            GIT_ASKPASS=str(self.askpass),
            GIT_CONFIG_COUNT=str(len(config)),
        )
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def _ssh(self, url: RepoURL, creds: Credentials, call_dir: Path) -> dict[str, str]:
        if not creds.known_hosts.strip():
            msg = f"{url.display()}: knownHosts required: ssh host keys are always checked"
            raise SourceError(msg, reason="InvalidCredentials")
        known_hosts = _private_file(call_dir / "known_hosts", creds.known_hosts)
        identity = "none"
        if creds.ssh_private_key:
            identity = str(_private_file(call_dir / "identity", creds.ssh_private_key))
        options = [
            "-F", os.devnull,
            "-i", identity,
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", f"GlobalKnownHostsFile={os.devnull}",
            "-o", "BatchMode=yes",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
            "-o", "ForwardAgent=no",
            "-o", "ClearAllForwardings=yes",
            "-o", f"ConnectTimeout={self._connect_timeout}",
        ]  # fmt: skip
        command = shlex.join(["ssh", *options])
        return {"GIT_SSH_COMMAND": command, "GIT_SSH_VARIANT": "ssh"}


def _http_auth(creds: Credentials, env: dict[str, str]) -> list[tuple[str, str]]:
    if creds.bearer_token:
        header = f"Authorization: {authorization_header(creds)}"
        return [("http.extraHeader", header), ("http.followRedirects", "false")]
    if creds.username:
        env["GITWARD_GIT_USERNAME"] = creds.username
    if creds.password:
        env["GITWARD_GIT_PASSWORD"] = creds.password
    return []


def _private_file(path: Path, content: str) -> Path:
    text = content.replace("\r\n", "\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return path


async def run(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, seconds: float, stdout_limit: int = 64 << 20
) -> Completed:
    """Run a process to completion; raise ProcessTimeout / OutputTooLarge after killing its group."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(seconds):
            out, err = await asyncio.gather(
                _read(proc.stdout, stdout_limit, truncate=False), _read(proc.stderr, 64 << 10, truncate=True)
            )
            returncode = await proc.wait()
    except TimeoutError:
        await _kill(proc)
        raise ProcessTimeout from None
    except BaseException:
        await _kill(proc)
        raise
    return Completed(returncode, out, err.decode("utf-8", "replace"))


async def _read(stream: asyncio.StreamReader, limit: int, *, truncate: bool) -> bytes:
    data = bytearray()
    while chunk := await stream.read(1 << 16):
        data += chunk
        if len(data) > limit:
            if not truncate:
                raise OutputTooLarge
            del data[: len(data) - limit]
    return bytes(data)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await asyncio.shield(proc.wait())
