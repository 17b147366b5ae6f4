"""Revisions and ls-remote output (gitward.sourcing.refs)."""

from __future__ import annotations

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing.refs import check_revision, parse_ls_remote, pick

A, B, C, T = "a" * 40, "b" * 40, "c" * 40, "d" * 40
LS_REMOTE = f"""ref: refs/heads/main\tHEAD
{A}\tHEAD
{A}\trefs/heads/main
{B}\trefs/heads/release/v1
{T}\trefs/tags/v1.0
{C}\trefs/tags/v1.0^{{}}
{B}\trefs/tags/light
{C}\trefs/tags/main
{A}\trefs/pull/1/head
"""


def test_parse_peels_annotated_tags_and_reads_head() -> None:
    remote = parse_ls_remote(LS_REMOTE)
    assert remote.head_target == "refs/heads/main"
    assert remote.refs["refs/tags/v1.0"] == C
    assert remote.refs["HEAD"] == A


@pytest.mark.parametrize(
    ("revision", "found"),
    [
        ("HEAD", (A, "HEAD")),
        ("main", (A, "refs/heads/main")),  # a branch wins over a tag of the same name
        ("release/v1", (B, "refs/heads/release/v1")),
        ("v1.0", (C, "refs/tags/v1.0")),
        ("light", (B, "refs/tags/light")),
        ("refs/tags/main", (C, "refs/tags/main")),
        ("refs/pull/1/head", (A, "refs/pull/1/head")),
        ("nope", None),
        ("v1", None),
    ],
)
def test_pick(revision: str, found: tuple[str, str] | None) -> None:
    assert pick(parse_ls_remote(LS_REMOTE), revision) == found


def test_empty_repository_has_no_head() -> None:
    assert pick(parse_ls_remote(""), "HEAD") is None


@pytest.mark.parametrize(
    ("revision", "expected"),
    [("", "HEAD"), ("HEAD", "HEAD"), ("main", "main"), ("v1.2.3", "v1.2.3"), ("feature/x-y_z", "feature/x-y_z"),
     (A.upper(), A), ("refs/heads/main", "refs/heads/main")],
)  # fmt: skip
def test_valid_revisions(revision: str, expected: str) -> None:
    assert check_revision(revision) == expected


@pytest.mark.parametrize(
    "revision",
    ["--upload-pack=evil", "-x", "a..b", "a b", "main~1", "main^", "a:b", "*", "a[1]", "x\\y", "@{-1}", "/main",
     "main/", "x.lock", "a//b", ".hidden", "tab\tname", "x" * 300],
)  # fmt: skip
def test_invalid_revisions(revision: str) -> None:
    with pytest.raises(SourceError, match="targetRevision") as info:
        check_revision(revision)
    assert info.value.reason == "InvalidRevision"
