"""Holding a sync for dependsOn and RollingSync steps, over plain Application data: what is ready,
what is waited for, and cycles found on every member."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.controller import dependencies, triggers
from gitward.controller.context import Memory, Pass
from gitward.core import applications as apps
from gitward.core.manifests import Manifest, ObjectRef

URL = "https://git.example.com/org/config.git"
SHA, OLD = "a" * 40, "b" * 40


def app(name: str, *, depends: list[str] = (), ready: bool = True, sha: str = SHA, **meta: Any) -> Manifest:  # type: ignore[assignment]
    status = {"observedGeneration": 1, "sync": {"status": "Synced" if ready else "OutOfSync", "revision": sha},
              "health": {"status": "Healthy" if ready else "Progressing"}, "lastAttemptedRevision": sha}  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": "ns", "generation": 1, **meta},
        "spec": {"source": {"repoURL": URL, "targetRevision": "main"}, "dependsOn": [{"name": d} for d in depends]},
        "status": status,
    }


def store(*items: Manifest) -> dict[ObjectRef, Manifest]:
    return {ObjectRef(apps.API_GROUP, "Application", "ns", a["metadata"]["name"]): a for a in items}


def held(subject: Manifest, known: dict[ObjectRef, Manifest], sha: str = SHA) -> dependencies.Hold | None:
    spec = apps.ApplicationSpec.model_validate(subject["spec"])
    return dependencies.hold(Pass(subject, spec, 60.0, Memory(), triggers.of(subject)), sha, known)


def test_ready_dependencies_hold_nothing() -> None:
    web = app("web", depends=["db"])
    assert held(web, store(web, app("db"))) is None


@pytest.mark.parametrize(
    ("db", "words"),
    [
        (None, "not found"),
        (app("db", ready=False), "OutOfSync and Progressing"),
        ({**app("db"), "metadata": {"name": "db", "namespace": "ns", "generation": 2}}, "current spec"),
        ({**app("db"), "status": {**app("db")["status"], "lastAttemptedRevision": OLD}}, "newest revision"),
        (app("db", sha=OLD), "not yet at"),
    ],
)
def test_what_a_dependency_lacks(db: Manifest | None, words: str) -> None:
    web = app("web", depends=["db"])
    found = held(web, store(web, *([db] if db else [])))
    assert found is not None and found.reason == "DependenciesNotReady"
    assert "waiting for ns/db" in found.message and words in found.message
    assert found.refetch == (words == "not yet at")


def test_a_cycle_is_found_on_every_member() -> None:
    a, b, c = (app(n, depends=[d], ready=False) for n, d in (("a", "b"), ("b", "c"), ("c", "a")))
    outside = app("d", depends=["a"])
    known = store(a, b, c, outside)
    for member, path in ((a, "ns/a → ns/b → ns/c → ns/a"), (b, "ns/b → ns/c → ns/a → ns/b")):
        found = held(member, known)
        assert found is not None and found.reason == "DependencyCycle" and path in found.message
    found = held(outside, known)  # waits for a member of the cycle, is not in it
    assert found is not None and found.reason == "DependenciesNotReady"


def test_rolling_sync_steps_wait_for_the_earlier_ones() -> None:
    def member(name: str, step: int, ready: bool = True) -> Manifest:
        return app(name, ready=ready, labels={"gitward.dev/application-set": "web"},
                   annotations={"gitward.dev/rollout-step": str(step)})  # fmt: skip

    one, two, three = member("one", 1, ready=False), member("two", 2), member("three", 3)
    other_set = app("x", ready=False, labels={"gitward.dev/application-set": "other"},
                    annotations={"gitward.dev/rollout-step": "1"})  # fmt: skip
    known = store(one, two, three, other_set)
    assert held(one, known) is None
    found = held(three, known)
    assert found is not None and found.reason == "WaitingForRollout"
    assert found.message.startswith("RollingSync step 3 waits for step 1: one")
    assert held(three, store(member("one", 1), two, three, other_set)) is None


def test_dependents_are_woken_when_readiness_changes() -> None:
    def member(name: str, step: int) -> Manifest:
        return app(name, labels={"gitward.dev/application-set": "web"},
                   annotations={"gitward.dev/rollout-step": str(step)})  # fmt: skip

    db, web, plain, first, second = (
        app("db"),
        app("web", depends=["db"]),
        app("plain"),
        member("s1", 1),
        member("s2", 2),
    )
    known = store(db, web, plain, first, second)
    woken: list[str] = []
    watcher = dependencies.Dependents(lambda: known, woken.append)
    for item in known.values():
        watcher.on_app("ADDED", item)
    woken.clear()
    watcher.on_app("MODIFIED", app("db", ready=False))
    watcher.on_app("MODIFIED", app("db", ready=False))  # same readiness: nothing more
    watcher.on_app("MODIFIED", app("plain", ready=False))
    assert woken == ["ns/web"]
    woken.clear()
    watcher.on_app("MODIFIED", {**first, "status": {}})
    assert woken == ["ns/s2"]
