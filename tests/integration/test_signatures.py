"""Commit signature verification (verify.mode: head): unsigned and wrongly signed heads are refused
with a condition that says why and the last good revision stays; a head signed by a trusted SSH key
and one signed by a trusted OpenPGP key are applied. Keys are made by the test (ssh-keygen, gpg)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer, Repo

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

AUTHOR = {"GIT_AUTHOR_NAME": "Signer", "GIT_AUTHOR_EMAIL": "signer@example.com",
          "GIT_COMMITTER_NAME": "Signer", "GIT_COMMITTER_EMAIL": "signer@example.com"}  # fmt: skip


def configmap(value: str) -> str:
    return f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  value: "{value}"\n'


def ssh_key(tmp: Path, name: str) -> Path:
    key = tmp / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def gpg_key(home: Path, email: str) -> str:
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", email, "ed25519", "sign", "never"],
                   check=True, capture_output=True, env=env)  # fmt: skip
    return subprocess.run(
        ["gpg", "--armor", "--export", email], check=True, capture_output=True, env=env
    ).stdout.decode()


def commit_signed(repo: Repo, files: dict[str, str], *config: str, **env: str) -> str:
    for name, content in files.items():
        (repo.path / name).write_text(content)
    repo.git("add", "--all")
    args = [arg for item in config for arg in ("-c", item)]
    repo.git(*args, "commit", "-q", "-S", "-m", "signed change", **AUTHOR, **env)
    return repo.head()


async def _keys_secret(kube: KubeClient, namespace: str, keys: dict[str, str]) -> None:
    data = {name: base64.b64encode(text.encode()).decode() for name, text in keys.items()}
    meta = {"name": "trusted-keys", "namespace": namespace}
    await kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data}, field_manager="test")


def _verify_error(status: apps.Status) -> str | None:
    cond = apps.condition(status, "SourceError")
    return cond["message"] if cond and cond["status"] == "True" and cond["reason"] == "VerificationFailed" else None


async def test_signed_unsigned_and_untrusted_heads(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    trusted, stranger = ssh_key(tmp_path, "trusted"), ssh_key(tmp_path, "stranger")
    gnupg = tmp_path / "gnupg"
    armored = gpg_key(gnupg, "release@example.com")
    await _keys_secret(kube, namespace, {"ci.pub": Path(f"{trusted}.pub").read_text(), "release.asc": armored})
    ssh_config = ("gpg.format=ssh", f"user.signingkey={trusted}.pub")

    repo = make_repo()
    good = commit_signed(repo, {"cm.yaml": configmap("ssh-signed")}, *ssh_config)
    url = git_http_server.publish(repo, "signed.git")
    app = apps.application("app", namespace, url)
    app["spec"]["source"]["verify"] = {"mode": "head", "secretRef": {"name": "trusted-keys"}}
    await kube.create(app)
    await apps.wait_status(kube, namespace, "app", apps.synced_at(good))

    async def push_and_expect_refusal(sha: str, why: str) -> None:
        git_http_server.publish(repo, "signed.git")
        controller.refresh(f"{namespace}/app")
        status = await apps.wait_status(kube, namespace, "app", lambda s: why in (_verify_error(s) or ""))
        assert sha[:12] in str(_verify_error(status))
        assert status["lastSyncedRevision"] == last_good
        assert status["lastAttemptedRevision"] == sha  # seen and refused: a script can tell why (SPEC §2)
        assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": expected}

    last_good, expected = good, "ssh-signed"
    unsigned = repo.commit({"cm.yaml": configmap("unsigned")})
    await push_and_expect_refusal(unsigned, "is not signed")

    untrusted = commit_signed(
        repo, {"cm.yaml": configmap("stranger")}, "gpg.format=ssh", f"user.signingkey={stranger}.pub"
    )
    await push_and_expect_refusal(untrusted, "not valid for any trusted key")

    gpg_signed = commit_signed(repo, {"cm.yaml": configmap("gpg-signed")}, "gpg.program=gpg",
                               "user.signingkey=release@example.com", GNUPGHOME=str(gnupg))  # fmt: skip
    git_http_server.publish(repo, "signed.git")
    controller.refresh(f"{namespace}/app")
    status = await apps.wait_status(kube, namespace, "app", apps.synced_at(gpg_signed))
    assert _verify_error(status) is None
    assert (await kube.get("v1", "ConfigMap", "cm", namespace))["data"] == {"value": "gpg-signed"}
