"""Commit signature verification (`source.verify.mode: head`, SPEC §6): the commit at the target
revision must carry a valid OpenPGP or SSH signature by a trusted key, or nothing is applied.

Called by the reconciler right after a revision is fetched, before it is rendered. Trusted keys come
from a Secret: each data entry is one key — an armored OpenPGP public key (`*.asc`) or an SSH public
key line (`*.pub`). Verification is git's own (`git verify-commit`, which runs gpg or ssh-keygen)
against a private keyring / allowed-signers file holding only those keys, made fresh per check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitward.core.errors import PermanentError
from gitward.sourcing.credentials import Credentials
from gitward.sourcing.git import Fetcher

PRINCIPAL = "gitward-trusted"
_GOOD_GPG = re.compile(r"^\[GNUPG:\] VALIDSIG ([0-9A-F]{16,})", re.MULTILINE)
_GOOD_SSH = re.compile(r'Good "git" signature for \S+ with (\S+) key (\S+)')


class VerificationError(PermanentError):
    """The head commit is unsigned, signed by an untrusted key, or the signature is invalid."""

    condition = "SourceError"
    reason = "VerificationFailed"


@dataclass(frozen=True)
class TrustedKeys:
    gpg: dict[str, str] = field(default_factory=dict)  # name -> armored public key
    ssh: dict[str, str] = field(default_factory=dict)  # name -> "ssh-ed25519 AAAA... comment"

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str], secret_name: str) -> TrustedKeys:
        gpg, ssh = {}, {}
        for name, value in data.items():
            try:
                text = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise VerificationError(f"Secret/{secret_name}: key {name} is not valid base64 text") from exc
            if name.endswith(".asc"):
                gpg[name] = text
            elif name.endswith(".pub"):
                ssh[name] = " ".join(text.strip().split()[:2])
        if not gpg and not ssh:
            raise VerificationError(f"Secret/{secret_name}: no trusted keys (*.asc or *.pub entries)")
        return cls(gpg, ssh)


async def verify_head(fetcher: Fetcher, url: str, sha: str, keys: TrustedKeys, creds: Credentials | None = None) -> str:
    """Return who signed `sha` (e.g. `SSH key SHA256:...`); raise VerificationError otherwise."""
    workdir = Path(tempfile.mkdtemp(prefix="gitward-verify-"))
    try:  # mkdtemp makes it private (0700)
        env, config = await asyncio.to_thread(_prepare, workdir, keys)
        signed, output = await fetcher.verify_commit(url, sha, creds, config=config, env=env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not signed:
        raise VerificationError(f"commit {sha[:12]} is not signed; verify.mode head requires a trusted signature")
    if not output.startswith("FAILED"):
        gpg = _GOOD_GPG.search(output)
        if gpg:
            return f"OpenPGP key {gpg.group(1)}"
        ssh = _GOOD_SSH.search(output)
        if ssh:
            return f"SSH {ssh.group(1)} key {ssh.group(2)}"
    raise VerificationError(f"commit {sha[:12]}: signature is not valid for any trusted key ({_why(output)})")


def _why(output: str) -> str:
    if "NO_PUBKEY" in output or "No principal matched" in output or "no principal" in output.lower():
        return "signed by an untrusted key"
    if "BADSIG" in output or "Signature verification failed" in output:
        return "bad signature"
    if "EXPKEYSIG" in output or "EXPSIG" in output:
        return "expired key or signature"
    if "REVKEYSIG" in output:
        return "revoked key"
    return "verification failed"


def _prepare(workdir: Path, keys: TrustedKeys) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A private GnuPG home with the trusted OpenPGP keys and an allowed-signers file with the SSH keys."""
    gnupg = workdir / "gnupg"
    gnupg.mkdir(mode=0o700)
    for index, armored in enumerate(keys.gpg.values()):
        key_file = workdir / f"key-{index}.asc"
        key_file.write_text(armored)
        result = subprocess.run(
            ["gpg", "--batch", "--quiet", "--homedir", str(gnupg), "--import", str(key_file)],
            capture_output=True,
            timeout=30,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GNUPGHOME": str(gnupg)},
        )
        if result.returncode != 0:
            raise VerificationError(f"trusted key {list(keys.gpg)[index]} could not be imported as an OpenPGP key")
    allowed = workdir / "allowed_signers"
    allowed.write_text("".join(f'{PRINCIPAL} namespaces="git" {line}\n' for line in keys.ssh.values()))
    env = {"GNUPGHOME": str(gnupg)}
    config = [("gpg.program", "gpg"), ("gpg.ssh.allowedSignersFile", str(allowed)), ("gpg.minTrustLevel", "undefined")]
    return env, config
