"""Property-based fuzzing (hypothesis) of the parts that read hostile input: manifest parsing, path
resolution inside a checkout, normalisation and the no-request comparison. Each may refuse input
with gitward's own error (RenderError), never crash with anything else. Crashes found here become
explicit regression cases below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitward.core.errors import RenderError
from gitward.planning import comparing, fingerprints, normalizing
from gitward.rendering import DEFAULT_LIMITS, documents, paths, scanning

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
yaml_fragments = st.sampled_from(
    ["---\n", "a: b\n", "kind: List\n", "items:\n", "- ", "&x ", "*x ", "{", "}", "[", "]", ": ", "\t",
     "!!python/object ", "apiVersion: v1\n", "metadata: {name: x}\n", "'", '"', "\n", "  ", "<<: *x\n",
     "%YAML 1.1\n", "? ", "|\n"]
)  # fmt: skip


def _load(data: bytes) -> list[documents.Rendered]:
    return documents.load(data, "fuzz.yaml", DEFAULT_LIMITS, scanning.Budget(DEFAULT_LIMITS.max_total_bytes))


@FUZZ
@given(st.lists(yaml_fragments | st.text(max_size=10), max_size=40).map("".join))
def test_yaml_documents_parse_or_refuse(text: str) -> None:
    try:
        result = _load(text.encode())
    except RenderError as exc:
        message = exc.message
        assert message.startswith("fuzz.yaml")
        return
    for item in result:
        assert isinstance(item.manifest, dict)
        json.dumps(item.manifest)  # plain JSON data only, no Python objects


@FUZZ
@given(st.binary(max_size=200))
def test_binary_input_parses_or_refuses(data: bytes) -> None:
    try:
        _load(data)
    except RenderError:
        return


@FUZZ
@given(json_values)
def test_json_documents_parse_or_refuse(value: Any) -> None:
    try:
        documents.load(json.dumps(value).encode(), "fuzz.json", DEFAULT_LIMITS, scanning.Budget(1 << 20), is_json=True)
    except RenderError:
        return


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-tree")
    (root / "checkout" / "a" / "b").mkdir(parents=True)
    (root / "checkout" / "a" / "file.yaml").write_text("x: 1\n")
    (root / "checkout" / "a" / "up").symlink_to("../..")
    (root / "checkout" / "a" / "ok").symlink_to("b")
    (root / "checkout" / "escape").symlink_to(str(root))
    return root / "checkout"


@FUZZ
@given(
    st.lists(st.sampled_from(["a", "b", "..", ".", "up", "ok", "escape", "file.yaml", "", "/", "//", "x"]), max_size=8)
)
def test_paths_never_resolve_outside_the_checkout(tree: Path, parts: list[str]) -> None:
    relative = "/".join(parts)
    try:
        resolved = paths.resolve_inside(tree, relative)
    except RenderError:
        return
    assert paths.is_inside(resolved.resolve(), tree.resolve())


@FUZZ
@given(st.lists(json_values, max_size=4))
def test_normalize_refuses_malformed_objects_cleanly(objs: list[Any]) -> None:
    try:
        out = normalizing.normalize(objs, app_namespace="ns", app_name="app", default_namespace="ns",
                                    is_namespaced=lambda g, k: None)  # fmt: skip
    except RenderError:
        return
    for obj in out:
        assert obj["metadata"]["annotations"][comparing.DESIRED_HASH]


@FUZZ
@given(json_values, json_values)
def test_comparison_tolerates_any_live_object(managed: Any, extra: Any) -> None:
    desired = normalizing.normalize(
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}],
        app_namespace="ns", app_name="app", default_namespace="ns", is_namespaced=lambda g, k: True,
    )[0]  # fmt: skip
    live = {**desired, "metadata": {**desired["metadata"], "managedFields": managed}, "extra": extra}
    decision = comparing.needs_apply(desired, live)
    assert decision.action in ("create", "update", "drift", "none")
    fingerprints.fingerprint(desired, live)
