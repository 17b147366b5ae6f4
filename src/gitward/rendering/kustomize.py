"""The kustomize engine: `kubectl kustomize` on a private copy of the checkout.

Called by `engines.render` when the source path holds a kustomization (or `source.kustomize` is set).
The flow: copy the checkout (`copying`, symlinks checked first) → check the kustomizations'
references (`kustomizations`) → with `source.kustomize` options, write an overlay next to the copy
(`overlays`; for a plain directory, over its rendered objects) → run the pinned kubectl with the
root-only load restrictor, no plugins, no Helm, a scrubbed environment and a wall-clock timeout →
load its output (`documents`).
Errors name the kustomization file; paths of the private copy never appear in them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from gitward.core.applications import KustomizeSource
from gitward.core.errors import RenderError
from gitward.rendering import bounded, copying, documents, kustomizations, overlays, paths, scanning
from gitward.rendering.limits import Limits

POLL_SECONDS = 0.05
MESSAGES = bounded.Messages(
    timed_out="kustomize timed out after {seconds:g}s",
    too_big="kustomize output exceeds the size limit of {limit} bytes",
)
MAX_STDERR_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 2_000
_DEAD_PROXY = "http://127.0.0.1:9"  # with remote bases refused, any network fetch fails at once
_PASSED_THROUGH = ("PATH", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def render(
    root: Path,
    base: Path,
    limits: Limits,
    *,
    allow_remote_bases: bool = False,
    options: KustomizeSource | None = None,
) -> list[documents.Rendered]:
    """The objects kustomize builds from `base` (resolved, inside the resolved checkout `root`),
    with `options` (source.kustomize) applied through an overlay next to the private copy."""
    base_rel = paths.relative(base, root)
    file_rel = kustomizations.relative_file(root, base)
    kubectl = find_kubectl(file_rel)
    with tempfile.TemporaryDirectory(prefix="gitward-kustomize-") as tmp:
        work = Path(os.path.realpath(tmp))
        copy = work / "repo"
        copying.copy_checkout(root, copy, limits)
        kustomizations.check_references(copy, base_rel, limits, allow_remote=allow_remote_bases)
        directory = copy / base_rel
        if options is not None and not options.is_empty():
            directory = _overlay(work, f"../repo/{base_rel}" if base_rel != "." else "../repo", options, limits)
            file_rel = f"source.kustomize over {file_rel}"
        command = kustomize_command(kubectl, directory)
        output = _run(command, work, file_rel, limits, allow_remote=allow_remote_bases)
    label = f"kustomize:{base_rel}"
    return documents.load(output, label, limits, scanning.Budget(limits.max_total_bytes))


def render_objects(
    objects: list[documents.Rendered], base_rel: str, options: KustomizeSource, limits: Limits
) -> list[documents.Rendered]:
    """A plain directory's objects (already rendered and bounded) with `options` applied by kustomize."""
    label = f"{base_rel}: source.kustomize"
    kubectl = find_kubectl(label)
    with tempfile.TemporaryDirectory(prefix="gitward-kustomize-") as tmp:
        work = Path(os.path.realpath(tmp))
        (work / "repo").mkdir()
        directory = _overlay(work, "objects.yaml", options, limits)
        stream = yaml.safe_dump_all([obj.manifest for obj in objects], sort_keys=False, allow_unicode=True)
        (directory / "objects.yaml").write_text(stream, encoding="utf-8")
        output = _run(kustomize_command(kubectl, directory), work, label, limits, allow_remote=False)
    return documents.load(output, f"kustomize:{base_rel}", limits, scanning.Budget(limits.max_total_bytes))


def _overlay(work: Path, resource: str, options: KustomizeSource, limits: Limits) -> Path:
    """Write the overlay kustomization applying `options` to `resource` in `work/overlay`."""
    directory = work / "overlay"
    directory.mkdir()
    (directory / "kustomization.yaml").write_text(
        overlays.dump(overlays.kustomization(resource, options, limits)), encoding="utf-8"
    )
    return directory


def kustomize_command(kubectl: str, directory: Path) -> list[str]:
    """The argument list: the directory (absolute, in the private copy) after `--`, so no path from
    the repository (`-x`, `--enable-helm`) can ever be read as a flag."""
    if not directory.is_absolute():
        raise RenderError(f"{directory}: kustomize runs on an absolute path of the private copy only")
    return [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsRootOnly", "--", str(directory)]


def find_kubectl(file_rel: str) -> str:
    """kubectl next to the running Python (the pinned one in the venv) first, then on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError(f"{file_rel}: cannot run kustomize: kubectl not found next to Python or on PATH")
    return found


def _run(command: list[str], work: Path, file_rel: str, limits: Limits, *, allow_remote: bool) -> bytes:
    """Run kubectl in `work` (the private temp dir); its stdout, or a `RenderError` from its stderr."""
    with (work / "stdout").open("w+b") as out, (work / "stderr").open("w+b") as err:
        code = bounded.run(
            command,
            cwd=work / "repo",
            env=environment(work, allow_remote=allow_remote),
            out=out,
            err=err,
            label=file_rel,
            limits=limits,
            messages=MESSAGES,
            poll_seconds=POLL_SECONDS,
        )
        if code != 0:
            err.seek(0)
            raise RenderError(f"{file_rel}: {describe(err.read(MAX_STDERR_BYTES), work)}")
        out.seek(0)
        return out.read()


def environment(work: Path, *, allow_remote: bool) -> dict[str, str]:
    """A scrubbed environment: home, config and plugin dirs in `work`; no network unless allowed."""
    env = {
        "HOME": str(work),
        "TMPDIR": str(work),
        "XDG_CONFIG_HOME": str(work / "config"),
        "KUSTOMIZE_PLUGIN_HOME": str(work / "plugins"),
        "LANG": "C",
    }
    if allow_remote:
        env.update({name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ})
    else:
        env.update(PATH=str(work / "no-programs"), HTTP_PROXY=_DEAD_PROXY, HTTPS_PROXY=_DEAD_PROXY)
        env.update(http_proxy=_DEAD_PROXY, https_proxy=_DEAD_PROXY, NO_PROXY="", no_proxy="")
    return env


def describe(stderr: bytes, work: Path) -> str:
    """kustomize's stderr as one trimmed line, with paths of the private copy made repo-relative."""
    text = stderr.decode("utf-8", errors="replace")
    copy = str(work / "repo")
    overlay = str(work / "overlay")
    text = text.replace(overlay + "/", "source.kustomize:").replace(overlay, "source.kustomize")
    text = text.replace(copy + "/", "").replace(copy, ".").replace(str(work), "<tmp>")
    text = " ".join(text.split())
    for prefix in ("error: ", "Error: "):
        text = text.removeprefix(prefix)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "…"
    return text or "kustomize failed without a message"
