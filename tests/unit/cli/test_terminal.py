"""What reaches the user's terminal from someone else's text (`gitward.cli.terminal`): plain data
through the real rich tables the commands print."""

from __future__ import annotations

import io

from rich.text import Text

from gitward.cli import app_views, terminal

HOSTILE = "fix\x1b]0;owned\x07\x1b[2J\u202egnp.exe\x9b31m [link=https://evil.example]click[/link]"


def printed(renderable: object, *, colour: bool) -> str:
    buffer = io.StringIO()
    console = terminal.console(file=buffer, force_terminal=colour, width=400, highlight=False)
    console.print(renderable)
    return buffer.getvalue()


def test_control_and_bidirectional_characters_become_visible_escapes() -> None:
    assert terminal.clean(HOSTILE) == (
        "fix\\x1b]0;owned\\x07\\x1b[2J\\u202egnp.exe\\x9b31m [link=https://evil.example]click[/link]"
    )
    assert terminal.clean("tab\tand\nnewline, ünïcode ✓") == "tab\tand\nnewline, ünïcode ✓"


def test_a_hostile_commit_in_the_history_table_cannot_drive_the_terminal() -> None:
    entry = {"id": 1, "revision": "a" * 40, "author": HOSTILE, "message": HOSTILE, "result": "Succeeded"}
    for colour in (False, True):
        out = printed(app_views.history_table([entry]), colour=colour)
        assert "\x07" not in out and "\x9b" not in out and "\u202e" not in out
        assert "\x1b]" not in out and "\x1b[2J" not in out  # rich's own colour codes are \x1b[..m
        assert "\\x1b]0;owned" in out and "[link=https:" in out
    assert "\x1b[32m" in printed(app_views.history_table([entry]), colour=True)  # the result keeps its colour


def test_markup_in_a_plain_string_is_printed_as_written() -> None:
    assert printed("[bold red]not markup[/]", colour=False).strip() == "[bold red]not markup[/]"
    assert printed(Text("styled", style="bold"), colour=True).startswith("\x1b[1m")
