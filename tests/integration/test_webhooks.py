"""Git push webhooks against a real controller, Git server and control plane: a signed push
refreshes exactly the Applications on the pushed repository and branch (deployed in seconds, the
others untouched), in-process on the leader and through the refresh annotation elsewhere; every
provider's signature or token is checked; bad signatures, oversized bodies and malformed payloads
get 4xx and the server keeps serving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from tests.support import apps, http_api
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer, Repo

from gitward.controller.manager import Controller
from gitward.kube.client import KubeClient

HOOK = "/api/v1/webhooks/git"


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '{value}'\n"


async def value(kube: KubeClient, namespace: str, name: str) -> str:
    return str((await kube.get("v1", "ConfigMap", name, namespace))["data"]["value"])


async def deliver(http: httpx2.AsyncClient, payload: Any, sign: Any = http_api.github, **kw: Any) -> httpx2.Response:
    body = http_api.encode(payload)
    return await http.post(HOOK, headers=sign(body, **kw), content=body)


def names(resp: httpx2.Response) -> list[str]:
    return [r["name"] for r in resp.json()["refreshed"]]


async def test_a_push_refreshes_exactly_the_matching_applications(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    repo_a, repo_b = make_repo("a"), make_repo("b")
    repo_a.commit({f"{d}/cm.yaml": configmap(d, "1") for d in ("one", "two", "three")})
    repo_a.branch("dev")
    repo_b.commit({"four/cm.yaml": configmap("four", "1")})
    url_a, url_b = git_http_server.publish(repo_a, "a.git"), git_http_server.publish(repo_b, "b.git")
    targets = {"a-one": (url_a, "main", "one"), "a-two": (url_a, "main", "two"),
               "a-dev": (url_a, "dev", "three"), "b-main": (url_b, "main", "four")}  # fmt: skip
    for name, (url, branch, path) in targets.items():
        app = apps.application(name, namespace, url, path)
        app["spec"]["source"]["targetRevision"] = branch
        await kube.create(app)
    old = {name: repo.head(branch) for name, (repo, branch) in
           {"a-one": (repo_a, "main"), "a-two": (repo_a, "main"), "a-dev": (repo_a, "dev"),
            "b-main": (repo_b, "main")}.items()}  # fmt: skip
    for name, sha in old.items():
        await apps.wait_status(kube, namespace, name, apps.synced_at(sha))

    new_main = repo_a.commit({"one/cm.yaml": configmap("one", "2"), "two/cm.yaml": configmap("two", "2")})
    repo_a.switch("dev")
    repo_a.commit({"three/cm.yaml": configmap("three", "2")})
    repo_a.switch("main")
    repo_b.commit({"four/cm.yaml": configmap("four", "2")})
    git_http_server.publish(repo_a, "a.git")
    git_http_server.publish(repo_b, "b.git")

    async with http_api.serving(kube, namespace, controller) as api, api.client() as http:
        # another spelling of the same repository: scheme case, no .git suffix
        payload = http_api.github_push(url_a.replace("http://", "HTTP://").removesuffix(".git"), "main")
        resp = await deliver(http, payload)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["provider"], body["event"], body["refs"]) == ("github", "push", ["refs/heads/main"])
    assert body["refreshed"] == [{"namespace": namespace, "name": "a-one"}, {"namespace": namespace, "name": "a-two"}]
    assert body["failed"] == []

    for name in ("a-one", "a-two"):
        status = await apps.wait_status(kube, namespace, name, apps.synced_at(new_main), timeout=10)
        assert status["history"][-1]["initiatedBy"] == "webhook"
    assert await value(kube, namespace, "one") == "2" and await value(kube, namespace, "two") == "2"
    await asyncio.sleep(3)
    for name in ("a-dev", "b-main"):
        status = (await apps.get_app(kube, namespace, name))["status"]
        assert status["sync"]["revision"] == old[name], f"{name} was refreshed"
        assert len(status["history"]) == 1
    assert await value(kube, namespace, "three") == "1" and await value(kube, namespace, "four") == "1"


async def _push_new_commit(repo: Repo, server: GitHttpServer, value_: str) -> str:
    sha = repo.commit({"cm.yaml": configmap("settings", value_)})
    server.publish(repo, "config.git")
    return sha


async def test_a_replica_without_the_controller_refreshes_through_the_annotation(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = await _push_new_commit(repo, git_http_server, "1")
    url = git_http_server.url("config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = await _push_new_commit(repo, git_http_server, "2")

    async with http_api.serving(kube, namespace, None) as follower, follower.client() as http:  # not the leader
        resp = await deliver(http, http_api.github_push(url, "main"), http_api.gitea)
    assert resp.status_code == 200, resp.text
    assert resp.json()["provider"] == "gitea" and names(resp) == ["web"]
    status = await apps.wait_status(kube, namespace, "web", apps.synced_at(second), timeout=10)
    assert status["history"][-1]["initiatedBy"] == "webhook"
    annotation = (await apps.get_app(kube, namespace, "web"))["metadata"]["annotations"]["gitward.dev/refresh"]
    assert annotation.startswith("webhook-") and status["lastHandledRefresh"] == annotation


async def test_bad_signatures_refresh_nothing(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    first = await _push_new_commit(repo, git_http_server, "1")
    url = git_http_server.url("config.git")
    await kube.create(apps.application("web", namespace, url))
    await apps.wait_status(kube, namespace, "web", apps.synced_at(first))
    second = await _push_new_commit(repo, git_http_server, "2")
    payload = http_api.github_push(url, "main")
    body = http_api.encode(payload)

    async with http_api.serving(kube, namespace, controller) as api, api.client() as http:
        wrong = [
            http_api.github(body, secret="not-the-secret"),
            {**http_api.github(body), "X-Hub-Signature-256": ""},
            {k: v for k, v in http_api.github(body).items() if k != "X-Hub-Signature-256"},
            http_api.github(body + b" "),  # signature of another body
            {**http_api.github(body), "X-Hub-Signature-256": http_api.hmac_hex(body)},  # no sha256= prefix
            http_api.gitea(body, secret="not-the-secret"),
            {**http_api.gitea(body), "X-Gitea-Signature": ""},
            http_api.gitlab(body, secret="not-the-secret"),
            {**http_api.gitlab(body), "X-Gitlab-Token": http_api.WEBHOOK_SECRET + "x"},
            http_api.bitbucket(body, secret="not-the-secret"),
        ]
        for headers in wrong:
            resp = await http.post(HOOK, headers=headers, content=body)
            assert resp.status_code == 401, headers
            assert "signature" in resp.json()["detail"]
        await asyncio.sleep(3)
        status = (await apps.get_app(kube, namespace, "web"))["status"]
        assert status["sync"]["revision"] == first and await value(kube, namespace, "settings") == "1"

        resp = await deliver(http, payload)  # the same push, signed: deployed
        assert resp.status_code == 200 and names(resp) == ["web"]
    await apps.wait_status(kube, namespace, "web", apps.synced_at(second), timeout=10)


@pytest.fixture
async def api(kube: KubeClient, namespace: str, crds: None) -> AsyncIterator[http_api.Api]:
    async with http_api.serving(kube, namespace) as running:
        yield running


URL = "https://git.example.com/org/config.git"


async def test_every_provider_is_understood(kube: KubeClient, namespace: str, api: http_api.Api) -> None:
    await kube.create(apps.application("main", namespace, "git@git.example.com:org/config", syncPolicy={}))
    dev = apps.application("dev", namespace, URL, syncPolicy={})
    dev["spec"]["source"]["targetRevision"] = "dev"
    await kube.create(dev)
    head = apps.application("head", namespace, "https://GIT.example.com/org/config", syncPolicy={})
    head["spec"]["source"]["targetRevision"] = "HEAD"
    await kube.create(head)
    await apps.wait_for(lambda: len(api.backend.applications.store) == 3, message="the server's cache")
    cases = [
        (http_api.github, http_api.github_push(URL, "main"), {}, ["head", "main"]),
        (http_api.github, http_api.github_push(URL, "dev"), {}, ["dev"]),
        (http_api.github, http_api.github_push(URL, "dev", default_branch="dev"), {}, ["dev", "head"]),
        (http_api.gitea, http_api.github_push(URL, "main"), {}, ["head", "main"]),
        (http_api.gitlab, http_api.gitlab_push(URL, "main"), {}, ["head", "main"]),
        (http_api.gitlab, {**http_api.gitlab_push(URL, "x"), "object_kind": "tag_push", "ref": "refs/tags/dev"},
         {"event": "Tag Push Hook"}, ["dev"]),
        (http_api.bitbucket, http_api.bitbucket_cloud_push(URL, "dev"), {}, ["dev", "head"]),  # default unknown
        (http_api.bitbucket, http_api.bitbucket_server_push(URL, "main"), {"event": "repo:refs_changed"},
         ["head", "main"]),
        (http_api.github, http_api.github_push("https://git.example.com/org/other.git", "main"), {}, []),
    ]  # fmt: skip
    async with api.client() as http:
        for sign, payload, kw, expected in cases:
            resp = await deliver(http, payload, sign, **kw)
            assert resp.status_code == 200, (sign.__name__, resp.text)
            assert names(resp) == expected, (sign.__name__, payload)
    for name in ("main", "dev", "head"):
        annotation = (await apps.get_app(kube, namespace, name))["metadata"]["annotations"]["gitward.dev/refresh"]
        assert annotation.startswith("webhook-")  # no controller in this process: through the annotation


async def test_other_events_refresh_nothing(kube: KubeClient, namespace: str, api: http_api.Api) -> None:
    await kube.create(apps.application("main", namespace, URL, syncPolicy={}))
    await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
    pings = [
        (http_api.github, {"zen": "Design for failure.", "hook_id": 1}, "ping"),
        (http_api.gitea, {"action": "opened"}, "pull_request"),
        (http_api.gitlab, {"object_kind": "merge_request"}, "Merge Request Hook"),
        (http_api.bitbucket, {"test": True}, "diagnostics:ping"),
    ]
    async with api.client() as http:
        for sign, payload, event in pings:
            resp = await deliver(http, payload, sign, event=event)
            assert resp.status_code == 200 and resp.json()["refreshed"] == [] and resp.json()["event"] == event
        resp = await http.post(HOOK, json=http_api.github_push(URL, "main"))  # no provider headers
        assert resp.status_code == 400 and "GitHub, Gitea, GitLab or Bitbucket" in resp.json()["detail"]
    assert "gitward.dev/refresh" not in (
        (await apps.get_app(kube, namespace, "main"))["metadata"].get("annotations") or {}
    )


async def test_oversized_bodies_are_refused(api: http_api.Api) -> None:
    limit = 1024 * 1024
    base = http_api.github_push(URL, "main")
    padding = limit - len(json.dumps({**base, "padding": ""}).encode())
    exact = json.dumps({**base, "padding": "x" * padding}).encode()
    assert len(exact) == limit
    async with api.client() as http:
        resp = await http.post(HOOK, headers=http_api.github(exact), content=exact)
        assert resp.status_code == 200, resp.text  # exactly 1 MiB is fine
        big = exact + b" "
        resp = await http.post(HOOK, headers=http_api.github(big), content=big)
        assert resp.status_code == 413 and "larger than" in resp.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is cut at the cap
            for _ in range(64):
                yield b" " * 65536

        resp = await http.post(HOOK, headers=http_api.github(b""), content=chunks())
        assert resp.status_code == 413
        assert (await http.get("/healthz")).status_code == 200
    # a Content-Length over the cap is refused from the header alone, before any body is sent
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    headers = "".join(f"{k}: {v}\r\n" for k, v in http_api.github(b"{}").items())
    writer.write(f"POST {HOOK} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {limit * 100}\r\n\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(5):
        status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


TWO_MIB = 2 * 1024 * 1024
FRAMINGS = pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
CONNECTIONS = pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])


def _padded_push(size: int) -> bytes:
    """A valid push payload for URL padded to `size` bytes: only its size can refuse it."""
    base = json.dumps({**http_api.github_push(URL, "main"), "padding": ""}).encode()
    return json.dumps({**http_api.github_push(URL, "main"), "padding": "x" * (size - len(base))}).encode()


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@FRAMINGS
@CONNECTIONS
async def test_a_2_mib_body_gets_a_readable_413_and_refreshes_nothing(
    kube: KubeClient, namespace: str, api: http_api.Api, chunked: bool, close: bool
) -> None:
    """The sender reads the 413 (no reset while it is still writing), every time, also when it
    asked the server to close the connection after the response (as urllib and many senders do)."""
    await kube.create(apps.application("main", namespace, URL, syncPolicy={}))
    await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
    body = _padded_push(TWO_MIB)
    assert len(body) == TWO_MIB
    headers = {**http_api.github(body), **({"Connection": "close"} if close else {})}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for chunk in _split(body, 65536):
            yield chunk

    async with api.client() as http:
        for _ in range(5):
            resp = await http.post(HOOK, headers=headers, content=chunks() if chunked else body)
            assert resp.status_code == 413, resp.text
            assert "larger than 1048576 bytes" in resp.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200
    annotations = (await apps.get_app(kube, namespace, "main"))["metadata"].get("annotations") or {}
    assert "gitward.dev/refresh" not in annotations


@FRAMINGS
@CONNECTIONS
async def test_a_sender_that_writes_everything_first_reads_the_413(
    api: http_api.Api, chunked: bool, close: bool
) -> None:
    """A sender that writes its whole 2 MiB before reading reads the 413; with keep-alive the same
    connection then serves the next request (the server read the rest of the body, it did not reset),
    with `Connection: close` the server closes only after the response."""
    body = _padded_push(TWO_MIB)
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    headers = "".join(f"{k}: {v}\r\n" for k, v in http_api.github(body).items())
    headers += "Connection: close\r\n" if close else ""
    if chunked:
        headers += "Transfer-Encoding: chunked\r\n"
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _split(body, 100_000)) + b"0\r\n\r\n"
    else:
        headers += f"Content-Length: {len(body)}\r\n"
        payload = body
    try:
        writer.write(f"POST {HOOK} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() + payload)
        await writer.drain()
        async with asyncio.timeout(30):
            status, answer = await _read_response(reader)
            assert status == 413 and b"larger than" in answer, (status, answer[:200])
            if close:
                assert await reader.read() == b"", "the server closes the connection after the response"
                return
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            status, answer = await _read_response(reader)
        assert status == 200 and b"ok" in answer
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length (as the server sends them): (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return int(lines[0].split()[1]), await reader.readexactly(length)


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


MALFORMED: list[tuple[Any, bytes, str]] = [
    (sign, body, expect)
    for sign in (http_api.github, http_api.gitea)
    for body, expect in [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (_deep(200_000), "not valid JSON"),
        (b"1" * 10_000, "not valid JSON"),
        (b"[]", "payload: expected an object"),
        (b'"push"', "payload: expected an object"),
        (b"{}", "repository: expected an object"),
        (b'{"repository": [], "ref": "refs/heads/main"}', "repository: expected an object"),
        (b'{"repository": {"clone_url": 5}, "ref": "refs/heads/main"}', "no repository URL"),
        (b'{"repository": {"clone_url": "https://x/y"}, "ref": 7}', "ref: expected a non-empty string"),
        (b'{"repository": {"clone_url": "https://x/y"}, "ref": "main"}', "full ref name"),
    ]
] + [
    (http_api.gitlab, b"{}", "project: expected an object"),
    (http_api.gitlab, b'{"object_kind": "build"}', "object_kind"),
    (http_api.gitlab, b'{"project": {"web_url": null}, "ref": "refs/heads/x"}', "no repository URL"),
    (http_api.gitlab, b'{"project": {"web_url": "https://x/y"}, "ref": ["refs/heads/x"]}', "ref"),
    (http_api.gitlab, _deep(100_000), "not valid JSON"),
    (http_api.bitbucket, b"{}", "expected `push`"),
    (http_api.bitbucket, b'{"push": {"changes": "all"}, "repository": {}}', "push.changes: expected an array"),
    (http_api.bitbucket, b'{"push": {"changes": [null]}, "repository": {}}', "push.changes[0]"),
    (http_api.bitbucket, b'{"push": {"changes": []}, "repository": {"links": {}}}', "no branch or tag"),
    (http_api.bitbucket, b'{"changes": [{"ref": {"id": 5}}], "repository": {}}', "changes[0].ref.id"),
    (http_api.bitbucket, b'{"changes": [{"refId": "refs/heads/x"}], "repository": {"links": 1}}', "no repository URL"),
]


async def test_malformed_payloads_get_400(api: http_api.Api) -> None:
    async with api.client() as http:
        for sign, body, expect in MALFORMED:
            resp = await http.post(HOOK, headers=sign(body), content=body)
            assert resp.status_code == 400, (sign.__name__, body[:80], resp.text)
            assert expect in resp.json()["detail"], (sign.__name__, body[:80], resp.json())
        form = b"payload=%7Bnot+json"
        headers = {**http_api.github(form), "Content-Type": "application/x-www-form-urlencoded"}
        assert (await http.post(HOOK, headers=headers, content=form)).status_code == 400
        assert (await http.get("/healthz")).status_code == 200


async def test_github_form_encoded_deliveries(kube: KubeClient, namespace: str, api: http_api.Api) -> None:
    await kube.create(apps.application("main", namespace, URL, syncPolicy={}))
    await apps.wait_for(lambda: len(api.backend.applications.store) == 1, message="the server's cache")
    form = str(httpx2.QueryParams({"payload": json.dumps(http_api.github_push(URL, "main"))})).encode()
    headers = {**http_api.github(form), "Content-Type": "application/x-www-form-urlencoded"}
    async with api.client() as http:
        resp = await http.post(HOOK, headers=headers, content=form)
    assert resp.status_code == 200 and names(resp) == ["main"]


async def test_without_a_webhook_secret_every_webhook_is_refused(kube: KubeClient, namespace: str, crds: None) -> None:
    config = http_api.auth_config(webhook_secret=None)
    async with http_api.serving(kube, namespace, auth=config) as api, api.client() as http:
        resp = await deliver(http, http_api.github_push(URL, "main"))
    assert resp.status_code == 401 and "no webhookSecret" in resp.json()["detail"]
