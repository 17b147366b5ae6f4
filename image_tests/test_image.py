"""The image `make image` builds, run as deploy/controller.yaml runs it: as 65532:65532, with a
read-only root filesystem and /tmp the only writable place (SPEC §9, docs/image.md).

`gitward run` in the image syncs a kustomize Application (the pinned kubectl of the image's venv)
and a Helm Application (helm-python-sdk's library) from a smart-HTTP Git server (git in the image),
against the dev cluster, then exits 0 on SIGTERM and releases its Lease.
"""

from __future__ import annotations

import base64
import json
import shlex
import signal
import stat
import textwrap
from pathlib import Path
from typing import Any

import httpx2
import yaml
from tests.conftest import ClusterUnderTest
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.leadership import LEASE_API
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient
from image_tests.conftest import REPO, VERSION
from image_tests.container import Container, Image

UID = GID = 65532
TMP = "/tmp"  # noqa: S108 (the image's /tmp: the Deployment's emptyDir)


def _writable_by_the_user(st: Any) -> bool:
    mode = st.st_mode
    return bool(
        (st.st_uid == UID and mode & stat.S_IWUSR) or (st.st_gid == GID and mode & stat.S_IWGRP) or mode & stat.S_IWOTH
    )


def test_the_image_runs_gitward_as_65532_in_tmp(image: Image) -> None:
    config = image.config
    assert config["User"] == f"{UID}:{GID}"
    assert config["Entrypoint"] == ["gitward"]
    assert not config.get("Cmd")  # the Deployment's args are gitward's arguments
    assert config["WorkingDir"] == TMP
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"] == TMP
    assert env["XDG_CACHE_HOME"].startswith(TMP + "/")
    assert env["PATH"].split(":")[0] == "/opt/gitward/bin"
    assert config["Labels"]["org.opencontainers.image.version"] == VERSION
    # the runtime bundle umoci derives from the config says the same
    assert (image.process["user"]["uid"], image.process["user"]["gid"]) == (UID, GID)
    assert image.process["args"] == ["gitward"]
    assert image.process["cwd"] == TMP
    # and the user exists, with its home in /tmp and no shell
    passwd = {line.split(":")[0]: line.split(":") for line in (image.rootfs / "etc/passwd").read_text().splitlines()}
    assert passwd["gitward"][2:4] == [str(UID), str(GID)]
    assert passwd["gitward"][5:] == [TMP, "/usr/sbin/nologin"]


def test_nothing_outside_tmp_is_writable_by_the_user_and_nothing_is_setuid(image: Image) -> None:
    outside_tmp = {path: st for path, st in image.files.items() if path != TMP and not path.startswith(TMP + "/")}
    writable = [p for p, st in outside_tmp.items() if not stat.S_ISLNK(st.st_mode) and _writable_by_the_user(st)]
    assert writable == []
    setid = [
        p for p, st in image.files.items() if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    ]
    assert setid == []
    assert len(outside_tmp) > 10_000  # the walk saw the whole root filesystem
    assert stat.S_IMODE(image.files[TMP].st_mode) == 0o1777
    assert (image.rootfs / "var/tmp").readlink() == Path(TMP)


def test_the_entrypoint_answers_and_the_installed_gitward_is_this_version(image: Image, tmp_path: Path) -> None:
    code, output = Container(image, image.entrypoint("--help"), tmp_path / "help").run()
    assert code == 0, output
    for command in ("install", "run", "render", "app"):
        assert f" {command} " in output
    code, output = Container(image, image.entrypoint("--version"), tmp_path / "flag").run()
    assert (code, output.strip()) == (0, f"gitward {VERSION}")
    script = "import importlib.metadata as m; print(m.version('gitward'))"
    code, output = Container(image, ["/opt/gitward/bin/python", "-c", script], tmp_path / "version").run()
    assert (code, output.strip()) == (0, VERSION)


def dockerfile_final_stage() -> list[tuple[str, str]]:
    """The Dockerfile's last stage as (INSTRUCTION, arguments), continuation lines joined."""
    text = (REPO / "Dockerfile").read_text()
    lines = [line for line in text.replace("\\\n", " ").splitlines() if line.strip() and not line.startswith("#")]
    instructions = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in lines]
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_the_dockerfile_describes_the_same_image(image: Image) -> None:
    """The Dockerfile cannot be built here (no container engine): it is held to the image that
    `make image` built, so the two stay in step."""
    stage = dockerfile_final_stage()
    args = {name: value for name, value in stage if name != "RUN"}
    env = dict(pair.split("=", 1) for pair in shlex.split(args["ENV"]))
    assert env == dict(item.split("=", 1) for item in image.config["Env"])
    assert args["USER"] == image.config["User"]
    assert json.loads(args["ENTRYPOINT"]) == image.config["Entrypoint"]
    assert "CMD" not in args
    assert args["WORKDIR"] == image.config["WorkingDir"]
    assert {f"{port}/tcp" for port in args["EXPOSE"].split()} == set(image.config["ExposedPorts"])
    labels = dict(pair.split("=", 1) for pair in shlex.split(args["LABEL"]))
    assert labels.items() <= image.config["Labels"].items()
    # the same Debian packages: the Dockerfile's apt-get install, scripts/build-image's list, the image's
    run = " ".join(value for name, value in stage if name == "RUN")
    words = run.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    packages = {word for word in words if not word.startswith("-")}
    recipe = (REPO / "scripts" / "build-image").read_text()
    listed = next(line for line in recipe.splitlines() if line.startswith("PACKAGES="))
    assert packages == set(listed.removeprefix("PACKAGES=").split(","))
    status = (image.rootfs / "var/lib/dpkg/status").read_text()
    installed = {
        block.split("\n", 1)[0].removeprefix("Package: ")
        for block in status.split("\n\n")
        if "Status: install ok installed" in block
    }
    assert packages <= installed
    assert (image.rootfs / "etc/debian_version").read_text().startswith("12.")
    base = (REPO / "Dockerfile").read_text().split("ARG BASE=", 1)[1].split()[0]
    assert base.startswith("debian:bookworm-")  # the same release …
    assert "@sha256:" in base  # … pinned


KUSTOMIZATION = {
    "apps/web/kustomization.yaml": """\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namePrefix: web-
        resources: [settings.yaml]
        """,
    "apps/web/settings.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {colour: blue}
        """,
}
CHART = {
    "charts/hello/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
    "charts/hello/values.yaml": "greeting: hello\n",
    "charts/hello/templates/greeting.yaml": """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-greeting
        data:
          greeting: {{ .Values.greeting | quote }}
          kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
        """,
}


def self_contained_kubeconfig(path: str) -> str:
    """The kubeconfig with the files it names (CA, client certificate and key) inlined, so that it
    works from inside the container, where those paths do not exist."""
    config = yaml.safe_load(Path(path).read_text())
    for section, fields in (("clusters", ["certificate-authority"]), ("users", ["client-certificate", "client-key"])):
        for entry in config.get(section) or []:
            body = entry.get(section[:-1]) or {}
            for name in fields:
                if name in body:
                    body[f"{name}-data"] = base64.b64encode(Path(body.pop(name)).read_bytes()).decode()
    return yaml.safe_dump(config)


def http_json(url: str) -> Any:
    return httpx2.get(url, timeout=10, trust_env=False).raise_for_status().json()


async def test_gitward_run_in_the_image_syncs_applications_and_exits_0_on_sigterm(
    image: Image,
    kube: KubeClient,
    namespace: str,
    crds: None,
    test_cluster: ClusterUnderTest,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    repo = make_repo()
    sha = repo.commit({name: textwrap.dedent(text) for name, text in {**KUSTOMIZATION, **CHART}.items()})
    url = git_http_server.publish(repo, "config.git")
    port, probes = free_port(), free_port()
    argv = image.entrypoint(
        "run", "--kubeconfig", f"{TMP}/kubeconfig", "--namespace", namespace,
        "--listen", f"127.0.0.1:{port}", "--probe-listen", f"127.0.0.1:{probes}",
    )  # fmt: skip
    container = Container(
        image, argv, tmp_path, seed={"kubeconfig": self_contained_kubeconfig(test_cluster.kubeconfig)}
    )
    container.start()
    try:

        def serving() -> bool:
            if not container.running():
                raise AssertionError(f"gitward exited early:\n{container.output()[-3000:]}")
            try:
                return bool(http_json(f"http://127.0.0.1:{probes}/readyz")["leader"])
            except httpx2.HTTPError:  # not answering yet, or 503 while not ready
                return False

        await apps.wait_for(serving, timeout=120, interval=0.2, message="the controller to lead")
        await kube.create(apps.application("web", namespace, url, "apps/web"))
        await kube.create(apps.application("hello", namespace, url, "charts/hello"))
        for name in ("web", "hello"):
            status = await apps.wait_status(
                kube, namespace, name, lambda s: apps.synced_at(sha)(s) and apps.healthy(s), timeout=120
            )
            assert status["operationState"]["phase"] == "Succeeded", container.output()[-3000:]

        settings = await kube.get("v1", "ConfigMap", "web-settings", namespace)
        assert settings["data"] == {"colour": "blue"}
        greeting = await kube.get("v1", "ConfigMap", "hello-greeting", namespace)
        assert greeting["data"]["greeting"] == "hello"
        assert greeting["data"]["kubeVersion"].startswith("v1.")
        for managed in (settings, greeting):
            assert managed["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gitward"
        # the API in the image is this version and lists both
        assert http_json(f"http://127.0.0.1:{port}/api/v1/openapi.json")["info"]["version"] == VERSION
        listed = http_json(f"http://127.0.0.1:{port}/api/v1/applications")
        assert {"web", "hello"} <= {item["name"] for item in listed["items"]}

        container.signal(signal.SIGTERM)
        code = container.wait(90)  # bounded only against a hang
    finally:
        container.kill()
    output = container.output()
    assert code == 0, output[-3000:]
    assert "shutting down" in output
    assert "Read-only file system" not in output
    lease = await kube.get(LEASE_API, "Lease", "gitward-controller", namespace)
    assert not lease["spec"].get("holderIdentity")
