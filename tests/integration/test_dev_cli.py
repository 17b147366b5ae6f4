"""`gitward dev up | env | down` as a user runs them: several side by side, ready in seconds,
`export KUBECONFIG=` printed last, nothing left running after `down` (also after a crash); the release
they run is the one selected (`--kubernetes`, else GITWARD_TEST_KUBERNETES, as for the session's
cluster); `--with-gateway-api` installs Gateway API's standard CRDs, whose validation is real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitward.devcluster import cluster, processes, releases

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("GITWARD_TEST_KUBECONFIG")), reason="needs the embedded control plane"
)


def _gitward(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitward", *args], capture_output=True, text=True, timeout=180, check=False
    )


def test_dev_up_env_down(tmp_path: Path) -> None:
    state = tmp_path / "cp"
    up = _gitward("dev", "up", "--state-dir", str(state), "--nodes", "1")
    assert up.returncode == 0, up.stderr
    last = up.stdout.strip().splitlines()[-1]
    assert last == f"export KUBECONFIG={state.resolve()}/admin.kubeconfig"
    try:
        env = _gitward("dev", "env", "--state-dir", str(state))
        assert env.stdout.strip() == last
        kubeconfig = last.split("=", 1)[1]
        nodes = subprocess.run(
            ["kubectl", "--kubeconfig", kubeconfig, "get", "nodes", "-o", "name"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert nodes.strip() == "node/gitward-sim-node-0"
        assert _kubectl_json(kubeconfig, "version")["serverVersion"]["gitVersion"] == releases.select().version
        again = _gitward("dev", "up", "--state-dir", str(state))
        assert again.returncode == 0
        assert again.stdout.strip().splitlines()[-1] == last
        pids = [e.pid for e in processes.recorded(state.resolve())]
        assert len(pids) == 5
    finally:
        down = _gitward("dev", "down", "--state-dir", str(state))
    assert down.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() and _is_ours(pid) for pid in pids)
    assert _gitward("dev", "env", "--state-dir", str(state)).returncode == 1


def _kubectl_json(kubeconfig: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args, "-o", "json"], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out))


def _kubectl(kubeconfig: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True, text=True, check=False
    )


def test_an_unknown_kubernetes_version_is_refused(tmp_path: Path) -> None:
    up = _gitward("dev", "up", "--state-dir", str(tmp_path / "cp"), "--kubernetes", "1.19")
    assert up.returncode == 1
    assert "no Kubernetes '1.19' here; choose one of: 1.20 (v1.20.2)" in " ".join(up.stderr.split())
    assert not (tmp_path / "cp" / "pids").exists(), "nothing was started"


GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  gatewayClassName: example
  listeners: [{name: http, protocol: HTTP, port: 80}]
"""
# two listeners with the same name: rejected by the CRD's own validation (listMapKey name)
BAD_GATEWAY = GATEWAY.replace(
    "listeners: [{name: http, protocol: HTTP, port: 80}]",
    "listeners: [{name: http, protocol: HTTP, port: 80}, {name: http, protocol: HTTP, port: 8080}]",
)
HTTPROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: route, namespace: default}
spec:
  parentRefs: [{name: web}]
  rules: [{matches: [{path: {type: PathPrefix, value: PATH}}], backendRefs: [{name: svc, port: 80}]}]
"""


def test_with_gateway_api(tmp_path: Path) -> None:
    release = releases.select()
    state = tmp_path / "gw"
    up = _gitward("dev", "up", "--state-dir", str(state), "--nodes", "1", "--with-gateway-api")
    if not release.gateway_api:  # 1.20: refused up front, nothing started
        assert up.returncode == 1
        assert "needs Kubernetes 1.30 or newer" in " ".join(up.stderr.split())
        assert not (state / "pids").exists()
        return
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = up.stdout.strip().splitlines()[-1].split("=", 1)[1]
        crds = _kubectl_json(kubeconfig, "get", "crd")["items"]
        names = {c["metadata"]["name"] for c in crds if c["spec"]["group"] == "gateway.networking.k8s.io"}
        assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"} <= names
        bundle = {c["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] for c in crds}
        assert bundle == {releases.GATEWAY_API_VERSION}
        assert _kubectl(kubeconfig, "apply", "-f", "-", stdin=GATEWAY).returncode == 0
        assert _kubectl(kubeconfig, "apply", "-f", "-", stdin=HTTPROUTE.replace("PATH", "/shop")).returncode == 0
        bad_path = _kubectl(kubeconfig, "apply", "-f", "-", stdin=HTTPROUTE.replace("PATH", "no-slash"))
        assert bad_path.returncode != 0
        assert "Invalid value" in bad_path.stderr
        bad_gateway = _kubectl(kubeconfig, "create", "-f", "-", stdin=BAD_GATEWAY.replace("name: web", "name: web2"))
        assert bad_gateway.returncode != 0
        assert "Duplicate value" in bad_gateway.stderr
        again = _gitward("dev", "up", "--state-dir", str(state), "--with-gateway-api")  # into the running one
        assert again.returncode == 0, again.stderr
        assert _kubectl_json(kubeconfig, "get", "httproute", "route", "-n", "default")["spec"]["rules"]
    finally:
        _gitward("dev", "down", "--state-dir", str(state))


def _is_ours(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_down_after_the_starting_command_crashed(tmp_path: Path) -> None:
    """Kill `gitward dev up` half-way; `down` still stops whatever it had started."""
    state = (tmp_path / "crash").resolve()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitward", "dev", "up", "--state-dir", str(state)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pid_dir = state / "pids"
    for _ in range(600):
        if (pid_dir / "kube-apiserver.pid").exists():
            break
        try:
            proc.wait(0.05)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    started = processes.recorded(state)
    assert started, "the up command recorded no process before it was killed"
    cluster.down(state)
    assert not any(processes.alive(e) for e in started)
    assert processes.recorded(state) == []
