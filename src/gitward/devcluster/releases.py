"""Which Kubernetes the dev control plane runs, and the pure pieces of building it.

Two releases: 1.20, built from Debian's `kubernetes` source package (`assets`), and a current one
built from the Kubernetes Go modules (`gobuild`) through the small Go module committed next to this
file (`k8s/go.mod`, `k8s/go.sum`): it requires `k8s.io/kubernetes vX.Y.Z` and replaces every staging
module (`k8s.io/api`, `k8s.io/apiserver`, ...) with its published `v0.Y.Z`. That go.mod is the one
place the current version is written; this module reads it.

`select()` turns a `--kubernetes` value (or, when none is given, `GITWARD_TEST_KUBERNETES`, which the
test bed and everything started under it honour) into a `Release`. Everything here is pure but the
reading of the committed go.mod and of that variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

GO_MODULE_DIR = Path(__file__).resolve().parent / "k8s"
ENV = "GITWARD_TEST_KUBERNETES"
KUBERNETES_MODULE = "k8s.io/kubernetes"
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
ETCD_PACKAGE = "gitward.dev/devcluster/k8s/etcd"  # our five-line main calling etcdmain.Main
GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api"
GATEWAY_API_VERSION = "v1.6.3"
DEBIAN_VERSION = "v1.20.2"
DEBIAN_BUILD_ID = f"{DEBIAN_VERSION}-reflect2-1.0.2"  # the 1.20 cache key: bump it when its recipe changes
# the release `gitward dev up` and the test bed run when nothing selects one: the current release,
# built from the Go modules ("debian" would make it 1.20)
DEFAULT_RECIPE = "go-modules"


class ReleaseError(ValueError):
    pass


@dataclass(frozen=True)
class Release:
    name: str  # what --kubernetes and GITWARD_TEST_KUBERNETES take: "1.20", "1.37"
    version: str  # "v1.37.2"
    recipe: str  # "debian" (source package, Go 1.19) or "go-modules" (k8s/go.mod, the machine's Go)
    build_id: str  # its folder in the cache, <cache>/k8s/<build_id>/

    @property
    def minor(self) -> int:
        return version_tuple(self.version)[1]

    @property
    def etcd_built(self) -> bool:
        """etcd is built with it (Go modules, etcd 3.6+) rather than the system's /usr/bin/etcd (3.4)."""
        return self.recipe == "go-modules"

    @property
    def gateway_api(self) -> bool:
        """Gateway API's standard CRDs install (CEL validation rules, ValidatingAdmissionPolicy v1)."""
        return self.minor >= 30


@dataclass(frozen=True)
class GoMod:
    module: str = ""
    go: str = ""
    requires: dict[str, str] = field(default_factory=dict)
    replaces: dict[str, tuple[str, str]] = field(default_factory=dict)  # old path -> (new path, version or "")
    tools: tuple[str, ...] = ()


def version_tuple(version: str) -> tuple[int, ...]:
    """`v1.37.2` / `go1.26.8` / `1.26` -> (1, 37, 2) / (1, 26, 8) / (1, 26); pre-release suffixes ignored."""
    match = re.match(r"^(?:v|go)?(\d+(?:\.\d+)*)", version.strip())
    if not match:
        raise ReleaseError(f"not a version: {version!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def _strip_comment(line: str) -> str:
    return line.split("//", 1)[0].strip()


def parse_go_mod(text: str) -> GoMod:
    """The directives of a go.mod file that matter here (module, go, require, replace, tool)."""
    mod = GoMod()
    module, go = "", ""
    block = ""
    tools: list[str] = []
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if block:
            if line == ")":
                block = ""
                continue
            _directive(mod, tools, block, line)
            continue
        verb, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest == "(":
            block = verb
        elif verb == "module":
            module = rest.strip('"')
        elif verb == "go":
            go = rest
        else:
            _directive(mod, tools, verb, rest)
    return GoMod(module, go, mod.requires, mod.replaces, tuple(tools))


def _directive(mod: GoMod, tools: list[str], verb: str, rest: str) -> None:
    if verb == "require":
        parts = rest.split()
        if len(parts) >= 2:
            mod.requires[parts[0]] = parts[1]
    elif verb == "replace":
        old, arrow, new = rest.partition("=>")
        if not arrow:
            raise ReleaseError(f"bad replace directive: {rest!r}")
        old_path = old.split()[0]
        new_parts = new.split()
        mod.replaces[old_path] = (new_parts[0], new_parts[1] if len(new_parts) > 1 else "")
    elif verb == "tool":
        tools.append(rest)


def staging_version(kubernetes_version: str) -> str:
    """Kubernetes vX.Y.Z publishes its staging modules (k8s.io/api, ...) as v0.Y.Z."""
    major, minor, patch = (*version_tuple(kubernetes_version), 0, 0)[:3]
    if major != 1:
        raise ReleaseError(f"not a Kubernetes 1.x version: {kubernetes_version}")
    return f"v0.{minor}.{patch}"


def staging_modules(upstream: GoMod) -> list[str]:
    """The staging modules of kubernetes' own go.mod: those it replaces with a ./staging/ path."""
    return sorted(old for old, (new, _) in upstream.replaces.items() if new.startswith("./staging/"))


def go_mod_problems(ours: GoMod, upstream: GoMod | None = None) -> list[str]:
    """What is wrong with our go.mod: the kubernetes requirement, a staging module not replaced by its
    published v0.Y.Z (each staging module of kubernetes' go.mod `upstream`, when given), a command
    missing from the `tool` lines."""
    version = ours.requires.get(KUBERNETES_MODULE)
    if version is None:
        return [f"go.mod does not require {KUBERNETES_MODULE}"]
    problems = []
    want = staging_version(version)
    for old, (new, pinned) in sorted(ours.replaces.items()):
        if old.startswith("k8s.io/") and (new, pinned) != (old, want):
            problems.append(f"replace {old} => {new} {pinned}: want {old} {want}")
    if upstream is not None:
        for module in staging_modules(upstream):
            if module not in ours.replaces:
                problems.append(f"staging module {module} of {KUBERNETES_MODULE} {version} is not replaced")
    for command in KUBE_COMMANDS:
        if f"{KUBERNETES_MODULE}/cmd/{command}" not in ours.tools:
            problems.append(f"tool {KUBERNETES_MODULE}/cmd/{command} is missing")
    return problems


def ldflags(version: str) -> str:
    """`-ldflags` of the Go-modules build: what `/version` and `--version` report, as upstream sets it
    (hack/lib/version.sh); the build date is fixed so that a build is reproducible."""
    major, minor = version_tuple(version)[:2]
    values = {
        "gitVersion": version,
        "gitMajor": str(major),
        "gitMinor": str(minor),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def go_mod_release(ours: GoMod) -> Release:
    version = ours.requires.get(KUBERNETES_MODULE)
    if version is None:
        raise ReleaseError(f"{GO_MODULE_DIR / 'go.mod'} does not require {KUBERNETES_MODULE}")
    major, minor = version_tuple(version)[:2]
    return Release(f"{major}.{minor}", version, "go-modules", version)


def debian_release() -> Release:
    return Release("1.20", DEBIAN_VERSION, "debian", DEBIAN_BUILD_ID)


def known() -> dict[str, Release]:
    """The releases this checkout can run, by name (the current one read from the committed go.mod)."""
    current = go_mod_release(parse_go_mod((GO_MODULE_DIR / "go.mod").read_text()))
    debian = debian_release()
    return {debian.name: debian, current.name: current}


def resolve(spec: str, releases: Mapping[str, Release]) -> Release:
    """`1.37`, `v1.37`, `1.37.2` or `v1.37.2` -> that release; anything else is an error naming them."""
    wanted = spec.strip().removeprefix("v")
    for release in releases.values():
        if wanted in (release.name, release.version.removeprefix("v")):
            return release
    choices = ", ".join(f"{r.name} ({r.version})" for r in releases.values())
    raise ReleaseError(f"no Kubernetes {spec!r} here; choose one of: {choices}")


def default(releases: Mapping[str, Release]) -> Release:
    return next(r for r in releases.values() if r.recipe == DEFAULT_RECIPE)


def select(spec: str | None = None, env: Mapping[str, str] | None = None) -> Release:
    """The release for `spec`, else for $GITWARD_TEST_KUBERNETES, else the default."""
    env = os.environ if env is None else env
    wanted = spec or env.get(ENV)
    table = known()
    return resolve(wanted, table) if wanted else default(table)
