"""The image as a container, without a container engine: its OCI layout unpacked with umoci, and its
process run the way a runtime and deploy/controller.yaml would run it.

`Image.load` unpacks the archive that `make image` writes (`umoci unpack`, as root, so the layers'
owners and modes are kept) and reads both the image config (`config.User`, `Entrypoint`, …) and
the runtime bundle umoci derives from it (`config.json`: the process's uid, gid, args, env, cwd).

`Container` runs a command in that root filesystem: new mount and PID namespaces (`unshare`), the
root filesystem bind-mounted read-only (`readOnlyRootFilesystem: true`), /proc, /dev (the host's,
bound), /tmp a fresh tmpfs (the Deployment's emptyDir), then `chroot --userspec` to the image's
user with exactly the image's environment and working directory. The network namespace is the
host's, so servers on 127.0.0.1 (the dev cluster, the Git server) are reachable, as in a pod with
host networking. The command is PID 1 of its namespace, as in a container.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# what the setup shell does inside the new namespaces, before it becomes the image's process
_SETUP = r"""
set -eu
root=$1 seed=$2 uid=$3 gid=$4 cwd=$5
shift 5
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=1g tmpfs "$root/tmp"
for f in "$seed"/* "$seed"/.[!.]*; do
  [ -e "$f" ] || continue
  cp -R "$f" "$root/tmp/" && chown -R "$uid:$gid" "$root/tmp/${f##*/}"
done
exec chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/env -i -C "$cwd" "$@"
"""


@dataclass(frozen=True)
class Sizes:
    archive: int  # the .oci.tar: the layers as a registry stores and sends them (gzip)
    layers: tuple[int, ...]  # each layer, compressed
    unpacked: int  # every regular file of the root filesystem, counted once


@dataclass
class Image:
    archive: Path
    version: str
    rootfs: Path
    config: dict[str, Any]  # the OCI image config (its `config` member: User, Entrypoint, Env, …)
    history: list[dict[str, Any]]
    process: dict[str, Any]  # the runtime bundle's process (user, args, env, cwd)
    sizes: Sizes
    files: dict[str, os.stat_result] = field(default_factory=dict)  # "/path" → lstat, the whole rootfs

    @classmethod
    def load(cls, archive: Path, version: str, work: Path) -> Image:
        layout, bundle = work / "layout", work / "bundle"
        layout.mkdir(parents=True)
        subprocess.run(["tar", "-xf", str(archive), "-C", str(layout)], check=True)
        index = json.loads((layout / "index.json").read_text())
        refs = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name")]
        manifest_ref = next(m for m in refs if m["annotations"]["org.opencontainers.image.ref.name"] == version)
        manifest = json.loads(_blob(layout, manifest_ref["digest"]).read_text())
        config = json.loads(_blob(layout, manifest["config"]["digest"]).read_text())
        subprocess.run(
            ["umoci", "unpack", "--image", f"{layout}:{version}", str(bundle)], check=True, stdout=subprocess.DEVNULL
        )
        runtime = json.loads((bundle / "config.json").read_text())
        rootfs = bundle / runtime["root"]["path"]
        files = _walk(rootfs)
        seen: set[tuple[int, int]] = set()
        unpacked = 0
        for st in files.values():
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                unpacked += st.st_size
        sizes = Sizes(archive.stat().st_size, tuple(int(layer["size"]) for layer in manifest["layers"]), unpacked)
        return cls(
            archive, version, rootfs, config["config"], config.get("history", []), runtime["process"], sizes, files
        )

    def entrypoint(self, *args: str) -> list[str]:
        """The image's own command line with `args` appended, as the Deployment's `args:` are."""
        return [*self.config.get("Entrypoint", []), *args]


def _blob(layout: Path, digest: str) -> Path:
    algorithm, hexdigest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hexdigest


def _walk(rootfs: Path) -> dict[str, os.stat_result]:
    files: dict[str, os.stat_result] = {"/": rootfs.lstat()}
    for directory, dirnames, filenames in os.walk(rootfs):
        for name in dirnames + filenames:
            path = Path(directory, name)
            files["/" + str(path.relative_to(rootfs))] = path.lstat()
    return files


class Container:
    """One process of the image, started by `start()`; `log` holds its stdout and stderr."""

    def __init__(self, image: Image, argv: list[str], workdir: Path, seed: dict[str, str] | None = None) -> None:
        self.image = image
        self.argv = argv
        self.workdir = workdir
        self.seed_dir = workdir / "seed"
        self.seed_dir.mkdir(parents=True, exist_ok=True)
        for name, content in (seed or {}).items():  # files copied into the container's /tmp
            (self.seed_dir / name).write_text(content)
        self.log = workdir / "container.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        process = self.image.process
        user = process["user"]
        return [
            "unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            "/bin/sh", "-c", _SETUP, "container",
            str(self.image.rootfs), str(self.seed_dir), str(user["uid"]), str(user["gid"]), process["cwd"],
            *process["env"], *self.argv,
        ]  # fmt: skip

    def start(self) -> Container:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def run(self, timeout: float = 120.0) -> tuple[int, str]:
        """Run to completion: the exit status and the output."""
        self.start()
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
        return code, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def init_pid(self) -> int:
        """The host PID of the container's PID 1 (the image's process): unshare's only child."""
        assert self.proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = _children(self.proc.pid)
            if children:
                return children[0]
            time.sleep(0.01)
        raise AssertionError(f"unshare ({self.proc.pid}) started no process; output:\n{self.output()[-2000:]}")

    def signal(self, signum: int) -> None:
        os.kill(self.init_pid(), signum)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to PID 1 ends the whole PID namespace."""
        if self.running():
            assert self.proc is not None
            for pid in _children(self.proc.pid):
                os.kill(pid, signal.SIGKILL)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found
