"""`gitward dev up | env | down` as a user runs them: several side by side, ready in seconds,
`export KUBECONFIG=` printed last, nothing left running after `down` (also after a crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gitward.devcluster import cluster, processes

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
