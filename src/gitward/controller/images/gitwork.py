"""Git for image automation: clone a branch, commit a change (optionally signed), push without force.

Called by gitward.controller.images.updating once per automation run. Every git process runs in the
Fetcher's private environment (`sourcing.invocations.GitEnvironment`: no system or user config, no
hooks, no prompts, credentials through environment and files, never argv), with a timeout.

`commit_and_push` applies the change (a callback that edits the work tree and says what it did) on
the tip of the push branch (or the checkout branch when the push branch does not exist yet), commits
with the configured author, and pushes `HEAD:refs/heads/<push branch>` — never forced. When the remote
moved meanwhile (a human pushed), the push is refused; then it fetches the new tip, resets onto it,
applies the change again and retries, at most `attempts` times: a human commit is never lost.

Signing (`gitward.controller.images.signing`): an OpenPGP key in a private GNUPGHOME, or an SSH key in a
private 0600 file (`gpg.format=ssh`), made for this run and removed after it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from gitward.controller.images.signing import Signer, Signing, signer
from gitward.core.errors import SourceError
from gitward.core.redaction import redact
from gitward.sourcing import invocations
from gitward.sourcing.credentials import Credentials
from gitward.sourcing.urls import RepoURL

__all__ = ["Identity", "PushResult", "commit_and_push"]

Apply = Callable[[Path], Awaitable[str]]
"""Edits the work tree; returns the commit message, or "" when there is nothing to commit."""

_TIMEOUT = 120.0
_REFUSED = ("[rejected]", "non-fast-forward", "fetch first", "stale info", "failed to update ref", "cannot lock ref")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True)
class PushResult:
    sha: str  # "" when nothing was committed
    attempts: int
    message: str = ""


class GitWork:
    def __init__(self, env: invocations.GitEnvironment, url: RepoURL, creds: Credentials) -> None:
        self.env, self.url, self.creds = env, url, creds

    async def remote(self, cwd: Path, *args: str) -> invocations.Completed:
        with self.env.remote(self.url, self.creds) as env:
            return await self._run(cwd, env, *args)

    async def local(self, cwd: Path, *args: str, extra: dict[str, str] | None = None) -> invocations.Completed:
        return await self._run(cwd, {**self.env.local(), **(extra or {})}, *args)

    async def _run(self, cwd: Path, env: dict[str, str], *args: str) -> invocations.Completed:
        try:
            return await invocations.run(["git", *args], env=env, cwd=cwd, seconds=_TIMEOUT)
        except invocations.ProcessTimeout:
            raise SourceError(f"{self.url.display()}: git {args[0]} timed out", reason="GitTimeout") from None

    def fail(self, what: str, done: invocations.Completed) -> SourceError:
        detail = redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", self.creds.secrets())
        return SourceError(f"{self.url.display()}: {what}: {detail[:300]}", reason="GitOperationFailed")


async def commit_and_push(
    work: GitWork,
    checkout: str,
    push: str,
    author: Identity,
    apply: Apply,
    *,
    signing: Signing | None = None,
    attempts: int = 3,
) -> PushResult:
    """Clone, apply, commit and push (see the module docstring); the pushed commit or "" for no change."""
    root = Path(tempfile.mkdtemp(prefix="image-update-"))
    try:
        tree = root / "tree"
        await _clone(work, root, tree, checkout, push)
        with signer(signing, root) as sign:
            for attempt in range(1, attempts + 1):
                message = await apply(tree)
                if not message:
                    return PushResult("", attempt)
                sha = await _commit(work, tree, author, message, sign)
                done = await work.remote(tree, "push", "--porcelain", "origin", f"HEAD:refs/heads/{push}")
                if done.returncode == 0:
                    return PushResult(sha, attempt, message)
                if not any(word in done.stderr + done.stdout.decode(errors="replace") for word in _REFUSED):
                    raise work.fail("push failed", done)
                await _reset_to_remote(work, tree, push)
        raise SourceError(
            f"{work.url.display()}: the branch {push} kept moving; gave up after {attempts} attempts",
            reason="PushConflict",
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _clone(work: GitWork, root: Path, tree: Path, checkout: str, push: str) -> None:
    url = work.url.for_git()
    done = await work.remote(
        root, "clone", "--quiet", "--no-tags", "--single-branch", "--branch", checkout, "--", url, str(tree)
    )
    if done.returncode != 0:
        raise work.fail(f"cannot clone branch {checkout}", done)
    if push != checkout:
        fetched = await work.remote(
            tree, "fetch", "--quiet", "origin", f"+refs/heads/{push}:refs/remotes/origin/{push}"
        )
        if fetched.returncode == 0:  # the push branch exists: work on its tip, as Flux does
            await _must(work, tree, "checkout", "--quiet", "-B", push, f"refs/remotes/origin/{push}")


async def _reset_to_remote(work: GitWork, tree: Path, branch: str) -> None:
    done = await work.remote(tree, "fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    if done.returncode != 0:
        raise work.fail(f"cannot fetch {branch} after a refused push", done)
    await _must(work, tree, "reset", "--quiet", "--hard", f"refs/remotes/origin/{branch}")


async def _commit(work: GitWork, tree: Path, author: Identity, message: str, sign: Signer | None) -> str:
    (tree.parent / "message.txt").write_text(message if message.endswith("\n") else message + "\n")
    people = {
        "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
    }  # fmt: skip
    args = ["commit"]
    if sign is not None:
        people.update(sign.env)
        args = [*sign.config, "commit", sign.sign]
    await _must(work, tree, "add", "--all", extra=people)
    await _must(work, tree, *args, "--quiet", "--no-verify", "-F", str(tree.parent / "message.txt"), extra=people)
    done = await _must(work, tree, "rev-parse", "HEAD")
    return done.stdout.decode().strip()


async def _must(work: GitWork, tree: Path, *args: str, extra: dict[str, str] | None = None) -> invocations.Completed:
    done = await work.local(tree, *args, extra=extra)
    if done.returncode != 0:
        raise work.fail(f"git {next(a for a in args if not a.startswith('-') and '=' not in a)} failed", done)
    return done
