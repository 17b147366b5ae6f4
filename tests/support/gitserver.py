"""Real Git servers and repositories for gitward's tests — the one module tests import.

Repositories and the smart-HTTP server come from `gitward.testing` (shared with bench/); the git
daemon and sshd servers are the tests' own (`tests.support.gitdaemons`).

    Repo            a working repository: commit files/symlinks/deletions, branch, tag, push
    GitHttpServer   smart HTTP (git http-backend behind a real HTTP server), auth none/Basic/Bearer,
                    records requests (`fetches()`, `upload_pack_posts()`, `count(...)`)
    GitDaemon       git daemon (git://)
    SshGitServer    the system's sshd with generated keys (`client_private_key`, `known_hosts`)

Every server serves the bare repositories under its `root`: `create_repo(name)`, `url(name)`,
`publish(repo, name)` (push and return the URL). Start with `start()` or `with`, stop with `stop()`.
The pytest fixtures that manage their lifetimes are in `tests.support.fixtures`.
"""

from __future__ import annotations

from gitward.testing.githttp import BasicAuth, BearerAuth, GitHttpServer, HttpRequest
from gitward.testing.gitrepos import BareRepos, FileContent, Repo, Symlink, git_env, init_bare, run_git
from tests.support.gitdaemons import GitDaemon, ServerStartError, SshGitServer, free_port, generate_key

__all__ = [
    "BareRepos",
    "BasicAuth",
    "BearerAuth",
    "FileContent",
    "GitDaemon",
    "GitHttpServer",
    "HttpRequest",
    "Repo",
    "ServerStartError",
    "SshGitServer",
    "Symlink",
    "free_port",
    "generate_key",
    "git_env",
    "init_bare",
    "run_git",
]
