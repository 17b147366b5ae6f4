"""The control-plane binaries: found in KUBEBUILDER_ASSETS or the cache, else built once from
Debian's `kubernetes` source package (see shared/docs/control-plane.md) and cached outside the repo.

Called by `gitward dev build`, `gitward dev up` and the test bed. The build takes about five minutes
the first time on two cores; it prints one line per step with its elapsed time and, during the long
compile, a live line (a spinner on a terminal, a line every 30 s otherwise).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

KUBE_VERSION = "v1.20.2"
BUILD_ID = f"{KUBE_VERSION}-reflect2-1.0.2"  # the cache key: bump it when the build recipe changes
REFLECT2_SRC = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
REFLECT2_VENDOR = "vendor/github.com/modern-go/reflect2"
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
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


def kube_dir() -> Path:
    return cache_root() / "k8s" / BUILD_ID


def _from_assets(name: str) -> Path | None:
    folder = os.environ.get("KUBEBUILDER_ASSETS")
    if folder and (Path(folder) / name).is_file():
        return Path(folder) / name
    return None


def locate() -> Binaries | None:
    """The binaries to run, or None when some must still be built."""
    found: dict[str, Path] = {}
    for name in KUBE_BINARIES:
        path = _from_assets(name) or kube_dir() / name
        if not path.is_file():
            return None
        found[name] = path
    etcd = _from_assets("etcd") or (Path(shutil.which("etcd") or "/usr/bin/etcd"))
    if not etcd.is_file():
        return None
    return Binaries(etcd, found["kube-apiserver"], found["kube-controller-manager"], found["kube-scheduler"])


def ensure(console: Console | None = None) -> Binaries:
    """Return the binaries, building the Kubernetes ones first if the cache lacks them."""
    found = locate()
    if found is not None:
        return found
    console = console or Console(stderr=True)
    build(console)
    found = locate()
    if found is None:
        raise AssetError("the Kubernetes build finished but its binaries are missing")
    return found


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(console: Console) -> None:
    """Build kube-apiserver, kube-controller-manager and kube-scheduler into the cache."""
    with _build_lock():
        if all((kube_dir() / n).is_file() for n in KUBE_BINARIES):
            return
        started = time.monotonic()
        _check_tools()
        work = cache_root() / "build"
        work.mkdir(parents=True, exist_ok=True)
        step = _Steps(console, started)
        with step("download Debian's kubernetes source package (~34 MB)"):
            tarball = _download_source(work)
        with step("unpack the source"):
            src = _unpack(work, tarball)
        with step("compile kube-apiserver, kube-controller-manager, kube-scheduler (about 5 min)"):
            _compile(src, console, work / "make.log")
        with step(f"cache the binaries in {kube_dir()}"):
            target = kube_dir()
            target.mkdir(parents=True, exist_ok=True)
            for name in KUBE_BINARIES:
                tmp = target / f".{name}.tmp"
                shutil.copy2(src / "_output" / "bin" / name, tmp)
                tmp.replace(target / name)
        shutil.rmtree(src, ignore_errors=True)
        console.print(f"[green]Kubernetes {KUBE_VERSION} ready[/] in {time.monotonic() - started:.0f}s")


class _Steps:
    def __init__(self, console: Console, started: float) -> None:
        self.console, self.started = console, started

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        t0 = time.monotonic()
        self.console.print(f"[bold]▸[/] {what} …")
        yield
        self.console.print(f"  done in {time.monotonic() - t0:.1f}s (total {time.monotonic() - self.started:.0f}s)")


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
        _watch(proc, console, log_path)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        raise AssetError("Kubernetes build failed:\n" + "\n".join(tail))


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError, IndexError):
        return path.read_text(errors="replace").strip().splitlines()[-1].strip()[:70]
    return ""


def _watch(proc: subprocess.Popen[bytes], console: Console, log_path: Path) -> None:
    t0 = time.monotonic()
    if console.is_terminal:
        with console.status("compiling…") as status:
            while proc.poll() is None:
                status.update(f"compiling… {time.monotonic() - t0:.0f}s  {_last_line(log_path)}")
                time.sleep(0.5)
        return
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(30):
            console.print(f"  … still compiling, {time.monotonic() - t0:.0f}s: {_last_line(log_path)}")

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    proc.wait()
    stop.set()


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssetError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()[-2000:]}")
