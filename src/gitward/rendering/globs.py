"""Include/exclude patterns of a directory source (`directory.include`, `directory.exclude`).

Called by `directory` to pick manifest files. Patterns are shell globs with brace alternatives,
as Argo CD users write them: `*.{yaml,yml,json}`, `{base/*,overlays/prod/*}`. A pattern matches a
file when it matches the file's path relative to the source path (`*` also crosses `/`) or its name.
"""

from __future__ import annotations

import fnmatch
import posixpath

from gitward.core.errors import RenderError

MAX_ALTERNATIVES = 1_000


def expand_braces(pattern: str) -> list[str]:
    """`a{b,c}d` → [`abd`, `acd`], nested groups too; a group without a comma stays literal."""
    start = pattern.find("{")
    while start != -1:
        group = _group_at(pattern, start)
        if group is not None:
            end, alternatives = group
            prefix, suffix = pattern[:start], pattern[end + 1 :]
            expanded = [out for alt in alternatives for out in expand_braces(prefix + alt + suffix)]
            if len(expanded) > MAX_ALTERNATIVES:
                raise RenderError(f"{pattern}: pattern expands to more than {MAX_ALTERNATIVES} alternatives")
            return expanded
        start = pattern.find("{", start + 1)
    return [pattern]


def _group_at(pattern: str, start: int) -> tuple[int, list[str]] | None:
    """The end index and alternatives of the brace group opening at `start`, if it has a comma."""
    depth, last, parts = 0, start + 1, []
    for index in range(start, len(pattern)):
        char = pattern[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                parts.append(pattern[last:index])
                return (index, parts) if len(parts) > 1 else None
        elif char == "," and depth == 1:
            parts.append(pattern[last:index])
            last = index + 1
    return None


class Matcher:
    """A compiled include or exclude pattern; the empty pattern matches nothing."""

    def __init__(self, pattern: str) -> None:
        self.patterns = expand_braces(pattern) if pattern else []

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        """Whether repo path `path` (relative to the source path) matches one alternative."""
        name = posixpath.basename(path)
        return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in self.patterns)
