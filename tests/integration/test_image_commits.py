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

import pytest
from tests.support import apps, images
from tests.support.fixtures import MakeRepo, StartHttp
from tests.support.gitserver import BasicAuth
from tests.support.images import DEPLOYMENT, git_secret, image_objects, secret_of, status_of
from tests.support.registry import push_dir, registry, secret

from gitward.controller.images import gitwork, signing
from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, invocations, urls
from gitward.testing.gitrepos import git_env, run_git
from gitward.testing.registries import Registry

__all__ = ["registry"]  # fixture


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
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    registry: Registry,
    make_repo: MakeRepo,
    start_git_http_server: StartHttp,
    tmp_path: Path,
) -> None:
    image = f"{registry.host}/{namespace}/web"
    push_dir(registry, f"{namespace}/web:1.0.0", {"tag.txt": "1.0.0"})
    bot_key, bot_public = ssh_key(tmp_path / "bot", "image-bot@example.com")
    human_key, human_public = ssh_key(tmp_path / "human", "human@example.com")
    server = start_git_http_server(BasicAuth(images.GIT_USER, images.GIT_PASSWORD))
    repo = make_repo()
    (repo.path / "deploy").mkdir(parents=True)
    (repo.path / "deploy" / "web.yaml").write_text(DEPLOYMENT.format(image=f"{image}:0.9.0", namespace=namespace))
    repo.git("add", "--all")
    repo.git(
        "-c", "gpg.format=ssh", "-c", f"user.signingkey={human_key}", "commit", "-q", "-S", "-m", "signed by a human",
        GIT_AUTHOR_NAME="Human", GIT_AUTHOR_EMAIL="human@example.com",
        GIT_COMMITTER_NAME="Human", GIT_COMMITTER_EMAIL="human@example.com",
    )  # fmt: skip
    first = repo.head()
    url = server.publish(repo, "config.git")
    await kube.create(git_secret(namespace))
    await kube.create(secret_of("trusted-keys", namespace, {"human.pub": human_public, "bot.pub": bot_public}))
    await kube.create(secret_of("signing-key", namespace, {"identity": bot_key.read_text()}))
    await kube.create(secret("registry-creds", namespace, registry))
    source = {"repoURL": url, "targetRevision": "main", "path": "deploy", "secretRef": {"name": "git-creds"}}
    source["verify"] = {"mode": "head", "secretRef": {"name": "trusted-keys"}}
    await kube.create(apps.application("web", namespace, url, source=source))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))

    objects = image_objects(namespace, image)
    objects[2]["spec"]["git"]["commit"]["signingKey"] = {"secretRef": {"name": "signing-key"}, "type": "ssh"}
    for obj in objects:
        await kube.create(obj)
    pushed = await apps.wait_for(
        lambda: status_of(kube, namespace, "ImageUpdateAutomation", "lastPushCommit"), timeout=90, message="a push"
    )
    bare = server.root / "config.git"
    good = verify(bare, pushed, "image-bot@example.com", bot_public, tmp_path)
    assert good.returncode == 0, good.stderr
    assert 'Good "git" signature for image-bot@example.com' in good.stderr
    assert verify(bare, pushed, "human@example.com", human_public, tmp_path).returncode != 0  # only the bot's key

    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(pushed), timeout=60)
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image}:1.0.0"
    assert status["history"][-1]["author"].startswith("Image Bot")


async def test_a_malformed_ssh_signing_key_is_reported_without_showing_it(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    registry: Registry,
    make_repo: MakeRepo,
    start_git_http_server: StartHttp,
    capfd: pytest.CaptureFixture[str],
) -> None:
    image = f"{registry.host}/{namespace}/web"
    push_dir(registry, f"{namespace}/web:1.0.0", {"tag.txt": "1.0.0"})
    server = start_git_http_server(BasicAuth(images.GIT_USER, images.GIT_PASSWORD))
    repo = make_repo()
    repo.commit({"deploy/web.yaml": DEPLOYMENT.format(image=f"{image}:0.9.0", namespace=namespace)})
    url = server.publish(repo, "config.git")
    before = run_git("rev-parse", "refs/heads/main", cwd=server.root / "config.git")
    hidden = "not-really-key-material-4242"
    key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{hidden}\n-----END OPENSSH PRIVATE KEY-----\n"
    await kube.create(git_secret(namespace))
    await kube.create(secret_of("signing-key", namespace, {"identity": key, "password": "pass-5150"}))
    await kube.create(secret("registry-creds", namespace, registry))
    objects = image_objects(namespace, image)
    git = objects[2]["spec"]["git"]
    objects[2]["spec"].pop("sourceRef")
    git.update(repoURL=url, secretRef={"name": "git-creds"})
    git["commit"]["signingKey"] = {"secretRef": {"name": "signing-key"}}  # no type: `identity` says ssh
    for obj in objects:
        await kube.create(obj)

    async def refused() -> dict[str, str] | None:
        found = await kube.get("gitward.dev/v1alpha1", "ImageUpdateAutomation", "web", namespace)
        ready = next((c for c in (found.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), None)
        return ready if ready and ready["status"] == "False" else None

    ready = await apps.wait_for(refused, timeout=60, message="a refused signing key")
    assert ready["reason"] == "InvalidSigningKey"
    assert "identity" in ready["message"] and "not an SSH private key" in ready["message"]
    automation = await kube.get("gitward.dev/v1alpha1", "ImageUpdateAutomation", "web", namespace)
    events, _ = await kube.list("v1", "Event", namespace)
    out, err = capfd.readouterr()
    for where, text in (("status", json.dumps(automation)), ("events", str(events)), ("logs", out + err)):
        assert hidden not in text, f"the key leaked into {where}"
        assert "pass-5150" not in text, f"the key's password leaked into {where}"
    assert run_git("rev-parse", "refs/heads/main", cwd=server.root / "config.git") == before  # nothing pushed


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
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    registry: Registry,
    make_repo: MakeRepo,
    start_git_http_server: StartHttp,
    tmp_path: Path,
) -> None:
    image = f"{registry.host}/{namespace}/web"
    push_dir(registry, f"{namespace}/web:1.0.0", {"tag.txt": "1.0.0"})
    server = start_git_http_server(BasicAuth(images.GIT_USER, images.GIT_PASSWORD))
    repo = make_repo()
    base = repo.commit({"deploy/web.yaml": DEPLOYMENT.format(image=f"{image}:1.0.0", namespace=namespace)})
    url = server.publish(repo, "config.git")
    bare = server.root / "config.git"
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

    await kube.create(git_secret(namespace))
    await kube.create(secret("registry-creds", namespace, registry))
    objects = image_objects(namespace, image)
    objects[2]["spec"].pop("sourceRef")
    objects[2]["spec"]["git"].update(repoURL=url, secretRef={"name": "git-creds"})
    for obj in objects:
        await kube.create(obj)
    await apps.wait_for(
        lambda: _reason_is(kube, namespace, "NoChange"), timeout=60, message="a first run with nothing to change"
    )
    assert not marker.exists()  # nothing was pushed yet, so the human has not pushed either

    push_dir(registry, f"{namespace}/web:1.1.0", {"tag.txt": "1.1.0"})
    pushed = await apps.wait_for(
        lambda: status_of(kube, namespace, "ImageUpdateAutomation", "lastPushCommit"), timeout=90, message="a push"
    )
    assert marker.exists(), "the human push must have happened during the automation's push"
    main = run_git("rev-parse", "refs/heads/main", cwd=bare)
    assert main == pushed
    assert subprocess.run(["git", "merge-base", "--is-ancestor", human_commit, pushed], cwd=bare,
                          env=git_env(tmp_path), check=False).returncode == 0  # fmt: skip
    assert run_git("rev-parse", f"{pushed}^", cwd=bare) == human_commit
    assert run_git("rev-parse", f"{human_commit}^", cwd=bare) == base
    assert run_git("show", f"{pushed}:README.md", cwd=bare) == "a human change"
    assert f"{image}:1.1.0" in run_git("show", f"{pushed}:deploy/web.yaml", cwd=bare)
    assert run_git("log", "-1", "--format=%an", pushed, cwd=bare) == "Image Bot"


async def _reason_is(kube: KubeClient, namespace: str, reason: str) -> bool:
    found = await kube.get("gitward.dev/v1alpha1", "ImageUpdateAutomation", "web", namespace)
    conditions = (found.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("reason") == reason for c in conditions)


async def test_a_passphrase_protected_ssh_key_signs_and_is_removed_after(
    make_repo: MakeRepo, start_git_http_server: StartHttp, tmp_path: Path
) -> None:
    server = start_git_http_server(BasicAuth(images.GIT_USER, images.GIT_PASSWORD))
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
    creds = Credentials(username=images.GIT_USER, password=images.GIT_PASSWORD)
    env = invocations.GitEnvironment()
    try:
        work = gitwork.GitWork(env, urls.parse(url), creds)
        result = await gitwork.commit_and_push(
            work, "main", "main", gitwork.Identity("Bot", "bot@example.com"), apply, signing=key
        )
    finally:
        env.close()
    checked = verify(server.root / "config.git", result.sha, "bot@example.com", public, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert seen and not seen[0].exists()  # the run's directory, the key file with it, is gone
