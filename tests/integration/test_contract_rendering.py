"""Contract tests of SPEC §15 driven only through the documented resources, for what the other
rendering tests leave to unit tests: `spec.decryption: {provider: sops, secretRef}` with an OpenPGP
private key (`*.asc` entry of the Secret) next to an age identity (`*.agekey`), decrypting a YAML
file and a JSON file of the same render into the cluster and nowhere else."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import apps, sops
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

PGP_PLAIN, AGE_PLAIN = "pgp-plaintext-5521", "age-plaintext-5522"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {password}\n"


@pytest.fixture(scope="module")
def pgp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sops.PgpKey]:
    key = sops.pgp_key(tmp_path_factory.mktemp("pgp") / "gnupg")
    yield key
    sops.stop_agent(key.home)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_openpgp_and_age_keys_decrypt_yaml_and_json_into_the_cluster_only(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    pgp: sops.PgpKey,
) -> None:
    age = sops.age_key()
    keys = {"private.asc": _b64(pgp.private), "identity.agekey": _b64(age.identity)}
    await kube.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-keys", "namespace": namespace}, "data": keys}
    )
    as_json = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "json-db"}, "stringData": {"password": AGE_PLAIN}}
    )
    repo = make_repo()
    sha = repo.commit(
        {
            "pgp.yaml": sops.encrypt(SECRET.format(name="pgp-db", password=PGP_PLAIN), pgp=pgp),
            "age.json": sops.encrypt(as_json, age=age, suffix=".json"),
        }
    )
    assert PGP_PLAIN not in (repo.path / "pgp.yaml").read_text()
    url = git_http_server.publish(repo, "config.git")
    decryption = {"provider": "sops", "secretRef": {"name": "sops-keys"}}
    await kube.create(apps.application("web", namespace, url, decryption=decryption))
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))

    for name, plain in (("pgp-db", PGP_PLAIN), ("json-db", AGE_PLAIN)):
        live = await kube.get("v1", "Secret", name, namespace)
        assert base64.b64decode(live["data"]["password"]).decode() == plain
        assert "sops" not in live
    text = json.dumps(status)
    assert PGP_PLAIN not in text and AGE_PLAIN not in text
    events, _ = await kube.list("v1", "Event", namespace)
    assert PGP_PLAIN not in json.dumps(events) and AGE_PLAIN not in json.dumps(events)
    cache = Path(controller.config.cache_dir)
    for path in cache.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert PGP_PLAIN.encode() not in data and AGE_PLAIN.encode() not in data, path
