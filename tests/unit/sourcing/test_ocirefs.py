"""OCI references and the ImagePolicy tag choice (gitward.sourcing.ocirefs), with plain data."""

from __future__ import annotations

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import ocirefs
from gitward.sourcing.ocirefs import Reference, Tag

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci://127.0.0.1:5000/org/app", Reference("127.0.0.1:5000", "org/app")),
        ("oci://ghcr.io/org/charts/web", Reference("ghcr.io", "org/charts/web")),
        ("oci://registry.example/a-b_c.d/e__f", Reference("registry.example", "a-b_c.d/e__f")),
    ],
)
def test_valid_references(text: str, expected: Reference) -> None:
    assert ocirefs.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://ghcr.io/org/app",  # not oci://
        "oci://ghcr.io",  # no repository
        "oci://GHCR.io/org/app",  # upper-case host
        "oci://ghcr.io/Org/app",  # upper-case repository
        "oci://ghcr.io/org/../app",
        "oci://ghcr.io/org//app",
        "oci://ghcr.io/-org/app",
        "oci://user:pw@ghcr.io/org/app",
        "oci://ghcr.io/org/app\n",
        "oci://ghcr.io/org/app?x=1",
    ],
)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(SourceError) as caught:
        ocirefs.parse(text)
    assert caught.value.reason == "InvalidRepoURL"


def test_references_with_a_tag_or_digest() -> None:
    assert ocirefs.parse("oci://h:1/r/a:v1.2", with_reference=True) == Reference("h:1", "r/a", "v1.2")
    assert ocirefs.parse(f"oci://h/r/a@{DIGEST}", with_reference=True).reference == DIGEST
    assert ocirefs.parse("h:1/r", scheme=False, with_reference=True) == Reference("h:1", "r")
    with pytest.raises(SourceError):
        ocirefs.parse("oci://h/r:-bad", with_reference=True)
    with pytest.raises(SourceError):
        ocirefs.parse("oci://h/r@sha256:short", with_reference=True)


def tags(*names: str) -> list[Tag]:
    return [Tag(n, n) for n in names]


@pytest.mark.parametrize(
    ("available", "constraint", "expected"),
    [
        (["1.0.0", "1.2.0", "2.0.0"], "^1.0", "1.2.0"),
        (["1.0.0", "1.2.0", "2.0.0"], ">=1.0.0", "2.0.0"),
        (["1.0.0", "1.3.0-rc.1"], "^1.0", "1.0.0"),  # pre-releases only when the range names one
        (["1.0.0", "1.3.0-rc.1", "1.3.0-rc.2"], ">=1.3.0-0", "1.3.0-rc.2"),
        (["v1.0.0", "v1.1.0", "latest", "main-abc"], "1.x", "v1.1.0"),
        (["1.0", "1.0.0"], "1.0.0", "1.0.0"),  # the same version: the longer text wins
        (["0.9.0", "latest"], "^1.0", None),
    ],
)
def test_semver(available: list[str], constraint: str, expected: str | None) -> None:
    picked = ocirefs.select_tag(tags(*available), {"semver": {"range": constraint}})
    assert (picked.tag if picked else None) == expected


def test_an_invalid_range_is_an_error_even_without_tags() -> None:
    with pytest.raises(ValueError, match="constraint"):
        ocirefs.select_tag([], {"semver": {"range": "not a range"}})


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"numerical": {"order": "asc"}}, "20"),
        ({"numerical": {"order": "desc"}}, "3"),
        ({"numerical": {}}, "20"),
        ({"alphabetical": {"order": "asc"}}, "x"),  # "x" > "3" > "20" as text
        ({"alphabetical": {"order": "desc"}}, "10"),
    ],
)
def test_numerical_and_alphabetical(policy: dict[str, object], expected: str) -> None:
    picked = ocirefs.select_tag(tags("3", "20", "10", "x"), policy)
    assert picked is not None
    assert picked.tag == expected


def test_filter_tags_with_extract_orders_by_the_extracted_part() -> None:
    found = ocirefs.filter_tags(
        ["main-abc-1700000100", "main-def-1700000200", "feature-x-1800000000", "latest"],
        pattern=r"^main-[a-f0-9]+-(?P<ts>[0-9]+)$",
        extract="$ts",
    )
    assert [t.key for t in found] == ["1700000100", "1700000200"]
    picked = ocirefs.select_tag(found, {"numerical": {"order": "asc"}})
    assert picked is not None
    assert picked.tag == "main-def-1700000200"


def test_filter_tags_with_numbered_groups_and_bad_patterns() -> None:
    found = ocirefs.filter_tags(["v1.2.3-rc", "v2.0.0"], pattern=r"^v(\d+\.\d+\.\d+)$", extract="${1}")
    assert found == [Tag("v2.0.0", "2.0.0")]
    with pytest.raises(ValueError, match="pattern"):
        ocirefs.filter_tags(["a"], pattern="(")


def test_a_pattern_that_backtracks_forever_in_python_is_matched_in_linear_time() -> None:
    """A tenant's ImagePolicy and its registry's tags are hostile: `(a+)+$` over 127 "a"s and a "!"
    takes Python's `re` 2^127 steps; RE2 (Flux's Go regexp syntax) answers at once. Unknown groups in
    `extract` expand to nothing."""
    tags = ["a" * 127 + "!", "aaa"]
    found = ocirefs.filter_tags(tags, pattern="^(a+)+$", extract="${1}${missing}$9")
    assert found == [Tag("aaa", "aaa")]
    with pytest.raises(ValueError, match=r"filterTags\.pattern"):
        ocirefs.filter_tags(["a"], pattern="(?=a)")  # look-ahead: not in RE2 (nor Go)


def test_an_unknown_policy_is_an_error() -> None:
    with pytest.raises(ValueError, match="policy"):
        ocirefs.select_tag(tags("1"), {"newest": {}})
    with pytest.raises(ValueError, match="order"):
        ocirefs.select_tag(tags("1"), {"numerical": {"order": "up"}})


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ('</v2/org/app/tags/list?n=2&last=b>; rel="next"', "/v2/org/app/tags/list?n=2&last=b"),
        ("</v2/org/app/tags/list?last=b&n=2>; rel=next", None),  # rel must be quoted, as the spec writes it
        ('<https://evil.example/v2/org/app/tags/list?x>; rel="next"', None),  # never another host
        ('</v2/other/tags/list?last=b>; rel="next"', None),  # never another repository
        (
            '</v2/org/app/tags/list?last=a>; rel="prev", </v2/org/app/tags/list?last=c>; rel="next"',
            "/v2/org/app/tags/list?last=c",
        ),
        ("", None),
    ],
)
def test_next_page_of_a_tag_list(link: str, expected: str | None) -> None:
    assert ocirefs.next_page(link, Reference("h", "org/app")) == expected
