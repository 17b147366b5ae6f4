"""SPEC §3 as a script meets the `gitward` command line, for what the other CLI tests leave out:
`gitward run` refuses bad flags and a port it cannot bind with a non-zero exit and one clear line
(no traceback, nothing led or written), and `gitward rollout` / `gitward appset` print
`-o json|yaml` a script can parse, with errors on stderr and exit codes that tell failure apart."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from tests.conftest import ClusterUnderTest, _drop_finalizers
from tests.integration.test_appsets_generators import appset, template
from tests.support import apps
from tests.support import rollouts as r
from tests.support.cli import gitward
from tests.support.fixtures import MakeRepo
from tests.support.process import GitwardProcess

from gitward.core.applications import API_VERSION
from gitward.devcluster.processes import free_port
from gitward.kube.client import KubeClient

CANARY = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--log-level", "bogus"], "--log-level"),
        (["--log-format", "xml"], "--log-format"),
        (["--listen", "127.0.0.1:99999"], "--listen"),
        (["--listen", "127.0.0.1:0"], "--listen"),
        (["--listen", "8080"], "--listen"),
        (["--probe-listen", "0.0.0.0:65536"], "--probe-listen"),
        (["--shard", "2/2"], "--shard"),
        (["--shard", "one/two"], "--shard"),
        (["--default-service-account", "Not A Name"], "--default-service-account"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
async def test_run_refuses_bad_flags(args: list[str], flag: str) -> None:
    ran = await gitward("run", "--kubeconfig", "/nonexistent/kubeconfig", *args)  # no traceback: checked there
    assert ran.code == 2, ran
    assert ran.stdout == ""
    assert flag in ran.stderr, ran


async def test_run_exits_1_when_it_cannot_listen(test_cluster: ClusterUnderTest, namespace: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        for flag in ("--listen", "--probe-listen"):
            ran = await gitward(
                "run", "--kubeconfig", test_cluster.kubeconfig, "-n", namespace, flag, f"127.0.0.1:{port}"
            )
            assert ran.code == 1, ran
            assert f"cannot listen on 127.0.0.1:{port}" in ran.stderr, ran


async def test_rollout_and_appset_lists_parse_as_json_and_yaml(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest
) -> None:
    await kube.create(r.rollout("web", namespace, CANARY))
    await kube.create(r.rollout("api", namespace, CANARY))
    url = "https://git.example.com/org/config.git"
    await kube.create(appset("fleet", namespace, [{"list": {"elements": [{"env": "dev"}]}}], template(
        namespace, url, "fleet-{{env}}", "envs/{{env}}"
    )))  # fmt: skip
    where = ("--kubeconfig", test_cluster.kubeconfig, "-n", namespace)

    async def out(*args: str) -> str:
        ran = await gitward(*args, *where)
        assert ran.code == 0, ran
        return ran.stdout

    for parse, fmt in ((json.loads, "json"), (yaml.safe_load, "yaml")):
        listed = parse(await out("rollout", "list", "-o", fmt))
        assert [(o["kind"], o["metadata"]["name"]) for o in listed] == [("Rollout", "api"), ("Rollout", "web")]
        one = parse(await out("rollout", "get", "web", "-o", fmt))
        assert one["metadata"]["name"] == "web" and one["spec"]["strategy"] == CANARY
        assert "managedFields" not in one["metadata"]
        sets = parse(await out("appset", "list", "-o", fmt))
        assert [(o["kind"], o["metadata"]["name"]) for o in sets] == [("ApplicationSet", "fleet")]
        assert parse(await out("appset", "get", "fleet", "-o", fmt))["spec"]["generators"][0]["list"]
    table = await out("rollout", "list")
    assert [line.split()[0] for line in table.splitlines()] == ["NAME", "api", "web"]

    for args in (("rollout", "get", "nope", "-o", "json"), ("rollout", "abort", "nope"), ("appset", "get", "nope")):
        ran = await gitward(*args, *where)
        assert ran.code == 1 and ran.stdout == "" and ran.stderr.startswith("error: "), ran
    for args in (("rollout", "list", "-o", "xml"), ("appset", "list", "-o", "wide"), ("rollout", "promote")):
        ran = await gitward(*args, *where)
        assert ran.code == 2 and ran.stdout == "", ran


@pytest.fixture
async def other_namespace(kube: KubeClient, namespace: str) -> AsyncIterator[str]:
    name = f"{namespace}-other"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    await _drop_finalizers(kube, name)
    await kube.delete("v1", "Namespace", name)


async def test_run_with_a_context_watches_every_namespace(
    kube: KubeClient, namespace: str, other_namespace: str, crds: None, test_cluster: ClusterUnderTest,
    tmp_path: Path, processes: list[GitwardProcess], make_repo: MakeRepo,
) -> None:  # fmt: skip
    """`--context C` picks that context of the kubeconfig (its current one points nowhere), and
    `--all-namespaces` runs Applications outside `--namespace`, which keeps only the Lease."""
    config = yaml.safe_load(Path(test_cluster.kubeconfig).read_text())
    good = config["current-context"]
    user = next(c["context"]["user"] for c in config["contexts"] if c["name"] == good)
    server = next(c for c in config["clusters"])["cluster"]
    config["clusters"].append({"name": "nowhere", "cluster": {**server, "server": "https://127.0.0.1:1"}})
    config["contexts"].append({"name": "elsewhere", "context": {"cluster": "nowhere", "user": user}})
    config["current-context"] = "elsewhere"
    kubeconfig = tmp_path / "two-contexts.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    unreachable = await gitward(
        "run", "--kubeconfig", str(kubeconfig), "-n", namespace, "--listen", f"127.0.0.1:{free_port()}"
    )
    assert unreachable.code == 1 and "cannot start" in unreachable.stderr, unreachable
    repo = make_repo()
    sha = repo.commit({"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: '1'}\n"})
    await kube.create(apps.application("web", other_namespace, f"file://{repo.path}"))
    proc = GitwardProcess(str(kubeconfig), namespace, tmp_path, "--context", good, "--all-namespaces")
    processes.append(proc.start())
    proc.wait_http()
    await apps.wait_status(kube, other_namespace, "web", apps.all_of(apps.synced_at(sha), apps.healthy))
    assert await kube.get_or_none("v1", "ConfigMap", "settings", other_namespace) is not None
    code, body = proc.get("/api/v1/applications")
    assert code == 200 and (other_namespace, "web") in {(a["namespace"], a["name"]) for a in json.loads(body)["items"]}
    assert await kube.get_or_none("coordination.k8s.io/v1", "Lease", "gitward-controller", namespace) is not None
    assert proc.stop() == 0


def test_render_a_chart_with_helm_values_files(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello\nreplicas: 1\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n  replicas: {{ .Values.replicas | quote }}\n"
    )
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("greeting: bonjour\nreplicas: 2\n")
    second.write_text("replicas: 3\n")

    def render(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "gitward", "render", str(chart), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    plain = render()
    assert plain.returncode == 0, plain.stderr
    (default,) = [doc for doc in yaml.safe_load_all(plain.stdout) if doc]
    assert default["data"] == {"greeting": "hello", "replicas": "1"}
    ran = render("--helm-values", str(first), "--helm-values", str(second), "--release-name", "web")
    assert ran.returncode == 0, ran.stderr
    (obj,) = [doc for doc in yaml.safe_load_all(ran.stdout) if doc]
    assert obj["metadata"]["name"] == "web-settings"
    assert obj["data"] == {"greeting": "bonjour", "replicas": "3"}  # later files win
    for bad, message in ((tmp_path / "absent.yaml", "not found"), (_write(tmp_path / "list.yaml", "[1]"), "mapping")):
        refused = render("--helm-values", str(bad))
        assert refused.returncode == 1 and refused.stdout == "", refused
        assert refused.stderr.startswith("error: ") and message in refused.stderr and "Traceback" not in refused.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def _reader_kubeconfig(kube: KubeClient, namespace: str, admin_kubeconfig: str, path: Path) -> Path:
    """A kubeconfig of a ServiceAccount that may only read gitward's kinds in `namespace`."""
    rbac = "rbac.authorization.k8s.io/v1"
    meta = {"name": "reader", "namespace": namespace}
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    rules = [{"apiGroups": ["gitward.dev"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]
    await kube.create({"apiVersion": rbac, "kind": "Role", "metadata": meta, "rules": rules})
    await kube.create({
        "apiVersion": rbac, "kind": "RoleBinding", "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    })  # fmt: skip
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    token_path = f"/api/v1/namespaces/{namespace}/serviceaccounts/reader/token"
    token = (await kube.request("POST", token_path, body=request))["status"]["token"]
    config = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster = config["clusters"][0]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {"cluster": cluster["name"], "user": "reader"}}],
        "current-context": "reader",
    }))  # fmt: skip
    return path


async def test_an_rbac_refusal_is_a_failure_on_stderr(
    kube: KubeClient, namespace: str, crds: None, test_cluster: ClusterUnderTest, tmp_path: Path
) -> None:
    """Kubernetes RBAC governs the operations (SPEC §2): a user who may only read gets exit 1 and
    the API server's refusal in one line on stderr for every write, and nothing is written."""
    await kube.create(apps.application("web", namespace, "https://git.example.com/none.git", syncPolicy={}))
    await kube.create(r.rollout("canary", namespace, CANARY))
    reader = await _reader_kubeconfig(kube, namespace, test_cluster.kubeconfig, tmp_path / "reader.kubeconfig")
    where = ("--kubeconfig", str(reader), "-n", namespace)
    shown = await gitward("app", "get", "web", "-o", "json", *where)
    assert shown.code == 0 and json.loads(shown.stdout)["metadata"]["name"] == "web", shown
    for args in (
        ("app", "sync", "web"),
        ("app", "sync", "web", "--wait", "--timeout", "5s"),
        ("app", "refresh", "web"),
        ("app", "suspend", "web"),
        ("app", "delete", "web"),
        ("rollout", "promote", "canary"),
        ("rollout", "abort", "canary"),
    ):
        ran = await gitward(*args, *where)
        assert ran.code == 1 and ran.stdout == "", ran
        assert ran.stderr.startswith("error: ") and "forbidden" in ran.stderr, ran
        assert len(ran.stderr.strip().splitlines()) == 1, ran
    app = await apps.get_app(kube, namespace, "web")
    assert not {"gitward.dev/sync", "gitward.dev/refresh"} & set(app["metadata"].get("annotations") or {})
    assert not app["spec"].get("suspend")
    rollout = await kube.get(API_VERSION, "Rollout", "canary", namespace)
    assert not set(rollout["metadata"].get("annotations") or {}) & {"gitward.dev/promote", "gitward.dev/abort"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("apiVersion: v1\nusers:\n- name: u\n  user: {token: s3cr3t-t0ken-9f2, x: [}\n", "not valid YAML"),
        ("apiVersion: v1\nusers:\n- name: u\n  user:\n    token: s3cr3t-t0ken-9f2\n", "not a valid kubeconfig"),
    ],
)
async def test_a_broken_kubeconfig_is_one_line_without_its_text(tmp_path: Path, text: str, says: str) -> None:
    """A kubeconfig that does not parse is reported in one line on stderr (exit 1) that never quotes
    the file: the YAML parser's snippet of the bad line could be a token."""
    kubeconfig = tmp_path / "broken.kubeconfig"
    kubeconfig.write_text(text)
    for args in (("app", "list"), ("rollout", "list"), ("install", "--crds-only"), ("run",)):
        ran = await gitward(*args, "--kubeconfig", str(kubeconfig))
        assert ran.code == 1 and ran.stdout == "", ran
        assert "cannot load Kubernetes configuration" in ran.stderr and says in ran.stderr, ran
        assert "s3cr3t-t0ken-9f2" not in ran.stderr, ran
        assert len([line for line in ran.stderr.splitlines() if "error" in line]) == 1, ran
