"""A bounded cache of parsed manifest files, keyed by their content: a commit that changes one file
of a thousand parses one file (the others are the same bytes as in the previous commit).

Called by `rendering.directory`. A hit still charges the render's expansion budget with what the
file cost when it was parsed, so the per-render limits hold exactly as without the cache; entries
are shared read-only (callers copy objects before changing them — planning normalises copies).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from gitward.rendering import scanning
from gitward.rendering.documents import Rendered
from gitward.rendering.limits import Limits

MAX_ENTRIES = 20_000

_lock = threading.Lock()
_entries: OrderedDict[tuple[str, str, bool, Limits], tuple[list[Rendered], int]] = OrderedDict()


def load(
    data: bytes,
    label: str,
    limits: Limits,
    budget: scanning.Budget,
    is_json: bool,
    parse: Callable[[bytes, str, Limits, scanning.Budget, bool], list[Rendered]],
) -> list[Rendered]:
    """`parse(data, ...)`'s result, from the cache when the same bytes were parsed under `label`."""
    key = (hashlib.sha256(data).hexdigest(), label, is_json, limits)
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
    if hit is not None:
        rendered, cost = hit
        budget.spend(cost, label)
        return rendered
    before = budget.spent
    rendered = parse(data, label, limits, budget, is_json)
    with _lock:
        _entries[key] = (rendered, budget.spent - before)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return rendered


def clear() -> None:
    with _lock:
        _entries.clear()
