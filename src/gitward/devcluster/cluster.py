"""`gitward dev up | down | env`: a real Kubernetes control plane on loopback, in a state dir.

Called by the CLI (`gitward.cli.dev`) and the test bed. `up` generates certificates and tokens,
starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the node simulator on free
ports, waits until the API server is ready and the simulated nodes are registered, and writes
`admin.kubeconfig` (system:masters) and `user.kubeconfig` (an unprivileged user). `down` stops every
process recorded in the state dir's pid files.

The Kubernetes release is `releases.select(kubernetes)`: the `--kubernetes` value, else
$GITWARD_TEST_KUBERNETES (so that clusters started under a test session match it), else the default.
The flags differ by release (1.20 still has the insecure ports the newer ones removed).
`install_gateway_api` applies Gateway API's standard CRDs (`gitward dev up --with-gateway-api`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx2
import yaml

from gitward.devcluster import assets, gobuild, pki, processes, releases
from gitward.kube import errors
from gitward.kube.client import KubeClient

STOP_ORDER = ["nodesim", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]


class ClusterError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClusterInfo:
    state_dir: str
    server: str
    kubeconfig: str
    user_kubeconfig: str
    admin_token: str
    user_token: str
    user_name: str
    kubernetes: str = ""  # the version it runs, "v1.37.2"

    @property
    def export_line(self) -> str:
        return f"export KUBECONFIG={self.kubeconfig}"


def default_state_dir() -> Path:
    return assets.cache_root() / "dev"


def _info_path(state: Path) -> Path:
    return state / "cluster.json"


def read_info(state: Path) -> ClusterInfo | None:
    try:
        return ClusterInfo(**json.loads(_info_path(state).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def is_running(state: Path) -> bool:
    info = read_info(state)
    if info is None:
        return False
    names = {e.name for e in processes.recorded(state) if processes.alive(e)}
    return set(STOP_ORDER) <= names and _ready(info, pki.Pki(state / "pki"))


def up(
    state: Path,
    *,
    nodes: int = 3,
    log: bool = True,
    kubernetes: releases.Release | str | None = None,
    gateway_api: bool = False,
) -> ClusterInfo:
    """Start the control plane in `state` (or return the running one); ready when it returns.
    `kubernetes` None means `releases.select()`; a running control plane of another release is
    returned as it is then, and refused when a release was asked for. With `gateway_api`, Gateway
    API's standard CRDs are installed (also into a running one)."""
    state = state.resolve()
    try:
        release = assets.release_of(kubernetes)
    except assets.AssetError as exc:
        raise ClusterError(str(exc)) from exc
    if is_running(state):
        info = read_info(state)
        assert info is not None
        if info.kubernetes and info.kubernetes != release.version:
            if kubernetes is not None:
                raise ClusterError(
                    f"Kubernetes {info.kubernetes} is running in {state}; stop it first (gitward dev down) "
                    f"to start {release.version} there"
                )
            with contextlib.suppress(assets.AssetError):
                release = assets.release_of(info.kubernetes)
        if gateway_api:
            check_gateway_api(release)
            install_gateway_api(info)
        return info
    if gateway_api:
        check_gateway_api(release)
    down(state)
    binaries = assets.ensure(kubernetes=release)
    for sub in ("etcd", "pki", "logs", "pids"):
        shutil.rmtree(state / sub, ignore_errors=True)
    state.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        info = _start(state, binaries, nodes, release)
        if gateway_api:
            install_gateway_api(info)
    except BaseException:
        down(state)
        raise
    if log:
        print(
            f"Kubernetes {release.version} control plane ready in {time.monotonic() - started:.1f}s at {info.server}",
            file=sys.stderr,
        )
    return info


def _start(state: Path, binaries: assets.Binaries, nodes: int, release: releases.Release) -> ClusterInfo:
    keys, tokens = pki.generate(state / "pki")
    etcd_port, peer_port, api_port = (processes.free_port() for _ in range(3))
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    processes.spawn(state, "etcd", _etcd_argv(binaries.etcd, state, etcd_url, peer_port))
    server = f"https://127.0.0.1:{api_port}"
    info = ClusterInfo(
        state_dir=str(state),
        server=server,
        kubeconfig=str(state / "admin.kubeconfig"),
        user_kubeconfig=str(state / "user.kubeconfig"),
        admin_token=tokens.admin,
        user_token=tokens.user,
        user_name=pki.USER_NAME,
        kubernetes=release.version,
    )
    _write_kubeconfig(Path(info.kubeconfig), server, keys.ca_crt, "admin", tokens.admin)
    _write_kubeconfig(Path(info.user_kubeconfig), server, keys.ca_crt, pki.USER_NAME, tokens.user)
    _wait_etcd(etcd_url)
    processes.spawn(
        state, "kube-apiserver", _apiserver_argv(binaries.kube_apiserver, keys, etcd_url, api_port, release)
    )
    _wait(lambda: _ready(info, keys), 60, "kube-apiserver did not become ready", state, "kube-apiserver")
    processes.spawn(state, "kube-controller-manager", _kcm_argv(binaries.kube_controller_manager, info, keys, release))
    processes.spawn(state, "kube-scheduler", _scheduler_argv(binaries.kube_scheduler, info, release))
    nodesim_argv = [sys.executable, "-m", "gitward.devcluster.nodesim", "--kubeconfig", info.kubeconfig]
    nodesim_argv += ["--nodes", str(nodes), "--kubelet-version", release.version]
    processes.spawn(state, "nodesim", nodesim_argv, env=_child_env())
    _info_path(state).write_text(json.dumps(asdict(info), indent=2))
    _info_path(state).chmod(0o600)
    _wait(lambda: _nodes_ready(info, keys, nodes), 60, "simulated nodes did not register", state, "nodesim")
    _wait(lambda: _default_sa(info, keys), 60, "the default ServiceAccount was not created", state,
          "kube-controller-manager")  # fmt: skip
    return info


def check_gateway_api(release: releases.Release) -> None:
    """Refuse Gateway API on a release that cannot take its CRDs (before anything is built or started)."""
    if not release.gateway_api:
        raise ClusterError(
            f"Gateway API {releases.GATEWAY_API_VERSION} needs Kubernetes 1.30 or newer (CEL validation rules, "
            f"ValidatingAdmissionPolicy v1), not {release.version}"
        )


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def down(state: Path) -> list[str]:
    """Stop every process recorded in `state`; return the names of those stopped."""
    state = state.resolve()
    if not (state / "pids").is_dir():
        return []
    return processes.stop_all(state, STOP_ORDER)


def _etcd_argv(etcd: Path, state: Path, client_url: str, peer_port: int) -> list[str]:
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(etcd), "--name", "default", "--data-dir", str(state / "etcd"),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"default={peer}", "--log-level", "warn",
        "--quota-backend-bytes", str(4 * 1024**3),
    ]  # fmt: skip


def _insecure_ports(release: releases.Release) -> bool:
    """Kubernetes before 1.24 serves an insecure port unless told `--port=0` / `--insecure-port=0`;
    1.24 removed both flags (and the ports)."""
    return release.minor < 24


def _apiserver_argv(binary: Path, keys: pki.Pki, etcd_url: str, port: int, release: releases.Release) -> list[str]:
    return [
        str(binary), f"--etcd-servers={etcd_url}", f"--secure-port={port}",
        # 1.20: no insecure port; current releases refuse a loopback advertise address for the
        # `kubernetes` Service's endpoints, which nothing here needs (no pod really runs)
        *(["--insecure-port=0"] if _insecure_ports(release) else ["--endpoint-reconciler-type=none"]),
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--cert-dir={keys.dir}",
        f"--tls-cert-file={keys.serving_crt}", f"--tls-private-key-file={keys.serving_key}",
        f"--client-ca-file={keys.ca_crt}", f"--token-auth-file={keys.tokens_csv}",
        "--authorization-mode=RBAC", "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={keys.sa_pub}", f"--service-account-signing-key-file={keys.sa_key}",
        "--api-audiences=https://kubernetes.default.svc",
        "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true", "--v=1",
        "--max-requests-inflight=800", "--max-mutating-requests-inflight=400",
    ]  # fmt: skip


def _kcm_argv(binary: Path, info: ClusterInfo, keys: pki.Pki, release: releases.Release) -> list[str]:
    return [
        str(binary), f"--kubeconfig={info.kubeconfig}", f"--service-account-private-key-file={keys.sa_key}",
        f"--root-ca-file={keys.ca_crt}", "--leader-elect=false", "--use-service-account-credentials=false",
        "--controllers=*,-nodeipam,-nodelifecycle", *(["--port=0"] if _insecure_ports(release) else []),
        "--secure-port=0", "--v=1", "--kube-api-qps=200", "--kube-api-burst=400",
    ]  # fmt: skip


def _scheduler_argv(binary: Path, info: ClusterInfo, release: releases.Release) -> list[str]:
    return [
        str(binary), f"--kubeconfig={info.kubeconfig}", "--leader-elect=false",
        *(["--port=0"] if _insecure_ports(release) else []),
        "--secure-port=0", "--v=1", "--kube-api-qps=200", "--kube-api-burst=400",
    ]  # fmt: skip


def install_gateway_api(info: ClusterInfo) -> list[str]:
    """Apply Gateway API's standard channel (its CRDs, then the ValidatingAdmissionPolicy and binding
    that guard them) from the `sigs.k8s.io/gateway-api` module; return what was applied as Kind/name."""
    try:
        files = gobuild.gateway_api_crds()
    except gobuild.GoBuildError as exc:
        raise ClusterError(str(exc)) from exc
    objs = [doc for f in files for doc in yaml.safe_load_all(f.read_text()) if isinstance(doc, dict)]
    try:
        return asyncio.run(_apply_all(info.kubeconfig, objs))
    except errors.KubeError as exc:
        raise ClusterError(f"installing Gateway API {releases.GATEWAY_API_VERSION}: {exc}") from exc


async def _apply_all(kubeconfig: str, objs: list[dict[str, object]]) -> list[str]:
    crds = [o for o in objs if o.get("kind") == "CustomResourceDefinition"]
    rest = [o for o in objs if o.get("kind") != "CustomResourceDefinition"]
    client = KubeClient.connect(kubeconfig)
    applied = []
    try:
        for obj in [*crds, *rest]:
            await client.apply(obj, field_manager="gitward-dev")
            applied.append(f"{obj['kind']}/{_name(obj)}")
        for obj in crds:
            await _wait_established(client, _name(obj))
    finally:
        await client.close()
    return applied


def _name(obj: dict[str, object]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("name")) if isinstance(meta, dict) else ""


async def _wait_established(client: KubeClient, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = await client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        await asyncio.sleep(0.1)
    raise ClusterError(f"CustomResourceDefinition/{name} not Established within {timeout:.0f}s")


def _write_kubeconfig(path: Path, server: str, ca: Path, user: str, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gitward-dev", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "gitward-dev", "context": {"cluster": "gitward-dev", "user": user}}],
        "current-context": "gitward-dev",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def _get(info: ClusterInfo, keys: pki.Pki, path: str) -> tuple[int, bytes]:
    """GET `path` from our own API server as admin: (status, body), (0, b"") when it does not answer."""
    ctx = ssl.create_default_context(cafile=str(keys.ca_crt))
    headers = {"Authorization": f"Bearer {info.admin_token}"}
    try:
        resp = httpx2.get(info.server + path, headers=headers, verify=ctx, timeout=5, trust_env=False)
    except httpx2.HTTPError:
        return 0, b""
    return resp.status_code, resp.content if resp.status_code == 200 else b""


def _ready(info: ClusterInfo, keys: pki.Pki) -> bool:
    return _get(info, keys, "/readyz")[0] == 200


def _nodes_ready(info: ClusterInfo, keys: pki.Pki, count: int) -> bool:
    code, body = _get(info, keys, "/api/v1/nodes")
    return code == 200 and len(json.loads(body).get("items") or []) >= count


def _default_sa(info: ClusterInfo, keys: pki.Pki) -> bool:
    return _get(info, keys, "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200


def _wait_etcd(url: str) -> None:
    with httpx2.Client(timeout=2, trust_env=False) as http:  # loopback etcd: no proxy

        def healthy() -> bool:
            try:
                return b"true" in http.get(url + "/health").content
            except httpx2.HTTPError:
                return False

        _wait(healthy, 30, "etcd did not become healthy", None, "etcd")


def _wait(check: Callable[[], bool], timeout: float, message: str, state: Path | None, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if state is not None:
        log = state / "logs" / f"{name}.log"
        if log.is_file():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise ClusterError(f"{message} within {timeout:.0f}s" + (f"; last lines of {name}.log:\n{tail}" if tail else ""))
