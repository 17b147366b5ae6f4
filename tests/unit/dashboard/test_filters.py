"""The dashboard's template filters: only http(s) URLs become links, credentials never show, and
revisions, times and diffs are shown the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitward.server.dashboard import filters

NOW = datetime(2030, 1, 2, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://git.example.com/org/config.git", "https://git.example.com/org/config.git"),
        ("http://127.0.0.1:8080/config.git", "http://127.0.0.1:8080/config.git"),
        ("HTTPS://Git.Example.com/x", "https://Git.Example.com/x"),
        ("https://[::1]:3000/x.git", "https://[::1]:3000/x.git"),
        # credentials and query strings never reach the page
        ("https://user:s3cret@git.example.com/x.git", "https://git.example.com/x.git"),
        ("https://git.example.com/x.git?token=s3cret#frag", "https://git.example.com/x.git"),
    ],
)
def test_http_urls_become_links(url: str, href: str) -> None:
    assert filters.http_url(url) == href
    html = str(filters.link(url))
    assert html.startswith(f'<a href="{href}"') and 'rel="noopener noreferrer nofollow"' in html
    assert "s3cret" not in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        " javascript:alert(1)",
        "\tjavascript:alert(1)",
        "java\nscript:alert(1)",
        "\x00javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ssh://git@git.example.com/org/x.git",
        "git@github.com:org/x.git",
        "git://git.example.com/x.git",
        "//evil.example.com/x",
        "/relative/path",
        "https:evil.example.com",
        "https:///x",
        'https://evil.example.com/" onmouseover="alert(1)',
        "https://evil.example.com/'><script>alert(1)</script>",
        "https://evil.example.com/x y",
        "https://evil.example.com\\@good.example.com/",
        "https://exa mple.com/",
        "https://ex\u0430mple.com/",  # a Cyrillic a: shown as text, not as a look-alike link
        "https://example.com:99999/",
        "https://example.com:port/",
        "",
        "h" * 3000,
    ],
)
def test_everything_else_is_text(url: str) -> None:
    assert filters.http_url(url) is None
    html = str(filters.link(url))
    assert "<a" not in html and "href" not in html
    assert "<script" not in html and '"' not in html and "'" not in html


def test_links_escape_their_text() -> None:
    html = str(filters.link("https://git.example.com/x", "<b>repo</b>"))
    assert html == '<a href="https://git.example.com/x" rel="noopener noreferrer nofollow">&lt;b&gt;repo&lt;/b&gt;</a>'


def test_links_to_non_strings_are_empty() -> None:
    assert str(filters.link(None)) == "" and filters.http_url(42) is None


def test_display_url_masks_credentials() -> None:
    assert filters.display_url("https://user:pw@git.example.com/x.git") == "https://***@git.example.com/x.git"
    assert "pw" not in str(filters.link("ssh://user:pw@git.example.com/x.git"))


def test_short_url() -> None:
    assert filters.short_url("https://user:pw@git.example.com/x.git") == "***@git.example.com/x.git"
    assert filters.short_url("http://127.0.0.1:8080/x.git") == "127.0.0.1:8080/x.git"
    assert filters.short_url("ssh://git@git.example.com/x.git") == "ssh://***@git.example.com/x.git"
    assert filters.short_url("javascript:alert(1)") == "javascript:alert(1)"


@pytest.mark.parametrize(
    ("value", "short"),
    [
        ("0123456789abcdef0123456789abcdef01234567", "0123456"),
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123456"),  # sha256 repos
        ("sha256:" + "0123456789abcdef" * 4, "sha256:0123456"),  # an OCI artifact's digest
        ("sha256:short", "sha256:short"),
        ("main", "main"),
        ("v1.2.3", "v1.2.3"),
        ("", ""),
        (None, ""),
    ],
)
def test_short_sha(value: object, short: str) -> None:
    assert filters.short_sha(value) == short


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2030-01-02T12:00:00Z", "just now"),
        ("2030-01-02T11:59:18Z", "42 s ago"),
        ("2030-01-02T11:54:59.5Z", "5 min ago"),
        ("2030-01-02T09:00:00+00:00", "3 h ago"),
        ("2029-12-31T12:00:00Z", "2 d ago"),
        ("2030-01-02T12:00:30Z", "just now"),  # clock skew
        ("2030-01-03T12:00:00Z", "in the future"),
        ("2030-01-02T11:00:00", "1 h ago"),  # no zone: UTC
        ("", ""),
        ("yesterday", ""),
        (None, ""),
    ],
)
def test_relative(value: object, text: str) -> None:
    assert filters.relative(value, NOW) == text


def test_absolute() -> None:
    assert filters.absolute("2030-01-02T03:04:05.678Z") == "2030-01-02 03:04:05 UTC"
    assert filters.absolute("2030-01-02T05:04:05+02:00") == "2030-01-02 03:04:05 UTC"
    assert filters.absolute("not a time") == "" and filters.absolute(None) == ""


@pytest.mark.parametrize(
    ("status", "tone"),
    [
        ("Synced", "ok"), ("OutOfSync", "warn"), ("Healthy", "ok"), ("Progressing", "info"),
        ("Degraded", "bad"), ("Suspended", "paused"), ("Missing", "warn"), ("Unknown", "unknown"),
        ("Pruned", "muted"), ("Failed", "bad"), ("Succeeded", "ok"), ("True", "ok"), ("False", "bad"),
        ("<script>", "unknown"), (None, "unknown"),
    ],
)  # fmt: skip
def test_tone(status: object, tone: str) -> None:
    assert filters.tone(status) == tone


def test_first_line() -> None:
    assert filters.first_line("Fix the thing\n\nLonger body") == "Fix the thing"
    assert filters.first_line("x" * 200, limit=10) == "xxxxxxxxx…"
    assert filters.first_line("") == "" and filters.first_line(None) == ""


def test_diff_lines() -> None:
    text = "--- live/a\n+++ desired/a\n@@ -1,2 +1,2 @@\n spec:\n-  replicas: 5\n+  replicas: 2\n"
    assert filters.diff_lines(text) == [
        ("file", "--- live/a"), ("file", "+++ desired/a"), ("hunk", "@@ -1,2 +1,2 @@"),
        ("ctx", " spec:"), ("del", "-  replicas: 5"), ("add", "+  replicas: 2"),
    ]  # fmt: skip
    assert filters.diff_lines(None) == []
