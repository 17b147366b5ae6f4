"""Immutable-field refusals and the Replace/Force opt-in, as plain data."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.applying import replacing
from gitward.core.manifests import ObjectRef
from gitward.kube import errors


def _job(options: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "migrate", "namespace": "ns"}
    if options is not None:
        meta["annotations"] = {replacing.SYNC_OPTIONS: options}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("Replace=true", True),
        ("Force=true", True),
        ("Prune=false, Replace=true", True),
        ("Replace=TRUE", True),
        ("Replace=false", False),
        ("Replace", False),
        ("ServerSideApply=true", False),
        (None, False),
    ],
)
def test_opt_in_by_annotation(options: str | None, expected: bool) -> None:
    assert replacing.opted_in(_job(options)) is expected


def test_opt_in_for_the_whole_application() -> None:
    assert replacing.opted_in(_job(None), app_wide=True)


def _invalid(causes: Any, message: str = "Job.batch is invalid") -> errors.APIInvalidError:
    return errors.APIInvalidError(message, code=422, status={"details": {"causes": causes}})


def test_immutable_fields_come_from_the_causes() -> None:
    exc = _invalid(
        [
            {"field": "spec.template", "message": "Invalid value: core.PodTemplateSpec{...}: field is immutable"},
            {"field": "spec.selector", "message": "Invalid value: ...: field is immutable"},
            {"field": "spec.replicas", "message": "must be greater than or equal to 0"},
        ]
    )
    assert replacing.immutable_fields(exc) == ["spec.selector", "spec.template"]


def test_other_refusals_are_not_immutable_ones() -> None:
    assert replacing.immutable_fields(_invalid([{"field": "spec.x", "message": "Required value"}])) == []
    assert replacing.immutable_fields(errors.APIConflictError("field is immutable", code=409)) == []


def test_a_hostile_field_name_is_never_echoed() -> None:
    exc = _invalid([{"field": "spec\nX-Evil: 1", "message": "field is immutable"}, "junk"])
    assert replacing.immutable_fields(exc) == ["a field"]


def test_the_hint_names_fields_and_opt_in_without_values() -> None:
    text = replacing.hint(ObjectRef("batch", "Job", "ns", "migrate"), ["spec.template"])
    assert "spec.template" in text
    assert "gitward.dev/sync-options: Replace=true" in text
