"""The push-model baseline: `kubectl apply --server-side` of the same manifests, timed as a whole
command (process start, discovery and all), as a user or a CI job would run it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path


def binary() -> str:
    """The venv's kubectl (the one `make deps` puts there, of the cluster's version) before PATH's:
    a kubectl on PATH may be anything — on the bench machine it is Google Cloud SDK's dispatcher
    (v1.32), which took 70–85 s for what the venv's takes a few seconds."""
    venv = Path(sys.executable).parent / "kubectl"
    found = str(venv) if venv.exists() else shutil.which("kubectl")
    if found is None:
        raise FileNotFoundError("kubectl is neither in the venv nor on PATH")
    return found


def apply_server_side(kubeconfig: str, directory: Path, namespace: str) -> float:
    """Seconds for `kubectl apply --server-side -f DIR -n NS` (field manager `kubectl-bench`)."""
    argv = [binary(), "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts",
            "--field-manager", "kubectl-bench", "-n", namespace, "-f", str(directory), "-o", "name"]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"kubectl apply failed: {result.stderr.decode(errors='replace')[-500:]}")
    return elapsed
