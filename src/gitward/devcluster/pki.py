"""Certificates and tokens for the embedded control plane, made fresh for each state dir.

Called by `gitward.devcluster.cluster.up` before the API server starts. Uses the `openssl` command
(a CA, a serving certificate for 127.0.0.1/localhost, a service-account key pair) and writes the
static token file with an admin token (group system:masters) and an unprivileged user token.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    dir: Path

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def serving_crt(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    @property
    def tokens_csv(self) -> Path:
        return self.dir / "tokens.csv"


@dataclass(frozen=True)
class Tokens:
    admin: str
    user: str


USER_NAME = "dev-user"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def generate(directory: Path) -> tuple[Pki, Tokens]:
    """Create the CA, serving certificate, SA key pair and token file in `directory` (mode 0700)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pki = Pki(directory)
    _openssl("genrsa", "-out", str(pki.ca_key), "2048")
    _openssl(
        "req", "-x509", "-new", "-nodes", "-key", str(pki.ca_key), "-subj", "/CN=gitward-dev-ca",
        "-days", "3650", "-out", str(pki.ca_crt),
    )  # fmt: skip
    _openssl("genrsa", "-out", str(pki.serving_key), "2048")
    csr = directory / "apiserver.csr"
    _openssl("req", "-new", "-key", str(pki.serving_key), "-subj", "/CN=kube-apiserver", "-out", str(csr))
    ext = directory / "apiserver.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,IP:10.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_crt), "-CAkey", str(pki.ca_key),
        "-CAcreateserial", "-days", "3650", "-extfile", str(ext), "-out", str(pki.serving_crt),
    )  # fmt: skip
    _openssl("genrsa", "-out", str(pki.sa_key), "2048")
    _openssl("rsa", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub))
    tokens = Tokens(admin=secrets.token_hex(24), user=secrets.token_hex(24))
    pki.tokens_csv.write_text(
        f'{tokens.admin},admin,admin,"system:masters"\n{tokens.user},{USER_NAME},{USER_NAME},"dev-users"\n'
    )
    for path in directory.iterdir():
        path.chmod(0o600)
    return pki, tokens
