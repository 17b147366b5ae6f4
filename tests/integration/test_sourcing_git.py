"""gitward.sourcing against real Git servers: smart HTTP (none/Basic/Bearer), git daemon and sshd.

Servers and repositories come from tests.support.fixtures (registered by tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support.gitserver import (
    BasicAuth,
    BearerAuth,
    GitDaemon,
    GitHttpServer,
    Repo,
    SshGitServer,
    Symlink,
    free_port,
    generate_key,
)

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials, Fetcher

MakeRepo = Callable[..., Repo]
StartHttp = Callable[..., GitHttpServer]
PASSWORD = "s3cret-Pa55word"
TOKEN = "tok-0123456789abcdef"
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    fetcher = Fetcher(tmp_path / "cache", timeout=30)
    yield fetcher
    fetcher.close()


@pytest.fixture
def work(make_repo: MakeRepo) -> Repo:
    repo = make_repo()
    repo.commit(
        {"app/deploy.yaml": "kind: Deployment\n", "app/svc.yaml": "kind: Service\n", "README.md": "hi\n",
         "app/link.yaml": Symlink("deploy.yaml")},
        "Add the app\n\nWith a body.", author=("Bob Builder", "bob@example.com"), when=WHEN,
    )  # fmt: skip
    return repo


# -- authentication over smart HTTP --------------------------------------------------------------


async def test_http_basic_auth_with_the_right_password(
    start_git_http_server: StartHttp, work: Repo, fetcher: Fetcher, tmp_path: Path
) -> None:
    server = start_git_http_server(BasicAuth("alice", PASSWORD))
    url = server.publish(work, "org/app.git")
    revision = await fetcher.resolve_and_fetch(url, "main", Credentials(username="alice", password=PASSWORD))
    assert revision.sha == work.head()
    await fetcher.checkout(url, revision.sha, tmp_path / "out")
    assert (tmp_path / "out" / "app" / "deploy.yaml").read_text() == "kind: Deployment\n"


@pytest.mark.parametrize(
    "creds", [Credentials(username="alice", password="wrong-" + PASSWORD), Credentials()], ids=["wrong", "none"]
)
async def test_http_basic_auth_refuses_bad_credentials(
    start_git_http_server: StartHttp, work: Repo, fetcher: Fetcher, creds: Credentials
) -> None:
    server = start_git_http_server(BasicAuth("alice", PASSWORD))
    url = server.publish(work, "org/app.git")
    with pytest.raises(SourceError) as info:
        await fetcher.resolve_and_fetch(url, "main", creds)
    assert info.value.reason == "AuthenticationFailed"
    assert info.value.message.startswith(f"{url}: authentication failed")
    assert PASSWORD not in str(info.value)
    assert fetcher.fetch_count == 0


async def test_http_bearer_token(start_git_http_server: StartHttp, work: Repo, fetcher: Fetcher) -> None:
    server = start_git_http_server(BearerAuth(TOKEN))
    url = server.publish(work, "org/app.git")
    revision = await fetcher.resolve_and_fetch(url, "HEAD", Credentials(bearer_token=TOKEN))
    assert revision.sha == work.head()
    with pytest.raises(SourceError) as info:
        await fetcher.resolve_and_fetch(url, "HEAD", Credentials(bearer_token=TOKEN + "x"))
    assert info.value.reason == "AuthenticationFailed"
    assert TOKEN not in str(info.value)


async def test_a_commit_fetched_with_credentials_is_not_served_without_them(
    start_git_http_server: StartHttp, work: Repo, fetcher: Fetcher
) -> None:
    server = start_git_http_server(BasicAuth("alice", PASSWORD))
    url = server.publish(work, "org/app.git")
    sha = (await fetcher.resolve_and_fetch(url, "main", Credentials(username="alice", password=PASSWORD))).sha
    with pytest.raises(SourceError) as info:
        await fetcher.resolve_and_fetch(url, sha, Credentials(username="mallory", password="guess"))
    assert info.value.reason == "AuthenticationFailed"


# -- git:// and ssh:// ---------------------------------------------------------------------------


async def test_git_daemon(git_daemon: GitDaemon, work: Repo, fetcher: Fetcher, tmp_path: Path) -> None:
    url = git_daemon.publish(work, "app.git")
    revision = await fetcher.resolve_and_fetch(url, "main")
    assert revision.sha == work.head()
    await fetcher.checkout(url, revision.sha, tmp_path / "out")
    assert (tmp_path / "out" / "README.md").read_text() == "hi\n"


async def test_ssh_with_the_known_host_key(
    ssh_git_server: SshGitServer, work: Repo, fetcher: Fetcher, tmp_path: Path
) -> None:
    url = ssh_git_server.publish(work, "app.git")
    creds = Credentials(ssh_private_key=ssh_git_server.client_private_key, known_hosts=ssh_git_server.known_hosts)
    revision = await fetcher.resolve_and_fetch(url, "main", creds)
    assert revision.sha == work.head()
    await fetcher.checkout(url, revision.sha, tmp_path / "out", creds)
    assert (tmp_path / "out" / "app" / "svc.yaml").exists()


async def test_ssh_with_a_wrong_host_key_is_refused(
    ssh_git_server: SshGitServer, work: Repo, fetcher: Fetcher, tmp_path: Path
) -> None:
    url = ssh_git_server.publish(work, "app.git")
    _, other_key = generate_key(tmp_path / "other", "impostor")
    known_hosts = f"[127.0.0.1]:{ssh_git_server.port} {' '.join(other_key.split()[:2])}\n"
    creds = Credentials(ssh_private_key=ssh_git_server.client_private_key, known_hosts=known_hosts)
    with pytest.raises(SourceError, match="host key verification failed") as info:
        await fetcher.resolve_and_fetch(url, "main", creds)
    assert info.value.reason == "AuthenticationFailed"
    assert "PRIVATE KEY" not in str(info.value)


async def test_ssh_with_a_wrong_client_key_is_refused(
    ssh_git_server: SshGitServer, work: Repo, fetcher: Fetcher, tmp_path: Path
) -> None:
    url = ssh_git_server.publish(work, "app.git")
    other_private, _ = generate_key(tmp_path / "other", "stranger")
    creds = Credentials(ssh_private_key=other_private, known_hosts=ssh_git_server.known_hosts)
    with pytest.raises(SourceError, match="authentication failed") as info:
        await fetcher.resolve_and_fetch(url, "main", creds)
    assert info.value.reason == "AuthenticationFailed"


async def test_ssh_without_known_hosts_is_refused(ssh_git_server: SshGitServer, work: Repo, fetcher: Fetcher) -> None:
    url = ssh_git_server.publish(work, "app.git")
    with pytest.raises(SourceError, match="knownHosts required"):
        await fetcher.resolve_and_fetch(url, "main", Credentials(ssh_private_key=ssh_git_server.client_private_key))


# -- revisions -----------------------------------------------------------------------------------


async def test_branch_tag_sha_and_head_resolve(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher) -> None:
    first = work.head()
    work.tag("v1.0.0", message="release 1")
    work.tag("light")
    work.branch("release")
    second = work.commit({"README.md": "second\n"}, "Second")
    url = git_http_server.publish(work, "org/app.git")
    cases = {
        "HEAD": (second, "HEAD"),
        "main": (second, "refs/heads/main"),
        "release": (first, "refs/heads/release"),
        "v1.0.0": (first, "refs/tags/v1.0.0"),
        "light": (first, "refs/tags/light"),
        "refs/heads/release": (first, "refs/heads/release"),
        first: (first, ""),
    }
    for revision, (sha, ref) in cases.items():
        got = await fetcher.resolve_and_fetch(url, revision)
        assert (got.sha, got.ref) == (sha, ref), revision
    assert fetcher.fetch_count == 2  # one per distinct commit


async def test_commit_metadata_is_recorded(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher) -> None:
    url = git_http_server.publish(work, "org/app.git")
    revision = await fetcher.resolve_and_fetch(url, "main")
    assert revision.author == "Bob Builder"
    assert revision.author_email == "bob@example.com"
    assert revision.message == "Add the app\n\nWith a body."
    assert revision.committed_at == "2024-05-06T07:08:09Z"


async def test_unknown_revisions(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher) -> None:
    url = git_http_server.publish(work, "org/app.git")
    for revision in ("no-such-branch", "abc1234", "0" * 40):
        with pytest.raises(SourceError) as info:
            await fetcher.resolve_and_fetch(url, revision)
        assert info.value.reason == "RevisionNotFound", info.value.message
    assert "40 hex" in str(await _error(fetcher.resolve_and_fetch(url, "abc1234")))


async def test_a_new_commit_is_fetched(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher) -> None:
    url = git_http_server.publish(work, "org/app.git")
    before = await fetcher.resolve_and_fetch(url, "main")
    after_sha = work.commit({"app/deploy.yaml": "kind: Deployment\nreplicas: 2\n", "README.md": None}, "Scale up")
    work.push(git_http_server.root / "org/app.git")
    after = await fetcher.resolve_and_fetch(url, "main")
    assert (before.sha, after.sha) == (before.sha, after_sha)
    assert after.message == "Scale up"
    assert fetcher.fetch_count == 2


# -- sharing -------------------------------------------------------------------------------------


async def test_concurrent_requests_share_one_fetch(
    git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher
) -> None:
    url = git_http_server.publish(work, "org/app.git")
    revisions = await asyncio.gather(*(fetcher.resolve_and_fetch(url, "main") for _ in range(20)))
    assert {r.sha for r in revisions} == {work.head()}
    assert fetcher.fetch_count == 1
    assert git_http_server.fetches("org/app.git") == 1


async def test_ls_remote_ttl_shares_one_ls_remote(git_http_server: GitHttpServer, work: Repo, tmp_path: Path) -> None:
    url = git_http_server.publish(work, "org/app.git")
    with Fetcher(tmp_path / "cache", ls_remote_ttl=30) as fetcher:
        await asyncio.gather(*(fetcher.resolve_and_fetch(url, "main") for _ in range(20)))
        await fetcher.resolve_and_fetch(url, "main")
        assert (fetcher.ls_remote_count, fetcher.fetch_count) == (1, 1)
    assert git_http_server.count(command="ls-refs") == 1


async def test_url_variants_share_one_cache(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher) -> None:
    url = git_http_server.publish(work, "org/app.git")
    variants = [url, url.removesuffix(".git"), url + "/", url.replace("http://", "HTTP://")]
    for variant in variants:
        assert (await fetcher.resolve_and_fetch(variant, "main")).sha == work.head()
    assert fetcher.fetch_count == 1
    assert len(list((fetcher.cache_dir / "repos").iterdir())) == 1


async def test_a_present_sha_costs_no_network(git_http_server: GitHttpServer, work: Repo, tmp_path: Path) -> None:
    url = git_http_server.publish(work, "org/app.git")
    sha = work.head()
    with Fetcher(tmp_path / "cache") as first:
        await first.resolve_and_fetch(url, sha)
    seen = len(git_http_server.requests)
    with Fetcher(tmp_path / "cache") as second:  # a restarted controller finds the cache on disk
        revision = await second.resolve_and_fetch(url, sha)
        assert (revision.sha, second.fetch_count, second.ls_remote_count) == (sha, 0, 0)
    assert len(git_http_server.requests) == seen


# -- checkout and limits -------------------------------------------------------------------------


async def test_checkout_writes_the_tree_without_git(
    git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher, tmp_path: Path
) -> None:
    work.commit({"escape": Symlink("../../etc/passwd"), "empty.txt": ""}, "More")
    url = git_http_server.publish(work, "org/app.git")
    revision = await fetcher.resolve_and_fetch(url, "main")
    out = tmp_path / "out"
    await fetcher.checkout(url, revision.sha, out)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert files == ["README.md", "app", "app/deploy.yaml", "app/link.yaml", "app/svc.yaml", "empty.txt", "escape"]
    assert (out / "app" / "link.yaml").is_symlink()
    assert os.readlink(out / "app" / "link.yaml") == "deploy.yaml"
    assert os.readlink(out / "escape") == "../../etc/passwd"  # kept as is: the renderer judges it
    with pytest.raises(FileExistsError):
        await fetcher.checkout(url, revision.sha, out)


async def test_checkout_of_an_unfetched_commit_fails(git_http_server: GitHttpServer, work: Repo, fetcher: Fetcher,
                                                     tmp_path: Path) -> None:  # fmt: skip
    url = git_http_server.publish(work, "org/app.git")
    with pytest.raises(SourceError, match="has not been fetched"):
        await fetcher.checkout(url, work.head(), tmp_path / "out")


async def test_too_many_files(git_http_server: GitHttpServer, work: Repo, tmp_path: Path) -> None:
    url = git_http_server.publish(work, "org/app.git")
    with Fetcher(tmp_path / "cache", max_files=3) as fetcher:
        error = await _error(fetcher.resolve_and_fetch(url, "main"))
    assert error.reason == "RepositoryTooLarge"
    assert "4 files, more than the limit of 3" in error.message


async def test_too_many_bytes(git_http_server: GitHttpServer, make_repo: MakeRepo, tmp_path: Path) -> None:
    big = make_repo("big")
    big.commit({"blob.bin": os.urandom(200_000)}, "big")
    url = git_http_server.publish(big, "big.git")
    with Fetcher(tmp_path / "cache", max_repo_bytes=100_000) as fetcher:
        error = await _error(fetcher.resolve_and_fetch(url, "main"))
    assert error.reason == "RepositoryTooLarge"
    assert "larger than the limit of 100000 bytes" in error.message


async def test_too_many_bytes_in_the_tree(git_http_server: GitHttpServer, make_repo: MakeRepo, tmp_path: Path) -> None:
    zeros = make_repo("zeros")
    zeros.commit({"zeros.txt": "0" * 500_000}, "compresses well")
    url = git_http_server.publish(zeros, "zeros.git")
    with Fetcher(tmp_path / "cache", max_repo_bytes=100_000) as fetcher:
        error = await _error(fetcher.resolve_and_fetch(url, "main"))
    assert error.reason == "RepositoryTooLarge"
    assert "500000 bytes, more than the limit of 100000" in error.message


@pytest.mark.parametrize("path", [".git/hooks/post-checkout", "..", "a/.git/config"])
async def test_hostile_paths_are_not_checked_out(
    git_http_server: GitHttpServer, make_repo: MakeRepo, fetcher: Fetcher, tmp_path: Path, path: str
) -> None:
    hostile = make_repo("hostile")
    sha = hostile.commit_unchecked({path: "#!/bin/sh\ntouch pwned\n", "ok.yaml": "a: 1\n"})
    url = git_http_server.publish(hostile, "hostile.git")
    await fetcher.resolve_and_fetch(url, sha)
    error = await _error(fetcher.checkout(url, sha, tmp_path / "out" / "tree"))
    assert error.reason == "CheckoutFailed"
    assert not (tmp_path / "out" / ".git").exists()
    assert not _files_named(tmp_path, "pwned")


# -- failures ------------------------------------------------------------------------------------


async def test_unreachable_server_fails_with_a_clear_error(fetcher: Fetcher) -> None:
    error = await _error(fetcher.resolve_and_fetch(f"http://127.0.0.1:{free_port()}/org/app.git", "main"))
    assert error.reason == "FetchFailed"
    assert "cannot reach the repository server" in error.message


async def test_unknown_repository(git_http_server: GitHttpServer, fetcher: Fetcher) -> None:
    error = await _error(fetcher.resolve_and_fetch(git_http_server.url("nope.git"), "main"))
    assert error.reason == "FetchFailed"
    assert "not found" in error.message


async def test_a_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/org/app.git"
        with Fetcher(tmp_path / "cache", timeout=1) as fetcher:
            error = await _error(fetcher.resolve_and_fetch(url, "main"))
    assert "timed out after 1s" in error.message


async def test_file_urls_only_when_allowed(git_http_server: GitHttpServer, work: Repo, tmp_path: Path) -> None:
    work_path = git_http_server.create_repo("local.git")
    work.push(work_path)
    url = f"file://{work_path}"
    with Fetcher(tmp_path / "cache") as refusing:
        error = await _error(refusing.resolve_and_fetch(url, "main"))
        assert error.reason == "InvalidRepoURL"
        assert refusing.ls_remote_count == 0
    with Fetcher(tmp_path / "cache", allow_file=True) as allowing:
        assert (await allowing.resolve_and_fetch(url, "main")).sha == work.head()


async def test_hostile_urls_never_reach_git(fetcher: Fetcher, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for url in (f"ext::sh -c touch% {marker}", "--upload-pack=touch%20/tmp/x", "fd::3"):
        error = await _error(fetcher.resolve_and_fetch(url, "main"))
        assert error.reason == "InvalidRepoURL"
    assert not marker.exists()
    assert fetcher.ls_remote_count == 0


# -- argument injection -------------------------------------------------------------------------


HOSTILE_REVISIONS = ("--upload-pack=touch {marker}", "-c core.sshCommand=touch {marker}", "--output={marker}",
                     "-x", "--end-of-options", "--exec=touch {marker}")  # fmt: skip


def recording_git(tmp_path: Path) -> tuple[str, Path]:
    """A `git` that appends its argument list to a log, then runs the real git with it unchanged."""
    log = tmp_path / "git-argv.log"
    script = tmp_path / "recording-git"
    script.write_text(
        f'#!/bin/sh\nfor a in "$@"; do printf \'%s\\037\' "$a" >> {shlex.quote(str(log))}; done\n'
        f"printf '\\036' >> {shlex.quote(str(log))}\nexec {shlex.quote(shutil.which('git') or 'git')} \"$@\"\n"
    )
    script.chmod(0o700)
    return str(script), log


def argument_lists(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [call.split("\x1f")[:-1] for call in log.read_text().split("\x1e")[:-1]]


async def test_hostile_revisions_never_reach_git(git_http_server: GitHttpServer, work: Repo, tmp_path: Path) -> None:
    url = git_http_server.publish(work, "org/app.git")
    marker = tmp_path / "pwned"
    git, log = recording_git(tmp_path)
    with Fetcher(tmp_path / "cache", timeout=30, git=git) as fetcher:
        for template in HOSTILE_REVISIONS:
            revision = template.format(marker=marker)
            error = await _error(fetcher.resolve_and_fetch(url, revision))
            assert error.reason == "InvalidRevision", revision
            assert error.message.startswith("targetRevision "), error.message
            error = await _error(fetcher.resolve(url, revision))
            assert error.reason == "InvalidRevision", revision
            for sha in (revision, f"{work.head()} {revision}"):
                assert (await _error(fetcher.checkout(url, sha, tmp_path / "out"))).reason == "InvalidRevision"
                error = await _error(fetcher.verify_commit(url, sha, None, config=[], env={}))
                assert error.reason == "InvalidRevision"
        assert (fetcher.ls_remote_count, fetcher.fetch_count) == (0, 0)
    assert argument_lists(log) == []  # not one git process started
    assert not marker.exists()
    assert git_http_server.requests == []


async def test_revisions_and_urls_reach_git_only_after_end_of_options(
    git_http_server: GitHttpServer, work: Repo, tmp_path: Path
) -> None:
    url = git_http_server.publish(work, "org/app.git")
    git, log = recording_git(tmp_path)
    with Fetcher(tmp_path / "cache", timeout=30, git=git) as fetcher:
        sha = (await fetcher.resolve_and_fetch(url, "main")).sha
        await fetcher.checkout(url, sha, tmp_path / "out")
        assert await fetcher.verify_commit(url, sha, None, config=[], env={}) == (False, "")
    calls = argument_lists(log)
    assert {"ls-remote", "fetch", "cat-file", "ls-tree", "log", "read-tree", "init"} <= {a for c in calls for a in c}
    for argv in calls:
        for i, arg in enumerate(argv):
            if arg == url or (argv[0] == "init" and i == len(argv) - 1):  # the repository URL, the new cache
                assert argv[i - 1] == "--", argv
            elif arg.startswith("+"):  # the fetch refspec, after the URL
                assert "--" in argv[:i], argv
            elif sha in arg:  # a revision
                assert argv[i - 1] == "--end-of-options", argv
    assert (tmp_path / "out" / "README.md").read_text() == "hi\n"


async def test_a_bearer_token_with_a_line_break_sends_nothing(
    start_git_http_server: StartHttp, work: Repo, fetcher: Fetcher
) -> None:
    server = start_git_http_server(BearerAuth(TOKEN))
    url = server.publish(work, "org/app.git")
    error = await _error(fetcher.resolve_and_fetch(url, "main", Credentials(bearer_token=f"{TOKEN}\r\nX-Injected: 1")))
    assert error.reason == "InvalidCredentials"
    assert "bearerToken" in error.message
    assert TOKEN not in error.message
    assert server.requests == []


# -- the test bed itself ------------------------------------------------------------------------


def test_http_server_takes_chunked_pushes_and_gzip_requests(start_git_http_server: StartHttp, make_repo: MakeRepo,
                                                           tmp_path: Path) -> None:  # fmt: skip
    server = start_git_http_server(BasicAuth("alice", PASSWORD))
    work = make_repo()
    for i in range(40):
        work.commit({f"f{i}.txt": str(i)}, f"c{i}")
        work.branch(f"branch-{i}")
    work.commit({"big.bin": os.urandom(2_000_000)}, "big")  # pushed as a chunked request body
    server.create_repo("app.git")
    authed = server.url("app.git").replace("http://", f"http://alice:{PASSWORD}@")
    work.push(authed)
    assert server.count(service="git-receive-pack", command="push", status=200) >= 1
    clone = Repo(tmp_path / "clone")
    clone.git("fetch", "--quiet", authed, "+refs/heads/*:refs/remotes/origin/*")  # 41 wants: gzip request
    assert clone.head("refs/remotes/origin/main") == work.head()
    assert server.fetches("app.git") == 1
    assert server.cgi_errors == []


def _files_named(root: Path, name: str) -> list[Path]:
    return list(root.rglob(name))


async def _error(call: object) -> SourceError:
    try:
        await call  # type: ignore[misc]
    except SourceError as error:
        return error
    raise AssertionError("expected a SourceError")
