"""The header of an Application page from plain data: the sync policy in words (from
gitward.server.views.policy, which `gitward app get` shares), the last operation, and which history
entry is deployed now."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.server import views
from gitward.server.dashboard import overviews


def app(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "team", "name": "web"}, "spec": spec or {}, "status": status}


@pytest.mark.parametrize(
    ("spec", "words", "prune"),
    [
        ({}, "Manual", False),
        ({"syncPolicy": {"automated": {}}}, "Automated", False),
        ({"syncPolicy": {"automated": {"prune": True, "selfHeal": True, "allowEmpty": True}}},
         "Automated · prune · self-heal", True),
        ({"syncPolicy": {"automated": {"prune": "yes"}}, "suspend": True}, "Automated (suspended)", False),
        ({"syncPolicy": "junk"}, "Manual", False),
    ],
)  # fmt: skip
def test_the_policy_in_words(spec: dict[str, Any], words: str, prune: bool) -> None:
    found = overviews.overview(app(spec))
    assert (found.policy, found.prune_default) == (words, prune)


def test_the_policy_is_shared_data() -> None:
    policy = views.policy({"syncPolicy": {"automated": {"selfHeal": True, "prune": True}, "interval": "5m"}})
    assert policy == views.Policy(automated=True, flags=("prune", "selfHeal"), interval="5m", suspended=False)
    assert views.policy(None) == views.Policy(automated=False, flags=(), interval="", suspended=False)


def test_the_last_operation() -> None:
    assert overviews.overview(app()).operation is None
    assert overviews.overview(app(operationState={"message": "no phase"})).operation is None
    state = {"phase": "Failed", "message": "boom", "startedAt": "t0", "syncResult": {"revision": "b" * 40}}
    assert overviews.overview(app(operationState=state)).operation == views.Operation(
        phase="Failed", message="boom", started_at="t0", finished_at="", revision="b" * 40
    )


def test_the_deployed_entry_is_the_last_success_at_the_synced_revision() -> None:
    history = [
        {"id": 1, "revision": "a" * 40, "result": "Succeeded"},
        {"id": 2, "revision": "b" * 40, "result": "Succeeded"},
        {"id": 3, "revision": "c" * 40, "result": "Failed"},
    ]
    found = overviews.overview(app(history=history, lastSyncedRevision="a" * 40))
    assert found.deployed_id == 1 and [entry.id for entry in found.history] == [3, 2, 1]
