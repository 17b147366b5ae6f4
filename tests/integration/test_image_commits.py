"""The automation's commits through the controller, on a real registry and a real smart-HTTP Git server:

- signed with an SSH key from the `signingKey` Secret (`identity`, as Flux's `type: ssh`): the pushed
  commit verifies with `git verify-commit` against an allowed-signers file of the public key, and an
  Application with `verify: {mode: head}` trusting that key (`*.pub`) deploys it;
- a malformed SSH key is a Ready=False `InvalidSigningKey` condition that never shows the key;
- a human pushes to the branch while the automation's push is being received (a pre-receive hook
  on the server makes that push, once, at exactly that moment): the automation's push is refused,
  it fetches, re-applies and pushes again — never forced — and `status.lastPushCommit` descends
  from the human commit, which stays on the branch;
- a passphrase-protected SSH key (`password`) signs too, and its file is gone after the run.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo, StartHttp
from tests.support.gitserver import BasicAuth
from tests.support.images import GIT_PASSWORD, GIT_USER, ImageBed, image_bed, push_update
from tests.support.registry import registry

from gitward.controller.images import signing
from gitward.sourcing import Credentials
from gitward.testing.gitrepos import git_env, run_git

__all__ = ["image_bed", "registry"]  # fixtures


def ssh_key(directory: Path, comment: str) -> tuple[Path, str]:
    """(private key file, public key line) of a new ed25519 key without passphrase."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path, (directory / "key.pub").read_text().strip()


def verify(bare: Path, commit: str, principal: str, public: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`git verify-commit` of `commit` against an allowed-signers file holding only `public`."""
    allowed = tmp_path / f"allowed-{principal}"
    allowed.write_text(f'{principal} namespaces="git" {public}\n')
    return subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", "--raw", commit],
        cwd=bare, env=git_env(tmp_path), capture_output=True, text=True, check=False,
    )  # fmt: skip


async def test_an_ssh_signed_automation_commit_verifies_and_deploys(
    image_bed: ImageBed, make_repo: MakeRepo, tmp_path: Path
) -> None:
    bed = image_bed
    bed.push_tags("1.0.0")
    bot_key, bot_public = ssh_key(tmp_path / "bot", "image-bot@example.com")
    human_key, human_public = ssh_key(tmp_path / "human", "human@example.com")
    repo = make_repo()
    first = bed.signed_commit(repo, "0.9.0", "-c", "gpg.format=ssh", "-c", f"user.signingkey={human_key}")
    url = bed.publish(repo)
    trusted = {"human.pub": human_public, "bot.pub": bot_public}
    await bed.create_secrets({"trusted-keys": trusted, "signing-key": {"identity": bot_key.read_text()}})
    await bed.deploy(url, first, trusted_keys="trusted-keys")

    await bed.automate(signing_key={"secretRef": {"name": "signing-key"}, "type": "ssh"})
    pushed = await bed.pushed()
    good = verify(bed.bare, pushed, "image-bot@example.com", bot_public, tmp_path)
    assert good.returncode == 0, good.stderr
    assert 'Good "git" signature for image-bot@example.com' in good.stderr
    assert verify(bed.bare, pushed, "human@example.com", human_public, tmp_path).returncode != 0  # only the bot's key

    status, deployed = await bed.deployed(pushed)
    assert deployed == f"{bed.image}:1.0.0"
    assert status["history"][-1]["author"].startswith("Image Bot")


async def test_a_malformed_ssh_signing_key_is_reported_without_showing_it(
    image_bed: ImageBed, make_repo: MakeRepo, capfd: pytest.CaptureFixture[str]
) -> None:
    bed, kube = image_bed, image_bed.kube
    bed.push_tags("1.0.0")
    repo = make_repo()
    repo.commit({"deploy/web.yaml": bed.deployment("0.9.0")})
    url = bed.publish(repo)
    before = run_git("rev-parse", "refs/heads/main", cwd=bed.bare)
    hidden = "not-really-key-material-4242"
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{hidden}\n-----END OPENSSH PRIVATE KEY-----\n"
    await bed.create_secrets({"signing-key": {"identity": key, "password": "pass-5150"}})
    # no type: `identity` says ssh
    await bed.automate(signing_key={"secretRef": {"name": "signing-key"}}, repo_url=url)

    async def refused() -> dict[str, Any] | None:
        ready = await bed.ready()
        return ready if ready and ready["status"] == "False" else None

    ready = await apps.wait_for(refused, timeout=60, message="a refused signing key")
    assert ready["reason"] == "InvalidSigningKey"
    assert "identity" in ready["message"] and "not an SSH private key" in ready["message"]
    automation = await kube.get("gitward.dev/v1alpha1", "ImageUpdateAutomation", "web", bed.namespace)
    events, _ = await kube.list("v1", "Event", bed.namespace)
    out, err = capfd.readouterr()
    for where, text in (("status", json.dumps(automation)), ("events", str(events)), ("logs", out + err)):
        assert hidden not in text, f"the key leaked into {where}"
        assert "pass-5150" not in text, f"the key's password leaked into {where}"
    assert run_git("rev-parse", "refs/heads/main", cwd=bed.bare) == before  # nothing pushed


HOOK = """#!/bin/sh
# A human pushes to main while the automation's push to main is being received, once.
while read -r old new ref; do
  if [ "$ref" = refs/heads/main ] && mkdir {marker} 2>/dev/null; then
    env -i PATH="$PATH" HOME={home} GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \\
      git -C {human} push --quiet {bare} HEAD:refs/heads/main >&2
  fi
done
exit 0
"""


async def test_a_human_push_during_the_automation_push_is_kept(
    image_bed: ImageBed, make_repo: MakeRepo, tmp_path: Path
) -> None:
    bed = image_bed
    bed.push_tags("1.0.0")
    repo = make_repo()
    base = repo.commit({"deploy/web.yaml": bed.deployment("1.0.0")})
    url = bed.publish(repo)
    bare = bed.bare
    human = make_repo("human")
    human.git("fetch", "--quiet", str(bare), "main")
    human.git("reset", "--quiet", "--hard", "FETCH_HEAD")
    human_commit = human.commit({"README.md": "a human change\n"}, message="human: docs")
    marker = tmp_path / "human-pushed"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        HOOK.format(marker=shlex.quote(str(marker)), home=shlex.quote(str(tmp_path)),
                    human=shlex.quote(str(human.path)), bare=shlex.quote(str(bare)))
    )  # fmt: skip
    hook.chmod(0o755)

    await bed.create_secrets()
    await bed.automate(repo_url=url)

    async def unchanged() -> bool:
        ready = await bed.ready()
        return ready is not None and ready.get("reason") == "NoChange"

    await apps.wait_for(unchanged, timeout=60, message="a first run with nothing to change")
    assert not marker.exists()  # nothing was pushed yet, so the human has not pushed either

    bed.push_tags("1.1.0")
    pushed = await bed.pushed()
    assert marker.exists(), "the human push must have happened during the automation's push"
    main = run_git("rev-parse", "refs/heads/main", cwd=bare)
    assert main == pushed
    assert subprocess.run(["git", "merge-base", "--is-ancestor", human_commit, pushed], cwd=bare,
                          env=git_env(tmp_path), check=False).returncode == 0  # fmt: skip
    assert run_git("rev-parse", f"{pushed}^", cwd=bare) == human_commit
    assert run_git("rev-parse", f"{human_commit}^", cwd=bare) == base
    assert run_git("show", f"{pushed}:README.md", cwd=bare) == "a human change"
    assert f"{bed.image}:1.1.0" in run_git("show", f"{pushed}:deploy/web.yaml", cwd=bare)
    assert run_git("log", "-1", "--format=%an", pushed, cwd=bare) == "Image Bot"


async def test_a_passphrase_protected_ssh_key_signs_and_is_removed_after(
    make_repo: MakeRepo, start_git_http_server: StartHttp, tmp_path: Path
) -> None:
    server = start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD))
    repo = make_repo()
    repo.commit({"deploy/web.yaml": 'image: app:1.0.0 # {"$imagepolicy": "apps:web"}\n'})
    url = server.publish(repo, "config.git")
    path = tmp_path / "bot" / "key"
    path.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "key-pass-88", "-f", str(path)], check=True)
    public = (tmp_path / "bot" / "key.pub").read_text().strip()
    seen: list[Path] = []

    async def apply(tree: Path) -> str:
        seen.append(tree.parent)
        target = tree / "deploy" / "web.yaml"
        target.write_text(target.read_text().replace("app:1.0.0", "app:1.1.0"))
        return "update web to 1.1.0"

    key = signing.Signing(path.read_text(), "key-pass-88", "ssh")
    result = await push_update(url, Credentials(username=GIT_USER, password=GIT_PASSWORD), apply, signing=key)
    checked = verify(server.root / "config.git", result.sha, "bot@example.com", public, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert seen and not seen[0].exists()  # the run's directory, the key file with it, is gone
