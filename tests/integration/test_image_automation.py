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
from tests.support.images import GIT_PASSWORD, GIT_USER, ImageBed, image_bed, push_update
from tests.support.registry import registry

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials
from gitward.testing.gitrepos import run_git

__all__ = ["image_bed", "registry"]  # fixtures


async def test_a_new_tag_is_committed_pushed_and_deployed(image_bed: ImageBed, make_repo: MakeRepo) -> None:
    bed, image = image_bed, image_bed.image
    bed.push_tags("1.0.0", "2.0.0-rc.1", "latest")
    repo = make_repo()
    first = repo.commit({"deploy/web.yaml": bed.deployment("1.0.0")})
    url = bed.publish(repo)
    await bed.create_secrets()
    await bed.deploy(url, first)
    await bed.automate()

    policy = await apps.wait_for(lambda: bed.status("ImagePolicy", "latestImage"), timeout=60, message="latestImage")
    assert policy == f"{image}:1.0.0"  # not the pre-release, not "latest"

    bed.push_tags("1.1.0")
    pushed = await bed.pushed()
    bare = bed.bare
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).strip() == pushed
    assert run_git("log", "-1", "--format=%an <%ae>", pushed, cwd=bare).strip() == "Image Bot <image-bot@example.com>"
    message = run_git("log", "-1", "--format=%B", pushed, cwd=bare)
    assert message.startswith(f"chore: update images ({bed.namespace}/web)")
    assert f"- {image}:1.0.0 -> {image}:1.1.0" in message
    content = run_git("show", f"{pushed}:deploy/web.yaml", cwd=bare)
    assert content.strip() == bed.deployment("1.1.0").strip()  # only the tag changed (run_git strips the output)
    assert run_git("rev-parse", f"{pushed}^", cwd=bare).strip() == first

    status, deployed = await bed.deployed(pushed)
    assert deployed == f"{image}:1.1.0"
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

    result = await push_update(url, Credentials(username=GIT_USER, password=GIT_PASSWORD), apply)
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

    with pytest.raises(SourceError) as caught:
        await push_update(url, Credentials(username=GIT_USER, password="wrong-secret-99"), apply)
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
    image_bed: ImageBed, make_repo: MakeRepo, tmp_path: Path
) -> None:
    bed = image_bed
    bed.push_tags("1.0.0")
    public, secret_key = gpg_secret_key(tmp_path / "gnupg", "image-bot@example.com")
    repo = make_repo()
    signing = ("-c", "gpg.program=gpg", "-c", "user.signingkey=image-bot@example.com")
    first = bed.signed_commit(repo, "0.9.0", *signing, GNUPGHOME=str(tmp_path / "gnupg"))
    url = bed.publish(repo)
    await bed.create_secrets({"trusted-keys": {"bot.asc": public}, "signing-key": {"git.asc": secret_key}})
    await bed.deploy(url, first, trusted_keys="trusted-keys")

    await bed.automate(signing_key={"secretRef": {"name": "signing-key"}})
    pushed = await bed.pushed()
    _, deployed = await bed.deployed(pushed)
    assert deployed == f"{bed.image}:1.0.0"
    signature = run_git("log", "-1", "--format=%G?", pushed, cwd=bed.bare,
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
    result = await push_update(url, creds, apply)
    bare = ssh_git_server.root / "config.git"
    assert run_git("rev-parse", "refs/heads/main", cwd=bare).strip() == result.sha
    assert "app:1.1.0" in run_git("show", "HEAD:deploy/web.yaml", cwd=bare)
