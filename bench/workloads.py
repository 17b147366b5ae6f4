"""What the scenarios deploy: ConfigMaps (and, for the fleet, a Secret and a Role per
Application), as files in Git repositories served by the bench's smart-HTTP Git server, and the
Application manifests that point at them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.apiserver import Manifest
from gitward.core.applications import API_VERSION
from gitward.testing.githttp import GitHttpServer
from gitward.testing.gitrepos import Repo

BENCH_LABEL = {"app.kubernetes.io/part-of": "gitward-bench"}


def configmap(name: str, value: str = "v1") -> Manifest:
    """A small, realistic ConfigMap (no namespace: the Application's destination gives it one)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {**BENCH_LABEL, "app": name.rsplit("-", 1)[0]}},
        "data": {"key": f"{name}-{value}", "config.properties": f"name={name}\nsize=small\n" + "x" * 96},
    }


def secret(name: str) -> Manifest:
    token = base64.b64encode(f"token-of-{name}".encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": BENCH_LABEL},
            "type": "Opaque", "data": {"token": token}}  # fmt: skip


def role(name: str) -> Manifest:
    rule = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [name], "verbs": ["get", "watch"]}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "labels": BENCH_LABEL}, "rules": [rule]}  # fmt: skip


def dump(obj: Manifest) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


def application(
    name: str,
    namespace: str,
    repo_url: str,
    path: str,
    destination: str,
    *,
    interval: str = "10m",
    self_heal: bool = True,
) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
            "destination": {"namespace": destination},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": self_heal}, "interval": interval},
        },
    }


@dataclass
class GitRepo:
    """A working repository published to the bench's Git server as `name`."""

    server: GitHttpServer
    name: str
    work: Path
    repo: Repo = field(init=False)
    sha: str = ""

    def __post_init__(self) -> None:
        self.repo = Repo(self.work)

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def commit(self, files: dict[str, str | None], message: str = "bench") -> str:
        """Commit and publish; return the new commit SHA."""
        self.sha = self.repo.commit(files, message)
        self.server.publish(self.repo, self.name)
        return self.sha


def configmap_files(path: str, names: list[str]) -> tuple[dict[str, str | None], list[Manifest]]:
    """One file per ConfigMap under `path`, and the objects themselves."""
    objs = [configmap(n) for n in names]
    return {f"{path}/{o['metadata']['name']}.yaml": dump(o) for o in objs}, objs


def fleet_files(count: int) -> dict[str, str | None]:
    """`apps/app-NNNN/` with a ConfigMap, a Secret and a Role each."""
    files: dict[str, str | None] = {}
    for i in range(count):
        name = f"fleet-{i:04d}"
        for kind, obj in (("configmap", configmap(name)), ("secret", secret(name)), ("role", role(name))):
            files[f"apps/app-{i:04d}/{kind}.yaml"] = dump(obj)
    return files
