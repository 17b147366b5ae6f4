"""Commit signing for image automation: an OpenPGP or an SSH key from the automation's Secret.

Called by gitward.controller.images.running (`from_secret_data`: which key the Secret holds) and by
gitward.controller.images.gitwork (`signer`: the git options and environment one run signs with).
The Secret's keys follow Flux's image-automation-controller (`signingKey.type`):

    type gpg (or empty, with `git.asc`)     `git.asc`: an armored OpenPGP secret key; optional `passphrase`
    type ssh (or empty, with `identity`)    `identity`: an SSH private key (ssh-keygen's formats);
                                            optional `password` (its passphrase)

The key material only ever lives in a private 0700 directory of the run (removed with it): OpenPGP
keys are imported into a GNUPGHOME made for the run; an SSH key is a 0600 file that git hands to
`ssh-keygen -Y sign` (`gpg.format=ssh`, `user.signingkey=<file>`), its passphrase read by an askpass
helper from another 0600 file. Errors say which Secret entry is wrong, never what it holds.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gitward.core.errors import SourceError

__all__ = ["OPENPGP_KEY", "SSH_KEY", "Signer", "Signing", "from_secret_data", "signer"]

OPENPGP_KEY = "git.asc"
SSH_KEY = "identity"
_TIMEOUT = 60

Kind = Literal["gpg", "ssh"]


@dataclass(frozen=True, repr=False)
class Signing:
    """A signing key as read from its Secret (never printed: `repr` is off)."""

    key: str
    passphrase: str = ""
    kind: Kind = "gpg"


@dataclass(frozen=True)
class Signer:
    """What one `git commit` needs to sign: `-c` options, the `-S` argument and extra environment."""

    config: list[str]
    sign: str
    env: dict[str, str] = field(default_factory=dict)


def from_secret_data(data: Mapping[str, str], where: str, kind: str = "") -> Signing:
    """The signing key of a Secret's base64 `data`; `kind` is `signingKey.type` ("" = by the key found)."""
    if not kind:
        kind = "ssh" if SSH_KEY in data and OPENPGP_KEY not in data else "gpg"
    if kind == "ssh":
        entry, secret, what = SSH_KEY, "password", "an SSH private key"
    elif kind == "gpg":
        entry, secret, what = OPENPGP_KEY, "passphrase", "an armored OpenPGP secret key"
    else:
        raise SourceError(f"signingKey.type {kind[:20]!r}: not gpg or ssh", reason="InvalidSigningKey")
    if entry not in data:
        raise SourceError(f"{where}: no {entry} ({what})", reason="InvalidSigningKey")
    try:
        key = base64.b64decode(data[entry], validate=True).decode("utf-8")
        passphrase = base64.b64decode(data.get(secret, ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        message = f"{where}: {entry} or {secret} is not base64-encoded text"
        raise SourceError(message, reason="InvalidSigningKey") from None
    return Signing(key, passphrase, "ssh" if kind == "ssh" else "gpg")


@contextlib.contextmanager
def signer(signing: Signing | None, root: Path) -> Iterator[Signer | None]:
    """The signer of one run, its files under `root` (a private directory the caller removes)."""
    if signing is None:
        yield None
    elif signing.kind == "ssh":
        yield _ssh(signing, root)
    else:
        with _gnupg(signing, root) as found:
            yield found


def _ssh(signing: Signing, root: Path) -> Signer:
    """An SSH signer: the key in a 0600 file, checked by deriving its public key (`ssh-keygen -y`)."""
    home = root / "ssh-signing"
    home.mkdir(mode=0o700)
    identity = _private_file(home / "identity", signing.key.replace("\r\n", "\n").strip() + "\n")
    secret = _private_file(home / "passphrase", signing.passphrase)
    askpass = home / "askpass.sh"  # always: ssh-keygen never falls back to a terminal prompt
    askpass.write_text(f"#!/bin/sh\nexec cat '{secret}'\n")
    askpass.chmod(0o700)
    ask = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": "none"}
    env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C", "HOME": str(home), **ask}
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(identity)], env=env, stdin=subprocess.DEVNULL, capture_output=True,
        timeout=_TIMEOUT, check=False, start_new_session=True,
    )  # fmt: skip
    if derived.returncode != 0 or not derived.stdout.startswith((b"ssh-", b"ecdsa-", b"sk-")):
        wrong = b"passphrase" in derived.stderr.lower() or b"incorrect" in derived.stderr.lower()
        detail = "its password does not decrypt it" if wrong else "it is not an SSH private key"
        raise SourceError(f"signingKey: the Secret's {SSH_KEY} cannot sign: {detail}", reason="InvalidSigningKey")
    config = ["-c", "gpg.format=ssh", "-c", "gpg.ssh.program=ssh-keygen", "-c", f"user.signingkey={identity}"]
    return Signer(config, "-S", env=ask)


def _private_file(path: Path, content: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    return path


@contextlib.contextmanager
def _gnupg(signing: Signing, root: Path) -> Iterator[Signer]:
    """A private GNUPGHOME holding only the signing key (and a gpg wrapper for its passphrase)."""
    home = root / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home), "PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
    imported = subprocess.run(
        ["gpg", "--batch", "--import", "--import-options", "import-local-sigs"],
        input=signing.key.encode(), env=env, capture_output=True, timeout=_TIMEOUT, check=False,
    )  # fmt: skip
    listed = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
        env=env, capture_output=True, timeout=_TIMEOUT, check=False,
    )  # fmt: skip
    fingerprints = [line.split(":")[9] for line in listed.stdout.decode().splitlines() if line.startswith("fpr:")]
    if imported.returncode != 0 or not fingerprints:
        raise SourceError(
            f"signingKey: the Secret's {OPENPGP_KEY} is not an OpenPGP secret key", reason="InvalidSigningKey"
        )
    program = home / "gpg-sign.sh"
    passphrase = _private_file(home / "passphrase", signing.passphrase)
    program.write_text(
        f"#!/bin/sh\nexec gpg --batch --pinentry-mode loopback --passphrase-file '{passphrase}' \"$@\"\n"
    )
    program.chmod(0o700)
    try:
        yield Signer(["-c", f"gpg.program={program}"], f"-S{fingerprints[0]}", env={"GNUPGHOME": str(home)})
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, timeout=30, check=False)
