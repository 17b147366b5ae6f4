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
    found = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    if not Path(found).exists():
        raise FileNotFoundError("kubectl is neither on PATH nor in the venv")
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
