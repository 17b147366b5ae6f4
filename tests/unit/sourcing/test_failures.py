"""Classification and redaction of git failures (gitward.sourcing.failures)."""

from __future__ import annotations

import pytest

from gitward.sourcing import Credentials
from gitward.sourcing.failures import classify, from_stderr, source_error

URL = "https://git.example.com/org/repo.git"


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        ("fatal: Authentication failed for 'https://h/x.git/'", "AuthenticationFailed"),
        ("fatal: could not read Username for 'https://h': terminal prompts disabled", "AuthenticationFailed"),
        ("fatal: unable to access 'https://h/x/': The requested URL returned error: 403", "AuthenticationFailed"),
        ("git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.",
         "AuthenticationFailed"),
        ("Host key verification failed.\nfatal: Could not read from remote repository.", "AuthenticationFailed"),
        ("fatal: remote error: upload-pack: not our ref " + "a" * 40, "RevisionNotFound"),
        ("fatal: couldn't find remote ref refs/heads/nope", "RevisionNotFound"),
        ("fatal: repository 'https://h/x/' not found", "FetchFailed"),
        ("fatal: unable to access 'http://127.0.0.1:1/x/': Failed to connect to 127.0.0.1 port 1: Connection refused",
         "FetchFailed"),
        ("fatal: unable to access 'https://nope.invalid/x/': Could not resolve host: nope.invalid", "FetchFailed"),
        ("something unexpected", "FetchFailed"),
    ],
)  # fmt: skip
def test_classify(stderr: str, reason: str) -> None:
    assert classify(stderr)[0] == reason


def test_auth_and_host_key_messages_differ() -> None:
    assert "knownHosts" in classify("Host key verification failed.")[1]
    assert "secretRef" in classify("fatal: Authentication failed")[1]


def test_messages_are_redacted() -> None:
    creds = Credentials(username="alice", password="pa55-word", bearer_token="tok-xyz")
    stderr = (
        "fatal: unable to access 'https://alice:pa55-word@h/x?private_token=q1w2/': Authentication failed\n"
        "error: header Authorization: Bearer tok-xyz rejected; echo pa55-word"
    )
    error = from_stderr(URL, stderr, creds.secrets())
    assert error.reason == "AuthenticationFailed"
    assert error.message.startswith(f"{URL}: authentication failed")
    for secret in ("pa55-word", "tok-xyz", "q1w2"):
        assert secret not in error.message
        assert secret not in str(error)


def test_source_error_keeps_a_short_excerpt() -> None:
    error = source_error(URL, "git failed", reason="FetchFailed", detail="hint: x\n" * 5 + "fatal: " + "y" * 1000)
    assert len(error.message) < 500
    assert "fatal: yyy" in error.message
