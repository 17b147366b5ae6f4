"""Image automation end to end on a real registry and a real Git server over HTTPS-like smart HTTP
with Basic auth: a new tag in the registry → ImageRepository scan → ImagePolicy picks it →
ImageUpdateAutomation commits the marked field (formatting and comments kept, the configured author
and message) and pushes → the Application deploys that commit, its history naming the automation as
author. A human push racing the automation is never lost (no force-push: fetch, re-apply, retry)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support import apps
from tests.support.fixtures import MakeRepo, StartHttp
from tests.support.gitserver import BasicAuth, SshGitServer
from tests.support.images import DEPLOYMENT, GIT_PASSWORD, GIT_USER, b64, git_secret, image_objects, status_of
from tests.support.registry import push_dir, registry, secret

from gitward.controller.images import gitwork
from gitward.controller.manager import Controller
from gitward.core.errors import SourceError
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, invocations, urls
from gitward.testing.gitrepos import run_git
from gitward.testing.registries import Registry

__all__ = ["registry"]  # fixture


async def test_a_new_tag_is_committed_pushed_and_deployed(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    registry: Registry,
    make_repo: MakeRepo,
    start_git_http_server: StartHttp,
) -> None:
    image = f"{registry.host}/{namespace}/web"
    for tag in ("1.0.0", "2.0.0-rc.1", "latest"):
        push_dir(registry, f"{namespace}/web:{tag}", {"tag.txt": tag})
    server = start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD))
    repo = make_repo()
    first = repo.commit({"deploy/web.yaml": DEPLOYMENT.format(image=f"{image}:1.0.0", namespace=namespace)})
    url = server.publish(repo, "config.git")
    await kube.create(git_secret(namespace))
    await kube.create(secret("registry-creds", namespace, registry))
    source = {"repoURL": url, "targetRevision": "main", "path": "deploy", "secretRef": {"name": "git-creds"}}
    await kube.create(apps.application("web", namespace, url, source=source))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    for obj in image_objects(namespace, image):
        await kube.create(obj)

    policy = await apps.wait_for(
        lambda: status_of(kube, namespace, "ImagePolicy", "latestImage"), timeout=60, message="latestImage"
    )
    assert policy == f"{image}:1.0.0"  # not the pre-release, not "latest"

    push_dir(registry, f"{namespace}/web:1.1.0", {"tag.txt": "1.1.0"})
    pushed = await apps.wait_for(
        lambda: status_of(kube, namespace, "ImageUpdateAutomation", "lastPushCommit"), timeout=90, message="a push"
    )
    bare = server.root / "config.git"
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).strip() == pushed
    assert run_git("log", "-1", "--format=%an <%ae>", pushed, cwd=bare).strip() == "Image Bot <image-bot@example.com>"
    message = run_git("log", "-1", "--format=%B", pushed, cwd=bare)
    assert message.startswith(f"chore: update images ({namespace}/web)")
    assert f"- {image}:1.0.0 -> {image}:1.1.0" in message
    content = run_git("show", f"{pushed}:deploy/web.yaml", cwd=bare)
    expected = DEPLOYMENT.format(image=f"{image}:1.1.0", namespace=namespace)
    assert content.strip() == expected.strip()  # only the tag changed (run_git strips the output)
    assert run_git("rev-parse", f"{pushed}^", cwd=bare).strip() == first

    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(pushed), timeout=60)
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image}:1.1.0"
    assert status["history"][-1]["author"].startswith("Image Bot")


async def test_a_concurrent_human_push_is_kept_and_the_update_reapplied(
    make_repo: MakeRepo, start_git_http_server: StartHttp, tmp_path: Path
) -> None:
    server = start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD))
    repo = make_repo()
    base = repo.commit({"deploy/web.yaml": 'image: app:1.0.0 # {"$imagepolicy": "apps:web"}\n'})
    url = server.publish(repo, "config.git")
    human = make_repo("human")
    human.git("fetch", "--quiet", str(server.root / "config.git"), "main")
    human.git("reset", "--quiet", "--hard", "FETCH_HEAD")
    applied: list[int] = []

    async def apply(tree: Path) -> str:
        applied.append(1)
        if len(applied) == 1:  # a human pushes between the automation's clone and its push
            human.commit({"README.md": "a human change\n"}, message="human: docs")
            human.push(server.root / "config.git", "HEAD:refs/heads/main")
        target = tree / "deploy" / "web.yaml"
        target.write_text(target.read_text().replace("app:1.0.0", "app:1.1.0"))
        return "update web to 1.1.0"

    env = invocations.GitEnvironment()
    try:
        work = gitwork.GitWork(env, urls.parse(url), Credentials(username=GIT_USER, password=GIT_PASSWORD))
        result = await gitwork.commit_and_push(work, "main", "main", gitwork.Identity("Bot", "bot@example.com"), apply)
    finally:
        env.close()
    bare = server.root / "config.git"
    assert result.attempts == 2
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).strip() == result.sha
    subjects = run_git("log", "--format=%s", "refs/heads/main", cwd=bare).splitlines()
    assert subjects == ["update web to 1.1.0", "human: docs", "update"]
    assert run_git("show", "HEAD:README.md", cwd=bare).strip() == "a human change"
    assert "app:1.1.0" in run_git("show", "HEAD:deploy/web.yaml", cwd=bare)
    assert run_git("rev-list", "--count", f"{base}..refs/heads/main", cwd=bare).strip() == "2"


async def test_wrong_git_credentials_fail_without_showing_them(
    make_repo: MakeRepo, start_git_http_server: StartHttp
) -> None:
    server = start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD))
    repo = make_repo()
    repo.commit({"a.yaml": "a: 1\n"})
    url = server.publish(repo, "config.git")

    async def apply(tree: Path) -> str:
        return "never"

    env = invocations.GitEnvironment()
    try:
        work = gitwork.GitWork(env, urls.parse(url), Credentials(username=GIT_USER, password="wrong-secret-99"))
        with pytest.raises(SourceError) as caught:
            await gitwork.commit_and_push(work, "main", "main", gitwork.Identity("Bot", "bot@example.com"), apply)
    finally:
        env.close()
    assert "cannot clone branch main" in caught.value.message
    assert "wrong-secret-99" not in caught.value.message


def gpg_secret_key(home: Path, email: str) -> tuple[str, str]:
    """(armored public key, armored secret key) of a new ed25519 signing key without passphrase."""
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", email, "ed25519", "sign", "never"],
                   check=True, capture_output=True, env=env)  # fmt: skip
    public = subprocess.run(["gpg", "--armor", "--export", email], check=True, capture_output=True, env=env)
    secret_key = subprocess.run(
        ["gpg", "--batch", "--armor", "--export-secret-keys", email], check=True, capture_output=True, env=env
    )
    return public.stdout.decode(), secret_key.stdout.decode()


async def test_a_signed_automation_commit_passes_head_verification(
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
    public, secret_key = gpg_secret_key(tmp_path / "gnupg", "image-bot@example.com")
    server = start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD))
    repo = make_repo()
    (repo.path / "deploy").mkdir(parents=True)
    (repo.path / "deploy" / "web.yaml").write_text(DEPLOYMENT.format(image=f"{image}:0.9.0", namespace=namespace))
    repo.git("add", "--all")
    repo.git(
        "-c", "gpg.program=gpg", "-c", "user.signingkey=image-bot@example.com", "commit", "-q", "-S", "-m", "signed",
        GNUPGHOME=str(tmp_path / "gnupg"), GIT_AUTHOR_NAME="Human", GIT_AUTHOR_EMAIL="human@example.com",
        GIT_COMMITTER_NAME="Human", GIT_COMMITTER_EMAIL="human@example.com",
    )  # fmt: skip
    first = repo.head()
    url = server.publish(repo, "config.git")
    for name, data in (("git-creds", {"username": GIT_USER, "password": GIT_PASSWORD}),
                       ("trusted-keys", {"bot.asc": public}), ("signing-key", {"git.asc": secret_key})):  # fmt: skip
        meta = {"name": name, "namespace": namespace}
        encoded = {k: b64(v) for k, v in data.items()}
        await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded})
    await kube.create(secret("registry-creds", namespace, registry))
    source = {"repoURL": url, "targetRevision": "main", "path": "deploy", "secretRef": {"name": "git-creds"}}
    source["verify"] = {"mode": "head", "secretRef": {"name": "trusted-keys"}}
    await kube.create(apps.application("web", namespace, url, source=source))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))

    objects = image_objects(namespace, image)
    objects[2]["spec"]["git"]["commit"]["signingKey"] = {"secretRef": {"name": "signing-key"}}
    for obj in objects:
        await kube.create(obj)
    pushed = await apps.wait_for(
        lambda: status_of(kube, namespace, "ImageUpdateAutomation", "lastPushCommit"), timeout=90, message="a push"
    )
    await apps.wait_status(kube, namespace, "web", apps.synced_at(pushed), timeout=60)
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image}:1.0.0"
    signature = run_git("log", "-1", "--format=%G?", pushed, cwd=server.root / "config.git",
                        env={**os.environ, "GNUPGHOME": str(tmp_path / "gnupg")})  # fmt: skip
    assert signature == "G"


async def test_an_update_is_pushed_over_ssh(make_repo: MakeRepo, ssh_git_server: SshGitServer) -> None:
    repo = make_repo()
    repo.commit({"deploy/web.yaml": 'image: app:1.0.0 # {"$imagepolicy": "apps:web"}\n'})
    url = ssh_git_server.publish(repo, "config.git")

    async def apply(tree: Path) -> str:
        target = tree / "deploy" / "web.yaml"
        target.write_text(target.read_text().replace("app:1.0.0", "app:1.1.0"))
        return "update web to 1.1.0"

    creds = Credentials(ssh_private_key=ssh_git_server.client_private_key, known_hosts=ssh_git_server.known_hosts)
    env = invocations.GitEnvironment()
    try:
        work = gitwork.GitWork(env, urls.parse(url), creds)
        result = await gitwork.commit_and_push(work, "main", "main", gitwork.Identity("Bot", "bot@example.com"), apply)
    finally:
        env.close()
    bare = ssh_git_server.root / "config.git"
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).strip() == result.sha
    assert "app:1.1.0" in run_git("show", "HEAD:deploy/web.yaml", cwd=bare)
