"""`gitward install [--namespace gitward] [--crds-only] [--print] [--shards N]`: apply (or print) the
CRDs and the in-cluster controller (Deployment — or a StatefulSet of N shards —, ServiceAccount, RBAC),
from the files kept under `deploy/`, and the Secret `gitward-auth` with a generated admin token: created
on the first install only (never overwritten), the token printed once."""

from __future__ import annotations

import asyncio
import copy
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from gitward.core.identifiers import GRAMMARS
from gitward.kube import errors
from gitward.kube.client import KubeClient
from gitward.server.tokens import hash_token

err = Console(stderr=True)
FIELD_MANAGER = "gitward-install"
AUTH_SECRET_NAME = "gitward-auth"  # noqa: S105 (a Secret's name, not a secret)
AUTH_KEY = "auth.yaml"


def deploy_dir() -> Path:
    """`deploy/` packaged into the wheel as gitward/_deploy, or the repository's (editable install)."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_deploy"
    return packaged if packaged.is_dir() else here.parent.parent / "deploy"


def manifests(namespace: str, crds_only: bool) -> list[dict[str, Any]]:
    """The objects to install, with the controller namespace rewritten to `namespace`."""
    folder = deploy_dir()
    files = sorted((folder / "crds").glob("*.yaml"))
    if not crds_only:
        files.append(folder / "controller.yaml")
    objs: list[dict[str, Any]] = []
    for path in files:
        objs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    if not crds_only:
        objs = [_renamespace(obj, namespace) for obj in objs]
    return objs


def sharded(objs: list[dict[str, Any]], shards: int) -> list[dict[str, Any]]:
    """With `shards` > 1 the controller Deployment becomes a StatefulSet of `shards` replicas, each
    running `--shard auto/N` (its ordinal is its shard; SPEC §9)."""
    if shards <= 1:
        return objs
    out = []
    for obj in objs:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "gitward-controller":
            obj = copy.deepcopy(obj)
            obj["kind"] = "StatefulSet"
            spec = obj["spec"]
            spec.update({"replicas": shards, "serviceName": "gitward", "podManagementPolicy": "Parallel"})
            for container in spec["template"]["spec"]["containers"]:
                container["args"] = [*container.get("args", []), "--shard", f"auto/{shards}"]
        out.append(obj)
    return out


def tenant_mode(objs: list[dict[str, Any]], service_account: str) -> list[dict[str, Any]]:
    """With a default ServiceAccount every Application is impersonated, so the controller needs no
    rights to deploy by itself: no `gitward-deployer` role or binding, `--default-service-account SA`."""
    if not service_account:
        return objs
    out = []
    for obj in objs:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding") and obj["metadata"]["name"] == "gitward-deployer":
            continue
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "gitward-controller":
            obj = copy.deepcopy(obj)
            for container in obj["spec"]["template"]["spec"]["containers"]:
                container["args"] = [*container.get("args", []), "--default-service-account", service_account]
        out.append(obj)
    return out


def auth_secret(namespace: str) -> tuple[dict[str, Any], str]:
    """The Secret `gitward-auth` (an auth file with one admin token, stored hashed, and a webhook
    secret) and the admin token itself, to show once."""
    token = secrets.token_urlsafe(32)
    auth = {
        "tokens": [{"name": "admin", "sha256": hash_token(token), "role": "admin"}],
        "webhookSecret": secrets.token_urlsafe(32),
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": AUTH_SECRET_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "gitward"},
        },
        "type": "Opaque",
        "stringData": {AUTH_KEY: yaml.safe_dump(auth, sort_keys=False)},
    }
    return secret, token


async def ensure_auth_secret(client: KubeClient, namespace: str) -> str | None:
    """Create `gitward-auth` unless it exists; the new admin token, or None when one was kept."""
    secret, token = auth_secret(namespace)
    try:
        await client.create(secret)
    except errors.APIConflictError:
        return None
    return token


def _renamespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    meta = obj["metadata"]
    if obj["kind"] == "Namespace":
        meta["name"] = namespace
    elif meta.get("namespace"):
        meta["namespace"] = namespace
    for subject in obj.get("subjects") or []:
        if subject.get("namespace"):
            subject["namespace"] = namespace
    for container in ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", []):
        args = container.get("args") or []
        if "--namespace" in args:
            args[args.index("--namespace") + 1] = namespace
    return obj


async def apply_all(client: KubeClient, objs: list[dict[str, Any]]) -> None:
    """Apply CRDs first and wait until they are Established, then the rest."""
    crds = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    for obj in crds:
        await client.apply(obj, field_manager=FIELD_MANAGER)
        err.print(f"applied {obj['kind']}/{obj['metadata']['name']}")
    for obj in crds:
        await wait_established(client, obj["metadata"]["name"])
    for obj in (o for o in objs if o["kind"] != "CustomResourceDefinition"):
        await client.apply(obj, field_manager=FIELD_MANAGER)
        err.print(f"applied {obj['kind']}/{obj['metadata']['name']}")


async def wait_established(client: KubeClient, name: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        crd = await client.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        await asyncio.sleep(0.1)
    raise errors.KubeError(f"CustomResourceDefinition/{name}: not Established after {timeout:.0f}s")


def install(
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="The controller's namespace.")] = "gitward",
    crds_only: Annotated[bool, typer.Option("--crds-only", help="Only the CRDs (controller runs elsewhere).")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Print the manifests instead of applying.")] = False,
    default_service_account: Annotated[
        str,
        typer.Option(
            "--default-service-account",
            help="Tenant mode: impersonate this ServiceAccount for every Application; no cluster-wide deploy rights.",
        ),
    ] = "",
    shards: Annotated[
        int, typer.Option("--shards", min=1, max=64, help="Run N shards: a StatefulSet of N replicas (--shard auto/N).")
    ] = 1,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option("--context", help="The kubeconfig context.")] = None,
) -> None:
    """Apply (or print) gitward's CRDs and the in-cluster controller."""
    problem = GRAMMARS["optional-subdomain"].problem(default_service_account)
    if problem is not None:
        raise typer.BadParameter(f"--default-service-account {problem}")
    objs = sharded(tenant_mode(manifests(namespace, crds_only), default_service_account), shards)
    if print_only:
        if not crds_only:  # everything, for users who apply YAML themselves: the Secret with a new token
            secret, token = auth_secret(namespace)
            objs.append(secret)
            err.print(
                f"admin token for the API and dashboard (shown once, stored hashed in Secret {AUTH_SECRET_NAME}):"
            )
            err.print(token, markup=False, highlight=False, soft_wrap=True)
        sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
        return

    async def run() -> None:
        client = KubeClient.connect(kubeconfig, context)
        try:
            await apply_all(client, objs)
            if crds_only:
                return
            token = await ensure_auth_secret(client, namespace)
            if token is None:
                err.print(f"kept the existing Secret {namespace}/{AUTH_SECRET_NAME} (its tokens are unchanged)")
            else:
                err.print(f"created Secret {namespace}/{AUTH_SECRET_NAME}; admin token (shown once, stored hashed):")
                sys.stdout.write(token + "\n")
        finally:
            await client.close()

    try:
        asyncio.run(run())
    except errors.KubeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
