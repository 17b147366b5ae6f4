"""SPEC §3 as a script meets the `gitward` command line, for what the other CLI tests leave out:
`gitward run` refuses bad flags and a port it cannot bind with a non-zero exit and one clear line
(no traceback, nothing led or written), and `gitward rollout` / `gitward appset` print
`-o json|yaml` a script can parse, with errors on stderr and exit codes that tell failure apart."""

from __future__ import annotations

import json
import socket

import pytest
import yaml
from tests.conftest import ClusterUnderTest
from tests.integration.test_appsets_generators import appset, template
from tests.support import rollouts as r
from tests.support.cli import gitward

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
