"""Entry point of the `gitward` console command; wires the sub-commands together."""

from __future__ import annotations

import typer

from gitward.cli import dev, install, run

app = typer.Typer(
    name="gitward",
    help="gitward: a GitOps operator for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(dev.app, name="dev")
app.command(name="install")(install.install)
app.command(name="run")(run.run)


def main() -> None:
    app()
