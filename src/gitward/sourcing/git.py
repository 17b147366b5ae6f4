"""The Fetcher: resolve a revision, fetch just that commit once, and materialise its tree.

First stage of the pipeline (sourcing → rendering → …): the reconciler calls
`resolve_and_fetch(repoURL, targetRevision, creds)` to learn which commit to deploy (and who made
it), then `checkout(repoURL, sha, dest)` to get the files the renderer reads.

Design:
- one bare, shallow cache repository per normalised repoURL and credential identity, under
  `cache_dir/repos/` (credentials in the key: a commit fetched with one Secret is never served to
  an Application that uses another one);
- `git ls-remote` resolves branch/tag/HEAD cheaply (optionally cached for `ls_remote_ttl` seconds,
  with concurrent callers sharing one call); a full SHA skips it;
- `git fetch --depth 1` of exactly that commit, only if it is not already in the cache; concurrent
  callers for the same (repo, sha) share one fetch (in-flight futures), fetches into one cache
  repository are serialised by its lock;
- limits on every revision (files, bytes of the tree) and on the cache repository's pack size;
- every git process gets the private environment of `invocations.GitEnvironment`, a timeout, and its
  errors classified and redacted by `failures`.

`fetch_count` and `ls_remote_count` count network operations, for tests and metrics.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from gitward.core.errors import SourceError
from gitward.core.logging import get_logger
from gitward.sourcing import failures, invocations
from gitward.sourcing.credentials import Credentials
from gitward.sourcing.refs import RemoteRefs, check_revision, is_full_sha, parse_ls_remote, pick
from gitward.sourcing.stores import RepoHandle, Revision, Store, digest, tree_stats
from gitward.sourcing.urls import RepoURL, parse

__all__ = ["Fetcher", "Revision"]

TOO_LARGE = "RepositoryTooLarge"
END_OF_OPTIONS = "--end-of-options"
"""Before every revision in an argument list (git ≥ 2.24): whatever follows is never an option.
Revisions reaching git are full SHAs already (`check_revision`, `is_full_sha`); this is the second lock."""
_log = get_logger(__name__)


class Fetcher:
    """Fetches Git revisions into a shared on-disk cache. Use one per controller process."""

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        allow_file: bool = False,
        timeout: float = 120.0,
        ls_remote_ttl: float = 0.0,
        max_repo_bytes: int = 256 << 20,
        max_files: int = 50_000,
        git: str = "git",
    ) -> None:
        self.cache_dir = Path(cache_dir)
        (self.cache_dir / "repos").mkdir(parents=True, exist_ok=True)
        self.allow_file = allow_file
        self.timeout = timeout
        self.ls_remote_ttl = ls_remote_ttl
        self.max_repo_bytes = max_repo_bytes
        self.max_files = max_files
        self.fetch_count = 0
        self.ls_remote_count = 0
        self._git = git
        self._env = invocations.GitEnvironment(connect_timeout=min(timeout, 30.0))
        self._repos: dict[str, RepoHandle] = {}
        self._stores: dict[str, Store] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._ls_cache: dict[str, tuple[float, RemoteRefs]] = {}  # key -> (started at, refs)
        self._ls_inflight: dict[str, tuple[float, asyncio.Future[RemoteRefs]]] = {}
        self._fetched_by: dict[tuple[str, str], RepoHandle] = {}

    # -- public API -------------------------------------------------------------------------------

    async def resolve(
        self, url: str, revision: str = "HEAD", creds: Credentials | None = None, *, not_before: float | None = None
    ) -> tuple[str, str]:
        """The (sha, ref) `revision` names now; a full SHA is returned as is, without network."""
        repo = self._repo(parse(url, allow_file=self.allow_file), creds or Credentials())
        return await self._resolve(repo, check_revision(revision), not_before)

    async def resolve_and_fetch(
        self, url: str, revision: str = "HEAD", creds: Credentials | None = None, *, not_before: float | None = None
    ) -> Revision:
        """Resolve `revision`, make sure its commit is in the cache (fetching at most once), describe it."""
        repo = self._repo(parse(url, allow_file=self.allow_file), creds or Credentials())
        sha, ref = await self._resolve(repo, check_revision(revision), not_before)
        await self._ensure_commit(repo, sha)
        self._fetched_by[(repo.url.normalized(), sha)] = repo
        commit = await self._commit_info(repo, sha)
        return Revision(commit.sha, commit.author, commit.author_email, commit.message, commit.committed_at, ref)

    async def checkout(self, url: str, sha: str, dest: Path, creds: Credentials | None = None) -> None:
        """Write the tree of fetched commit `sha` into `dest` (created; must be empty), without `.git`.

        Symlinks stay symlinks (the renderer checks where they point). Without `creds`, the cache
        that `resolve_and_fetch` used for this URL and SHA is used.
        """
        parsed = parse(url, allow_file=self.allow_file)
        if not is_full_sha(sha):
            raise SourceError(f"{parsed.display()}: checkout needs a full commit SHA", reason="InvalidRevision")
        repo = self._checkout_repo(parsed, sha, creds)
        if sha not in repo.present:
            await self._require_local_commit(repo, sha)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise FileExistsError(f"checkout destination {dest} is not empty")
        await self._write_tree(repo, sha, dest)

    async def verify_commit(
        self, url: str, sha: str, creds: Credentials | None, *, config: list[tuple[str, str]], env: dict[str, str]
    ) -> tuple[bool, str]:
        """Run `git verify-commit --raw` on fetched commit `sha` with extra git `config` and
        environment (see `gitward.sourcing.verification`); return (signed, gpg/ssh-keygen output).
        `signed` is False when the commit carries no signature at all."""
        parsed = parse(url, allow_file=self.allow_file)
        if not is_full_sha(sha):
            raise SourceError(f"{parsed.display()}: verify-commit needs a full commit SHA", reason="InvalidRevision")
        repo = self._checkout_repo(parsed, sha, creds)
        header = await self._local(repo, ["cat-file", "commit", END_OF_OPTIONS, sha])
        head = header.stdout.split(b"\n\n", 1)[0]
        if not any(line.startswith((b"gpgsig ", b"gpgsig-sha256 ")) for line in head.split(b"\n")):
            return False, ""
        argv = [arg for key, value in config for arg in ("-c", f"{key}={value}")]
        result = await self._local(repo, [*argv, "verify-commit", "--raw", END_OF_OPTIONS, sha], check=False, env=env)
        output = result.stdout.decode("utf-8", "replace") + result.stderr
        return True, output if result.returncode == 0 else "FAILED\n" + output

    def close(self) -> None:
        """Remove the private directory (askpass helper, HOME); the cache stays for the next run."""
        self._env.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- cache repositories -----------------------------------------------------------------------

    def _repo(self, url: RepoURL, creds: Credentials) -> RepoHandle:
        key = digest(url.for_git(), creds.identity())
        repo = self._repos.get(key)
        if repo is None:
            store_key = digest(url.normalized(), creds.identity())
            store = self._stores.get(store_key)
            if store is None:
                store = self._stores[store_key] = Store(store_key, self.cache_dir / "repos" / f"{store_key}.git")
            repo = self._repos[key] = RepoHandle(key, url, creds, store)
        return repo

    def _checkout_repo(self, url: RepoURL, sha: str, creds: Credentials | None) -> RepoHandle:
        if creds is not None:
            return self._repo(url, creds)
        return self._fetched_by.get((url.normalized(), sha)) or self._repo(url, Credentials())

    async def _init(self, repo: RepoHandle) -> None:
        if (repo.path / "HEAD").exists():
            return
        await self._local(repo, ["init", "--bare", "--quiet", "--", str(repo.path)], git_dir=False)

    async def _wipe(self, repo: RepoHandle) -> None:
        repo.store.present.clear()
        repo.store.commits.clear()
        await asyncio.to_thread(shutil.rmtree, repo.path, True)

    # -- resolving --------------------------------------------------------------------------------

    async def _resolve(self, repo: RepoHandle, revision: str, not_before: float | None) -> tuple[str, str]:
        if is_full_sha(revision):
            return revision, ""
        remote = await self._ls_remote(repo, not_before)
        found = pick(remote, revision)
        if found is None:
            raise _revision_not_found(repo, revision, remote)
        return found

    async def _ls_remote(self, repo: RepoHandle, not_before: float | None) -> RemoteRefs:
        """The remote's refs, from an answer that started at or after `not_before` (monotonic time).

        By default answers younger than `ls_remote_ttl` are reused; a caller that must see a push
        it was told about (a refresh, a webhook) passes the time it was told, so an ls-remote that
        started earlier is not reused, while concurrent refreshes still share one.
        """
        if not_before is None:
            if self.ls_remote_ttl <= 0:
                return await self._ls_remote_network(repo)
            not_before = time.monotonic() - self.ls_remote_ttl
        cached = self._ls_cache.get(repo.key)
        if cached is not None and cached[0] >= not_before:
            return cached[1]
        inflight = self._ls_inflight.get(repo.key)
        if inflight is None or inflight[0] < not_before:
            started = time.monotonic()
            future = asyncio.ensure_future(self._ls_remote_network(repo))
            inflight = (started, future)
            self._ls_inflight[repo.key] = inflight
            future.add_done_callback(lambda f: self._ls_done(repo.key, started, f))
        return await asyncio.shield(inflight[1])

    def _ls_done(self, key: str, started: float, future: asyncio.Future[RemoteRefs]) -> None:
        current = self._ls_inflight.get(key)
        if current is not None and current[1] is future:
            self._ls_inflight.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            cached = self._ls_cache.get(key)
            if cached is None or cached[0] <= started:
                self._ls_cache[key] = (started, future.result())

    async def _ls_remote_network(self, repo: RepoHandle) -> RemoteRefs:
        argv = ["ls-remote", "--symref", "--", repo.url.for_git()]
        self.ls_remote_count += 1
        result = await self._remote(repo, argv, "ls-remote", git_dir=False)
        return parse_ls_remote(result.stdout.decode("utf-8", "replace"))

    # -- fetching ---------------------------------------------------------------------------------

    async def _ensure_commit(self, repo: RepoHandle, sha: str) -> None:
        if sha in repo.present:
            return
        key = (repo.store.key, sha)
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._materialize(repo, sha))
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._fetch_done(key, f))
        await asyncio.shield(future)

    def _fetch_done(self, key: tuple[str, str], future: asyncio.Future[None]) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled():
            future.exception()  # retrieved here, so an abandoned failure is not reported as unhandled

    async def _materialize(self, repo: RepoHandle, sha: str) -> None:
        async with repo.store.lock:
            await self._init(repo)
            if not await self._has_commit(repo, sha):
                await self._fetch_within_limits(repo, sha)
            await self._check_tree(repo, sha)
            repo.present.add(sha)

    async def _fetch_within_limits(self, repo: RepoHandle, sha: str) -> None:
        fresh = not repo.present
        await self._fetch(repo, sha)
        if await self._repo_bytes(repo) <= self.max_repo_bytes:
            return
        await self._wipe(repo)
        if not fresh:  # the cache grew over many revisions: start again with just this one
            await self._init(repo)
            await self._fetch(repo, sha)
            if await self._repo_bytes(repo) <= self.max_repo_bytes:
                return
            await self._wipe(repo)
        msg = f"repository is larger than the limit of {self.max_repo_bytes} bytes"
        raise failures.source_error(repo.subject, msg, reason=TOO_LARGE)

    async def _fetch(self, repo: RepoHandle, sha: str) -> None:
        argv = [
            "fetch", "--quiet", "--no-tags", "--depth=1", "--no-write-fetch-head", "--no-auto-gc",
            "--no-auto-maintenance", "--no-recurse-submodules", "--", repo.url.for_git(), f"+{sha}:refs/gitward/{sha}",
        ]  # fmt: skip
        self.fetch_count += 1
        started = time.monotonic()
        await self._remote(repo, argv, "fetch", git_dir=True)
        _log.info("git fetched", repo=repo.subject, sha=sha, seconds=round(time.monotonic() - started, 3))
        if not await self._has_commit(repo, sha):
            msg = f"{sha} is not a commit"
            raise failures.source_error(repo.subject, msg, reason=failures.REVISION_NOT_FOUND)

    async def _has_commit(self, repo: RepoHandle, sha: str) -> bool:
        result = await self._local(repo, ["cat-file", "-e", END_OF_OPTIONS, f"{sha}^{{commit}}"], check=False)
        return result.returncode == 0

    async def _require_local_commit(self, repo: RepoHandle, sha: str) -> None:
        if not (repo.path / "HEAD").exists() or not await self._has_commit(repo, sha):
            msg = f"commit {sha} has not been fetched (call resolve_and_fetch first)"
            raise failures.source_error(repo.subject, msg, reason=failures.REVISION_NOT_FOUND)
        await self._check_tree(repo, sha)
        repo.present.add(sha)

    # -- limits and metadata ----------------------------------------------------------------------

    async def _repo_bytes(self, repo: RepoHandle) -> int:
        result = await self._local(repo, ["count-objects", "-v"])
        sizes = dict(line.split(": ", 1) for line in result.stdout.decode().splitlines() if ": " in line)
        return (int(sizes.get("size", "0")) + int(sizes.get("size-pack", "0"))) * 1024

    async def _check_tree(self, repo: RepoHandle, sha: str) -> None:
        limit = self.max_files * 1100 + (1 << 20)
        argv = ["ls-tree", "-r", "-l", "-z", "--full-tree", END_OF_OPTIONS, sha]
        try:
            result = await self._local(repo, argv, stdout_limit=limit)
        except invocations.OutputTooLarge:
            raise _too_large(repo, sha, f"more than {self.max_files} files") from None
        files, size = tree_stats(result.stdout)
        if files > self.max_files:
            raise _too_large(repo, sha, f"{files} files, more than the limit of {self.max_files}")
        if size > self.max_repo_bytes:
            raise _too_large(repo, sha, f"{size} bytes, more than the limit of {self.max_repo_bytes}")

    async def _commit_info(self, repo: RepoHandle, sha: str) -> Revision:
        cached = repo.store.commits.get(sha)
        if cached is not None:
            return cached
        argv = ["log", "-1", "--no-walk", "--format=%an%x00%ae%x00%ct%x00%B", END_OF_OPTIONS, sha, "--"]
        result = await self._local(repo, argv)
        author, email, timestamp, message = result.stdout.decode("utf-8", "replace").split("\0", 3)
        committed = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        commit = Revision(sha, author, email, message.rstrip("\n"), committed, "")
        repo.store.commits[sha] = commit
        return commit

    async def _write_tree(self, repo: RepoHandle, sha: str, dest: Path) -> None:
        index_dir = Path(tempfile.mkdtemp(prefix="index-", dir=self._env.root))
        env = {"GIT_INDEX_FILE": str(index_dir / "index")}
        try:
            for argv in (["read-tree", END_OF_OPTIONS, sha], ["checkout-index", "--all", "--force"]):
                result = await self._local(repo, ["--work-tree", str(dest), *argv], check=False, env=env)
                if result.returncode != 0:
                    detail = result.stderr
                    raise failures.source_error(
                        repo.subject,
                        f"cannot check out {sha}",
                        reason="CheckoutFailed",
                        detail=detail,
                        secrets=repo.creds.secrets(),
                    )
        finally:
            shutil.rmtree(index_dir, ignore_errors=True)

    # -- running git ------------------------------------------------------------------------------

    async def _local(
        self,
        repo: RepoHandle,
        argv: list[str],
        *,
        git_dir: bool = True,
        check: bool = True,
        stdout_limit: int = 64 << 20,
        env: dict[str, str] | None = None,
    ) -> invocations.Completed:
        full_env = self._env.local() | (env or {})
        full = [self._git, *(["--git-dir", str(repo.path)] if git_dir else []), *argv]
        result = await self._run(repo, full, full_env, argv[0], stdout_limit)
        if check and result.returncode != 0:
            raise failures.source_error(
                repo.subject,
                f"git {argv[0]} failed",
                reason=failures.FETCH_FAILED,
                detail=result.stderr,
                secrets=repo.creds.secrets(),
            )
        return result

    async def _remote(self, repo: RepoHandle, argv: list[str], what: str, *, git_dir: bool) -> invocations.Completed:
        full = [self._git, *(["--git-dir", str(repo.path)] if git_dir else []), *argv]
        with self._env.remote(repo.url, repo.creds) as env:
            result = await self._run(repo, full, env, what, 64 << 20)
        if result.returncode != 0:
            raise failures.from_stderr(repo.subject, result.stderr, repo.creds.secrets())
        return result

    async def _run(
        self, repo: RepoHandle, argv: list[str], env: dict[str, str], what: str, stdout_limit: int
    ) -> invocations.Completed:
        try:
            return await invocations.run(
                argv, env=env, cwd=self._env.root, seconds=self.timeout, stdout_limit=stdout_limit
            )
        except invocations.ProcessTimeout:
            msg = f"git {what} timed out after {self.timeout:g}s"
            raise failures.source_error(repo.subject, msg, reason=failures.FETCH_FAILED) from None


def _too_large(repo: RepoHandle, sha: str, what: str) -> SourceError:
    return failures.source_error(repo.subject, f"revision {sha} has {what}", reason=TOO_LARGE)


def _revision_not_found(repo: RepoHandle, revision: str, remote: RemoteRefs) -> SourceError:
    if revision == "HEAD":
        summary = "the repository has no HEAD (is it empty?)"
    else:
        summary = f"revision {revision!r} not found: no such branch or tag"
        if len(revision) < 40 and all(c in "0123456789abcdef" for c in revision.lower()):
            summary += " (commit SHAs must be given in full, 40 hex digits)"
    return failures.source_error(repo.subject, summary, reason=failures.REVISION_NOT_FOUND)
