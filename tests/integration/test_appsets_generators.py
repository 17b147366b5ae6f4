"""ApplicationSet generators on the real control plane and a real Git server: list, git directories
(include and exclude globs), git files (keys become parameters), clusters (Secrets by label and
in-cluster), matrix and merge; generated Applications carry an owner reference and the set label,
deploy, and are pruned when they leave the generators' output."""

from __future__ import annotations

import base64
from typing import Any

import yaml
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

SET_LABEL = "gitward.dev/application-set"


def configmap(name: str, value: str = "1") -> str:
    return f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: "{value}"\n'


def appset(
    name: str, namespace: str, generators: list[dict[str, Any]], template: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"generators": generators, "template": template, **spec},
    }


def template(namespace: str, url: str, name: str, path: str, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "source": {"repoURL": url, "targetRevision": "main", "path": path},
            "destination": {"namespace": namespace},
            "syncPolicy": {"automated": {"prune": True}, "interval": "1m"},
        },
    }


async def generated(kube: KubeClient, namespace: str, set_name: str) -> dict[str, dict[str, Any]]:
    items, _ = await kube.list(API_VERSION, "Application", namespace, label_selector=f"{SET_LABEL}={set_name}")
    return {i["metadata"]["name"]: i for i in items}


async def wait_names(kube: KubeClient, namespace: str, set_name: str, names: set[str]) -> dict[str, dict[str, Any]]:
    async def check() -> dict[str, dict[str, Any]] | None:
        found = await generated(kube, namespace, set_name)
        return found if set(found) == names else None

    return await apps.wait_for(check, 30, message=f"generated Applications {sorted(names)}")  # type: ignore[no-any-return]


async def set_status(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    return (await kube.get(API_VERSION, "ApplicationSet", name, namespace)).get("status") or {}


async def test_git_directories_generate_deploy_and_prune(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(
        {
            "apps/alpha/cm.yaml": configmap("alpha"),
            "apps/beta_x/cm.yaml": configmap("beta"),
            "apps/old/cm.yaml": configmap("old"),
            "other/cm.yaml": configmap("other"),
        }
    )
    url = git_http_server.publish(repo, "config.git")
    directories = [{"path": "apps/*"}, {"path": "apps/old", "exclude": True}]
    tmpl = template(namespace, url, "{{path.basenameNormalized}}", "{{path}}", dir="{{path.basenameNormalized}}")
    await kube.create(
        appset("dirs", namespace, [{"git": {"repoURL": url, "revision": "main", "directories": directories}}], tmpl)
    )

    found = await wait_names(kube, namespace, "dirs", {"alpha", "beta-x"})
    alpha = found["alpha"]
    owner = alpha["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("ApplicationSet", "dirs", True)
    assert alpha["spec"]["source"]["path"] == "apps/alpha"
    assert alpha["metadata"]["labels"]["dir"] == "alpha"
    for name in ("alpha", "beta-x"):
        await apps.wait_status(kube, namespace, name, apps.all_of(apps.synced_at(repo.head()), apps.healthy))
    assert await kube.get_or_none("v1", "ConfigMap", "beta", namespace) is not None

    def ready(s: dict[str, Any]) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True" for c in s.get("conditions") or [])

    status = await apps.wait_for(lambda: _status_if(kube, namespace, "dirs", ready), 30, message="set Ready")
    assert sorted(r["name"] for r in status["applications"]) == ["alpha", "beta-x"]

    # a commit removes a directory and adds one: the set follows (refresh annotation)
    repo.commit({"apps/alpha/cm.yaml": None, "apps/gamma/cm.yaml": configmap("gamma")})
    git_http_server.publish(repo, "config.git")
    await kube.patch(
        API_VERSION, "ApplicationSet", "dirs", namespace, {"metadata": {"annotations": {"gitward.dev/refresh": "1"}}}
    )
    await wait_names(kube, namespace, "dirs", {"beta-x", "gamma"})
    await apps.wait_status(kube, namespace, "gamma", apps.synced_at(repo.head()))
    # the pruned Application took its objects with it (its own deletion policy)
    await apps.wait_for(lambda: _gone(kube, "ConfigMap", "alpha", namespace), 30, message="alpha's ConfigMap deleted")


async def _status_if(kube: KubeClient, namespace: str, name: str, predicate: Any) -> dict[str, Any] | None:
    status = await set_status(kube, namespace, name)
    return status if predicate(status) else None


async def _gone(kube: KubeClient, kind: str, name: str, namespace: str) -> bool:
    return await kube.get_or_none("v1", kind, name, namespace) is None


async def test_git_files_keys_become_parameters(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit(
        {
            "envs/dev/config.yaml": yaml.safe_dump({"env": "dev", "deploy": {"path": "apps/dev"}}),
            "envs/prod/config.json": '{"env": "prod", "deploy": {"path": "apps/prod"}}',
            "envs/skip/other.yaml": "env: skip\n",
            "apps/dev/cm.yaml": configmap("dev"),
            "apps/prod/cm.yaml": configmap("prod"),
        }
    )
    url = git_http_server.publish(repo, "config.git")
    files = [{"path": "envs/*/config.yaml"}, {"path": "envs/*/config.json"}]
    tmpl = template(namespace, url, "cfg-{{env}}", "{{deploy.path}}", from_dir="{{path.basename}}")
    await kube.create(appset("files", namespace, [{"git": {"repoURL": url, "revision": "main", "files": files}}], tmpl))
    found = await wait_names(kube, namespace, "files", {"cfg-dev", "cfg-prod"})
    assert found["cfg-prod"]["spec"]["source"]["path"] == "apps/prod"
    assert found["cfg-dev"]["metadata"]["labels"]["from_dir"] == "dev"
    await apps.wait_status(kube, namespace, "cfg-prod", apps.synced_at(repo.head()))
    assert await kube.get_or_none("v1", "ConfigMap", "prod", namespace) is not None


async def test_list_clusters_matrix_and_merge(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    repo = make_repo()
    repo.commit({"apps/a/cm.yaml": configmap("a"), "apps/b/cm.yaml": configmap("b")})
    url = git_http_server.publish(repo, "config.git")
    await kube.create(_cluster_secret("east", namespace, {"env": "prod", "region": "east"}))
    await kube.create(_cluster_secret("west", namespace, {"env": "dev"}))
    not_a_cluster = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain", "namespace": namespace, "labels": {"env": "prod"}},
        "stringData": {"password": "x"},
    }
    await kube.create(not_a_cluster)

    clusters_set = appset(
        "clusters", namespace,
        [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
        _list_template(namespace, url, "c-{{name}}", {"server": "{{server}}", "region": "{{metadata.labels.region}}"}),
    )  # fmt: skip
    await kube.create(clusters_set)
    found = await wait_names(kube, namespace, "clusters", {"c-east"})
    assert found["c-east"]["metadata"]["annotations"]["server"] == "https://east.example.com:6443"
    assert found["c-east"]["metadata"]["annotations"]["region"] == "east"

    in_cluster = appset("everywhere", namespace, [{"clusters": {}}], _list_template(namespace, url, "e-{{name}}", {}))
    await kube.create(in_cluster)
    await wait_names(kube, namespace, "everywhere", {"e-in-cluster", "e-east", "e-west"})

    matrix = {
        "matrix": {
            "generators": [
                {"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}},
                {"git": {"repoURL": url, "revision": "main", "directories": [{"path": "apps/*"}]}},
            ]
        }
    }
    await kube.create(
        appset("matrix", namespace, [matrix], template(namespace, url, "{{path.basename}}-{{env}}", "{{path}}"))
    )
    await wait_names(kube, namespace, "matrix", {"a-dev", "a-prod", "b-dev", "b-prod"})

    merge = {
        "merge": {
            "mergeKeys": ["app"],
            "generators": [
                {"list": {"elements": [{"app": "a", "size": "small"}, {"app": "b", "size": "small"}]}},
                {"list": {"elements": [{"app": "b", "size": "large"}, {"app": "z", "size": "huge"}]}},
            ],
        }
    }
    await kube.create(
        appset("merge", namespace, [merge], _list_template(namespace, url, "m-{{app}}", {"size": "{{size}}"}))
    )
    found = await wait_names(kube, namespace, "merge", {"m-a", "m-b"})
    assert found["m-a"]["metadata"]["annotations"]["size"] == "small"
    assert found["m-b"]["metadata"]["annotations"]["size"] == "large"


def _list_template(namespace: str, url: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    tmpl = template(namespace, url, name, "apps/a")
    tmpl["metadata"]["annotations"] = annotations
    tmpl["spec"].pop("syncPolicy")  # manual: these Applications are only looked at
    return tmpl


def _cluster_secret(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{name}.example.com:6443"}}],
        "users": [{"name": "u", "user": {"token": "secret-token-never-shown"}}],
        "contexts": [{"name": "c", "context": {"cluster": name, "user": "u"}}],
        "current-context": "c",
    }
    data = {"kubeconfig": base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": data,
    }
