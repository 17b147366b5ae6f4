"""`gitward render DIR`: render a local directory offline to stdout, as the controller would (SPEC §3).

Registered by `cli/main.py`. DIR is rendered as `kustomize build DIR` would: when it lies inside a
Git checkout, the checkout's root is the repository (`../base` may reach anywhere in it, never out of
it) and `--path` is relative to DIR. Builds an Application `Source` from the options (`--path`,
`--include`, `--exclude`, `--recurse/--no-recurse`) and runs the controller's engine
(`gitward.rendering.render`: plain manifests, kustomize or a Helm chart, with the same hostile-input
rules and limits); `--helm-values` files (outside the checkout, the user's own) come after the
chart's values, `--release-name` / `--namespace` set the release. The output is a YAML stream, one
`---` document per object with a `# Source:` comment naming its file; errors name the file and exit
1. No cluster is contacted: a chart sees Helm's default capabilities.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from gitward import rendering
from gitward.cli import app_sessions as sessions
from gitward.core.applications import DirectorySource, Source
from gitward.core.errors import RenderError
from gitward.core.identifiers import GRAMMARS


def render(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The local directory (a checkout) to render.")],
    path: Annotated[str, typer.Option("--path", help="Directory inside DIR to render (source.path).")] = ".",
    include: Annotated[
        str, typer.Option("--include", help="Files to read, a glob (source.directory.include).")
    ] = DirectorySource().include,
    exclude: Annotated[str, typer.Option("--exclude", help="Files to skip, a glob (source.directory.exclude).")] = "",
    recurse: Annotated[
        bool, typer.Option("--recurse/--no-recurse", help="Read sub-directories (source.directory.recurse).")
    ] = True,
    helm_values: Annotated[
        list[Path] | None,
        typer.Option("--helm-values", help="Values file for a Helm chart (repeatable; later files win)."),
    ] = None,
    release_name: Annotated[str, typer.Option("--release-name", help="A chart's release name.")] = "",
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="A chart's release namespace (.Release.Namespace).")
    ] = "",
    allow_remote_bases: Annotated[
        bool, typer.Option("--allow-remote-bases", help="Allow kustomize remote bases.")
    ] = False,
) -> None:
    """Render a local directory (plain YAML, kustomize, a Helm chart) to stdout as a YAML stream, offline."""
    sessions.quiet_logs()
    if not directory.is_dir():
        sessions.fail(f"{directory}: not a directory")
    offset = "."  # where the render's root lies in the checkout (`rendering.locate`)
    try:
        root, where = rendering.locate(directory, path or ".")
        offset = os.path.relpath(root, rendering.checkout_of(directory)[0])
        offset = "." if offset.startswith("..") else offset
        options = DirectorySource(recurse=recurse, include=include, exclude=exclude)
        source = local_source(root, where, options)
        if helm_values and not rendering.has_chart(root, source.path):
            raise RenderError(f"{source.path}: --helm-values is for Helm charts, and there is no Chart.yaml here")
        objects = rendering.render(
            root,
            source,
            allow_remote_bases=allow_remote_bases,
            target=rendering.Target(app_name=release_name, namespace=namespace),
            helm_value_files=[file.resolve() for file in helm_values or []],
        )
    except RenderError as exc:
        sessions.fail(in_checkout(exc.message, offset))
    sys.stdout.write(stream([dataclasses.replace(obj, file=relabel(obj.file, offset)) for obj in objects]))


def in_checkout(message: str, offset: str) -> str:
    """A render error starting with a path of a narrowed root, with that path made one of the checkout."""
    head, sep, rest = message.partition(":")
    if offset == "." or not sep or " " in head:
        return message
    return posixpath.normpath(posixpath.join(offset, head)) + sep + rest


def relabel(label: str, offset: str) -> str:
    """A file label of a render from a narrowed root (`rendering.locate`) as a path of the checkout."""
    if offset == ".":
        return label
    for prefix in ("kustomize:", "helm:"):
        if label.startswith(prefix):
            return prefix + posixpath.normpath(posixpath.join(offset, label.removeprefix(prefix)))
    return posixpath.normpath(posixpath.join(offset, label))


def local_source(directory: Path, path: str, options: DirectorySource) -> Source:
    """The Source an Application would have for `path` in this checkout; RenderError when `path` is not
    one an Application could name (source.path's grammar: relative, no '..')."""
    path = posixpath.normpath(path or ".")
    problem = GRAMMARS["path"].problem(path)
    if problem is not None:
        raise RenderError(f"{path}: --path {problem}")
    return Source(repoURL=directory.resolve().as_uri(), path=path or ".", directory=options)


def stream(objects: list[rendering.Rendered]) -> str:
    """A YAML stream: `---`, `# Source: <file>`, the object; for each object in render order."""
    return "".join(
        f"---\n# Source: {obj.file}\n"
        + yaml.safe_dump(obj.manifest, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=False)
        for obj in objects
    )
