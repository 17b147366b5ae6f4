"""Constant-time checks of webhook authenticity, over the raw body exactly as received.

Pure. Called by the provider modules: GitHub and Bitbucket send `sha256=<hex HMAC-SHA256>`,
Gitea the bare hex digest, GitLab the shared secret itself (`X-Gitlab-Token`).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["hex_hmac_ok", "hmac_sha256", "prefixed_hmac_ok", "token_ok"]

_MAX_HEADER = 512
_MAX_TOKEN = 4096


def hmac_sha256(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def hex_hmac_ok(signature: str | None, secret: bytes, body: bytes) -> bool:
    """`signature` is the hex HMAC-SHA256 of `body` (case-insensitive hex)."""
    if not signature or len(signature) > _MAX_HEADER:
        return False
    presented = signature.strip().lower().encode("ascii", errors="replace")
    return hmac.compare_digest(presented, hmac_sha256(secret, body).encode())


def prefixed_hmac_ok(signature: str | None, secret: bytes, body: bytes, prefix: str = "sha256=") -> bool:
    """`signature` is `<prefix><hex HMAC-SHA256 of body>`."""
    if not signature or not signature.strip().lower().startswith(prefix):
        return False
    return hex_hmac_ok(signature.strip()[len(prefix) :], secret, body)


def token_ok(token: str | None, secret: bytes) -> bool:
    """`token` equals the shared secret."""
    if not token or len(token) > _MAX_TOKEN:
        return False
    # header values arrive decoded as latin-1: encoding them back gives the bytes that were sent
    return hmac.compare_digest(token.encode("latin-1", errors="replace"), secret)
