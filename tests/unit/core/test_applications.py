"""Pure helpers of gitward.core.applications, with plain data."""

from __future__ import annotations

from gitward.core import applications as apps


def test_short_revisions_keep_the_digest_part_of_oci_revisions() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert apps.short_revision(sha) == "0123456789ab"
    assert apps.short_revision(sha, 7) == "0123456"
    digest = "sha256:" + "fedcba9876543210" * 4
    assert apps.short_revision(digest, 7) == "sha256:fedcba9"
    assert apps.short_revision(digest) == "sha256:fedcba987654"
    assert apps.short_revision("") == ""
