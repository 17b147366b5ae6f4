"""Git working repositories and served bare repositories for tests.

Used by gitward's tests (through `tests.support.gitserver`) and benchmarks (bench/) whenever they
need a Git history: `Repo` makes commits (files, deletions, symlinks, fixed authors and dates),
branches and tags, and pushes them to a bare repository that a server (`gitward.testing.githttp`,
or the tests' `GitDaemon` and `SshGitServer`) serves.
All git commands run with an isolated configuration: the host's ~/.gitconfig never matters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BareRepos", "FileContent", "Repo", "Symlink", "git_env", "init_bare", "run_git"]

DEFAULT_AUTHOR = ("Alice", "alice@example.com")


@dataclass(frozen=True)
class Symlink:
    """A file value for `Repo.commit` that creates a symbolic link pointing at `target`."""

    target: str


FileContent = str | bytes | Symlink | None


def git_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for git that ignores system and user configuration."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }
    env.update(extra)
    return env


def run_git(*args: str, cwd: Path, env: Mapping[str, str] | None = None, stdin: bytes | None = None) -> str:
    """Run git, return its stripped stdout; raise RuntimeError with stderr on failure."""
    full_env = dict(env) if env is not None else git_env(cwd)
    result = subprocess.run(["git", *args], cwd=cwd, env=full_env, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}): {stderr}")
    return result.stdout.decode(errors="replace").strip()


def init_bare(path: Path) -> Path:
    """Create (or keep) a bare repository at `path`, ready to be served and pushed to."""
    if not (path / "HEAD").exists():
        path.mkdir(parents=True, exist_ok=True)
        run_git("init", "--bare", "--quiet", "--initial-branch=main", str(path), cwd=path)
        run_git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=path)
        run_git("config", "http.receivepack", "true", cwd=path)
    return path


class Repo:
    """A non-bare working repository in `path` (created if needed) with an isolated git config."""

    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = Path(path)
        if not (self.path / ".git").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self.git("init", "--quiet", f"--initial-branch={branch}")

    def git(self, *args: str, **env: str) -> str:
        """Run git in this repository (extra keyword arguments are environment variables)."""
        return run_git(*args, cwd=self.path, env=git_env(self.path / ".git", **env))

    def git_input(self, stdin: bytes, *args: str) -> str:
        """Run git in this repository with `stdin` as its standard input."""
        return run_git(*args, cwd=self.path, env=git_env(self.path / ".git"), stdin=stdin)

    def commit(
        self,
        files: Mapping[str, FileContent],
        message: str = "update",
        author: tuple[str, str] = DEFAULT_AUTHOR,
        when: datetime | None = None,
    ) -> str:
        """Write (str/bytes), link (Symlink) or delete (None) files, commit them all, return the SHA."""
        for name, content in files.items():
            self._write(name, content)
        self.git("add", "--all")
        stamp = f"@{int((when or datetime.now(UTC)).timestamp())} +0000"
        self.git(
            "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message,
            GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1], GIT_AUTHOR_DATE=stamp,
            GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1], GIT_COMMITTER_DATE=stamp,
        )  # fmt: skip
        return self.head()

    def commit_unchecked(self, files: Mapping[str, str | bytes], message: str = "hostile") -> str:
        """Commit a tree of exactly `files` on the current branch, bypassing the index and git's path
        checks (`.git/hooks/x`, `..` are accepted): for hostile-repository tests. The working tree is
        left as it was."""
        tree = self._mktree(_nest(files))
        parent = ["-p", self.head()] if self.has_commits() else []
        identity = {"GIT_AUTHOR_NAME": DEFAULT_AUTHOR[0], "GIT_AUTHOR_EMAIL": DEFAULT_AUTHOR[1],
                    "GIT_COMMITTER_NAME": DEFAULT_AUTHOR[0], "GIT_COMMITTER_EMAIL": DEFAULT_AUTHOR[1]}  # fmt: skip
        sha = self.git("commit-tree", tree, *parent, "-m", message, **identity)
        self.git("update-ref", "HEAD", sha)
        return sha

    def _mktree(self, node: _Tree) -> str:
        lines = []
        for name, value in sorted(node.items()):
            if isinstance(value, dict):
                lines.append(f"040000 tree {self._mktree(value)}\t{name}")
            else:
                blob = self.git_input(value, "hash-object", "-w", "--stdin")
                lines.append(f"100644 blob {blob}\t{name}")
        return self.git_input("".join(f"{line}\n" for line in lines).encode(), "mktree", "--missing")

    def has_commits(self) -> bool:
        try:
            self.head()
        except RuntimeError:
            return False
        return True

    def head(self, ref: str = "HEAD") -> str:
        """The commit SHA `ref` points to."""
        return self.git("rev-parse", f"{ref}^{{commit}}")

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch `name` at `start` (the current branch does not change)."""
        self.git("branch", "--force", name, start)

    def switch(self, name: str) -> None:
        """Make `name` (an existing branch) the current branch."""
        self.git("checkout", "--quiet", name)

    def tag(self, name: str, ref: str = "HEAD", message: str | None = None) -> None:
        """Tag `ref`: a lightweight tag, or an annotated one when `message` is given."""
        if message is None:
            self.git("tag", "--force", name, ref)
        else:
            self.git("tag", "--force", "--annotate", "-m", message, name, ref,
                     GIT_COMMITTER_NAME=DEFAULT_AUTHOR[0], GIT_COMMITTER_EMAIL=DEFAULT_AUTHOR[1])  # fmt: skip

    def push(self, remote: Path | str, *refspecs: str) -> None:
        """Force-push `refspecs` (default: all branches and tags) to a bare repository path or URL."""
        specs = refspecs or ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        self.git("push", "--quiet", "--no-verify", str(remote), *specs)

    def _write(self, name: str, content: FileContent) -> None:
        normal = os.path.normpath(name)
        if os.path.isabs(normal) or normal.startswith("..") or ".git" in Path(normal).parts:
            raise ValueError(f"{name!r} is outside the working tree")
        target = self.path / normal
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir() and content is None:
            shutil.rmtree(target)
        if content is None:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Symlink):
            target.symlink_to(content.target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


_Tree = dict[str, "bytes | _Tree"]


def _nest(files: Mapping[str, str | bytes]) -> _Tree:
    root: _Tree = {}
    for path, content in files.items():
        *dirs, name = path.split("/")
        node = root
        for part in dirs:
            child = node.setdefault(part, {})
            assert isinstance(child, dict), f"{path}: {part} is a file"
            node = child
        node[name] = content.encode() if isinstance(content, str) else content
    return root


class BareRepos:
    """A directory of bare repositories that a server exposes; `url(name)` is the server's URL."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def create_repo(self, name: str) -> Path:
        """The bare repository `name` (e.g. `org/app.git`), created if needed."""
        return init_bare(self.root / name)

    def publish(self, repo: Repo, name: str, *refspecs: str) -> str:
        """Push `repo` (all branches and tags by default) to the served `name`; return its URL."""
        repo.push(self.create_repo(name), *refspecs)
        return self.url(name)

    def url(self, name: str) -> str:
        raise NotImplementedError
