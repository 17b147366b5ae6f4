"""Helpers for the CLI's integration tests (tests/integration/test_cli_*.py).

`gitward(...)` runs `python -m gitward ...` as a real process without blocking the event loop, so
the controller that the `controller` fixture runs in the same loop keeps working meanwhile.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from tests.conftest import ClusterUnderTest


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


async def gitward(*args: str, timeout: float = 120.0) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gitward",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    ran = Ran(proc.returncode, out.decode(), err.decode())
    assert "Traceback" not in ran.stderr, str(ran)
    return ran


async def app_cli(cluster: ClusterUnderTest, namespace: str, *args: str, timeout: float = 120.0) -> Ran:
    """`gitward app <args> --kubeconfig <test cluster> -n <namespace>`."""
    return await gitward("app", *args, "--kubeconfig", cluster.kubeconfig, "-n", namespace, timeout=timeout)


def configmap(name: str, **data: str) -> str:
    lines = "".join(f"  {key}: {value!r}\n".replace("'", '"') for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{lines}"
