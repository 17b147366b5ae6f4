"""The control-plane binaries: found in KUBEBUILDER_ASSETS or the cache, else built once and cached
outside the repo, for the release `releases.select()` picks:

- 1.20 from Debian's `kubernetes` source package with Debian's Go 1.19 (see
  shared/docs/control-plane.md), run with the system's etcd (Debian's 3.4);
- the current release from the Kubernetes Go modules with the machine's Go (`gobuild`), etcd built
  with it.

Called by `gitward dev build`, `gitward dev up` and the test bed. A first build takes minutes; it
prints one line per step with its elapsed time and, during the long compile, a live line (a spinner on
a terminal, a line every 30 s otherwise). A lock per release makes concurrent callers build once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from gitward.devcluster import gobuild, progress, releases

KUBE_VERSION = releases.DEBIAN_VERSION  # the Debian (1.20) build
BUILD_ID = releases.DEBIAN_BUILD_ID
REFLECT2_SRC = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
REFLECT2_VENDOR = "vendor/github.com/modern-go/reflect2"
KUBE_BINARIES = releases.KUBE_COMMANDS
SYSTEM_PACKAGES = {"etcd": "etcd-server", "rsync": "rsync", "openssl": "openssl"}
# Kubernetes 1.20 builds with Debian's Go 1.19 only: the machine's own (newer) Go on PATH must not be
# used, so the build puts this directory first on its PATH and checks the version it gets.
GO119_BIN = Path("/usr/lib/go-1.19/bin")
GO119_PACKAGE = "golang-1.19-go"


class AssetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path


def cache_root() -> Path:
    return Path(os.environ.get("GITWARD_CACHE_DIR") or Path.home() / ".cache" / "gitward")


def release_of(kubernetes: releases.Release | str | None) -> releases.Release:
    """A release given as itself, by name (`1.37`, `v1.20.2`) or None (`releases.select()`)."""
    if isinstance(kubernetes, releases.Release):
        return kubernetes
    try:
        return releases.select(kubernetes)
    except releases.ReleaseError as exc:
        raise AssetError(str(exc)) from exc


def kube_dir(kubernetes: releases.Release | str | None = None) -> Path:
    return cache_root() / "k8s" / release_of(kubernetes).build_id


def _from_assets(name: str) -> Path | None:
    folder = os.environ.get("KUBEBUILDER_ASSETS")
    if folder and (Path(folder) / name).is_file():
        return Path(folder) / name
    return None


def _etcd(release: releases.Release) -> Path:
    if release.etcd_built:
        return kube_dir(release) / "etcd"
    return Path(shutil.which("etcd") or "/usr/bin/etcd")


def locate(kubernetes: releases.Release | str | None = None) -> Binaries | None:
    """The binaries to run, or None when some must still be built."""
    release = release_of(kubernetes)
    found: dict[str, Path] = {}
    for name in KUBE_BINARIES:
        path = _from_assets(name) or kube_dir(release) / name
        if not path.is_file():
            return None
        found[name] = path
    etcd = _from_assets("etcd") or _etcd(release)
    if not etcd.is_file():
        return None
    return Binaries(etcd, found["kube-apiserver"], found["kube-controller-manager"], found["kube-scheduler"])


def ensure(console: Console | None = None, kubernetes: releases.Release | str | None = None) -> Binaries:
    """Return the binaries, building the Kubernetes ones first if the cache lacks them."""
    release = release_of(kubernetes)
    found = locate(release)
    if found is not None:
        return found
    console = console or Console(stderr=True)
    build(console, release)
    found = locate(release)
    if found is None:
        raise AssetError(f"the Kubernetes {release.version} build finished but its binaries are missing")
    return found


@contextlib.contextmanager
def _build_lock(release: releases.Release) -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    name = "build.lock" if release.recipe == "debian" else f"build-{release.build_id}.lock"
    with (cache_root() / name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _complete(release: releases.Release) -> bool:
    names = [*KUBE_BINARIES, "etcd"] if release.etcd_built else KUBE_BINARIES
    return all((kube_dir(release) / n).is_file() for n in names)


def build(console: Console, kubernetes: releases.Release | str | None = None) -> None:
    """Build kube-apiserver, kube-controller-manager and kube-scheduler (and, for a release built
    from the Go modules, etcd) into the cache, once: a second caller waits for the first."""
    release = release_of(kubernetes)
    with _build_lock(release):
        if _complete(release):
            return
        if release.recipe == "go-modules":
            try:
                gobuild.build(release, kube_dir(release), console, cache_root() / "build")
            except gobuild.GoBuildError as exc:
                raise AssetError(str(exc)) from exc
            return
        _build_debian(console)


def _build_debian(console: Console) -> None:
    started = time.monotonic()
    _check_tools()
    work = cache_root() / "build"
    work.mkdir(parents=True, exist_ok=True)
    target = cache_root() / "k8s" / BUILD_ID
    step = progress.Steps(console, started)
    with step("download Debian's kubernetes source package (~34 MB)"):
        tarball = _download_source(work)
    with step("unpack the source"):
        src = _unpack(work, tarball)
    with step("compile kube-apiserver, kube-controller-manager, kube-scheduler (about 5 min)"):
        _compile(src, console, work / "make.log")
    with step(f"cache the binaries in {target}"):
        target.mkdir(parents=True, exist_ok=True)
        for name in KUBE_BINARIES:
            tmp = target / f".{name}.tmp"
            shutil.copy2(src / "_output" / "bin" / name, tmp)
            tmp.replace(target / name)
    shutil.rmtree(src, ignore_errors=True)
    console.print(f"[green]Kubernetes {KUBE_VERSION} ready[/] in {time.monotonic() - started:.0f}s")


def _check_tools() -> None:
    missing = [pkg for tool, pkg in SYSTEM_PACKAGES.items() if not shutil.which(tool)]
    if not (GO119_BIN / "go").is_file():
        missing.append(GO119_PACKAGE)
    if not REFLECT2_SRC.is_dir():
        missing.append("golang-github-modern-go-reflect2-dev")
    if missing:
        raise AssetError(
            f"missing system packages: {' '.join(missing)} (run `make deps` or apt-get install -y {' '.join(missing)})"
        )


def _apt_options(work: Path) -> list[str]:
    apt = work / "apt"
    (apt / "parts").mkdir(parents=True, exist_ok=True)
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        text = sources.read_text().replace("Types: deb\n", "Types: deb-src\n")
        (apt / "parts" / "src.sources").write_text(text)
    else:  # classic one-line sources.list
        lines = Path("/etc/apt/sources.list").read_text().splitlines()
        src = [ln.replace("deb ", "deb-src ", 1) for ln in lines if ln.startswith("deb ")]
        (apt / "parts" / "src.list").write_text("\n".join(src) + "\n")
    return [
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", f"Dir::Etc::SourceParts={apt / 'parts'}",
        "-o", f"Dir::State::Lists={apt / 'lists'}",
    ]  # fmt: skip


def _download_source(work: Path) -> Path:
    existing = sorted(work.glob("kubernetes_*.orig.tar.gz"))
    if existing:
        return existing[-1]
    opts = _apt_options(work)
    _run(["apt-get", *opts, "update"], cwd=work)
    _run(["apt-get", *opts, "source", "--download-only", "kubernetes"], cwd=work)
    found = sorted(work.glob("kubernetes_*.orig.tar.gz"))
    if not found:
        raise AssetError("apt-get source kubernetes downloaded no orig tarball")
    return found[-1]


def _unpack(work: Path, tarball: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=work))
    _run(["tar", "xzf", str(tarball), "-C", str(tmp)], cwd=work)
    src = next(p for p in tmp.iterdir() if p.is_dir() and p.name.startswith("kubernetes"))
    _patch_reflect2(src)
    gopath_link = src / ".go" / "src" / "k8s.io"
    gopath_link.mkdir(parents=True, exist_ok=True)
    (gopath_link / "kubernetes").symlink_to("../../..")
    return src


def _patch_reflect2(src: Path) -> None:
    """Swap the vendored modern-go/reflect2 v1.0.1 for Debian's v1.0.2.

    v1.0.1 reads Go's map iterator through linkname'd runtime internals whose layout changed in Go
    1.18; built with Debian's Go 1.19, kube-apiserver then dies with a SIGSEGV (in
    reflect2.UnsafeMapType.UnsafeIterate) as soon as it encodes a custom resource. v1.0.2 is the
    upstream fix and keeps the same API.
    """
    vendored = src / REFLECT2_VENDOR
    for old in vendored.iterdir():
        if old.suffix in (".go", ".s"):
            old.unlink()
    for new in REFLECT2_SRC.iterdir():
        if new.suffix in (".go", ".s") and not new.name.endswith("_test.go"):
            shutil.copy2(new, vendored / new.name)


def _compile(src: Path, console: Console, log_path: Path) -> None:
    env = {
        **os.environ,
        "GOPATH": str(src / ".go"),
        "CGO_ENABLED": "0",
        "HOME": tempfile.mkdtemp(prefix="gohome-"),
        "PATH": f"{GO119_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GOTOOLCHAIN": "local",
    }
    version = subprocess.run(["go", "version"], env=env, capture_output=True, text=True, check=False).stdout
    if " go1.19" not in version:
        raise AssetError(
            f"the Kubernetes {KUBE_VERSION} build needs Debian's Go 1.19 first on PATH, got: {version.strip()}"
        )
    what = "WHAT=" + " ".join(f"cmd/{n}" for n in KUBE_BINARIES)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(["make", what], cwd=src, env=env, stdout=log, stderr=subprocess.STDOUT)
        progress.watch(proc, console, log_path)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise AssetError("Kubernetes build failed:\n" + "\n".join(tail))


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssetError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()[-2000:]}")
