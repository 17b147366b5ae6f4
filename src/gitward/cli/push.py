"""`gitward push artifact oci://host/repo:tag --path DIR`: publish a directory as an OCI artifact (SPEC §12).

Registered by `cli/main.py` as the `push` group. Packs DIR (reproducibly, without `.git`) into one
tar+gzip layer with Flux's artifact media types and the OCI annotations
`org.opencontainers.image.source` / `.revision` (from `--source` / `--revision`) and `.created`, and
pushes it with gitward's own registry client (`sourcing.oci`, the one the controller pulls with).
Credentials, in order: `GITWARD_REGISTRY_USERNAME` / `GITWARD_REGISTRY_PASSWORD`, then the Docker
config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as `docker login` writes it;
credential helpers are not used). `--ca-file` (or `SSL_CERT_FILE`) adds a CA to trust. Prints the
pushed digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from gitward.cli import app_sessions as sessions
from gitward.core.errors import SourceError
from gitward.sourcing import oci
from gitward.sourcing.credentials import Credentials

app = typer.Typer(name="push", help="Publish to registries.", no_args_is_help=True)


@app.command(name="artifact")
def artifact(
    url: Annotated[str, typer.Argument(metavar="oci://HOST/REPO:TAG", help="Where to push the artifact.")],
    path: Annotated[Path, typer.Option("--path", help="The directory to publish.")],
    source: Annotated[str, typer.Option("--source", help="Where the content comes from (a Git URL).")] = "",
    revision: Annotated[str, typer.Option("--revision", help="Its revision there (e.g. a commit SHA).")] = "",
    insecure: Annotated[bool, typer.Option("--insecure", help="The registry speaks plain HTTP.")] = False,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="A PEM CA bundle to trust.")] = None,
) -> None:
    """Publish DIR as an OCI artifact that an Application can deploy (`repoURL: oci://...`)."""
    sessions.quiet_logs()
    if not path.is_dir():
        sessions.fail(f"{path}: not a directory")
    annotations = {"org.opencontainers.image.created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if source:
        annotations["org.opencontainers.image.source"] = source
    if revision:
        annotations["org.opencontainers.image.revision"] = revision
    creds = _credentials(ca_file)
    registries = oci.Registries(Path(os.devnull))
    try:
        digest = asyncio.run(registries.push(url, path, creds, annotations=annotations, insecure=insecure))
    except SourceError as exc:
        sessions.fail(exc.message)
    typer.echo(f"pushed {url.removeprefix('oci://')}@{digest}")


def _credentials(ca_file: Path | None) -> Credentials:
    ca = ca_file.read_text() if ca_file is not None else ""
    username = os.environ.get("GITWARD_REGISTRY_USERNAME", "")
    password = os.environ.get("GITWARD_REGISTRY_PASSWORD", "")
    if username or password:
        return Credentials(username=username, password=password, ca_cert=ca)
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    config = config_dir / "config.json"
    docker = config.read_text() if config.is_file() else ""
    return Credentials(docker_config=docker, ca_cert=ca)
