"""Which signing key an automation's Secret holds (gitward.controller.images.signing): Flux's entry
names (`git.asc` + `passphrase` for OpenPGP, `identity` + `password` for SSH), `signingKey.type`
choosing between them, and errors that name the entry but never its content; plus the SSH signer's
check of the key with the real `ssh-keygen`."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from gitward.controller.images import signing
from gitward.core.errors import SourceError

WHERE = "Secret/apps/signing"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_entry_found_decides_when_no_type_is_given() -> None:
    ssh = signing.from_secret_data({"identity": b64("SSH KEY"), "password": b64("pw")}, WHERE)
    assert (ssh.kind, ssh.key, ssh.passphrase) == ("ssh", "SSH KEY", "pw")
    gpg = signing.from_secret_data({"git.asc": b64("PGP KEY"), "passphrase": b64("pp")}, WHERE)
    assert (gpg.kind, gpg.key, gpg.passphrase) == ("gpg", "PGP KEY", "pp")
    both = signing.from_secret_data({"git.asc": b64("PGP KEY"), "identity": b64("SSH KEY")}, WHERE)
    assert both.kind == "gpg"  # as Flux: OpenPGP unless asked for ssh
    assert signing.from_secret_data({"git.asc": b64("P"), "identity": b64("S")}, WHERE, "ssh").key == "S"


def test_a_missing_entry_names_what_is_expected() -> None:
    with pytest.raises(SourceError, match=r"Secret/apps/signing: no identity \(an SSH private key\)") as caught:
        signing.from_secret_data({"git.asc": b64("PGP KEY")}, WHERE, "ssh")
    assert caught.value.reason == "InvalidSigningKey"
    with pytest.raises(SourceError, match=r"no git\.asc"):
        signing.from_secret_data({"other": b64("x")}, WHERE)


def test_undecodable_entries_are_refused_without_their_content() -> None:
    with pytest.raises(SourceError) as caught:
        signing.from_secret_data({"identity": "not base64 at all ###"}, WHERE)
    assert "base64" in caught.value.message
    assert "###" not in caught.value.message


def test_a_signing_key_never_shows_in_its_repr() -> None:
    key = signing.Signing("-----BEGIN OPENSSH PRIVATE KEY----- secret-bits", "hunter2", "ssh")
    assert "secret-bits" not in repr(key)
    assert "hunter2" not in repr(key)


def _ssh_key(tmp_path: Path, passphrase: str = "") -> str:
    path = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "bot", "-f", str(path)], check=True)
    return path.read_text()


def test_an_ssh_signer_checks_the_key_and_its_password(tmp_path: Path) -> None:
    key = _ssh_key(tmp_path, passphrase="right-pass")
    (tmp_path / "a").mkdir()
    with signing.signer(signing.Signing(key, "right-pass", "ssh"), tmp_path / "a") as found:
        assert found is not None
        assert "gpg.format=ssh" in found.config
        identity = Path(next(c for c in found.config if c.startswith("user.signingkey=")).split("=", 1)[1])
        assert identity.stat().st_mode & 0o777 == 0o600
    (tmp_path / "b").mkdir()
    wrong = signing.Signing(key, "wrong-pass", "ssh")
    with pytest.raises(SourceError, match="password does not decrypt") as caught, signing.signer(wrong, tmp_path / "b"):
        pass
    assert "wrong-pass" not in caught.value.message


def test_something_else_than_an_ssh_key_is_refused(tmp_path: Path) -> None:
    garbage = signing.Signing("-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage-xyz\n", "", "ssh")
    with pytest.raises(SourceError, match="not an SSH private key") as caught, signing.signer(garbage, tmp_path):
        pass
    assert "garbage-xyz" not in caught.value.message
