"""Repository credentials as plain data.

The controller reads the Secret named by `spec.source.secretRef` (SPEC §2) and hands its `data` to
`Credentials.from_secret_data`; the result travels with every `Fetcher` call (gitward.sourcing.git),
which turns it into a private git environment. Nothing here talks to Kubernetes, and nothing here
ever prints a credential: `repr()` only says which fields are set, and `secrets()` lists the values
every error message is redacted against. OCI registries (gitward.sourcing.oci) also read a
`.dockerconfigjson` (a `kubernetes.io/dockerconfigjson` Secret) and a `ca.crt` to trust
(`registry_login` picks the login for one registry host).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields

from gitward.core.errors import SourceError

__all__ = ["SECRET_KEYS", "Credentials", "authorization_header", "registry_login"]

# Secret data key → Credentials field
SECRET_KEYS: Mapping[str, str] = {
    "username": "username",
    "password": "password",
    "bearerToken": "bearer_token",
    "sshPrivateKey": "ssh_private_key",
    "knownHosts": "known_hosts",
    ".dockerconfigjson": "docker_config",
    "ca.crt": "ca_cert",
}


@dataclass(frozen=True, repr=False)
class Credentials:
    """How to authenticate to one repository; every field is optional (empty = not set)."""

    username: str = ""
    password: str = ""
    bearer_token: str = ""
    ssh_private_key: str = ""
    known_hosts: str = ""
    docker_config: str = ""
    """A Docker config (`{"auths": {host: {username, password} | {auth}}}`), for OCI registries."""
    ca_cert: str = ""
    """PEM certificates to trust besides the system's, for OCI registries."""

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str], *, secret_name: str = "") -> Credentials:
        """Build from a Kubernetes Secret's base64-encoded `data`; unknown keys are ignored."""
        values = {field: _decode(data[key], key, secret_name) for key, field in SECRET_KEYS.items() if key in data}
        if "bearer_token" in values:  # `echo TOKEN | base64` leaves a newline: a token never holds whitespace
            values["bearer_token"] = values["bearer_token"].strip()
        return cls(**values)

    @property
    def kind(self) -> str:
        """`ssh`, `bearer`, `basic` or `none`: which mechanism these credentials provide."""
        if self.ssh_private_key:
            return "ssh"
        if self.bearer_token:
            return "bearer"
        if self.username or self.password:
            return "basic"
        return "none"

    def secrets(self) -> tuple[str, ...]:
        """The values that must never appear in a message (including each line of a private key)."""
        key_lines = tuple(line.strip() for line in self.ssh_private_key.splitlines() if _is_key_body(line))
        docker = tuple(secret for auth in _docker_auths(self.docker_config).values() for secret in auth[1:])
        values = (self.password, self.bearer_token, self.ssh_private_key.strip(), *key_lines, *docker)
        return tuple(v for v in values if v)

    def identity(self) -> str:
        """A stable, non-reversible id of these credentials (used to keep caches per credential)."""
        if not any(getattr(self, f.name) for f in fields(self)):
            return "anonymous"
        digest = hashlib.sha256()
        for f in fields(self):
            digest.update(getattr(self, f.name).encode())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        set_fields = ", ".join(f"{f.name}=<set>" for f in fields(self) if getattr(self, f.name))
        return f"Credentials({set_fields})"

    __str__ = __repr__


def authorization_header(creds: Credentials) -> str:
    """`Bearer <token>` for an HTTP Authorization header; SourceError (without the value) when the
    token holds whitespace or control characters — git hands `http.extraHeader` to curl as is, so a
    CR/LF in a token would add header lines to every request."""
    token = creds.bearer_token
    if not token or any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
        msg = "Secret data key 'bearerToken' must be one token: no spaces, line breaks or control characters"
        raise SourceError(msg, reason="InvalidCredentials")
    return f"Bearer {token}"


def registry_login(creds: Credentials | None, host: str) -> tuple[str, str]:
    """(username, password) for OCI registry `host` (`name` or `name:port`): the Secret's username and
    password, else the `.dockerconfigjson` entry for that host (`auths` keys may carry a scheme and a
    path, as `docker login` writes them); ("", "") when there is none."""
    if creds is None:
        return "", ""
    if creds.username or creds.password:
        return creds.username, creds.password
    return _docker_auths(creds.docker_config).get(host.lower(), ("", "", ""))[:2]


def _docker_auths(text: str) -> dict[str, tuple[str, str, str]]:
    """host → (username, password, auth) of a Docker config; {} when it is absent or malformed."""
    try:
        auths = json.loads(text).get("auths") if text else None
    except (ValueError, AttributeError):
        return {}
    found: dict[str, tuple[str, str, str]] = {}
    for key, entry in (auths or {}).items() if isinstance(auths, dict) else ():
        if not isinstance(entry, dict):
            continue
        host = str(key).lower().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
        user, password, auth = (str(entry.get(k) or "") for k in ("username", "password", "auth"))
        if auth and not user:
            try:
                user, _, password = base64.b64decode(auth, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError):
                continue
        found[host] = (user, password, auth)
    return found


def _decode(value: str, key: str, secret_name: str) -> str:
    where = f"Secret/{secret_name}" if secret_name else "Secret"
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        msg = f"{where}: data key {key!r} is not valid base64-encoded UTF-8"
        raise SourceError(msg, reason="InvalidCredentials") from None


def _is_key_body(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 8 and not stripped.startswith("-----")
