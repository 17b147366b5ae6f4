"""Entry point of the `gitward` console command; wires the sub-commands together."""

from __future__ import annotations

from typing import Annotated

import typer

from gitward import __version__
from gitward.cli import app as app_commands
from gitward.cli import appset as appset_commands
from gitward.cli import dev, diff, install, push, render, rollout, run

app = typer.Typer(
    name="gitward",
    help="gitward: a GitOps operator for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gitward {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """gitward: a GitOps operator for Kubernetes."""


app.add_typer(dev.app, name="dev")
app.command(name="install")(install.install)
app.command(name="run")(run.run)
app.add_typer(app_commands.app, name="app")
app.add_typer(appset_commands.app, name="appset")
app.add_typer(rollout.app, name="rollout")
app.command(name="render")(render.render)
app.command(name="diff")(diff.diff)
app.add_typer(push.app, name="push")


def main() -> None:
    app()
