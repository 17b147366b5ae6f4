"""Registry logins from a Secret (gitward.sourcing.credentials.registry_login): username/password, or
the entry of a `.dockerconfigjson` for the registry's host; never shown by repr, always redacted."""

from __future__ import annotations

import base64
import json

from gitward.sourcing.credentials import Credentials, registry_login


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def docker_config(auths: dict[str, dict[str, str]]) -> dict[str, str]:
    return {".dockerconfigjson": b64(json.dumps({"auths": auths}))}


def test_username_and_password_win() -> None:
    creds = Credentials.from_secret_data({"username": b64("u"), "password": b64("p")})
    assert registry_login(creds, "any.host:5000") == ("u", "p")


def test_docker_config_entries_by_host() -> None:
    data = docker_config(
        {
            "https://registry.example:5000/v1/": {"auth": b64("alice:s3cret-one")},
            "ghcr.io": {"username": "bob", "password": "s3cret-two"},
        }
    )
    creds = Credentials.from_secret_data(data)
    assert registry_login(creds, "registry.example:5000") == ("alice", "s3cret-one")
    assert registry_login(creds, "ghcr.io") == ("bob", "s3cret-two")
    assert registry_login(creds, "other.io") == ("", "")
    assert "s3cret-one" in creds.secrets()
    assert "s3cret-two" in creds.secrets()
    assert "s3cret" not in repr(creds)


def test_a_malformed_docker_config_gives_no_login() -> None:
    creds = Credentials.from_secret_data({".dockerconfigjson": b64("{not json")})
    assert registry_login(creds, "ghcr.io") == ("", "")
    assert registry_login(None, "ghcr.io") == ("", "")


def test_ca_cert_and_docker_config_make_a_credential_identity() -> None:
    assert Credentials(ca_cert="PEM").identity() != "anonymous"
    assert Credentials().identity() == "anonymous"
