"""pytest fixtures for the Git test bed (servers and repositories from `tests.support.gitserver`).

Imported by tests/conftest.py (or explicitly by a test module). Every server a fixture starts is
stopped at the fixture's teardown, so no process outlives the test that used it.

    make_repo(name="work", branch="main") -> Repo        working repositories in tmp_path
    git_http_server                                      smart HTTP, no authentication
    start_git_http_server(auth=None) -> GitHttpServer    more HTTP servers (BasicAuth / BearerAuth)
    git_daemon                                           git://
    ssh_git_server                                       ssh:// (the system's sshd)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.gitserver import BasicAuth, BearerAuth, GitDaemon, GitHttpServer, Repo, SshGitServer

__all__ = [
    "MakeRepo",
    "StartHttp",
    "git_daemon",
    "git_http_server",
    "make_repo",
    "ssh_git_server",
    "start_git_http_server",
]

MakeRepo = Callable[..., Repo]
StartHttp = Callable[..., GitHttpServer]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    def make(name: str = "work", branch: str = "main") -> Repo:
        return Repo(tmp_path / "work" / name, branch=branch)

    return make


@pytest.fixture
def start_git_http_server(tmp_path: Path) -> Iterator[StartHttp]:
    servers: list[GitHttpServer] = []

    def start(auth: BasicAuth | BearerAuth | None = None) -> GitHttpServer:
        server = GitHttpServer(tmp_path / f"http-{len(servers)}", auth=auth).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def git_http_server(start_git_http_server: StartHttp) -> GitHttpServer:
    return start_git_http_server()


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    with GitDaemon(tmp_path / "daemon-repos", tmp_path / "daemon") as daemon:
        assert isinstance(daemon, GitDaemon)
        yield daemon


@pytest.fixture
def ssh_git_server(tmp_path: Path) -> Iterator[SshGitServer]:
    with SshGitServer(tmp_path / "ssh-repos", tmp_path / "sshd") as server:
        assert isinstance(server, SshGitServer)
        yield server
