"""Entry point of the `gitward` console command; wires the sub-commands together."""

from __future__ import annotations

import typer

from gitward.cli import dev

app = typer.Typer(
    name="gitward",
    help="gitward: a GitOps operator for Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(dev.app, name="dev")


def main() -> None:
    app()
