"""Flux's source-controller and kustomize-controller, built once from their Go modules and cached.

Called by `make flux` (`python -m bench.flux.build`, which `make bench` runs first) and by the Flux
peer (`bench.peers.flux`), which only finds the binaries. The Go module next to this file (`go.mod`,
`go.sum`) requires both controllers at one release and lists them as `tool`s; `go build` compiles the
two commands in one run (shared packages compiled once) with CGO_ENABLED=0, -trimpath and no DWARF,
into `<cache>/flux/<version>/` (`~/.cache/gitward/flux/v1.9.6/`). Modules download into the usual Go
module cache, where their CRDs (`config/crd/bases`) are read from too, never copied into the repo.
The toolchain is gitward's dev-cluster one (`gobuild.find_go`: the first Go on PATH new enough).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from gitward.devcluster import assets, gobuild, progress, releases

MODULE_DIR = Path(__file__).resolve().parent
SOURCE = "github.com/fluxcd/source-controller"
KUSTOMIZE = "github.com/fluxcd/kustomize-controller"
COMMANDS = (SOURCE, KUSTOMIZE)


@dataclass(frozen=True)
class Flux:
    version: str  # the release both controllers are at, "v1.9.6"
    folder: Path  # <cache>/flux/<version>/

    @property
    def source_controller(self) -> Path:
        return self.folder / "source-controller"

    @property
    def kustomize_controller(self) -> Path:
        return self.folder / "kustomize-controller"

    @property
    def built(self) -> bool:
        return self.source_controller.is_file() and self.kustomize_controller.is_file()


def version(go_mod: releases.GoMod | None = None) -> str:
    """The release of the two controllers that go.mod requires (they must agree)."""
    mod = go_mod or releases.parse_go_mod((MODULE_DIR / "go.mod").read_text())
    found = {mod.requires.get(command, "") for command in COMMANDS}
    if len(found) != 1 or "" in found:
        raise gobuild.GoBuildError(f"{MODULE_DIR / 'go.mod'}: source- and kustomize-controller at {sorted(found)}")
    return found.pop()


def cached() -> Flux:
    ver = version()
    return Flux(ver, assets.cache_root() / "flux" / ver)


def ensure_built(console: Console | None = None) -> Flux:
    """The cached binaries, built first when missing (under a lock: a second caller waits)."""
    flux = cached()
    if flux.built:
        return flux
    console = console or Console(stderr=True)
    assets.cache_root().mkdir(parents=True, exist_ok=True)
    with (assets.cache_root() / "flux-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not flux.built:
            _build(flux, console, assets.cache_root() / "build")
    return flux


def _go(go: Path, *args: str) -> str:
    env = gobuild.go_env(go)
    result = subprocess.run([str(go), *args], cwd=MODULE_DIR, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise gobuild.GoBuildError(f"go {' '.join(args[:3])} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def _build(flux: Flux, console: Console, work: Path) -> None:
    started = time.monotonic()
    go = gobuild.find_go(releases.parse_go_mod((MODULE_DIR / "go.mod").read_text()).go)
    step = progress.Steps(console, started)
    console.print(f"building Flux {flux.version} (source-controller, kustomize-controller) with {go}")
    with step("download the Go modules (the first time ~400 MB into the Go module cache)"):
        _go(go, "mod", "download")
    total = len(_go(go, "list", "-deps", *COMMANDS).split())
    work.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"flux-{flux.version}-", dir=work))
    log_path = work / f"flux-build-{flux.version}.log"
    argv = [str(go), "build", "-v", "-trimpath", "-gcflags", "all=-dwarf=false", "-ldflags", "-s -w",
            "-o", f"{out}/", *COMMANDS]  # fmt: skip
    with step(f"compile source-controller and kustomize-controller ({total} packages, ~13 CPU-minutes the first time)"):
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, cwd=MODULE_DIR, env=gobuild.go_env(go), stdout=log, stderr=subprocess.STDOUT)
            progress.watch(proc, console, log_path, total)
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            raise gobuild.GoBuildError("go build failed:\n" + "\n".join(tail))
    with step(f"cache the binaries in {flux.folder}"):
        flux.folder.mkdir(parents=True, exist_ok=True)
        for binary in sorted(out.iterdir()):
            binary.replace(flux.folder / binary.name)
        shutil.rmtree(out, ignore_errors=True)
    console.print(f"[green]Flux {flux.version} ready[/] in {time.monotonic() - started:.0f}s")


def crds(flux: Flux | None = None) -> list[Path]:
    """The CustomResourceDefinitions of both controllers, from their modules' `config/crd/bases`
    in the Go module cache (downloaded there by the build)."""
    ver = (flux or cached()).version
    go = gobuild.find_go(releases.parse_go_mod((MODULE_DIR / "go.mod").read_text()).go)
    found: list[Path] = []
    for command in COMMANDS:
        info = json.loads(_go(go, "mod", "download", "-json", f"{command}@{ver}"))
        if info.get("Error"):
            raise gobuild.GoBuildError(f"go mod download {command}@{ver}: {info['Error']}")
        found += sorted((Path(info["Dir"]) / "config" / "crd" / "bases").glob("*.yaml"))
    if not found:
        raise gobuild.GoBuildError(f"no CRDs in the Flux {ver} modules' config/crd/bases")
    return found


def main() -> int:
    try:
        flux = ensure_built()
    except gobuild.GoBuildError as exc:
        print(f"Flux build failed: {exc}", file=sys.stderr)
        return 1
    print(f"Flux {flux.version}: {flux.folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
