"""Which ApplicationSets a push concerns, over plain data: git generators at any nesting, the
repository compared after normalisation, the revision the push moved; malformed specs match nothing."""

from __future__ import annotations

from typing import Any

from gitward.server.webhooks import appsets
from gitward.server.webhooks.pushes import Push

URL = "https://git.example.com/org/config.git"


def appset(name: str, generators: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "gitward"}, "spec": {"generators": generators}}


def git(url: str = URL, revision: str = "main") -> dict[str, Any]:
    return {"git": {"repoURL": url, "revision": revision, "directories": [{"path": "*"}]}}


def test_targets() -> None:
    push = Push(provider="github", repo_urls=("https://GIT.example.com/org/config",), refs=("refs/heads/main",),
                default_branch="main")  # fmt: skip
    sets = [
        appset("plain", [git()]),
        appset(
            "nested", [{"matrix": {"generators": [{"list": {"elements": []}}, {"merge": {"generators": [git()]}}]}}]
        ),
        appset("head", [git(revision="")]),
        appset("other-branch", [git(revision="dev")]),
        appset("other-repo", [git(url="https://git.example.com/org/other.git")]),
        appset("list-only", [{"list": {"elements": [{"a": 1}]}}]),
        appset("malformed", "not a list"),
        appset("malformed-git", [{"git": "x"}, {"matrix": "y"}, 3]),
    ]
    assert appsets.targets(sets, push) == [("gitward", "head"), ("gitward", "nested"), ("gitward", "plain")]
