"""Helm values precedence with `valuesFrom` documents (plain data, a checkout in a temp dir):
valueFiles < valuesFrom in order < extra files < inline values; a Secret's bad document is refused
without quoting it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.core.errors import RenderError
from gitward.rendering import DEFAULT_LIMITS, ValuesDocument, helm_values


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart/prod.yaml").write_text("a: file\nb: file\nc: file\nd: file\nnested: {x: file, y: file}\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text("c: extra\n")
    docs = [
        ValuesDocument("ConfigMap/ns/one[values.yaml]", "b: first\nd: first\nnested: {y: first}\n"),
        ValuesDocument("Secret/ns/two[values.yaml]", "d: second\n", secret=True),
    ]
    values = helm_values.compose(
        tmp_path,
        tmp_path / "chart",
        ["prod.yaml"],
        {"a": "inline"},
        DEFAULT_LIMITS,
        extra_files=[extra],
        from_cluster=docs,
    )
    assert values == {"a": "inline", "b": "first", "c": "extra", "d": "second", "nested": {"x": "file", "y": "first"}}


@pytest.mark.parametrize("text", ["password: [unclosed s3cret-value", "- just\n- a list s3cret-value\n"])
def test_a_secret_document_that_does_not_parse_is_not_quoted(tmp_path: Path, text: str) -> None:
    (tmp_path / "chart").mkdir()
    doc = ValuesDocument("Secret/ns/two[values.yaml]", text, secret=True)
    with pytest.raises(RenderError) as caught:
        helm_values.compose(tmp_path, tmp_path / "chart", [], {}, DEFAULT_LIMITS, from_cluster=[doc])
    assert caught.value.message.startswith("Secret/ns/two[values.yaml]: not a YAML mapping of values")
    assert "s3cret" not in caught.value.message
    plain = ValuesDocument("ConfigMap/ns/one[values.yaml]", text)
    with pytest.raises(RenderError, match=r"^ConfigMap/ns/one\[values.yaml\]"):
        helm_values.compose(tmp_path, tmp_path / "chart", [], {}, DEFAULT_LIMITS, from_cluster=[plain])
