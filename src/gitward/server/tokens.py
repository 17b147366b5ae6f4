"""The auth file of `gitward run --auth-file` (SPEC §4) and bearer-token checks.

    tokens:
      - {name: ci, sha256: <hex SHA-256 of the token>, role: viewer}
      - {name: ops, sha256: <hex>, role: admin}
    webhookSecret: <shared secret of the Git webhooks>

Loaded once by `gitward.cli.run`; `TokenTable.find` is called by `gitward.server.auth` for every
request that carries `Authorization: Bearer <token>`. Tokens are stored hashed; a presented token
is hashed with SHA-256 and compared in constant time with every entry. Neither tokens nor the
webhook secret are ever logged or shown (`SecretStr`, `repr=False`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AuthConfig", "AuthConfigError", "Role", "TokenEntry", "TokenTable", "hash_token", "load"]


class AuthConfigError(Exception):
    """The auth file cannot be used; the message says where and why (never a secret)."""


class Role(enum.StrEnum):
    VIEWER = "viewer"
    ADMIN = "admin"


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=253)
    sha256: str = Field(repr=False)
    role: Role

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("must be the 64 hex digits of the token's SHA-256")
        return value


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    tokens: tuple[TokenEntry, ...] = ()
    webhook_secret: pydantic.SecretStr | None = Field(default=None, alias="webhookSecret")

    @property
    def webhook_key(self) -> bytes | None:
        """The webhook secret as HMAC key bytes; None when webhooks are disabled."""
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            return None
        return self.webhook_secret.get_secret_value().encode()


def hash_token(token: str) -> str:
    """The hex SHA-256 of `token` (what the auth file stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenTable:
    """Bearer-token lookup; every entry is compared, so timing says nothing about which matched."""

    entries: tuple[TokenEntry, ...] = field(default=())

    def find(self, token: str) -> TokenEntry | None:
        digest = hash_token(token).encode()
        found: TokenEntry | None = None
        for entry in self.entries:
            if hmac.compare_digest(digest, entry.sha256.encode()) and found is None:
                found = entry
        return found


def parse(text: str, source: str = "auth file") -> AuthConfig:
    """Validate the YAML text of an auth file; raise AuthConfigError with a safe message."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise AuthConfigError(f"{source}: not valid YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AuthConfigError(f"{source}: expected a mapping with `tokens` and `webhookSecret`")
    try:
        config = AuthConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise AuthConfigError(f"{source}: {where}: {first.get('msg', 'invalid')}") from None
    names = [t.name for t in config.tokens]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AuthConfigError(f"{source}: duplicate token names: {', '.join(duplicates)}")
    return config


def load(path: Path) -> AuthConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, str(path))
