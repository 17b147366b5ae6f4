"""controller.triggers: what a reconcile may do, table-driven (SPEC §2 manual operations, automated
sync, selfHeal, retries)."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.controller import triggers
from gitward.core.applications import ApplicationSpec


def spec(automated: dict[str, Any] | None, suspend: bool = False) -> ApplicationSpec:
    policy: dict[str, Any] = {"automated": automated} if automated is not None else {}
    return ApplicationSpec.model_validate(
        {"source": {"repoURL": "https://x/y"}, "syncPolicy": policy, "suspend": suspend}
    )


def app(annotations: dict[str, str], status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"annotations": annotations, "generation": generation}, "status": status}


SYNCED = {"lastSyncedRevision": "abc", "observedGeneration": 1}
FAILED = {**SYNCED, "operationState": {"phase": "Failed", "revision": "def"}}


@pytest.mark.parametrize(
    ("case", "the_spec", "the_app", "sha", "retry", "write", "heal_only"),
    [
        ("manual only, in sync", spec(None), app({}, SYNCED), "abc", True, False, False),
        ("manual only, new commit: report only", spec(None), app({}, SYNCED), "def", True, False, False),
        ("sync annotation", spec(None), app({"gitward.dev/sync": "{}"}, SYNCED), "abc", True, True, False),
        ("handled sync annotation", spec(None), app({"gitward.dev/sync": "{}"}, {**SYNCED, "lastHandledSync": "{}"}),
         "abc", True, False, False),
        ("automated, new commit", spec({"prune": True}), app({}, SYNCED), "def", True, True, False),
        ("automated, spec changed", spec({}), app({}, SYNCED, generation=2), "abc", True, True, False),
        ("automated, same commit, no selfHeal", spec({}), app({}, SYNCED), "abc", True, False, True),
        ("automated, same commit, selfHeal", spec({"selfHeal": True}), app({}, SYNCED), "abc", True, True, True),
        ("suspended", spec({"selfHeal": True}, suspend=True), app({}, SYNCED), "def", True, False, False),
        ("failed, retries left", spec({}), app({}, FAILED), "def", True, True, False),
        ("failed, retries exhausted", spec({"selfHeal": True}), app({}, FAILED), "def", False, False, False),
        ("wave in progress", spec(None), app({}, {**SYNCED, "operationState": {"phase": "Running"}}), "abc", True, True,
         False),
    ],
)  # fmt: skip
def test_decide(
    case: str, the_spec: ApplicationSpec, the_app: dict[str, Any], sha: str, retry: bool, write: bool, heal_only: bool
) -> None:
    decision = triggers.decide(the_spec, the_app["status"], sha, triggers.of(the_app), retry)
    assert (decision.write, decision.heal_only) == (write, heal_only), case


def test_a_failed_operation_is_retried_as_such_and_reported_while_it_is_not() -> None:
    failed = {**SYNCED, "operationState": {"phase": "Failed", "revision": "def", "message": "denied"}}
    retried = triggers.decide(spec({}), failed, "def", triggers.of(app({}, failed)), True)
    assert (retried.write, retried.retry, retried.failed) == (True, True, "")
    waiting = triggers.decide(spec({}), failed, "def", triggers.of(app({}, failed)), False)
    assert (waiting.write, waiting.failed) == (False, "denied")
    changed = app({}, failed, generation=2)  # a spec change is a new operation, whatever the retries
    fresh = triggers.decide(spec({}), failed, "def", triggers.of(changed), False)
    assert (fresh.write, fresh.retry) == (True, False)


@pytest.mark.parametrize(
    ("raw", "revision", "prune", "by", "error"),
    [
        ("{}", "", None, "manual", ""),
        ("true", "", None, "manual", ""),
        ('{"revision": "v1", "prune": true}', "v1", True, "manual", ""),
        ('{"revision": "abc", "initiatedBy": "rollback"}', "abc", None, "rollback", ""),
        ('{"initiatedBy": "root"}', "", None, "manual", ""),
        ("not json", "", None, "manual", "not JSON"),
        ('{"prune": "yes"}', "", None, "manual", "prune a boolean"),
        ("[1]", "", None, "manual", "expected a JSON object"),
        ('{"revision": "--upload-pack=touch /tmp/x"}', "", None, "manual", "revision must be a branch"),
        ('{"revision": "main\\r\\nX: y"}', "", None, "manual", "revision must be a branch"),
        ('{"revision": "../x"}', "", None, "manual", "revision must be a branch"),
    ],
)
def test_parse_sync(raw: str, revision: str, prune: bool | None, by: str, error: str) -> None:
    request = triggers.parse_sync(raw)
    assert (request.revision, request.prune, request.initiated_by) == (revision, prune, by)
    assert error in request.error if error else request.error == ""


def test_initiated_by() -> None:
    assert triggers.of(app({"gitward.dev/refresh": "webhook-1"}, {})).initiated_by == "webhook"
    assert triggers.of(app({}, {}), refreshed_by="webhook").initiated_by == "webhook"
    assert triggers.of(app({"gitward.dev/refresh": "x"}, {})).initiated_by == "automated"


def _with_writer(annotations: dict[str, str], manager: str) -> dict[str, Any]:
    obj = app(annotations, {})
    fields = {"f:metadata": {"f:annotations": {"f:gitward.dev/sync": {}}}}
    obj["metadata"]["managedFields"] = [
        {"manager": "kubectl-create", "fieldsV1": {"f:spec": {}}},
        {"manager": manager, "operation": "Update", "fieldsV1": fields},
    ]
    return obj


def test_initiator_from_the_request_else_from_the_annotations_writer() -> None:
    named = '{"initiatedBy": "manual", "initiator": "ci-bot"}'
    assert triggers.of(_with_writer({"gitward.dev/sync": named}, "gitward")).initiator == "ci-bot"
    assert triggers.of(_with_writer({"gitward.dev/sync": "{}"}, "kubectl-annotate")).initiator == "kubectl-annotate"
    hostile = '{"initiator": "admin\\nX-Injected: 1"}'
    assert triggers.of(_with_writer({"gitward.dev/sync": hostile}, "ops-team")).initiator == "ops-team"
    assert triggers.of(_with_writer({"gitward.dev/sync": "{}"}, "bad\tmanager")).initiator == ""
    assert triggers.of(app({"gitward.dev/refresh": "x"}, {})).initiator == ""  # no sync request: automated


def test_monotonic_of_a_creation_timestamp() -> None:
    import datetime as dt
    import time

    from gitward.controller import desiring

    ten_s_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    value = desiring._monotonic_of(ten_s_ago)
    assert time.monotonic() - 13 < value < time.monotonic() - 9
    assert desiring._monotonic_of("not a time") == 0.0
