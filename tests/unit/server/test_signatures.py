"""Webhook authenticity per provider: HMAC signatures (GitHub, Gitea, Bitbucket) and GitLab's token."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from starlette.datastructures import Headers

from gitward.server.webhooks import bitbucket, gitea, github, gitlab, signatures

SECRET = b"it's a secret"
BODY = b'{"ref": "refs/heads/main"}'
DIGEST = hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()


def headers(**values: str) -> Headers:
    return Headers(headers={k.replace("_", "-"): v for k, v in values.items()})


@pytest.mark.parametrize(
    ("provider", "header", "good"),
    [
        (github, "X-Hub-Signature-256", f"sha256={DIGEST}"),
        (bitbucket, "X-Hub-Signature", f"sha256={DIGEST}"),
        (gitea, "X-Gitea-Signature", DIGEST),
        (gitlab, "X-Gitlab-Token", SECRET.decode()),
    ],
)
def test_provider_signatures(provider: object, header: str, good: str) -> None:
    verify = provider.verify  # type: ignore[attr-defined]
    assert verify(Headers(headers={header: good}), BODY, SECRET)
    assert not verify(Headers(headers={}), BODY, SECRET)
    assert not verify(Headers(headers={header: ""}), BODY, SECRET)
    assert not verify(Headers(headers={header: good}), BODY, b"another secret")
    if provider is not gitlab:  # the token does not depend on the body
        assert not verify(Headers(headers={header: good}), BODY + b" ", SECRET)


def test_hmac_forms() -> None:
    assert signatures.hex_hmac_ok(DIGEST.upper(), SECRET, BODY)
    assert signatures.hex_hmac_ok(f" {DIGEST} ", SECRET, BODY)
    assert not signatures.hex_hmac_ok(DIGEST[:-1], SECRET, BODY)
    assert not signatures.hex_hmac_ok("zz" * 32, SECRET, BODY)
    assert not signatures.hex_hmac_ok("é" * 64, SECRET, BODY)
    assert not signatures.hex_hmac_ok("a" * 100_000, SECRET, BODY)
    assert signatures.prefixed_hmac_ok(f"SHA256={DIGEST}", SECRET, BODY)
    assert not signatures.prefixed_hmac_ok(DIGEST, SECRET, BODY)  # prefix required
    sha1 = hmac.new(SECRET, BODY, hashlib.sha1).hexdigest()
    assert not signatures.prefixed_hmac_ok(f"sha1={sha1}", SECRET, BODY)  # SHA-1 is not accepted


def test_token_compare() -> None:
    assert signatures.token_ok("abc", b"abc")
    assert not signatures.token_ok("abcd", b"abc")
    assert not signatures.token_ok("ab", b"abc")
    assert not signatures.token_ok(None, b"abc")
    assert not signatures.token_ok("x" * 10_000, b"x" * 10_000)  # over the cap
    assert signatures.token_ok("géheim".encode().decode("latin-1"), "géheim".encode())  # as a header arrives


def test_github_header_names_are_case_insensitive() -> None:
    assert github.verify(headers(x_hub_signature_256=f"sha256={DIGEST}"), BODY, SECRET)
