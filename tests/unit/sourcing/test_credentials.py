"""Credentials from Secret data (gitward.sourcing.credentials)."""

from __future__ import annotations

import base64

import pytest

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU\nAAAAC3NzaC1lZDI1NTE5AAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_from_secret_data_decodes_every_key() -> None:
    data = {
        "username": b64("alice"),
        "password": b64("s3cr3t-pw"),
        "bearerToken": b64("tok-123"),
        "sshPrivateKey": b64(KEY),
        "knownHosts": b64("[127.0.0.1]:22 ssh-ed25519 AAAA"),
        "unrelated": b64("ignored"),
    }
    creds = Credentials.from_secret_data(data)
    assert creds == Credentials("alice", "s3cr3t-pw", "tok-123", KEY, "[127.0.0.1]:22 ssh-ed25519 AAAA")


def test_missing_keys_stay_empty() -> None:
    creds = Credentials.from_secret_data({"bearerToken": b64("t0ken")})
    assert creds == Credentials(bearer_token="t0ken")
    assert creds.kind == "bearer"


@pytest.mark.parametrize(
    ("creds", "kind"),
    [
        (Credentials(), "none"),
        (Credentials(username="u", password="p"), "basic"),
        (Credentials(bearer_token="t"), "bearer"),
        (Credentials(ssh_private_key=KEY, known_hosts="h k"), "ssh"),
    ],
)
def test_kind(creds: Credentials, kind: str) -> None:
    assert creds.kind == kind


def test_invalid_base64_is_a_source_error_without_the_value() -> None:
    with pytest.raises(SourceError, match="'password' is not valid base64") as info:
        Credentials.from_secret_data({"password": "not base64 !!hunter2"}, secret_name="repo-creds")
    assert "hunter2" not in str(info.value)
    assert info.value.message.startswith("Secret/repo-creds:")
    assert info.value.__cause__ is None


def test_repr_never_shows_values() -> None:
    creds = Credentials("alice", "s3cr3t-pw", "tok-123", KEY, "known")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "s3cr3t-pw" not in text
        assert "tok-123" not in text
        assert "alice" not in text
        assert "PRIVATE KEY" not in text
    assert repr(creds) == (
        "Credentials(username=<set>, password=<set>, bearer_token=<set>, ssh_private_key=<set>, known_hosts=<set>)"
    )
    assert repr(Credentials()) == "Credentials()"


def test_secrets_lists_what_must_be_redacted() -> None:
    creds = Credentials("alice", "s3cr3t-pw", "tok-123", KEY)
    secrets = creds.secrets()
    assert {"s3cr3t-pw", "tok-123", KEY.strip(), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"} <= set(secrets)
    assert "" not in secrets
    assert Credentials().secrets() == ()


def test_identity_is_stable_distinct_and_not_the_secret() -> None:
    a = Credentials(username="u", password="p1")
    assert a.identity() == Credentials(username="u", password="p1").identity()
    assert a.identity() != Credentials(username="u", password="p2").identity()
    assert Credentials().identity() == "anonymous"
    assert "p1" not in a.identity()
