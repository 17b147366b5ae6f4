"""The bench's fixtures: its own control plane and Git server, gitward's CRDs, controllers per
scenario family, namespaces, and the clean-up between families.

Used by `bench.__main__` (one `Environment` per run) and by every scenario module.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import apiserver, workloads
from bench.apiserver import ApiServer
from bench.controller import Gitward
from gitward.core.applications import API_VERSION
from gitward.devcluster import cluster
from gitward.testing.githttp import GitHttpServer


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    profile_dir: Path | None = None
    keep: bool = False  # keep the state dir (logs, repositories) after the run
    cluster_dir: Path | None = None  # reuse the control plane of this state dir (left running)


class Environment:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="gitward-bench-"))
        self.info: cluster.ClusterInfo | None = None
        self.git = GitHttpServer(self.root / "git-served")
        self.api: ApiServer | None = None
        self.webhook_secret = secrets.token_hex(16)
        self.api_token = secrets.token_hex(16)
        self.auth_file = self.root / "auth.yaml"
        self._cleanups: list[list[str]] = []

    @property
    def quick(self) -> bool:
        return self.settings.quick

    @property
    def cluster_dir(self) -> Path:
        return self.settings.cluster_dir or self.root / "cluster"

    @property
    def kube(self) -> ApiServer:
        assert self.api is not None, "environment not started"
        return self.api

    @property
    def kubeconfig(self) -> str:
        assert self.info is not None, "environment not started"
        return self.info.kubeconfig

    # ------------------------------------------------------------------ lifetime

    def start(self) -> None:
        say(f"starting the control plane in {self.cluster_dir}")
        self.info = cluster.up(self.cluster_dir)
        self.api = ApiServer(self.info)
        self.git.start()
        install = [sys.executable, "-m", "gitward", "install", "--crds-only", "--kubeconfig", self.info.kubeconfig]
        subprocess.run(install, check=True, capture_output=True)
        self._write_auth_file()
        self._warm_up()

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
        self.git.stop()
        if self.settings.cluster_dir is None:
            cluster.down(self.cluster_dir)
        if self.settings.keep:
            say(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def _write_auth_file(self) -> None:
        token = {"name": "bench", "sha256": hashlib.sha256(self.api_token.encode()).hexdigest(), "role": "admin"}
        self.auth_file.write_text(yaml.safe_dump({"tokens": [token], "webhookSecret": self.webhook_secret}))
        self.auth_file.chmod(0o600)

    def _warm_up(self) -> None:
        """A first burst of writes right after start-up is much slower: take it before measuring."""
        say("warming up the API server")
        self.kube.create_namespace("bench-warm-up")
        objs = [workloads.configmap(f"warm-{i:04d}") for i in range(300)]
        apiserver.floor(self.kube, objs, "bench-warm-up")

    # ------------------------------------------------------------------ helpers for scenarios

    def workdir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def repo(self, name: str) -> workloads.GitRepo:
        return workloads.GitRepo(self.git, f"{name}.git", self.workdir(f"repos/{name}"))

    @functools.cached_property
    def supports_auth_file(self) -> bool:
        """Whether this gitward has `run --auth-file` (API tokens and the webhook secret)."""
        argv = [sys.executable, "-m", "gitward", "run", "--help"]
        return "--auth-file" in subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    @contextlib.contextmanager
    def controller(self, namespace: str) -> Iterator[Gitward]:
        """A fresh `gitward run` watching `namespace` (created), stopped and cleaned up afterwards."""
        self.kube.create_namespace(namespace)
        auth = self.auth_file if self.supports_auth_file else None
        gitward = Gitward(
            self.kubeconfig, namespace, self.workdir("controllers"), auth_file=auth,
            profile_dir=self.settings.profile_dir,
        )  # fmt: skip
        gitward.start()
        try:
            yield gitward
        finally:
            gitward.stop()

    def clean_up(self, app_namespace: str, destinations: list[str]) -> None:
        """Remove an Application namespace and the destination namespaces of a finished family (the
        controller is stopped, so finalizers are dropped first), so the next family's controller
        starts with empty caches."""
        say(f"cleaning up {app_namespace} and {len(destinations)} destination namespace(s)")
        path = f"/apis/{API_VERSION}/namespaces/{app_namespace}/applications"
        for app in self.kube.get(path).get("items") or []:
            if app["metadata"].get("finalizers"):
                name = app["metadata"]["name"]
                self.kube.merge_patch(f"{path}/{name}", {"metadata": {"finalizers": None}})
        if not self.kube.delete_namespaces([app_namespace, *destinations]):
            say("warning: namespaces still terminating after 5 minutes")


def apps_path(namespace: str) -> str:
    return f"/apis/{API_VERSION}/namespaces/{namespace}/applications"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
