"""The upstream CNCF distribution registry (v3), built from its Go module, for the test bed.

Used by tests.support.registry (the `paged_registry` fixture) through `ensure()`. Debian's
`docker-registry` (2.8) answers a tag list whole whatever `?n=` asks; v3 pages it as the
distribution spec says (`n`, `last`, `Link: <…>; rel="next"`), which the image scanner follows. So
the tests of tag pagination run this registry, with the same configuration file, TLS and htpasswd
as `gitward.testing.registries.Registry` (`Registry(root, binary=ensure())`).

`ensure()` builds `github.com/distribution/distribution/v3/cmd/registry@VERSION` once with the
machine's Go (`devcluster.gobuild.find_go`: at least the module's `go` line, never another
toolchain downloaded), from the Go module proxy (the module and its dependencies checked against
the Go checksum database, as every `go install pkg@version`), with CGO_ENABLED=0 and -trimpath,
into `<cache>/registry/<VERSION>/registry` (the cache of `devcluster.assets`, e.g.
~/.cache/gitward/); later runs reuse it. A file lock makes a second caller wait for the first build.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gitward.devcluster import assets, gobuild

__all__ = ["GO_VERSION", "MODULE", "VERSION", "binary_path", "ensure"]

MODULE = "github.com/distribution/distribution/v3"
VERSION = "v3.1.2"
GO_VERSION = "1.26.0"  # the `go` line of the module's go.mod at VERSION
_BUILD_SECONDS = 1800


def binary_path() -> Path:
    return assets.cache_root() / "registry" / VERSION / "registry"


def ensure() -> Path:
    """The registry binary, built first when the cache lacks it (see the module docstring)."""
    target = binary_path()
    if target.is_file():
        return target
    with _lock():
        if not target.is_file():
            _build(target)
    return target


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    assets.cache_root().mkdir(parents=True, exist_ok=True)
    with (assets.cache_root() / f"build-registry-{VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build(target: Path) -> None:
    go = gobuild.find_go(GO_VERSION)
    env = gobuild.go_env(go)
    env["GOFLAGS"] = "-buildvcs=false"  # `go install pkg@version` builds from the module's own go.mod/go.sum
    work = Path(tempfile.mkdtemp(prefix="registry-build-", dir=assets.cache_root()))
    try:
        env["GOBIN"] = str(work)
        done = subprocess.run(
            [str(go), "install", "-trimpath", "-ldflags", "-s -w", f"{MODULE}/cmd/registry@{VERSION}"],
            cwd=work, env=env, capture_output=True, text=True, timeout=_BUILD_SECONDS, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not (work / "registry").is_file():
            raise gobuild.GoBuildError(f"building {MODULE}/cmd/registry@{VERSION} failed: {done.stderr[-2000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        (work / "registry").replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
