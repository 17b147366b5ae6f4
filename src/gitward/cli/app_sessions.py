"""The CLI's connection to the Kubernetes API with the user's kubeconfig, and its failure handling.

Used by every `gitward app ...` command (`cli/app.py`) and by `gitward diff` (`cli/diff.py`): the
shared options (`--kubeconfig`, `--context`, `-n/--namespace`), `run()` that connects, runs one
async piece of work and closes, and the rule that every failure ends as one line on stderr and an
exit code — never a traceback. `get_application` turns "not found" into a message a user can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from gitward.cli import terminal
from gitward.core import applications as apps
from gitward.core import logging as gwlogging
from gitward.core.errors import GitwardError
from gitward.core.manifests import Manifest
from gitward.kube import errors
from gitward.kube.client import KubeClient

T = TypeVar("T")

DEFAULT_NAMESPACE = "gitward"
"""The controller's default namespace (`gitward run --namespace`), where Applications live."""

Kubeconfig = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config).")
]
Context = Annotated[str | None, typer.Option("--context", help="The kubeconfig context to use.")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="The Application's namespace.")]


@dataclass(frozen=True, slots=True)
class Session:
    """Where to connect and which namespace the command is about."""

    kubeconfig: str | None
    context: str | None
    namespace: str


class CliError(Exception):
    """A failure the user must see as one line, ending the command with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def stderr() -> Console:
    return terminal.console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: <message>` on stderr (as one line) and exit with `code`."""
    stderr().print(Text.assemble(("error: ", "bold red"), one_line(message)))
    raise typer.Exit(code)


def quiet_logs() -> None:
    """Library log lines (git fetches, Helm warnings) to stderr, warnings only: stdout is the output."""
    gwlogging.configure("warning")


def one_line(message: str) -> str:
    return " ".join(message.split())


def run(session: Session, work: Callable[[KubeClient], Awaitable[T]], *, error_code: int = 1) -> T:
    """Connect, run `work(client)`, close; failures become `fail(...)` with `error_code`."""

    async def connected() -> T:
        client = KubeClient.connect(session.kubeconfig, session.context)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(connected())
    except CliError as exc:
        fail(exc.message, exc.code)
    except GitwardError as exc:
        fail(exc.message, error_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)


async def check_crd(client: KubeClient) -> None:
    """Fail clearly when the cluster does not serve Applications (CRDs not installed)."""
    try:
        await client.resource(apps.API_VERSION, "Application")
    except errors.APINotFoundError:
        msg = "the cluster has no gitward Application resource; install the CRDs with `gitward install --crds-only`"
        raise CliError(msg) from None


async def get_application(client: KubeClient, namespace: str, name: str, *, code: int = 1) -> Manifest:
    """The Application `namespace/name`, or a CliError that says it does not exist."""
    await check_crd(client)
    found = await client.get_or_none(apps.API_VERSION, "Application", name, namespace)
    if found is None:
        raise CliError(f"Application {namespace}/{name} not found (choose the namespace with -n)", code)
    return found
