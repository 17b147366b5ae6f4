"""The current Kubernetes (and its etcd), built from the Go modules with the machine's Go.

Called by `assets.build` for a "go-modules" release, under the build lock. The Go module committed
next to this file (`k8s/go.mod` + `k8s/go.sum`, see `releases`) pins k8s.io/kubernetes and every
staging module; this downloads the modules into the usual Go module cache (GOMODCACHE), checks our
replace lines against kubernetes' own go.mod, then compiles kube-apiserver, kube-controller-manager,
kube-scheduler and etcd in one `go build` (packages compiled once, shared by the four) with
CGO_ENABLED=0, -trimpath, no DWARF and the version in -ldflags (`releases.ldflags`), into
`<cache>/k8s/<version>/`. The build is reproducible: two builds give byte-identical binaries.

Also `gateway_api_crds()`: the Gateway API standard-channel manifests, read from the
`sigs.k8s.io/gateway-api` module in the module cache (downloaded there once), never copied into the repo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console

from gitward.devcluster import progress, releases


class GoBuildError(RuntimeError):
    pass


def _go_candidates() -> list[Path]:
    """Every `go` on PATH, in order, then the usual install folder of the upstream Go toolchain."""
    found: list[Path] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(folder or ".") / "go"
        if path.is_file() and os.access(path, os.X_OK) and path.resolve() not in {p.resolve() for p in found}:
            found.append(path)
    usual = Path("/usr/local/go/bin/go")
    if usual.is_file() and usual.resolve() not in {p.resolve() for p in found}:
        found.append(usual)
    return found


def _go_version(go: Path) -> str:
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    result = subprocess.run([str(go), "env", "GOVERSION"], env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def find_go(required: str) -> Path:
    """The first Go toolchain at least as new as `required` (go.mod's `go` line); Debian's Go 1.19
    (/usr/bin/go) is passed over."""
    seen = []
    for go in _go_candidates():
        version = _go_version(go)
        seen.append(f"{go} ({version or 'unknown version'})")
        if version and releases.version_tuple(version) >= releases.version_tuple(required):
            return go
    raise GoBuildError(
        f"building Kubernetes from its Go modules needs Go >= {required} (go.mod); found: "
        f"{', '.join(seen) or 'no go on PATH'}. Install Go {required} or newer first on PATH."
    )


def go_env(go: Path, home: Path | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",  # never fetch another toolchain
        "GOWORK": "off",
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }
    if home is not None:
        env["HOME"] = str(home)
    return env


def _go(go: Path, *args: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run([str(go), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GoBuildError(f"go {' '.join(args[:3])} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def packages(release: releases.Release) -> list[str]:
    pkgs = [f"{releases.KUBERNETES_MODULE}/cmd/{name}" for name in releases.KUBE_COMMANDS]
    if release.etcd_built:
        pkgs.append(releases.ETCD_PACKAGE)
    return pkgs


def build(release: releases.Release, target: Path, console: Console, work: Path) -> None:
    """Build `release`'s binaries into `target` (the caller holds the build lock)."""
    started = time.monotonic()
    module = releases.GO_MODULE_DIR
    ours = releases.parse_go_mod((module / "go.mod").read_text())
    go = find_go(ours.go)
    env = go_env(go)
    step = progress.Steps(console, started)
    console.print(f"building Kubernetes {release.version} from its Go modules with {go} ({_go_version(go)})")
    with step("download the Go modules (the first time ~90 MB into the Go module cache)"):
        _go(go, "mod", "download", cwd=module, env=env)
        upstream = json.loads(_go(go, "mod", "download", "-json", releases.KUBERNETES_MODULE, cwd=module, env=env))
        problems = releases.go_mod_problems(ours, releases.parse_go_mod(Path(upstream["GoMod"]).read_text()))
        if problems:
            raise GoBuildError(f"{module / 'go.mod'}:\n" + "\n".join(problems))
    pkgs = packages(release)
    names = ", ".join(p.rsplit("/", 1)[-1] for p in pkgs)
    total = len(_go(go, "list", "-deps", *pkgs, cwd=module, env=env).split())
    work.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"go-{release.version}-", dir=work))
    log_path = work / f"go-build-{release.version}.log"
    argv = [
        str(go), "build", "-v", "-trimpath",
        "-gcflags", "all=-dwarf=false",  # the binaries are stripped anyway: ~15% less compile time
        "-ldflags", releases.ldflags(release.version), "-o", f"{out}/", *pkgs,
    ]  # fmt: skip
    with step(f"compile {names} ({total} packages, about 10 min the first time on 2 cores)"):
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, cwd=module, env=env, stdout=log, stderr=subprocess.STDOUT)
            progress.watch(proc, console, log_path, total)
        if proc.returncode != 0:
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            raise GoBuildError("go build failed:\n" + "\n".join(tail))
    with step(f"cache the binaries in {target}"):
        target.mkdir(parents=True, exist_ok=True)
        for binary in sorted(out.iterdir()):
            binary.replace(target / binary.name)
        shutil.rmtree(out, ignore_errors=True)
    console.print(f"[green]Kubernetes {release.version} ready[/] in {time.monotonic() - started:.0f}s")


def gateway_api_crds() -> list[Path]:
    """The manifests of Gateway API's standard channel (CRDs and the ValidatingAdmissionPolicy that
    guards them), from the module cache; `go mod download` fetches the module the first time."""
    ours = releases.parse_go_mod((releases.GO_MODULE_DIR / "go.mod").read_text())
    go = find_go(ours.go)
    spec = f"{releases.GATEWAY_API_MODULE}@{releases.GATEWAY_API_VERSION}"
    with tempfile.TemporaryDirectory(prefix="gateway-api-") as empty:  # outside any module
        info = json.loads(_go(go, "mod", "download", "-json", spec, cwd=Path(empty), env=go_env(go)))
    if info.get("Error"):
        raise GoBuildError(f"go mod download {spec}: {info['Error']}")
    folder = Path(info["Dir"]) / "config" / "crd" / "standard"
    found = sorted(folder.glob("*.yaml"))
    if not found:
        raise GoBuildError(f"no manifests in {folder}")
    return found
