"""SOPS decryption (SPEC §15, `spec.decryption`) against a real control plane and Git server, with
keys made in the test and files encrypted by the real sops binary: the decrypted Secret reaches the
cluster and nothing else (status, events, the API's diff, the controller's cache directory); a
tampered file (wrong MAC) and a key that does not match refuse the revision with a clear message
and keep the last good one."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.support import apps, http_api, sops
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {password}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  dsn: {dsn}\n"
DSN = "postgres://app:dsn-plaintext-73@db"
FIRST, SECOND = "first-plaintext-71", "second-plaintext-72"
NO_SELF_HEAL = {"automated": {"prune": True, "selfHeal": False}, "interval": "1m"}


@pytest.fixture
async def api(kube: KubeClient, namespace: str, controller: Controller) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace, controller) as running:
        yield running


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _keys(kube: KubeClient, namespace: str, key: sops.AgeKey) -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sops-keys", "namespace": namespace},
            "data": {"identity.agekey": _b64(key.identity)},
        },
        field_manager="test",
    )


def _render_error(status: dict[str, Any]) -> str:
    found = apps.condition(status, "RenderError") or {}
    return str(found.get("message", "")) if found.get("status") == "True" else ""


def _files_holding(directory: Path, text: str) -> list[Path]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if text.encode() in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


async def test_an_encrypted_secret_is_decrypted_into_the_cluster_only(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    api: http_api.Api,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    key = sops.age_key()
    await _keys(kube, namespace, key)
    repo = make_repo()
    sha = repo.commit(
        {
            "secret.yaml": sops.encrypt(SECRET.format(password=FIRST), age=key),
            "cm.yaml": sops.encrypt(CONFIGMAP.format(dsn=DSN), age=key),  # not a Secret, encrypted all the same
        }
    )
    url = git_http_server.publish(repo, "config.git")
    await kube.create(
        apps.application(
            "web", namespace, url, syncPolicy=NO_SELF_HEAL, decryption={"secretRef": {"name": "sops-keys"}}
        )
    )
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(sha))
    live = await kube.get("v1", "Secret", "db", namespace)
    assert base64.b64decode(live["data"]["password"]).decode() == FIRST
    assert "sops" not in live
    assert (await kube.get("v1", "ConfigMap", "settings", namespace))["data"] == {"dsn": DSN}

    # a live change of the Secret: the API's diff shows no value
    await kube.patch("v1", "Secret", "db", namespace, {"data": {"password": _b64(b"edited-by-hand")}})
    await kube.patch("v1", "ConfigMap", "settings", namespace, {"data": {"dsn": "edited-by-hand"}})
    await apps.wait_status(
        kube, namespace, "web", lambda s: any(r["status"] == "OutOfSync" for r in s.get("resources", []))
    )
    async with api.client("viewer") as http:
        resp = await http.get(f"/api/v1/applications/{namespace}/web/diff")
    assert resp.status_code == 200, resp.text
    assert "password" in resp.text and FIRST not in resp.text and _b64(FIRST.encode()) not in resp.text
    assert "+  dsn: ***" in resp.text.replace("\\n", "\n") and "dsn-plaintext" not in resp.text

    status = (await apps.get_app(kube, namespace, "web"))["status"]
    events, _ = await kube.list("v1", "Event", namespace)
    assert FIRST not in str(status) and FIRST not in str(events) and DSN not in str(status) + str(events)
    assert _files_holding(controller.config.cache_dir, FIRST) == []  # no plaintext in the caches on disk

    # a tampered file (its MAC no longer fits) refuses the revision; the last good stays deployed
    tampered = sops.encrypt(SECRET.format(password=SECOND), age=key).replace("name: db", "name: db2")
    bad = repo.commit({"secret.yaml": tampered})
    git_http_server.publish(repo, "config.git")
    controller.refresh(f"{namespace}/web")
    status = await apps.wait_status(
        kube, namespace, "web", lambda s: s.get("lastAttemptedRevision") == bad and _render_error(s) != ""
    )
    assert _render_error(status) == (
        "secret.yaml: cannot be decrypted: MAC mismatch: the file was changed after it was encrypted"
    )
    assert status["sync"]["revision"] == sha
    assert await kube.get_or_none("v1", "Secret", "db2", namespace) is None
    assert SECOND not in str(status)


async def test_a_key_that_does_not_match_refuses_the_revision(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    await _keys(kube, namespace, sops.age_key())  # not the key the file is encrypted for
    repo = make_repo()
    repo.commit({"secret.yaml": sops.encrypt(SECRET.format(password=FIRST), age=sops.age_key())})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(apps.application("web", namespace, url, decryption={"secretRef": {"name": "sops-keys"}}))
    status = await apps.wait_status(kube, namespace, "web", lambda s: _render_error(s) != "")
    assert _render_error(status) == (
        f"secret.yaml: cannot be decrypted: no key in Secret/{namespace}/sops-keys matches its recipients "
        "(age *.agekey or OpenPGP *.asc)"
    )
    assert await kube.get_or_none("v1", "Secret", "db", namespace) is None
