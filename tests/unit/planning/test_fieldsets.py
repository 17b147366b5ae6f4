"""fieldsets: coverage of a desired object by a FieldsV1 trie, and path spelling."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.planning import fieldsets

CONTAINERS: dict[str, Any] = {
    "f:containers": {
        'k:{"name":"web"}': {".": {}, "f:name": {}, "f:image": {}},
        'k:{"name":"side"}': {".": {}, "f:name": {}},
    }
}


@pytest.mark.parametrize(
    ("obj", "fields", "expected"),
    [
        pytest.param({}, {}, None, id="nothing-desired"),
        pytest.param({"a": 1}, {}, "a", id="empty-root-covers-nothing"),
        pytest.param({"a": 1}, "garbage", "a", id="root-garbage"),
        pytest.param({"a": {"b": 1}}, {"f:a": {"f:b": {}}}, None, id="nested"),
        pytest.param({"a": {"b": 1, "c": 2}}, {"f:a": {".": {}, "f:b": {}}}, "a.c", id="nested-missing"),
        pytest.param({"containers": [{"name": "web", "image": "x"}]}, CONTAINERS, None, id="keyed"),
        pytest.param(
            {"containers": [{"name": "side", "image": "x"}]}, CONTAINERS, "containers[name=side].image", id="keyed-leaf"
        ),
        pytest.param({"containers": [{"name": "new"}]}, CONTAINERS, "containers[name=new]", id="keyed-absent"),
        pytest.param({"containers": ["web"]}, CONTAINERS, "containers[0]", id="scalar-vs-keyed"),
        pytest.param({"s": ["a", {"b": 1}]}, {"f:s": {'v:"a"': {}, 'v:{"b":1}': {}}}, None, id="set-of-mixed"),
        pytest.param({"s": [1]}, {"f:s": {"v:true": {}}}, "s[0]", id="set-json-types"),
        pytest.param({"s": [1]}, {"f:s": {"v:not-json": {}, "i:x": {}}}, "s[0]", id="garbage-entries"),
        pytest.param({"l": [[1]]}, {"f:l": {"i:0": {}}}, None, id="nested-list-positional"),
        pytest.param({"l": [{"a": 1}]}, {"f:l": {"i:0": {"f:b": {}}}}, "l[0].a", id="positional-leaf"),
        pytest.param({"a.b/c": "x"}, {}, '["a.b/c"]', id="quoted-root-key"),
    ],
)
def test_first_uncovered(obj: dict[str, Any], fields: Any, expected: str | None) -> None:
    assert fieldsets.first_uncovered(obj, fields) == expected


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        ("", "spec", "spec"),
        ("spec", "replicas", "spec.replicas"),
        ("metadata.labels", "app.kubernetes.io/name", 'metadata.labels["app.kubernetes.io/name"]'),
        ("data", "tls.crt", 'data["tls.crt"]'),
    ],
)
def test_join(path: str, key: str, expected: str) -> None:
    assert fieldsets.join(path, key) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1, 1, True), (1, True, False), ("1", 1, False), ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True), ({1, 2}, 3, False)],
)
def test_same(a: Any, b: Any, expected: bool) -> None:
    assert fieldsets.same(a, b) is expected
