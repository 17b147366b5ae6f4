"""SPEC §6 (Safety) attacked through the contract only, on the real control plane and real Git
servers: spellings of a repository URL that would slip past a Project's `sourceRepos`, objects
that reach outside the Project's kinds and destinations, and clean-up of an impersonated
Application whose ServiceAccount lost its rights. What docs/security.md already proves is not
repeated here."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml
from tests.support import apps
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer, SshGitServer, Symlink, generate_key

from gitward.controller import metrics
from gitward.controller.manager import Controller
from gitward.core.applications import API_VERSION
from gitward.kube.client import KubeClient

RBAC = "rbac.authorization.k8s.io/v1"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


def refused(status: apps.Status) -> bool:
    """The revision was refused before anything was written: a Project, validation or source error."""
    return any(
        (apps.condition(status, kind) or {}).get("status") == "True" for kind in ("ValidationError", "SourceError")
    )


def refusal(status: apps.Status) -> dict[str, Any]:
    cond = apps.condition(status, "ValidationError") or apps.condition(status, "SourceError")
    assert cond is not None
    return cond


async def test_a_path_that_climbs_out_of_an_allowed_prefix_is_refused_before_git_runs(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """`team-a/*` must not admit `team-a/../team-b/secret.git`: git (libcurl) squashes the `..` and
    would fetch team-b's repository; the encoded forms are decoded by servers."""
    secret = make_repo()
    secret.commit({"cm.yaml": CONFIGMAP.format(name="stolen")})
    url = git_http_server.publish(secret, "team-b/secret.git")
    base = url.removesuffix("team-b/secret.git")
    own = make_repo()
    own.commit({"cm.yaml": CONFIGMAP.format(name="own")})
    git_http_server.publish(own, "team-a/own.git")
    bounds = {"sourceRepos": [f"{base}team-a/*"], "destinations": [{"cluster": "*", "namespace": namespace}]}
    await kube.create(apps.project("team-a", namespace, bounds))
    climbs = [
        f"{base}team-a/../team-b/secret.git",
        f"{base}team-a/%2e%2e/team-b/secret.git",
        f"{base}team-a/.%2E/team-b/secret.git",
        f"{base}team-a/..%2fteam-b/secret.git",
        f"{base}team-a/./../team-b/secret.git",
    ]
    for index, climb in enumerate(climbs):
        await kube.create(apps.application(f"climb-{index}", namespace, climb, project="team-a"))
    await kube.create(apps.application("own", namespace, f"{base}team-a/own.git", project="team-a"))

    await apps.wait_status(kube, namespace, "own", lambda s: s.get("sync", {}).get("status") == "Synced")
    for index, climb in enumerate(climbs):
        status = await apps.wait_status(kube, namespace, f"climb-{index}", refused)
        assert refusal(status)["reason"] in ("InvalidRepoURL", "ProjectViolation"), climb
    assert await kube.get_or_none("v1", "ConfigMap", "stolen", namespace) is None
    assert git_http_server.count(repo="team-b/secret.git") == 0


@pytest.mark.parametrize(
    "spelling",
    [
        "{base}team/secret.git",
        "{base}team/secret",
        "{base}team/secret/",
        "{base}team//secret.git",
        "{base}team/Secret.git",
        "{base}team/%73ecret.git",
        "{scheme}://deploy@{host}/team/secret.git",
        "{upper}team/secret.git",
    ],
)
async def test_a_deny_entry_holds_for_every_spelling_of_the_repository(
    spelling: str,
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
) -> None:
    """`!<scheme>://host/team/secret` written without `.git` (as Argo CD users write it) still
    refuses every other spelling of the same repository, and nothing is fetched from it."""
    secret = make_repo()
    secret.commit({"cm.yaml": CONFIGMAP.format(name="stolen")})
    url = git_http_server.publish(secret, "team/secret.git")
    base = url.removesuffix("team/secret.git")
    scheme, _, rest = base.partition("://")
    host = rest.rstrip("/")
    deny = f"!{base}team/secret"
    bounds = {"sourceRepos": ["*", deny], "destinations": [{"cluster": "*", "namespace": "*"}]}
    await kube.create(apps.project("tenant", namespace, bounds))
    repo_url = spelling.format(base=base, scheme=scheme, host=host, upper=base.upper())
    await kube.create(apps.application("app", namespace, repo_url, project="tenant"))
    status = await apps.wait_status(kube, namespace, "app", refused)
    cond = refusal(status)
    assert (cond["reason"], "sourceRepos" in cond["message"]) == ("ProjectViolation", True), cond
    assert await kube.get_or_none("v1", "ConfigMap", "stolen", namespace) is None
    assert git_http_server.count(repo="team/secret.git", method="POST") == 0


CLUSTER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: escape-{ns}, namespace: {ns}}}
rules: [{{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}}]
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{ns}.example.com}}
spec:
  group: {ns}.example.com
  scope: Cluster
  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"""
WIDGET = "apiVersion: {ns}.example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: {ns}}}\n"
FOREIGN_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: foreign-{ns}, namespace: default}}\ndata: {{a: b}}\n"


async def test_objects_that_claim_a_namespace_are_judged_by_their_real_scope(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """A Project that allows only its namespace and CRDs: a cluster-scoped ClusterRole that states
    `metadata.namespace`, a cluster-scoped kind defined by a CRD of the same render, and a
    ConfigMap aimed at another namespace are each refused, and nothing of the revision is written
    (not even the allowed CRD or ConfigMap)."""
    bounds = {
        "sourceRepos": ["*"],
        "destinations": [{"cluster": "in-cluster", "namespace": namespace}],
        "clusterResourceAllowlist": [{"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"}],
    }
    await kube.create(apps.project("tenant", namespace, bounds))
    own = CONFIGMAP.format(name="own")
    renders = {
        "cluster-role": {"own.yaml": own, "escape.yaml": CLUSTER_ROLE.format(ns=namespace)},
        "crd-kind": {"own.yaml": own, "crd.yaml": CRD.format(ns=namespace), "w.yaml": WIDGET.format(ns=namespace)},
        "foreign": {"own.yaml": own, "foreign.yaml": FOREIGN_CM.format(ns=namespace)},
    }
    expected = {
        "cluster-role": "cluster-scoped kind ClusterRole is not in the project's clusterResourceAllowlist",
        "crd-kind": "cluster-scoped kind Widget is not in the project's clusterResourceAllowlist",
        "foreign": "destination in-cluster/default is not permitted",
    }
    for name, files in renders.items():
        repo = make_repo()
        repo.commit(files)
        url = git_http_server.publish(repo, f"{name}.git")
        await kube.create(apps.application(name, namespace, url, project="tenant"))
    for name, message in expected.items():
        status = await apps.wait_status(kube, namespace, name, refused)
        cond = refusal(status)
        assert (cond["reason"], message in cond["message"]) == ("ProjectViolation", True), cond
    assert await kube.get_or_none("v1", "ConfigMap", "own", namespace) is None
    assert await kube.get_or_none(RBAC, "ClusterRole", f"escape-{namespace}") is None
    crd = f"widgets.{namespace}.example.com"
    assert await kube.get_or_none("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd) is None
    assert await kube.get_or_none("v1", "ConfigMap", f"foreign-{namespace}", "default") is None


async def _tenant(kube: KubeClient, namespace: str) -> None:
    """A ServiceAccount `tenant` that may manage ConfigMaps in its own namespace only."""
    meta = {"name": "tenant", "namespace": namespace}
    await kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
    await kube.create({"apiVersion": RBAC, "kind": "Role", "metadata": meta, "rules": rules})
    await _bind(kube, namespace)


async def _bind(kube: KubeClient, namespace: str) -> None:
    await kube.create(
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "tenant", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
            "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
        }
    )


async def test_clean_up_of_a_tenant_that_lost_its_rights_is_never_done_as_the_controller(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """The tenant removes its RoleBinding, then deletes the Application: the finalizer deletes as
    the ServiceAccount, so the ConfigMap stays and the Application waits, saying why; once the
    binding is back, the clean-up finishes."""
    await _tenant(kube, namespace)
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP.format(name="tenant-cm")})
    url = git_http_server.publish(repo, "tenant.git")
    await kube.create(apps.application("tenant", namespace, url, serviceAccountName="tenant"))
    await apps.wait_status(kube, namespace, "tenant", lambda s: s.get("sync", {}).get("status") == "Synced")

    await kube.delete(RBAC, "RoleBinding", "tenant", namespace)
    await kube.delete(API_VERSION, "Application", "tenant", namespace)

    def cleanup_refused(status: apps.Status) -> bool:
        cond = apps.condition(status, "SyncError") or {}
        return cond.get("reason") == "CleanupFailed" and "system:serviceaccount" in cond.get("message", "")

    status = await apps.wait_status(kube, namespace, "tenant", cleanup_refused)
    message = apps.condition(status, "SyncError")["message"]  # type: ignore[index]
    assert f"system:serviceaccount:{namespace}:tenant" in message and "tenant-cm" in message
    assert await kube.get_or_none("v1", "ConfigMap", "tenant-cm", namespace) is not None
    assert (await apps.get_app(kube, namespace, "tenant"))["metadata"]["finalizers"] == ["gitward.dev/cleanup"]

    await _bind(kube, namespace)
    await apps.wait_for(
        lambda: _gone(kube, namespace), timeout=60, message="the clean-up finished once the tenant may delete again"
    )


async def _gone(kube: KubeClient, namespace: str) -> bool:
    app = await kube.get_or_none(API_VERSION, "Application", "tenant", namespace)
    return app is None and await kube.get_or_none("v1", "ConfigMap", "tenant-cm", namespace) is None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_a_bad_ssh_key_leaves_no_key_material_anywhere(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    ssh_git_server: SshGitServer,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A key the server does not accept and a key that is not one: SourceError on each, and no line
    of either key in the status, events, metrics or logs."""
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP.format(name="cm")})
    url = ssh_git_server.publish(repo, "app.git")
    stranger, _ = generate_key(tmp_path / "stranger", "stranger")
    garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nS3cr3tK3yMat3rial0fAT3nant+/=\n-----END OPENSSH PRIVATE KEY-----\n"
    keys = {"stranger": stranger, "garbage": garbage}
    for name, key in keys.items():
        data = {"sshPrivateKey": _b64(key), "knownHosts": _b64(ssh_git_server.known_hosts)}
        meta = {"name": f"creds-{name}", "namespace": namespace}
        await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})
        app = apps.application(name, namespace, url)
        app["spec"]["source"]["secretRef"] = {"name": f"creds-{name}"}
        await kube.create(app)
    seen = []
    for name in keys:
        status = await apps.wait_status(
            kube, namespace, name, lambda s: (apps.condition(s, "SourceError") or {}).get("status") == "True"
        )
        seen.append(str(status))
    events, _ = await kube.list("v1", "Event", namespace)
    seen += [str(e) for e in events]
    seen.append(prometheus_client.generate_latest(metrics.REGISTRY).decode())
    out, err = capfd.readouterr()
    seen += [out, err]
    secrets = [line for key in keys.values() for line in key.splitlines() if "-----" not in line and len(line) > 8]
    assert secrets
    for text in seen:
        assert not [line for line in secrets if line in text or _b64(line)[:24] in text]
    assert await kube.get_or_none("v1", "ConfigMap", "cm", namespace) is None


MARKER = "outside-the-checkout-4b1d"
CHART = "apiVersion: v2\nname: leak\nversion: 0.1.0\n"
FILES_GET = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n"
    '  a: {{ .Files.Get "loot" | quote }}\n  b: {{ .Files.Get "dir/secret" | quote }}\n'
)


def _symlink_repos(outside: Path) -> dict[str, tuple[dict[str, object], str]]:
    """name → (files, source path): symlinks out of the checkout inside a chart and a kustomization."""
    target = str(outside / "secret")
    return {
        "helm-files-get": (
            {"chart/Chart.yaml": CHART, "chart/templates/cm.yaml": FILES_GET, "chart/loot": Symlink(target),
             "chart/dir": Symlink(str(outside))},
            "chart",
        ),
        "helm-values": ({"chart/Chart.yaml": CHART, "chart/values.yaml": Symlink(target)}, "chart"),
        "helm-template": ({"chart/Chart.yaml": CHART, "chart/templates/cm.yaml": Symlink(target)}, "chart"),
        "helm-passwd": (
            {"chart/Chart.yaml": CHART, "chart/templates/cm.yaml": FILES_GET, "chart/loot": Symlink("/etc/passwd")},
            "chart",
        ),
        "kustomize-generator": (
            {"app/kustomization.yaml": "configMapGenerator:\n  - name: leak\n    files: [loot]\n",
             "app/loot": Symlink(target)},
            "app",
        ),
        "kustomize-base": (
            {"app/kustomization.yaml": "resources: [base]\n", "app/base": Symlink(str(outside))},
            "app",
        ),
    }  # fmt: skip


async def test_symlinks_out_of_the_checkout_inside_charts_and_kustomizations_read_nothing(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text(f"{MARKER}\n")
    (outside / "kustomization.yaml").write_text("configMapGenerator:\n  - name: leak\n    files: [secret]\n")
    cases = _symlink_repos(outside)
    for name, (files, path) in cases.items():
        repo = make_repo(name)
        repo.commit(files)  # type: ignore[arg-type]
        url = git_http_server.publish(repo, f"{name}.git")
        await kube.create(apps.application(name, namespace, url, path=path))
    for name in cases:
        status = await apps.wait_status(
            kube, namespace, name, lambda s: (apps.condition(s, "RenderError") or {}).get("status") == "True"
        )
        assert "symlink points outside the repository" in apps.condition(status, "RenderError")["message"], name  # type: ignore[index]
        assert MARKER not in str(status) and "root:x:0:0" not in str(status), name
    configmaps, _ = await kube.list("v1", "ConfigMap", namespace)
    assert not [cm for cm in configmaps if MARKER in str(cm) or "root:x:0:0" in str(cm)]


async def test_allowing_the_namespace_kind_hands_over_only_destination_namespaces(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """With Namespace in the allowlist, a render of `Namespace/default` (to relabel it, adopt it,
    and prune it later) is refused: a Namespace object is judged as the namespace it names."""
    bounds = {
        "sourceRepos": ["*"],
        "destinations": [{"cluster": "*", "namespace": f"{namespace}*"}],
        "clusterResourceAllowlist": [{"group": "", "kind": "Namespace"}],
    }
    await kube.create(apps.project("tenant", namespace, bounds))
    label = f"stolen-by-{namespace}"
    repo = make_repo()
    repo.commit(
        {"ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {{{label}: 'yes'}}\n"}
    )
    await kube.create(
        apps.application("steal", namespace, git_http_server.publish(repo, "steal.git"), project="tenant")
    )
    status = await apps.wait_status(kube, namespace, "steal", refused)
    cond = refusal(status)
    assert cond["reason"] == "ProjectViolation" and "Namespace/default" in cond["message"], cond
    assert label not in ((await kube.get("v1", "Namespace", "default"))["metadata"].get("labels") or {})


async def test_an_application_cannot_widen_a_project_outside_its_destinations(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """Projects live in the controller namespace: an Application whose Project allows only the
    tenant's namespace renders a wider copy of its own Project (and an Application there); both are
    refused and the Project keeps its bounds."""
    team = f"{namespace}-team"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team}})
    try:
        bounds = {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": team}]}
        await kube.create(apps.project("tenant", namespace, bounds))
        wide = apps.project(
            "tenant", namespace, {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": "*"}]}
        )
        child = apps.application("child", namespace, "https://git.example.com/x.git")
        repo = make_repo()
        repo.commit({"project.yaml": yaml.safe_dump(wide), "child.yaml": yaml.safe_dump(child)})
        url = git_http_server.publish(repo, "widen.git")
        app = apps.application("widen", namespace, url, project="tenant")
        app["spec"]["destination"] = {"namespace": team}
        await kube.create(app)
        status = await apps.wait_status(kube, namespace, "widen", refused)
        cond = refusal(status)
        assert cond["reason"] == "ProjectViolation" and f"destination in-cluster/{namespace}" in cond["message"], cond
        assert (await kube.get(API_VERSION, "Project", "tenant", namespace))["spec"] == bounds
        assert await kube.get_or_none(API_VERSION, "Application", "child", namespace) is None
    finally:
        await kube.delete("v1", "Namespace", team)


async def test_trusted_key_entries_that_are_not_keys_trust_nothing(
    kube: KubeClient,
    namespace: str,
    controller: Controller,
    make_repo: MakeRepo,
    git_http_server: GitHttpServer,
    tmp_path: Path,
) -> None:
    """verify.mode head with a Secret whose entries are not keys (text, a broken armor, a private key
    named `.pub`): a signed head is refused, and nothing is applied."""
    signer, _ = generate_key(tmp_path / "signer", "signer")
    repo = make_repo()
    (repo.path / "cm.yaml").write_text(CONFIGMAP.format(name="signed"))
    repo.git("add", "--all")
    who = {
        f"GIT_{role}_{part}": value
        for role in ("AUTHOR", "COMMITTER")
        for part, value in (("NAME", "S"), ("EMAIL", "s@x"))
    }
    repo.git(
        "-c", "gpg.format=ssh", "-c", f"user.signingkey={tmp_path / 'signer'}", "commit", "-q", "-S", "-m", "s", **who
    )
    url = git_http_server.publish(repo, "signed.git")
    secrets = {
        "text": {"notes.txt": "trust me", "junk.pub": "hello world"},
        "armor": {
            "broken.asc": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n"
        },
        "private": {"key.pub": signer},
    }
    for name, entries in secrets.items():
        data = {key: _b64(value) for key, value in entries.items()}
        meta = {"name": f"keys-{name}", "namespace": namespace}
        await kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data})
        app = apps.application(name, namespace, url)
        app["spec"]["source"]["verify"] = {"mode": "head", "secretRef": {"name": f"keys-{name}"}}
        await kube.create(app)
    for name in secrets:
        status = await apps.wait_status(
            kube,
            namespace,
            name,
            lambda s: (apps.condition(s, "SourceError") or {}).get("reason") == "VerificationFailed",
        )
        assert "PRIVATE KEY" not in str(status) and "trust me" not in str(status), name
    assert await kube.get_or_none("v1", "ConfigMap", "signed", namespace) is None


async def test_a_forged_inventory_entry_never_prunes_an_object_gitward_did_not_apply(
    kube: KubeClient, namespace: str, controller: Controller, make_repo: MakeRepo, git_http_server: GitHttpServer
) -> None:
    """Whoever may write an Application's status (not its tenant, normally) adds an inventory entry
    naming an object gitward never applied; the next sync prunes only what carries its tracking id."""
    repo = make_repo()
    repo.commit({"cm.yaml": CONFIGMAP.format(name="own")})
    url = git_http_server.publish(repo, "own.git")
    await kube.create(apps.application("app", namespace, url))
    status = await apps.wait_status(kube, namespace, "app", lambda s: s.get("sync", {}).get("status") == "Synced")
    labels = {"app.kubernetes.io/managed-by": "gitward"}  # a label anyone may set
    meta = {"name": "bystander", "namespace": namespace, "labels": labels}
    bystander = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    await kube.create(bystander)
    entries = [*status["inventory"]["entries"], {"id": f"{namespace}_bystander__ConfigMap", "v": "v1"}]
    await kube.patch(API_VERSION, "Application", "app", namespace, {"status": {"inventory": {"entries": entries}}},
                     subresource="status")  # fmt: skip
    await kube.patch(API_VERSION, "Application", "app", namespace,
                     {"metadata": {"annotations": {"gitward.dev/refresh": "forged"}}})  # fmt: skip
    status = await apps.wait_status(
        kube, namespace, "app", apps.all_of(apps.refreshed("forged"), lambda s: s["sync"]["status"] == "Synced")
    )
    assert await kube.get_or_none("v1", "ConfigMap", "bystander", namespace) is not None
    assert await kube.get_or_none("v1", "ConfigMap", "own", namespace) is not None
