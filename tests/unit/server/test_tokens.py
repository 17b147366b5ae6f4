"""The auth file: parsing, validation messages without secrets, and constant-time token lookup."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitward.server import tokens

VIEWER, ADMIN = "v-token", "a-token"
GOOD = f"""
tokens:
  - {{name: ci, sha256: {hashlib.sha256(VIEWER.encode()).hexdigest()}, role: viewer}}
  - {{name: ops, sha256: {hashlib.sha256(ADMIN.encode()).hexdigest().upper()}, role: admin}}
webhookSecret: s3cr3t-hook
"""


def test_hash_token_is_hex_sha256() -> None:
    assert tokens.hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_parse_and_find() -> None:
    config = tokens.parse(GOOD)
    table = tokens.TokenTable(config.tokens)
    viewer, admin = table.find(VIEWER), table.find(ADMIN)
    assert viewer is not None and (viewer.name, viewer.role) == ("ci", tokens.Role.VIEWER)
    assert admin is not None and (admin.name, admin.role) == ("ops", tokens.Role.ADMIN)  # upper-case hex accepted
    assert table.find("nope") is None
    assert table.find("") is None
    assert config.webhook_key == b"s3cr3t-hook"


def test_secrets_stay_out_of_reprs() -> None:
    config = tokens.parse(GOOD)
    text = repr(config) + str(config)
    assert "s3cr3t-hook" not in text
    assert tokens.hash_token(VIEWER) not in text


def test_empty_file_means_no_tokens_and_no_webhooks() -> None:
    config = tokens.parse("")
    assert config.tokens == () and config.webhook_key is None
    assert tokens.parse("webhookSecret: ''\n").webhook_key is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens: [{name: a, sha256: abc, role: admin}]", "tokens.0.sha256"),
        (f"tokens: [{{name: a, sha256: {'g' * 64}, role: admin}}]", "64 hex digits"),
        (f"tokens: [{{name: a, sha256: {'a' * 64}, role: root}}]", "tokens.0.role"),
        (f"tokens: [{{sha256: {'a' * 64}, role: admin}}]", "tokens.0.name"),
        (f"tokens: [{{name: a, sha256: {'a' * 64}, role: admin, token: x}}]", "tokens.0.token"),
        (f"tokens: [{{name: a, sha256: {'a' * 64}, role: admin}}, {{name: a, sha256: {'b' * 64}, role: viewer}}]",
         "duplicate token names: a"),
        ("webhookSecret: [1, 2]", "webhookSecret"),
        ("- just\n- a list", "expected a mapping"),
        ("tokens: [unclosed", "not valid YAML"),
        ("hooks: {}", "hooks"),
    ],
)  # fmt: skip
def test_invalid_files_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(tokens.AuthConfigError, match=message.replace(".", r"\.")):
        tokens.parse(text)


def test_error_messages_do_not_echo_secrets() -> None:
    with pytest.raises(tokens.AuthConfigError) as info:
        tokens.parse("webhookSecret: {nested: hunter2}\n")
    assert "hunter2" not in str(info.value)
    with pytest.raises(tokens.AuthConfigError) as info:
        tokens.parse("tokens: [{name: a, sha256: hunter2hunter2, role: admin}]\nwebhookSecret: 'x")
    assert "hunter2" not in str(info.value)


def test_load_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(tokens.AuthConfigError, match="cannot read"):
        tokens.load(tmp_path / "missing.yaml")
    path = tmp_path / "auth.yaml"
    path.write_text(GOOD)
    assert len(tokens.load(path).tokens) == 2
