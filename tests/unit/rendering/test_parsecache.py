"""rendering.parsecache: same bytes parse once; a hit still charges the render's expansion budget."""

from __future__ import annotations

import pytest

from gitward.core.errors import RenderError
from gitward.rendering import DEFAULT_LIMITS, documents, parsecache, scanning

CM = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"


def test_same_bytes_parse_once_and_still_cost_budget() -> None:
    parsecache.clear()
    calls: list[str] = []

    def parse(data: bytes, label: str, limits: object, budget: scanning.Budget, is_json: bool) -> list[object]:
        calls.append(label)
        return documents.load(data, label, DEFAULT_LIMITS, budget, is_json=is_json)  # type: ignore[return-value]

    first = scanning.Budget(10_000)
    one = parsecache.load(CM, "cm.yaml", DEFAULT_LIMITS, first, False, parse)  # type: ignore[arg-type]
    cost = first.spent
    assert cost > 0
    second = scanning.Budget(10_000)
    two = parsecache.load(CM, "cm.yaml", DEFAULT_LIMITS, second, False, parse)  # type: ignore[arg-type]
    assert calls == ["cm.yaml"]
    assert one is two
    assert second.spent == cost
    parsecache.load(CM + b"# changed\n", "cm.yaml", DEFAULT_LIMITS, second, False, parse)  # type: ignore[arg-type]
    assert len(calls) == 2

    tight = scanning.Budget(cost - 1)
    with pytest.raises(RenderError, match="expand beyond the size limit"):
        parsecache.load(CM, "cm.yaml", DEFAULT_LIMITS, tight, False, parse)  # type: ignore[arg-type]
