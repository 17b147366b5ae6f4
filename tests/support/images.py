"""Image automation objects, their test bed and waits for tests (tests/integration/test_image_*.py).

DEPLOYMENT.format(image=..., namespace=...)   a Deployment whose first image is marked for `<ns>:web`
git_secret(namespace)                          the Basic-auth Secret `git-creds` (GIT_USER / GIT_PASSWORD)
image_objects(namespace, image)                ImageRepository, ImagePolicy (semver ^1.0) and
                                               ImageUpdateAutomation `web` (sourceRef: Application web)
status_of(kube, namespace, kind, field)        one status field of the `web` object of `kind`, or ""
image_bed (fixture) -> ImageBed                the controller, the module's `registry` and a Basic-auth
                                               Git server for one test: push tags, publish the config
                                               repository, create the Secrets, the Application and the
                                               image objects, wait for the push and the deployment
push_update(url, creds, apply)                 `gitwork.commit_and_push` main → main as Bot, directly

A module using `image_bed` imports the `registry` fixture too (`tests.support.registry`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitward.controller.images import gitwork
from gitward.controller.images.signing import Signing
from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient
from gitward.sourcing import Credentials, invocations, urls
from gitward.testing.registries import Registry
from tests.support import apps
from tests.support.fixtures import StartHttp
from tests.support.gitserver import BasicAuth, GitHttpServer, Repo
from tests.support.registry import push_dir, secret

__all__ = [
    "DEPLOYMENT", "GIT_PASSWORD", "GIT_USER", "ImageBed", "b64", "git_secret", "image_bed", "image_objects",
    "push_update", "secret_of", "status_of",
]  # fmt: skip

GIT_USER, GIT_PASSWORD = "automation", "git-pass-7731"
DEPLOYMENT = """\
# the web application; this comment stays
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {image} # {{"$imagepolicy": "{namespace}:web"}}
        - name: sidecar
          image: busybox:1.36
"""
HUMAN = {"GIT_AUTHOR_NAME": "Human", "GIT_AUTHOR_EMAIL": "human@example.com",
         "GIT_COMMITTER_NAME": "Human", "GIT_COMMITTER_EMAIL": "human@example.com"}  # fmt: skip


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_of(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    """A Secret of plain-text `data` (encoded here)."""
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {k: b64(v) for k, v in data.items()}}


def git_secret(namespace: str) -> dict[str, Any]:
    return secret_of("git-creds", namespace, {"username": GIT_USER, "password": GIT_PASSWORD})


def image_objects(namespace: str, image: str) -> list[dict[str, Any]]:
    def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        meta = {"name": name, "namespace": namespace}
        return {"apiVersion": "gitward.dev/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}

    commit = {
        "author": {"name": "Image Bot", "email": "image-bot@example.com"},
        "messageTemplate": "chore: update images ({{ .AutomationObject }})\n\n{{ .Changes }}",
    }
    return [
        obj("ImageRepository", "web", {"image": image, "interval": "1s", "secretRef": {"name": "registry-creds"}}),
        obj("ImagePolicy", "web", {"imageRepositoryRef": {"name": "web"}, "policy": {"semver": {"range": "^1.0"}}}),
        obj(
            "ImageUpdateAutomation",
            "web",
            {
                "interval": "1s",
                "sourceRef": {"kind": "Application", "name": "web"},
                "git": {"checkout": {"branch": "main"}, "push": {"branch": "main"}, "commit": commit},
                "update": {"path": "deploy"},
            },
        ),
    ]


async def status_of(kube: KubeClient, namespace: str, kind: str, field: str) -> str:
    obj = await kube.get("gitward.dev/v1alpha1", kind, "web", namespace)
    return str((obj.get("status") or {}).get(field) or "")


@dataclass
class ImageBed:
    """One test's image `<registry>/<namespace>/web`, its config repository `config.git` on a Git
    server that asks for GIT_USER / GIT_PASSWORD, and the `web` objects in its namespace."""

    kube: KubeClient
    namespace: str
    registry: Registry
    server: GitHttpServer

    @property
    def image(self) -> str:
        return f"{self.registry.host}/{self.namespace}/web"

    @property
    def bare(self) -> Path:
        """The published config repository on the server."""
        return self.server.root / "config.git"

    def push_tags(self, *tags: str) -> None:
        for tag in tags:
            push_dir(self.registry, f"{self.namespace}/web:{tag}", {"tag.txt": tag})

    def deployment(self, tag: str) -> str:
        """DEPLOYMENT of the image at `tag`, marked for this namespace's policy."""
        return DEPLOYMENT.format(image=f"{self.image}:{tag}", namespace=self.namespace)

    def signed_commit(self, repo: Repo, tag: str, *config: str, **env: str) -> str:
        """Commit `deploy/web.yaml` at `tag` as Human, signed (`config`: git's `-c` options naming the
        format and key; `env`: more environment, GNUPGHOME)."""
        (repo.path / "deploy").mkdir(parents=True)
        (repo.path / "deploy" / "web.yaml").write_text(self.deployment(tag))
        repo.git("add", "--all")
        repo.git(*config, "commit", "-q", "-S", "-m", "signed by a human", **HUMAN, **env)
        return repo.head()

    def publish(self, repo: Repo) -> str:
        """Push `repo` to `config.git` on the server; its URL."""
        return self.server.publish(repo, "config.git")

    async def create_secrets(self, extra: dict[str, dict[str, str]] | None = None) -> None:
        """`git-creds`, `registry-creds` and the `extra` Secrets (name → plain-text data)."""
        await self.kube.create(git_secret(self.namespace))
        for name, data in (extra or {}).items():
            await self.kube.create(secret_of(name, self.namespace, data))
        await self.kube.create(secret("registry-creds", self.namespace, self.registry))

    async def deploy(self, url: str, revision: str, *, trusted_keys: str = "") -> None:
        """Application `web` of `deploy/` at `url` with `git-creds` (`verify: {mode: head}` against the
        Secret `trusted_keys` if given), waited for until synced at `revision`."""
        source: dict[str, Any] = {"repoURL": url, "targetRevision": "main", "path": "deploy"}
        source["secretRef"] = {"name": "git-creds"}
        if trusted_keys:
            source["verify"] = {"mode": "head", "secretRef": {"name": trusted_keys}}
        await self.kube.create(apps.application("web", self.namespace, url, source=source))
        await apps.wait_status(self.kube, self.namespace, "web", apps.synced_at(revision))

    async def automate(self, *, signing_key: dict[str, Any] | None = None, repo_url: str = "") -> None:
        """Create the image objects (image_objects); the automation signs with `signing_key` if given,
        and with `repo_url` pushes to that repository (`git-creds`) instead of Application web's."""
        objects = image_objects(self.namespace, self.image)
        spec = objects[2]["spec"]
        if signing_key is not None:
            spec["git"]["commit"]["signingKey"] = signing_key
        if repo_url:
            spec.pop("sourceRef")
            spec["git"].update(repoURL=repo_url, secretRef={"name": "git-creds"})
        for obj in objects:
            await self.kube.create(obj)

    async def status(self, kind: str, field: str) -> str:
        return await status_of(self.kube, self.namespace, kind, field)

    async def pushed(self) -> str:
        """Wait for the automation's `lastPushCommit`; that commit."""
        commit = await apps.wait_for(
            lambda: self.status("ImageUpdateAutomation", "lastPushCommit"), timeout=90, message="a push"
        )
        return str(commit)

    async def ready(self) -> dict[str, Any] | None:
        """The automation's Ready condition, if it has one."""
        found = await self.kube.get("gitward.dev/v1alpha1", "ImageUpdateAutomation", "web", self.namespace)
        conditions = (found.get("status") or {}).get("conditions") or []
        return next((dict(c) for c in conditions if c.get("type") == "Ready"), None)

    async def deployed(self, commit: str) -> tuple[apps.Status, str]:
        """Wait until Application web is synced at `commit`: (its status, the image of the Deployment's
        first container)."""
        status = await apps.wait_status(self.kube, self.namespace, "web", apps.synced_at(commit), timeout=60)
        deployment = await self.kube.get("apps/v1", "Deployment", "web", self.namespace)
        return status, str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture
def image_bed(
    kube: KubeClient, namespace: str, controller: Controller, registry: Registry, start_git_http_server: StartHttp
) -> ImageBed:
    return ImageBed(kube, namespace, registry, start_git_http_server(BasicAuth(GIT_USER, GIT_PASSWORD)))


async def push_update(
    url: str, creds: Credentials, apply: gitwork.Apply, *, signing: Signing | None = None
) -> gitwork.PushResult:
    """`gitwork.commit_and_push` of main onto main as Bot <bot@example.com>, in a Git environment of its own."""
    env = invocations.GitEnvironment()
    try:
        work = gitwork.GitWork(env, urls.parse(url), creds)
        return await gitwork.commit_and_push(
            work, "main", "main", gitwork.Identity("Bot", "bot@example.com"), apply, signing=signing
        )
    finally:
        env.close()
