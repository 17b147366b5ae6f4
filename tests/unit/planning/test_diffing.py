"""planning.diffing: managed-field diffs with Secret values masked."""

from __future__ import annotations

import base64

from gitward.planning import diffing


def _cm(value: str, extra: dict[str, str] | None = None) -> dict[str, object]:
    meta: dict[str, object] = {"name": "cm", "namespace": "ns"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value, **(extra or {})}}


def _secret(value: str) -> dict[str, object]:
    data = {"password": base64.b64encode(value.encode()).decode()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, "data": data}


def test_same_object_has_no_diff() -> None:
    assert diffing.unified(_cm("1"), _cm("1")) == ""


def test_fields_gitward_does_not_set_are_ignored() -> None:
    live = _cm("1", {"added-by-someone": "x"})
    live["metadata"]["managedFields"] = [{"manager": "x"}]  # type: ignore[index]
    live["status"] = {"anything": 1}
    assert diffing.unified(_cm("1"), live) == ""


def test_changed_value_shows_both_sides() -> None:
    text = diffing.unified(_cm("2"), _cm("1"))
    assert "-  v: '1'" in text
    assert "+  v: '2'" in text
    assert "live/ConfigMap/ns/cm" in text


def test_create_and_prune() -> None:
    assert "+kind: ConfigMap" in diffing.unified(_cm("1"), None)
    assert "-kind: ConfigMap" in diffing.unified(None, _cm("1"))


def test_secret_values_never_appear_but_changes_do() -> None:
    text = diffing.unified(_secret("new-s3cret"), _secret("old-s3cret"))
    for value in ("new-s3cret", "old-s3cret"):
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    assert diffing.CHANGED_MASK in text
    assert diffing.unified(_secret("same"), _secret("same")) == ""
