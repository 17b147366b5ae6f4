"""`make demo` (`gitward dev demo`): the whole product on this machine, until Ctrl-C.

Starts the embedded control plane, a real Git server (`git daemon`, pushes allowed) with a demo
repository (plain YAML and kustomize overlays), installs the CRDs, creates demo Applications and runs
`gitward run` with the dashboard on http://127.0.0.1:8080 (a viewer and an admin token are printed).
Everything it starts is recorded in its state dir's pid files and stopped on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import yaml
from rich.console import Console

from gitward.cli import demo_sops, install
from gitward.core.applications import API_VERSION
from gitward.devcluster import assets, cluster, processes
from gitward.kube.client import KubeClient

DEMO_REPO = Path(__file__).resolve().parent.parent / "devcluster" / "demo_repo"
NAMESPACE = "gitward"
APPS = [
    ("guestbook", "apps/guestbook", "guestbook"),
    ("podinfo-dev", "apps/podinfo/overlays/dev", "podinfo-dev"),
    ("podinfo-prod", "apps/podinfo/overlays/prod", "podinfo-prod"),
    ("platform", "platform", "gitward"),  # the Policies, deployed like any application
]


def state_dir() -> Path:
    return assets.cache_root() / "demo"


def _git(*args: str, cwd: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "gitward demo", "GIT_AUTHOR_EMAIL": "demo@gitward.dev",
           "GIT_COMMITTER_NAME": "gitward demo", "GIT_COMMITTER_EMAIL": "demo@gitward.dev",
           "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def prepare_repository(state: Path) -> tuple[Path, Path]:
    """The bare repository served by git daemon and the working clone people edit (made once)."""
    bare, work = state / "git" / "demo.git", state / "demo-repo"
    if (bare / "HEAD").exists() and (work / ".git").exists():
        return bare, work
    shutil.rmtree(state / "git", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    bare.mkdir(parents=True)
    _git("init", "--bare", "--quiet", "--initial-branch=main", str(bare), cwd=bare)
    _git("config", "daemon.receivepack", "true", cwd=bare)
    shutil.copytree(DEMO_REPO, work)
    demo_sops.encrypt_secret(work, state)  # one SOPS-encrypted Secret, for a key made now (docs/secrets.md)
    _git("init", "--quiet", "--initial-branch=main", cwd=work)
    _git("add", "--all", cwd=work)
    _git("commit", "--quiet", "-m", "Demo applications: guestbook and podinfo (dev, prod)", cwd=work)
    _git("remote", "add", "origin", str(bare), cwd=work)
    _git("push", "--quiet", "--set-upstream", "origin", "main", cwd=work)
    return bare, work


def start_git_daemon(state: Path) -> str:
    port = processes.free_port()
    argv = ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1",
            f"--port={port}", f"--base-path={state / 'git'}", str(state / "git")]  # fmt: skip
    processes.spawn(state, "git-daemon", argv)
    url = f"git://127.0.0.1:{port}/demo.git"
    work = state / "demo-repo"
    _git("remote", "set-url", "origin", url, cwd=work)
    return url


def write_auth_file(state: Path) -> tuple[Path, str, str]:
    viewer, admin, webhook = (secrets.token_urlsafe(24) for _ in range(3))
    auth = {
        "tokens": [
            {"name": "demo-viewer", "sha256": hashlib.sha256(viewer.encode()).hexdigest(), "role": "viewer"},
            {"name": "demo-admin", "sha256": hashlib.sha256(admin.encode()).hexdigest(), "role": "admin"},
        ],
        "webhookSecret": webhook,
    }
    path = state / "auth.yaml"
    path.write_text(yaml.safe_dump(auth, sort_keys=False))
    path.chmod(0o600)
    return path, viewer, admin


def application(name: str, path: str, destination: str, repo_url: str, *, decrypt: bool = False) -> dict[str, Any]:
    """A demo Application; `decrypt` adds the SOPS decryption with the demo's keys Secret."""
    app: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
            "destination": {"namespace": destination},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "interval": "20s",
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }
    if decrypt:
        app["spec"]["decryption"] = {"provider": "sops", "secretRef": {"name": demo_sops.KEYS_SECRET}}
    return app


async def install_demo(kubeconfig: str, repo_url: str, state: Path) -> None:
    client = KubeClient.connect(kubeconfig)
    try:
        await install.apply_all(client, install.manifests(NAMESPACE, crds_only=True))
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        await client.apply(namespace, field_manager="gitward-demo")
        keys = demo_sops.keys_secret(state, NAMESPACE)
        if keys is not None:
            await client.apply(keys, field_manager="gitward-demo")
        for name, path, destination in APPS:
            app = application(name, path, destination, repo_url, decrypt=keys is not None and name == "guestbook")
            await client.apply(app, field_manager="gitward-demo")
    finally:
        await client.close()


def start_controller(state: Path, kubeconfig: str, auth_file: Path, port: int = 8080) -> str:
    argv = [
        sys.executable, "-m", "gitward", "run", "--kubeconfig", kubeconfig, "--namespace", NAMESPACE,
        "--listen", f"127.0.0.1:{port}", "--auth-file", str(auth_file), "--cache-dir", str(state / "cache"),
    ]  # fmt: skip
    processes.spawn(state, "gitward", argv)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    with httpx2.Client(timeout=2, trust_env=False) as http:  # loopback: no proxy
        while time.monotonic() < deadline:
            try:
                if http.get(url + "/readyz").status_code == 200:
                    return url
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"gitward run did not become ready; see {state / 'logs' / 'gitward.log'}")


def main() -> None:
    console = Console(soft_wrap=True)
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    assets.ensure(console)
    processes.stop_all(state, ["gitward", "git-daemon"])
    console.print("[bold]▸[/] starting the local Kubernetes control plane …")
    info = cluster.up(state / "cluster")
    console.print("[bold]▸[/] creating the demo Git repository and starting git daemon …")
    prepare_repository(state)
    repo_url = start_git_daemon(state)
    console.print("[bold]▸[/] installing the CRDs and the demo Applications …")
    asyncio.run(install_demo(info.kubeconfig, repo_url, state))
    auth_file, viewer, admin = write_auth_file(state)
    console.print("[bold]▸[/] starting gitward run (controller, API, dashboard) …")
    url = start_controller(state, info.kubeconfig, auth_file)
    work = state / "demo-repo"
    sops_hint = (
        f"\n  4. SOPS:             {work}/{demo_sops.ENCRYPTED_FILE} is encrypted in Git; the cluster gets the"
        "\n                     Secret guestbook/guestbook-credentials decrypted (docs/secrets.md)."
        if (work / demo_sops.ENCRYPTED_FILE).exists()
        else ""
    )
    console.print(f"""
[bold green]gitward demo is running[/]

  dashboard     {url}
  viewer token  {viewer}
  admin token   {admin}
  Git server    {repo_url}   (working clone: {work})
  kubectl       {info.export_line}

[bold]Things to try[/]
  1. Commit a change:  cd {work} && sed -i 's/Hello from Git/Hello again/' apps/guestbook/configmap.yaml \\
                         && git commit -qam "New greeting" && git push -q
     → within 20 s the ConfigMap changes and the history shows your commit.
  2. Drift:            {info.export_line}; kubectl -n guestbook scale deployment guestbook --replicas=5
     → gitward puts it back to 2 within seconds (selfHeal).
  3. Roll back:        open {url}, log in with the admin token, open guestbook → History → Roll back.{sops_hint}

[dim]Logs: {state / "logs"}.  Ctrl-C stops everything.[/]""")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    console.print("\nstopping …")
    processes.stop_all(state, ["gitward", "git-daemon"])
    stopped = cluster.down(state / "cluster")
    console.print(f"stopped: gitward, git daemon, {', '.join(stopped)}")
