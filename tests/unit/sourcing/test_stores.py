"""Cache keys and tree statistics (gitward.sourcing.stores)."""

from __future__ import annotations

from gitward.sourcing.stores import Revision, digest, tree_stats


def test_tree_stats_counts_entries_and_blob_bytes() -> None:
    listing = (
        b"100644 blob " + b"a" * 40 + b"      12\tapp/deploy.yaml\0"
        b"120000 blob " + b"b" * 40 + b"       7\tlink\0"
        b"160000 commit " + b"c" * 40 + b"       -\tvendor/sub\0"
    )
    assert tree_stats(listing) == (3, 19)
    assert tree_stats(b"") == (0, 0)


def test_digest_is_stable_and_separates_parts() -> None:
    assert digest("a", "b") == digest("a", "b")
    assert digest("a", "b") != digest("ab", "")
    assert len(digest("x")) == 32


def test_a_revision_keeps_a_bounded_author_and_message() -> None:
    revision = Revision("a" * 40, "x" * 10**6, "e" * 10**6, "m" * 10**7, "2026-12-03T00:00:00Z", "refs/heads/main")
    assert (len(revision.author), len(revision.author_email), len(revision.message)) == (256, 256, 8192)
