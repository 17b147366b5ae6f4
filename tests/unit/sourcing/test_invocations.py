"""The private git environment and the bounded runner (gitward.sourcing.invocations)."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials
from gitward.sourcing.invocations import GitEnvironment, OutputTooLarge, ProcessTimeout, run
from gitward.sourcing.urls import parse


@pytest.fixture
def environment() -> Iterator[GitEnvironment]:
    env = GitEnvironment()
    yield env
    env.close()


def config(env: dict[str, str]) -> dict[str, str]:
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}


def test_private_directory_and_askpass_are_owner_only(environment: GitEnvironment) -> None:
    assert stat.S_IMODE(environment.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(environment.askpass.stat().st_mode) == 0o700
    root = environment.root
    environment.close()
    assert not root.exists()


def test_environment_is_minimal_and_locked_down(environment: GitEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    env = environment.local()
    assert "GIT_DIR" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["HOME"] == str(environment.home)
    cfg = config(env)
    assert cfg["protocol.allow"] == "never"
    assert cfg["core.symlinks"] == "true"
    assert cfg["core.hooksPath"] == os.devnull
    assert not any(key.startswith("protocol.") and key.endswith(".allow") and key != "protocol.allow" for key in cfg)


def test_only_the_urls_protocol_is_allowed(environment: GitEnvironment) -> None:
    with environment.remote(parse("git://h/x"), Credentials()) as env:
        cfg = config(env)
    assert cfg["protocol.git.allow"] == "always"
    assert "protocol.file.allow" not in cfg
    assert "protocol.https.allow" not in cfg


def test_basic_credentials_travel_in_env_for_askpass(environment: GitEnvironment) -> None:
    creds = Credentials(username="alice", password="pa55")
    with environment.remote(parse("https://h/x"), creds) as env:
        assert env["GITWARD_GIT_USERNAME"] == "alice"
        assert env["GITWARD_GIT_PASSWORD"] == "pa55"
        assert env["GIT_ASKPASS"] == str(environment.askpass)


async def test_askpass_helper_answers_git_prompts(environment: GitEnvironment) -> None:
    creds = Credentials(username="alice", password="pa55 with space")
    with environment.remote(parse("https://h/x"), creds) as env:
        user = await run([str(environment.askpass), "Username for 'https://h': "], env=env, cwd=environment.root,
                         seconds=5)  # fmt: skip
        password = await run([str(environment.askpass), "Password for 'https://alice@h': "], env=env,
                             cwd=environment.root, seconds=5)  # fmt: skip
    assert user.stdout == b"alice\n"
    assert password.stdout == b"pa55 with space\n"


def test_bearer_token_is_an_extra_header_in_env_config(environment: GitEnvironment) -> None:
    with environment.remote(parse("https://h/x"), Credentials(bearer_token="tok")) as env:
        cfg = config(env)
    assert cfg["http.extraHeader"] == "Authorization: Bearer tok"
    assert cfg["http.followRedirects"] == "false"


def test_ssh_requires_known_hosts(environment: GitEnvironment) -> None:
    with (
        pytest.raises(SourceError, match="knownHosts required"),
        environment.remote(parse("ssh://git@h/x"), Credentials(ssh_private_key="KEY")),
    ):
        pass


def test_ssh_key_and_known_hosts_are_private_files_removed_after(environment: GitEnvironment) -> None:
    creds = Credentials(ssh_private_key="-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----", known_hosts="h k v")
    with environment.remote(parse("git@h:org/x"), creds) as env:
        command = env["GIT_SSH_COMMAND"]
        assert "StrictHostKeyChecking=yes" in command
        assert "IdentitiesOnly=yes" in command
        assert "-----BEGIN" not in command
        key = Path(command.split(" -i ")[1].split()[0])
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    assert not key.exists()


async def test_run_kills_on_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ProcessTimeout):
        await run(["sh", "-c", "sleep 30 & sleep 30"], env={"PATH": os.defpath}, cwd=tmp_path, seconds=0.3)
    assert time.monotonic() - started < 5


async def test_run_limits_output(tmp_path: Path) -> None:
    with pytest.raises(OutputTooLarge):
        await run(["sh", "-c", "yes | head -c 100000"], env={"PATH": os.defpath}, cwd=tmp_path, seconds=5,
                  stdout_limit=1000)  # fmt: skip


async def test_cancelling_run_kills_the_process(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    task = asyncio.ensure_future(run(["sh", "-c", f"echo $$ > {marker}; exec sleep 30"], env={"PATH": os.defpath},
                                     cwd=tmp_path, seconds=60))  # fmt: skip
    for _ in range(500):
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)
