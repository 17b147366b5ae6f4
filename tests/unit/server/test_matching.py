"""Which Applications a push concerns: repository URL forms compare equal after normalisation,
and the target revision must be the pushed branch or tag (HEAD: the default branch)."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.server.webhooks import matching
from gitward.server.webhooks.pushes import Push


def app(name: str, repo_url: Any, target: Any = "main", namespace: str = "ns") -> dict[str, Any]:
    source: dict[str, Any] = {"repoURL": repo_url}
    if target is not None:
        source["targetRevision"] = target
    return {"metadata": {"namespace": namespace, "name": name}, "spec": {"source": source}}


PUSH = Push(
    "github", ("https://GitHub.com/Org/Config.git", "git@github.com:Org/Config.git"), ("refs/heads/main",), "main"
)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Org/Config.git",
        "https://github.com/org/config",
        "http://GITHUB.COM/Org/Config/",
        "https://github.com:443/Org/Config.git",
        "ssh://git@github.com/Org/Config.git",
        "ssh://git@github.com:22/Org/Config",
        "git@github.com:Org/Config",
        "git://github.com/Org/Config.git",
        "https://user@github.com/Org/Config.git",
    ],
)
def test_url_forms_match(url: str) -> None:
    assert matching.targets([app("a", url)], PUSH) == [("ns", "a")]


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Org/Config2.git",
        "https://gitlab.com/Org/Config.git",
        "https://github.com:8443/Org/Config.git",
        "https://github.com/Other/Config.git",
        "https://github.com/Org/Config/sub.git",
        "",
    ],
)
def test_other_repositories_do_not_match(url: str) -> None:
    assert matching.targets([app("a", url)], PUSH) == []


@pytest.mark.parametrize(
    ("target", "refs", "default", "expected"),
    [
        ("main", ("refs/heads/main",), "main", True),
        ("refs/heads/main", ("refs/heads/main",), "main", True),
        ("dev", ("refs/heads/main",), "main", False),
        ("mai", ("refs/heads/main",), "main", False),
        ("HEAD", ("refs/heads/main",), "main", True),
        ("", ("refs/heads/main",), "main", True),
        (None, ("refs/heads/main",), "main", True),
        ("HEAD", ("refs/heads/dev",), "main", False),
        ("HEAD", ("refs/heads/dev",), None, True),  # default unknown: re-check
        ("HEAD", ("refs/tags/v1",), None, False),
        ("v1", ("refs/tags/v1",), "main", True),
        ("refs/tags/v1", ("refs/tags/v1",), "main", True),
        ("v1", ("refs/tags/v10",), "main", False),
        ("feature/x", ("refs/heads/feature/x",), "main", True),
        ("a" * 40, ("refs/heads/main",), "main", False),  # a commit SHA never moves
        ("dev", ("refs/heads/main", "refs/heads/dev"), None, True),  # Bitbucket: several changes
    ],
)
def test_target_revisions(target: Any, refs: tuple[str, ...], default: str | None, expected: bool) -> None:
    push = Push("bitbucket", ("https://bitbucket.org/team/config",), refs, default)
    found = matching.targets([app("a", "git@bitbucket.org:team/config.git", target)], push)
    assert found == ([("ns", "a")] if expected else [])


def test_only_matching_applications_are_returned_sorted() -> None:
    apps = [
        app("z-main", "https://github.com/org/config"),
        app("other-branch", "https://github.com/org/config", "dev"),
        app("other-repo", "https://github.com/org/other"),
        app("a-main", "git@github.com:Org/Config.git", namespace="team"),
        app("tag", "https://github.com/org/config", "v1"),
    ]
    assert matching.targets(apps, PUSH) == [("ns", "z-main"), ("team", "a-main")]


@pytest.mark.parametrize(
    "broken",
    [
        {"metadata": {"name": "x", "namespace": "ns"}},
        {"metadata": {"name": "x", "namespace": "ns"}, "spec": None},
        {"metadata": {"name": "x", "namespace": "ns"}, "spec": {"source": "x"}},
        app("x", 5),
        app("x", "https://github.com/org/config", 5),
        app("x", "ext::sh -c evil"),
    ],
)
def test_broken_applications_are_skipped(broken: dict[str, Any]) -> None:
    assert matching.targets([broken], PUSH) == []
