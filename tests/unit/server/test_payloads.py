"""Push payloads of every provider: real-shaped examples parse to the right repository URLs and
refs; malformed ones raise PayloadError naming the field; fuzzing finds no other exception."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitward.server.webhooks import bitbucket, gitea, github, gitlab, receiving
from gitward.server.webhooks.pushes import PayloadError, Push

GITHUB = {
    "ref": "refs/heads/main",
    "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
    "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "created": False,
    "deleted": False,
    "repository": {
        "id": 1296269,
        "full_name": "octocat/Hello-World",
        "html_url": "https://github.com/octocat/Hello-World",
        "url": "https://github.com/octocat/Hello-World",
        "git_url": "git://github.com/octocat/Hello-World.git",
        "ssh_url": "git@github.com:octocat/Hello-World.git",
        "clone_url": "https://github.com/octocat/Hello-World.git",
        "svn_url": "https://svn.github.com/octocat/Hello-World",
        "default_branch": "main",
        "master_branch": "main",
    },
    "pusher": {"name": "octocat", "email": "octocat@github.com"},
    "commits": [{"id": "0d1a26e6", "message": "Update README", "author": {"name": "Octo"}}],
}
GITEA = {
    "ref": "refs/tags/v1.2.0",
    "before": "0" * 40,
    "after": "28e1879d029cb852e4844d9c718537df08844e03",
    "repository": {
        "id": 140,
        "full_name": "gitea/webhooks",
        "html_url": "http://localhost:3000/gitea/webhooks",
        "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
        "clone_url": "http://localhost:3000/gitea/webhooks.git",
        "default_branch": "master",
    },
}
GITLAB = {
    "object_kind": "push",
    "event_name": "push",
    "ref": "refs/heads/feature/x",
    "project": {
        "id": 15,
        "web_url": "http://example.com/mike/diaspora",
        "git_ssh_url": "git@example.com:mike/diaspora.git",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "default_branch": "master",
        "path_with_namespace": "mike/diaspora",
    },
    "repository": {
        "name": "Diaspora",
        "url": "git@example.com:mike/diaspora.git",
        "homepage": "http://example.com/mike/diaspora",
        "git_http_url": "http://example.com/mike/diaspora.git",
        "git_ssh_url": "git@example.com:mike/diaspora.git",
    },
}
BITBUCKET_CLOUD = {
    "actor": {"display_name": "Ada"},
    "repository": {
        "type": "repository",
        "full_name": "team/config",
        "links": {"html": {"href": "https://bitbucket.org/team/config"}},
        "scm": "git",
    },
    "push": {
        "changes": [
            {
                "new": {"type": "branch", "name": "main", "target": {"hash": "abc"}},
                "old": {"type": "branch", "name": "main"},
            },
            {"new": None, "old": {"type": "branch", "name": "gone"}, "closed": True},
            {"new": {"type": "tag", "name": "v2"}, "old": None},
        ]
    },
}
BITBUCKET_SERVER = {
    "eventKey": "repo:refs_changed",
    "date": "2017-09-19T09:45:32+1000",
    "actor": {"name": "admin"},
    "repository": {
        "slug": "repository",
        "name": "repository",
        "project": {"key": "PROJ"},
        "links": {
            "clone": [
                {"href": "ssh://git@bitbucket.example.com:7999/proj/repository.git", "name": "ssh"},
                {"href": "https://bitbucket.example.com/scm/proj/repository.git", "name": "http"},
            ],
            "self": [{"href": "https://bitbucket.example.com/projects/PROJ/repos/repository/browse"}],
        },
    },
    "changes": [
        {
            "ref": {"id": "refs/heads/master", "displayId": "master", "type": "BRANCH"},
            "refId": "refs/heads/master",
            "fromHash": "ecddabb624f6f5ba43816f5926e580a5f680a932",
            "toHash": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
            "type": "UPDATE",
        }
    ],
}


def test_github() -> None:
    push = github.parse(GITHUB)
    assert push == Push(
        "github",
        (
            "https://github.com/octocat/Hello-World.git",
            "git@github.com:octocat/Hello-World.git",
            "git://github.com/octocat/Hello-World.git",
            "https://github.com/octocat/Hello-World",
            "https://svn.github.com/octocat/Hello-World",
        ),
        ("refs/heads/main",),
        "main",
    )
    assert push.branches == ("main",)


def test_gitea_tag_push() -> None:
    push = gitea.parse(GITEA)
    assert push.provider == "gitea" and push.refs == ("refs/tags/v1.2.0",) and push.branches == ()
    assert "ssh://gitea@localhost:2222/gitea/webhooks.git" in push.repo_urls
    assert push.default_branch == "master"


def test_gitlab() -> None:
    push = gitlab.parse(GITLAB)
    assert push.refs == ("refs/heads/feature/x",) and push.branches == ("feature/x",)
    assert push.default_branch == "master"
    assert set(push.repo_urls) == {
        "http://example.com/mike/diaspora",
        "git@example.com:mike/diaspora.git",
        "http://example.com/mike/diaspora.git",
    }
    tag = gitlab.parse({**GITLAB, "object_kind": "tag_push", "ref": "refs/tags/v1"})
    assert tag.refs == ("refs/tags/v1",)


def test_bitbucket_cloud() -> None:
    push = bitbucket.parse(BITBUCKET_CLOUD)
    assert push.refs == ("refs/heads/main", "refs/heads/gone", "refs/tags/v2")
    assert push.repo_urls == ("https://bitbucket.org/team/config",)
    assert push.default_branch is None


def test_bitbucket_server() -> None:
    push = bitbucket.parse(BITBUCKET_SERVER)
    assert push.provider == "bitbucket-server"
    assert push.refs == ("refs/heads/master",)
    assert push.repo_urls == (
        "ssh://git@bitbucket.example.com:7999/proj/repository.git",
        "https://bitbucket.example.com/scm/proj/repository.git",
        "https://bitbucket.example.com/scm/proj/repository",
    )


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _with(payload: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


MALFORMED = [
    (github, [], "payload: expected an object"),
    (github, _without(GITHUB, "repository"), "repository: expected an object"),
    (github, _with(GITHUB, "x", "repository"), "repository: expected an object"),
    (github, _without(GITHUB, "ref"), "ref: expected a non-empty string"),
    (github, _with(GITHUB, 7, "ref"), "ref: expected a non-empty string"),
    (github, _with(GITHUB, "main", "ref"), "ref: expected a full ref name"),
    (github, _with(GITHUB, "refs/heads/" + "x" * 5000, "ref"), "ref: longer than"),
    (github, _with(GITHUB, {"clone_url": 5, "html_url": None}, "repository"), "repository: no repository URL"),
    (gitea, _with(GITEA, [], "repository"), "repository: expected an object"),
    (gitlab, _with(GITLAB, "merge_request", "object_kind"), "object_kind: expected push or tag_push"),
    (gitlab, _without(_without(GITLAB, "project"), "repository"), "project: expected an object"),
    (gitlab, _with(_with(GITLAB, {}, "project"), {}, "repository"), "project: no repository URL"),
    (gitlab, _with(GITLAB, None, "ref"), "ref: expected a non-empty string"),
    (bitbucket, {"repository": {}}, "expected `push`"),
    (bitbucket, _with(BITBUCKET_CLOUD, "x", "push"), "push: expected an object"),
    (bitbucket, _with(BITBUCKET_CLOUD, {}, "push", "changes"), "push.changes: expected an array"),
    (bitbucket, _with(BITBUCKET_CLOUD, [], "push", "changes"), "push.changes: no branch or tag"),
    (bitbucket, _with(BITBUCKET_CLOUD, [1], "push", "changes"), r"push.changes\[0\]: expected an object"),
    (bitbucket, _with(BITBUCKET_CLOUD, [{"new": None, "old": None}], "push", "changes"), r"push.changes\[0\].new"),
    (bitbucket, _with(BITBUCKET_CLOUD, [{"new": {"type": "branch", "name": 3}}], "push", "changes"), "new.name"),
    (bitbucket, _with(BITBUCKET_CLOUD, {"links": "x"}, "repository"), "repository.links.html: no repository URL"),
    (bitbucket, _with(BITBUCKET_SERVER, [], "changes"), "changes: empty"),
    (bitbucket, _with(BITBUCKET_SERVER, [{"ref": {"id": "master"}}], "changes"), "expected a full ref name"),
    (bitbucket, _with(BITBUCKET_SERVER, [{"ref": 1}], "changes"), r"changes\[0\].ref.id"),
    (bitbucket, _with(BITBUCKET_SERVER, {"links": {"clone": "x"}}, "repository"), "no repository URL"),
]


@pytest.mark.parametrize(("provider", "payload", "message"), MALFORMED)
def test_malformed_payloads(provider: Any, payload: Any, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        provider.parse(payload)


def test_decode() -> None:
    assert receiving.decode(b'{"a": 1}', "application/json") == {"a": 1}
    form = b"payload=" + json.dumps({"ref": "refs/heads/x"}).encode().replace(b" ", b"+")
    assert receiving.decode(form, "application/x-www-form-urlencoded") == {"ref": "refs/heads/x"}
    for body, content_type in [
        (b"not json", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"1" * 5000, "application/json"),  # over Python's int digit limit
        (b"payload=%FF", "application/x-www-form-urlencoded"),
        (b"other=1", "application/x-www-form-urlencoded"),
        (b"&" * 5000, "application/x-www-form-urlencoded"),
    ]:
        with pytest.raises(PayloadError):
            receiving.decode(body, content_type)


# ------------------------------------------------------------------------------------ fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["ref", "repository", "project", "push", "changes", "new", "old", "links", "html", "href", "clone", "self",
     "clone_url", "ssh_url", "html_url", "default_branch", "object_kind", "type", "name", "id", "refId", "full_name",
     "git_http_url", "git_ssh_url", "web_url"]
)  # fmt: skip
PARSERS = [github.parse, gitea.parse, gitlab.parse, bitbucket.parse]
SAMPLES = [GITHUB, GITEA, GITLAB, BITBUCKET_CLOUD, BITBUCKET_SERVER]


def _check(parser: Any, payload: Any) -> None:
    try:
        push = parser(payload)
    except PayloadError:
        return
    assert push.refs and all(r.startswith("refs/") for r in push.refs)
    assert push.repo_urls and all(isinstance(u, str) and u for u in push.repo_urls)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(parser=st.sampled_from(PARSERS), payload=JSON)
def test_fuzz_arbitrary_json(parser: Any, payload: Any) -> None:
    _check(parser, payload)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A real-shaped payload with some subtrees replaced by arbitrary JSON or removed."""
    payload = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        node: Any = payload
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            child = node[key]
            if not isinstance(child, dict | list) or not child:
                break
            node = child
        if isinstance(node, dict):
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            key = draw(KEYS if action == "add" or not node else st.sampled_from(sorted(node)))
            if action == "delete":
                node.pop(key, None)
            else:
                node[key] = draw(JSON)
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(JSON)
    return payload


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(parser=st.sampled_from(PARSERS), payload=mutated())
def test_fuzz_mutated_payloads(parser: Any, payload: Any) -> None:
    _check(parser, payload)


@settings(max_examples=200)
@given(body=st.binary(max_size=200), form=st.booleans())
def test_fuzz_decode(body: bytes, form: bool) -> None:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    with contextlib.suppress(PayloadError):
        receiving.decode(body, content_type)
