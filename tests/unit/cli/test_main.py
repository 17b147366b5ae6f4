"""The `gitward` command itself: --version, and help without arguments."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from gitward.cli.main import app

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_version_is_the_projects() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"gitward {tomllib.loads(PYPROJECT.read_text())['project']['version']}"


def test_no_arguments_shows_the_commands() -> None:
    result = CliRunner().invoke(app, [])
    for command in ("run", "install", "app", "render", "diff", "dev"):
        assert command in result.output
