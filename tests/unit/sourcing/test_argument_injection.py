"""Argument and transport injection into git and the chart-repository client: hostile revisions,
repository URLs, bearer tokens and chart names are refused, naming the field, before any process or
request starts. Plain data (the only I/O: an environment whose process would never start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials
from gitward.sourcing.chartversions import RepoLimits, check_chart_name, parse_index
from gitward.sourcing.credentials import authorization_header
from gitward.sourcing.helmrepo import ChartRepositories
from gitward.sourcing.invocations import GitEnvironment
from gitward.sourcing.refs import check_revision
from gitward.sourcing.urls import parse

HOSTILE_REVISIONS = [
    "--upload-pack=touch /tmp/pwned", "-c core.sshCommand=touch /tmp/pwned", "--output=/tmp/pwned", "-x",
    "--end-of-options", "--", " --upload-pack=x", "-", "--exec=sh", "main\n--upload-pack=x", "main\x00x",
]  # fmt: skip
HOSTILE_URLS = [
    "ext::sh -c touch% /tmp/pwned", "fd::3", "fd::0,1/x", "EXT::sh", "transport::x", "-oProxyCommand=touch /tmp/x",
    "--upload-pack=touch /tmp/x", "ssh://-oProxyCommand=touch/x", "ssh://host/-x", "git@host:-x",
    "git@-oProxyCommand=x:repo", "https://host/x --upload-pack=y", "https://host/x\n--config=core.x",
    "file:///tmp/x", "ftp://host/x", "https://user:pw@host/x", "https://host/x#frag",
]  # fmt: skip


@pytest.mark.parametrize("revision", HOSTILE_REVISIONS)
def test_option_looking_revisions_are_refused(revision: str) -> None:
    with pytest.raises(SourceError, match=r"^targetRevision ") as caught:
        check_revision(revision)
    assert caught.value.reason == "InvalidRevision"


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_unsafe_transports_and_option_looking_urls_are_refused(url: str) -> None:
    with pytest.raises(SourceError, match=r"^repoURL ") as caught:
        parse(url)
    assert caught.value.reason == "InvalidRepoURL"


@pytest.mark.parametrize(
    "token", ["s3cr3t\r\nX-Injected: 1", "s3cr3t\nX: y", "s3 cr3t", "s3cr3t\x00", "s3cr3t\t", "\x7f", ""]
)
def test_a_bearer_token_with_line_breaks_never_becomes_a_header(token: str) -> None:
    with pytest.raises(SourceError, match="bearerToken") as caught:
        authorization_header(Credentials(bearer_token=token))
    assert caught.value.reason == "InvalidCredentials"
    assert "s3" not in caught.value.message


def test_a_refused_bearer_token_stops_git_before_it_starts() -> None:
    env = GitEnvironment()
    try:
        with (
            pytest.raises(SourceError, match="bearerToken"),
            env.remote(parse("https://h/x"), Credentials(bearer_token="tok\r\nX-Injected: 1")),
        ):
            raise AssertionError("no environment is made for git")
        assert list(env.root.glob("call-*")) == []  # the per-call directory is gone again
    finally:
        env.close()


def test_a_secret_token_keeps_no_surrounding_line_break() -> None:
    creds = Credentials.from_secret_data({"bearerToken": "dG9rCg=="})  # "tok\n", as `echo tok | base64` gives
    assert creds.bearer_token == "tok"
    assert authorization_header(creds) == "Bearer tok"


@pytest.mark.parametrize("chart", ["-x", "--help", "../etc", "..", ".", ".hidden", "a/b", "a\\b", "a..b", "x\n",
                                   "a b", "", "x" * 251, "é"])  # fmt: skip
def test_chart_names_that_could_be_paths_or_options_are_refused(chart: str) -> None:
    with pytest.raises(SourceError, match=r"^chart ") as caught:
        check_chart_name(chart, "https://charts.example")
    assert caught.value.reason == "InvalidChart"


@pytest.mark.parametrize("chart", ["web", "my_chart", "nginx-ingress", "a.b", "A1"])
def test_chart_names(chart: str) -> None:
    assert check_chart_name(chart, "https://charts.example") == chart


async def test_a_hostile_chart_name_is_refused_before_any_request(tmp_path: Path) -> None:
    repos = ChartRepositories(tmp_path)
    # nothing listens on port 9: a request would fail with "cannot reach", not with the name
    with pytest.raises(SourceError, match=r"^chart '\.\./x'"):
        await repos.resolve("http://127.0.0.1:9/charts", "../x", "1.0.0", None)
    assert repos.index_fetches == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/team-a/../team-b", "http://127.0.0.1:9/team-a/%2E%2e/team-b/index.yaml", "ssh://h/charts"],
)
async def test_a_chart_repository_url_that_climbs_or_is_not_http_is_refused_before_any_request(
    url: str, tmp_path: Path
) -> None:
    """httpx squashes `..` like git does: `team-a/*` in a Project must not reach team-b's charts."""
    repos = ChartRepositories(tmp_path)
    with pytest.raises(SourceError) as info:
        await repos.resolve(url, "web", "1.0.0", None)
    assert info.value.reason == "InvalidRepoURL"
    assert repos.index_fetches == 0


def _index(*versions: str) -> bytes:
    entries = "".join(f"    - {{version: {v!r}, digest: {'a' * 64}, urls: [web.tgz]}}\n" for v in versions)
    return f"apiVersion: v1\nentries:\n  web:\n{entries}".encode()


def test_index_entries_with_hostile_versions_are_skipped() -> None:
    data = _index("1.0.0", "--output=x", "../../x", "1.0.0\n", "1.0 0", "v2.0.0-rc.1+build.5", ".hidden", "1..2")
    versions = parse_index(data, "https://charts.example", "web", RepoLimits())
    assert [v.version for v in versions] == ["1.0.0", "v2.0.0-rc.1+build.5"]
