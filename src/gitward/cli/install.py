"""`gitward install [--namespace gitward] [--crds-only] [--print]`: apply (or print) the CRDs and the
in-cluster controller (Deployment, ServiceAccount, RBAC), from the files kept under `deploy/`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from gitward.kube import errors
from gitward.kube.client import KubeClient

err = Console(stderr=True)
FIELD_MANAGER = "gitward-install"


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
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option("--context", help="The kubeconfig context.")] = None,
) -> None:
    """Apply (or print) gitward's CRDs and the in-cluster controller."""
    objs = manifests(namespace, crds_only)
    if print_only:
        sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
        return

    async def run() -> None:
        client = KubeClient.connect(kubeconfig, context)
        try:
            await apply_all(client, objs)
        finally:
            await client.close()

    try:
        asyncio.run(run())
    except errors.KubeError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
