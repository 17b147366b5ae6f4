"""repoURL validation and normalisation (gitward.sourcing.urls)."""

from __future__ import annotations

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import normalize
from gitward.sourcing.urls import RepoURL, parse


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/org/repo.git", RepoURL("https", "github.com", "/org/repo.git")),
        ("HTTPS://GitHub.COM/Org/Repo", RepoURL("https", "github.com", "/Org/Repo")),
        ("http://127.0.0.1:8080/x.git", RepoURL("http", "127.0.0.1", "/x.git", port=8080)),
        ("https://deploy@git.example.com/a/b", RepoURL("https", "git.example.com", "/a/b", user="deploy")),
        ("https://h/x.git?ref=1", RepoURL("https", "h", "/x.git", query="ref=1")),
        ("ssh://git@github.com/org/repo.git", RepoURL("ssh", "github.com", "/org/repo.git", user="git")),
        ("ssh://git@host:2222/org/repo", RepoURL("ssh", "host", "/org/repo", port=2222, user="git")),
        ("git+ssh://git@host/org/repo", RepoURL("ssh", "host", "/org/repo", user="git")),
        ("git@github.com:org/repo.git", RepoURL("ssh", "github.com", "org/repo.git", user="git", scp_like=True)),
        ("host.example:repo", RepoURL("ssh", "host.example", "repo", scp_like=True)),
        ("git://127.0.0.1:9418/repo.git", RepoURL("git", "127.0.0.1", "/repo.git", port=9418)),
        ("https://[::1]:8443/r.git", RepoURL("https", "[::1]", "/r.git", port=8443)),
    ],
)
def test_valid_urls_parse(url: str, expected: RepoURL) -> None:
    assert parse(url) == expected


@pytest.mark.parametrize(
    ("url", "for_git"),
    [
        ("https://deploy@h/a.git", "https://h/a.git"),
        ("ssh://git@h:2222/a.git", "ssh://git@h:2222/a.git"),
        ("git@h:org/a.git", "git@h:org/a.git"),
        ("git://h/a", "git://h/a"),
    ],
)
def test_url_handed_to_git_has_no_http_userinfo(url: str, for_git: str) -> None:
    assert parse(url).for_git() == for_git


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "empty"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("ext::sh", "remote-helper"),
        ("fd::17", "remote-helper"),
        ("transport::https://h/x", "remote-helper"),
        ("-uhttps://h/x", "must not start with '-'"),
        ("--upload-pack=touch%20/tmp/x", "must not start with '-'"),
        ("https://h/x--upload-pack=evil", "option"),
        ("ssh://-oProxyCommand=evil/x", "invalid host"),
        ("git@-oProxyCommand=evil:x", "invalid host"),
        ("ssh://-user@h/x", "invalid user"),
        ("host:-x", "path must not start with '-'"),
        ("ftp://h/x", "scheme 'ftp' is not allowed"),
        ("javascript://h/x", "not allowed"),
        ("file:///srv/repo.git", "file:// repositories are not allowed"),
        ("/srv/repo.git", "not a repository URL"),
        ("./repo", "not a repository URL"),
        ("https://h/x\nHost: evil", "control"),
        ("https://h/x#frag", "fragment"),
        ("https://h:99999/x", "invalid port"),
        ("https://h:abc/x", "invalid port"),
        ("https:///x", "no host"),
        ("https://user:hunter2@h/x", "must not carry a password"),
        ("https://h/team-a/../team-b/x.git", "'.' or '..' segments"),
        ("https://h/team-a/%2e%2E/team-b/x.git", "'.' or '..' segments"),
        ("https://h/team-a/./x.git", "'.' or '..' segments"),
        ("https://h/team-a/..", "'.' or '..' segments"),
        ("git@h:team-a/../team-b/x.git", "'.' or '..' segments"),
        ("ssh://git@h/team-a/../../etc", "'.' or '..' segments"),
        ("https://h/team-a%2F..%2Fteam-b/x.git", "encoded '/'"),
        ("https://h/team-a/..%5cteam-b/x.git", "encoded '/'"),
    ],
)
def test_invalid_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(SourceError, match="repoURL") as info:
        parse(url)
    assert why in info.value.message
    assert info.value.reason == "InvalidRepoURL"


def test_password_in_url_never_reaches_the_message() -> None:
    with pytest.raises(SourceError) as info:
        parse("https://user:hunter2@h/x?token=abc")
    assert "hunter2" not in info.value.message
    assert "abc" not in info.value.message


def test_file_urls_only_when_allowed() -> None:
    assert parse("file:///srv/repo.git", allow_file=True) == RepoURL("file", "", "/srv/repo.git")
    with pytest.raises(SourceError, match="absolute"):
        parse("file://other-host/srv/repo.git", allow_file=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "https://GitHub.com/org/repo",
        "https://github.com/org/repo/",
        "https://github.com/org/repo.git/",
        "http://github.com/org/repo",
        "https://github.com:443/org/repo",
        "https://token@github.com/org/repo.git",
        "https://github.com/org/repo?x=1",
        "ssh://git@github.com/org/repo.git",
        "ssh://git@github.com:22/org/repo",
        "git@github.com:org/repo.git",
        "git@GITHUB.COM:org/repo",
        "git://github.com/org/repo",
        "https://github.com//org//repo.git",
        "https://github.com/org/%72epo.git",
    ],
)
def test_forms_of_one_repository_normalize_equal(url: str) -> None:
    assert normalize(url) == "github.com/org/repo"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://github.com/org/repo", "https://github.com/org/other"),
        ("https://github.com/org/repo", "https://gitlab.com/org/repo"),
        ("https://github.com/Org/repo", "https://github.com/org/repo"),  # paths are case-sensitive
        ("https://h:8443/org/repo", "https://h/org/repo"),
        ("ssh://git@h:2222/org/repo", "git@h:org/repo"),
    ],
)
def test_different_repositories_normalize_differently(a: str, b: str) -> None:
    assert normalize(a) != normalize(b)


def test_normalize_never_raises() -> None:
    assert normalize("ext::sh -c evil") == "ext::sh -c evil"
    assert normalize("file:///srv/Repo.git/") == "file:///srv/Repo"
