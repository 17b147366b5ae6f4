"""Regular expressions that come from users' specs, compiled by RE2 (linear-time matching, the syntax
of the Go regexp that Flux uses): an Alert's inclusion/exclusion lists (`core.notifications`, matched
by `controller.notifications.matching`) and an ImagePolicy's `filterTags.pattern`
(`sourcing.ocirefs`). Python's `re` backtracks: a pattern like `.*.*.*.*.*!` or `(a+)+$` over a
message or a tag could hold the controller's event loop for years.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

RegexError = re2.error


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    """`pattern` compiled by RE2, its errors not logged to stderr; raises `RegexError`. The result has
    `search(text)`, whose match has `group(name or number)` (IndexError for an unknown group)."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def error_message(exc: Exception) -> str:
    """RE2's reason for refusing a pattern, as text (bounded)."""
    detail = exc.args[0] if exc.args else exc
    return (detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail))[:200]
