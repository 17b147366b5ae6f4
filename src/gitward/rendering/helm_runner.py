"""Running one Helm render in its own bounded process (`helm_worker`) and reading its answer.

Called by `helm.render` with a request (chart copy, values, release, capabilities). The worker runs
with a scrubbed environment, no network proxy that works, a capped address space, a wall-clock
timeout and a bound on its output; when any bound is crossed, or Helm fails, the answer is a
`RenderError` whose message starts with `label` (the chart's repo-relative path) and never shows
paths of the private copy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gitward.core.errors import RenderError
from gitward.rendering import bounded
from gitward.rendering.limits import Limits

POLL_SECONDS = 0.02
MESSAGES = bounded.Messages(
    timed_out="helm template timed out after {seconds:g}s",
    too_big="the chart renders more than the size limit of {limit} bytes",
)
MEMORY_BYTES = 2 * 1024 * 1024 * 1024
"""Address space of one worker: the Go runtime reserves much of it, Helm's heap gets about half."""
MAX_STDERR_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 2_000
_DEAD_PROXY = "http://127.0.0.1:9"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the gitward package


def run(request: dict[str, Any], work: Path, label: str, limits: Limits) -> dict[str, Any]:
    """The worker's answer to `request`; `work` is a private directory that holds the chart copy."""
    request_file = work / "request.json"
    request_file.write_text(json.dumps({**request, "memory_bytes": MEMORY_BYTES}), encoding="utf-8")
    command = [sys.executable, "-m", "gitward.rendering.helm_worker", str(request_file)]
    with (work / "stdout").open("w+b") as out, (work / "stderr").open("w+b") as err:
        code = bounded.run(
            command,
            cwd=work,
            env=environment(work),
            out=out,
            err=err,
            label=label,
            limits=limits,
            messages=MESSAGES,
            poll_seconds=POLL_SECONDS,
        )
        out.seek(0)
        answer = _decode(out.read())
        if answer is None:
            err.seek(0)
            raise RenderError(f"{label}: {crash_message(err.read(MAX_STDERR_BYTES), code)}")
    if "error" in answer:
        raise RenderError(f"{label}: {clean(str(answer['error']), work)}")
    return answer


def environment(work: Path) -> dict[str, str]:
    """Only what Python needs; home and temp in `work`, proxies that lead nowhere."""
    env = {"HOME": str(work), "TMPDIR": str(work), "LANG": "C", "PYTHONPATH": _PACKAGE_ROOT}
    env.update(HTTP_PROXY=_DEAD_PROXY, HTTPS_PROXY=_DEAD_PROXY, http_proxy=_DEAD_PROXY, https_proxy=_DEAD_PROXY)
    env.update(NO_PROXY="", no_proxy="", GOMAXPROCS="2")
    return env


def _decode(data: bytes) -> dict[str, Any] | None:
    if not data:
        return None
    try:
        answer = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None


_OUT_OF_MEMORY = ("out of memory", "MemoryError", "pthread_create failed", "cannot allocate memory")


def crash_message(stderr: bytes, returncode: int | None) -> str:
    """Why the worker died without an answer: out of memory, or the first line it printed.

    Under the address-space cap, memory runs out in whichever allocation comes next: Go's heap
    ("out of memory"), Python's (MemoryError), or the stack of a new runtime thread, which cgo
    reports as a failed pthread_create."""
    text = stderr.decode("utf-8", errors="replace")
    if any(sign in text for sign in _OUT_OF_MEMORY):
        return f"the Helm engine ran out of memory (limit {MEMORY_BYTES // (1024 * 1024)} MiB of address space)"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    detail = f": {first[:MAX_MESSAGE_CHARS]}" if first else ""
    return f"the Helm engine failed (exit status {returncode}){detail}"


def clean(message: str, work: Path) -> str:
    """Helm's message on one line, with the private copy's paths made repo-relative."""
    copy = str(work / "repo")
    message = message.replace(copy + "/", "").replace(copy, ".").replace(str(work), "<tmp>")
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "…"
    return message or "helm template failed without a message"
