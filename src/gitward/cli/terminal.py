"""Consoles that never hand a terminal what a repository or a cluster wrote.

Used by the commands that print what came from the API server (`gitward app`, `appset`, `rollout`,
`diff`, and their errors): commit messages and authors, condition messages, object names and
values are someone else's text. A commit message holding `ESC ] 0 ; … BEL` would retitle the
user's terminal, `ESC [ 2 J` clear it, and bidirectional overrides reorder what is read (the
"terminal escape injection" kubectl fixed in CVE-2021-25743). So every text segment is cleaned just
before it is written — control characters (C0 but tab and newline, DEL, C1) and bidirectional
controls become visible `\\x1b`-style escapes — while the styles rich adds itself (colours, bold)
are untouched: rich writes those from styles, never from text. Markup is off, so a message such as
`[link=https://…]` is printed as written, not turned into a hyperlink.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

__all__ = ["clean", "console"]

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with every control and bidirectional character written as a visible escape."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class _CleanConsole(Console):
    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not _UNSAFE.search(segment.text):
                yield segment
            else:
                yield Segment(clean(segment.text), segment.style, segment.control)


def console(**options: Any) -> Console:
    """A rich Console (same options) whose text is cleaned and whose strings are never markup."""
    return _CleanConsole(markup=False, **options)
