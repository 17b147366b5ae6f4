"""SOPS decryption of a render (the real sops binary, age and OpenPGP keys made in the test): a
plain directory and a kustomize overlay decrypted; a wrong key and a wrong MAC refuse the render
with secret-free messages naming the file; nothing decrypted is left on disk or in the parse cache."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import sops

from gitward import rendering
from gitward.core.applications import Source
from gitward.core.errors import RenderError
from gitward.rendering import DEFAULT_LIMITS, decryption, parsecache

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {password}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n"


@pytest.fixture(scope="module")
def age() -> sops.AgeKey:
    return sops.age_key()


@pytest.fixture(scope="module")
def pgp() -> Iterator[sops.PgpKey]:
    with tempfile.TemporaryDirectory() as tmp:
        key = sops.pgp_key(Path(tmp) / "gnupg")
        yield key
        sops.stop_agent(key.home)


def keys(age: sops.AgeKey | None = None, pgp: sops.PgpKey | None = None) -> rendering.Inputs:
    found = []
    if age is not None:
        found.append(("identity.agekey", age.identity))
    if pgp is not None:
        found.append(("private.asc", pgp.private))
    return rendering.Inputs(decryption_keys=tuple(found), decryption_secret="Secret/shop/sops-keys")


def render(root: Path, path: str, inputs: rendering.Inputs) -> list[dict[str, object]]:
    source = Source.model_validate({"repoURL": "x", "path": path})
    return [r.manifest for r in rendering.render(root, source, inputs=inputs)]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_age_in_a_plain_directory_and_a_kustomization(tmp_path: Path, age: sops.AgeKey) -> None:
    encrypted = sops.encrypt(SECRET.format(password="hunter2-age"), age=age)
    assert "hunter2-age" not in encrypted
    root = write(
        tmp_path,
        {
            "plain/secret.yaml": encrypted,
            "plain/cm.yaml": CONFIGMAP,
            "base/secret.enc.yaml": encrypted,
            "base/kustomization.yaml": "resources: [secret.enc.yaml]\n",
            "overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: prod-\n",
        },
    )
    parsecache.clear()
    objects = render(root, "plain", keys(age))
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert secret["stringData"] == {"password": "hunter2-age"} and "sops" not in secret
    [overlaid] = render(root, "overlay", keys(age))
    assert overlaid["metadata"] == {"name": "prod-db"} and overlaid["stringData"] == {"password": "hunter2-age"}
    assert "hunter2-age" not in (root / "plain/secret.yaml").read_text()  # the checkout is never changed
    cached = [r.manifest for entries, _ in parsecache._entries.values() for r in entries]
    assert "hunter2-age" not in str(cached)  # decrypted files skip the parse cache


def test_openpgp(tmp_path: Path, pgp: sops.PgpKey) -> None:
    root = write(tmp_path, {"app/secret.yaml": sops.encrypt(SECRET.format(password="hunter2-pgp"), pgp=pgp)})
    [secret] = render(root, "app", keys(pgp=pgp))
    assert secret["stringData"] == {"password": "hunter2-pgp"}


def test_json(tmp_path: Path, age: sops.AgeKey) -> None:
    text = '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"}, "stringData": {"k": "json-s3cret"}}'
    root = write(tmp_path, {"app/secret.json": sops.encrypt(text, age=age, suffix=".json")})
    [secret] = render(root, "app", keys(age))
    assert secret["stringData"] == {"k": "json-s3cret"}


def test_a_wrong_key_refuses_naming_the_file(tmp_path: Path, age: sops.AgeKey) -> None:
    root = write(tmp_path, {"app/secret.yaml": sops.encrypt(SECRET.format(password="hunter2-x"), age=age)})
    with pytest.raises(RenderError) as caught:
        render(root, "app", keys(sops.age_key()))
    assert caught.value.message == (
        "app/secret.yaml: cannot be decrypted: no key in Secret/shop/sops-keys matches its recipients "
        "(age *.agekey or OpenPGP *.asc)"
    )


def test_a_wrong_mac_refuses(tmp_path: Path, age: sops.AgeKey) -> None:
    encrypted = sops.encrypt(SECRET.format(password="hunter2-mac"), age=age)
    tampered = encrypted.replace("name: db", "name: other")  # an unencrypted value changed: the MAC no longer fits
    root = write(tmp_path, {"app/secret.yaml": tampered})
    with pytest.raises(RenderError) as caught:
        render(root, "app", keys(age))
    assert (
        caught.value.message
        == "app/secret.yaml: cannot be decrypted: MAC mismatch: the file was changed after it was encrypted"
    )
    assert "hunter2" not in caught.value.message


def test_nothing_decrypted_stays_on_disk(tmp_path: Path, age: sops.AgeKey) -> None:
    root = write(tmp_path / "repo", {"app/secret.yaml": sops.encrypt(SECRET.format(password="leftover-x9"), age=age)})
    before = set(os.listdir(tempfile.gettempdir()))
    with decryption.decrypted_copy(root, keys(age).decryption_keys, DEFAULT_LIMITS, "Secret/shop/k") as copy:
        assert "leftover-x9" in (copy / "app/secret.yaml").read_text()
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
        private = copy.parent
    assert not private.exists()
    assert {name for name in set(os.listdir(tempfile.gettempdir())) - before if name.startswith("gitward-")} == set()


def test_detection() -> None:
    limits = DEFAULT_LIMITS
    assert not decryption.is_encrypted(CONFIGMAP.encode(), "x.yaml", limits)
    assert not decryption.is_encrypted(b"sops: {not: metadata}\nmac: 1\n", "x.yaml", limits)
    assert decryption.is_encrypted(b"a: ENC[x]\nsops:\n  mac: ENC[y]\n", "x.yaml", limits)


def test_the_values_that_were_encrypted_are_reported_for_masking(tmp_path: Path, age: sops.AgeKey) -> None:
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  dsn: postgres://app:pw-in-cm@db\n"
    root = write(tmp_path, {"app/cm.yaml": sops.encrypt(configmap, age=age), "app/plain.yaml": CONFIGMAP})
    found: list[str] = []
    source = Source.model_validate({"repoURL": "x", "path": "app"})
    objects = rendering.render(root, source, inputs=keys(age), secrets_out=found)
    assert {o.manifest["metadata"]["name"] for o in objects} == {"conf", "plain"}
    assert found == ["postgres://app:pw-in-cm@db"]  # only what was encrypted: not "b", not "conf"
