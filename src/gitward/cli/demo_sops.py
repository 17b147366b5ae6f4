"""The demo repository's SOPS-encrypted Secret (docs/secrets.md): made when `make demo` creates the
repository, never committed with a key.

Called by `cli/demo.py`: `encrypt_secret` makes an age identity with Debian's `age-keygen` (kept in
the demo's state directory, mode 0600), encrypts `apps/guestbook/secret.sops.yaml` with the pinned
sops binary for it, and `keys_secret` is the Secret holding the identity that the guestbook
Application's `spec.decryption` names. Without `age-keygen` the demo simply has no encrypted Secret.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from gitward.rendering import decryption

KEY_FILE = "sops.agekey"
KEYS_SECRET = "sops-keys"  # noqa: S105 — the name of the Secret holding the key, not a secret
ENCRYPTED_FILE = "apps/guestbook/secret.sops.yaml"
PLAINTEXT = """\
apiVersion: v1
kind: Secret
metadata:
  name: guestbook-credentials
stringData:
  admin-password: demo-password-decrypted-by-gitward
"""


def encrypt_secret(work: Path, state: Path) -> bool:
    """Write the encrypted Secret into the working clone `work`; False when age-keygen is missing."""
    keygen = shutil.which("age-keygen")
    if keygen is None:
        return False
    key = state / KEY_FILE
    if not key.exists():
        identity = subprocess.run([keygen], check=True, capture_output=True).stdout
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(identity)
    recipient = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
    plain = work / "apps/guestbook/secret.yaml"
    plain.write_text(PLAINTEXT)
    try:
        sops = decryption.find_sops(ENCRYPTED_FILE)
        command = [sops, "encrypt", "--age", recipient, "--encrypted-regex", "^(data|stringData)$", str(plain)]
        env = {"PATH": os.defpath, "HOME": str(state)}
        encrypted = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    finally:
        plain.unlink()
    (work / ENCRYPTED_FILE).write_text(encrypted)
    return True


def keys_secret(state: Path, namespace: str) -> dict[str, Any] | None:
    """The Secret with the demo's age identity, or None when the demo has no encrypted Secret."""
    key = state / KEY_FILE
    if not key.exists():
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KEYS_SECRET, "namespace": namespace},
        "data": {KEY_FILE: base64.b64encode(key.read_bytes()).decode()},
    }
