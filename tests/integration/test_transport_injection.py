"""Security issue 10 on the real API server: an impersonated identity carrying CR/LF (the
`Impersonate-Group: system:masters` escalation) and hostile object names never reach the server —
neither on the direct path (static token) nor through httpx2 — and nothing is created or deleted.

The hook of each client records every request that was sent; a refused request records none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.conftest import ClusterUnderTest

from gitward.kube import config as kubeconfig
from gitward.kube import errors
from gitward.kube.client import Identity, KubeClient

Recorded = tuple[KubeClient, list[tuple[str, int]]]
ESCALATION = "limited\r\nImpersonate-Group: system:masters"


@pytest.fixture(params=["direct", "httpx2"])
async def recorded(request: pytest.FixtureRequest, test_cluster: ClusterUnderTest) -> AsyncIterator[Recorded]:
    """An admin client whose hook records (verb, status) of every request sent; on the direct path
    (the test bed's kubeconfig has a static token) or forced through httpx2."""
    seen: list[tuple[str, int]] = []

    def hook(verb: str, code: int) -> None:
        seen.append((verb, code))

    if request.param == "direct":
        client = KubeClient.connect(test_cluster.kubeconfig, hook=hook)
    else:
        single = kubeconfig.load(test_cluster.kubeconfig)
        client = KubeClient(
            kubeconfig.http_client(single), default_namespace=kubeconfig.default_namespace(single), hook=hook
        )
    yield client, seen
    await client.close()


def configmap(name: str, namespace: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": {}}


async def test_a_crlf_identity_is_refused_and_nothing_is_sent(
    kube: KubeClient, namespace: str, recorded: Recorded
) -> None:
    client, seen = recorded
    await kube.create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "limited", "namespace": namespace}}
    )

    # the ServiceAccount itself may not create ConfigMaps: the request reaches the server and is forbidden
    limited = client.impersonating(Identity.service_account(namespace, "limited"))
    with pytest.raises(errors.APIForbiddenError):
        await limited.create(configmap("plain", namespace))
    assert seen[-1] == ("POST", 403)

    # its name with CR/LF would add `Impersonate-Group: system:masters` (cluster-admin) to the request
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated")
    for identity in (
        Identity(f"system:serviceaccount:{namespace}:{ESCALATION}", groups),
        Identity(f"system:serviceaccount:{namespace}:limited", ("system:authenticated\r\nImpersonate-User: admin",)),
        Identity(f"system:serviceaccount:{namespace}:limited\n", groups),
    ):
        before = len(seen)
        with pytest.raises(errors.UnsafeRequestError):
            await client.impersonating(identity).create(configmap("escalated", namespace))
        with pytest.raises(errors.UnsafeRequestError):
            await client.impersonating(identity).delete("v1", "ConfigMap", "plain", namespace)
        assert seen[before:] == []  # not a single request went out
    assert await kube.get_or_none("v1", "ConfigMap", "escalated", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "plain", namespace) is None
    # and the identity of such a ServiceAccount cannot even be made
    with pytest.raises(ValueError, match="ServiceAccount name"):
        Identity.service_account(namespace, ESCALATION)


async def test_hostile_names_never_reach_another_object(kube: KubeClient, namespace: str, recorded: Recorded) -> None:
    client, seen = recorded
    await kube.create(configmap("victim", namespace))
    before, _ = await kube.list("v1", "ConfigMap", namespace)

    # percent-encoded: the server looks up an object of exactly that (impossible) name
    for name in ("victim?dryRun=All", "victim#x", "victim x", "victim\r\nX: 1", "vïctim"):
        assert await client.get_or_none("v1", "ConfigMap", name, namespace) is None, name
        assert await client.delete("v1", "ConfigMap", name, namespace) is False, name
    assert seen and all(code == 404 for verb, code in seen if verb in ("DELETE",))

    # not one segment: refused before sending ("victim/.." was a DELETE of the whole collection)
    for name in ("victim/..", "..", ".", "", "x/../victim", "victim%2F..", "%2e%2e"):
        sent = len(seen)
        with pytest.raises(errors.UnsafeRequestError):
            await client.delete("v1", "ConfigMap", name, namespace)
        with pytest.raises(errors.UnsafeRequestError):
            await client.get("v1", "ConfigMap", name, namespace)
        with pytest.raises(errors.UnsafeRequestError):
            await client.patch("v1", "ConfigMap", "victim", namespace, {"data": {"a": "b"}}, subresource=name or "..")
        with pytest.raises(errors.UnsafeRequestError):
            await client.get("v1", "ConfigMap", "victim", f"{namespace}/configmaps/{name}")
        assert seen[sent:] == [], name
    with pytest.raises(errors.UnsafeRequestError):
        await client.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": namespace}})
    with pytest.raises(errors.UnsafeRequestError):
        async for _ in client.watch("v1", "ConfigMap", "..", timeout_seconds=1):
            pass

    after, _ = await kube.list("v1", "ConfigMap", namespace)
    assert sorted(o["metadata"]["name"] for o in after) == sorted(o["metadata"]["name"] for o in before)
    assert (await kube.get("v1", "ConfigMap", "victim", namespace)).get("data") in (None, {})


async def test_an_api_version_that_names_no_api_sends_nothing(recorded: Recorded, namespace: str) -> None:
    client, seen = recorded
    for api_version in ("x/../v1", "../../api/v1", "apps/v1/..", "v1?watch=1", "a/b/v1"):
        with pytest.raises(errors.APINotFoundError, match="not a valid apiVersion"):
            await client.get(api_version, "ConfigMap", "victim", namespace)
    assert seen == []
