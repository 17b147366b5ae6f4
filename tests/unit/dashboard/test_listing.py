"""The application list's filters (from the query string, shareable) and its count summary."""

from __future__ import annotations

from typing import Any

import pytest

from gitward.server import schemas
from gitward.server.dashboard import listing


def summary(name: str, namespace: str = "team", sync: str = "Synced", health: str = "Healthy") -> Any:
    return schemas.ApplicationSummary(
        namespace=namespace, name=name, project="default", repoURL="https://git.example.com/x.git", path=".",
        targetRevision="main", destinationNamespace=namespace, destinationCluster="in-cluster", automated=True,
        suspend=False, syncStatus=sync, healthStatus=health, revision="",
    )  # fmt: skip


APPS = [
    summary("a"),
    summary("b", sync="OutOfSync"),
    summary("c", namespace="ops", health="Degraded"),
    summary("d", namespace="ops", sync="OutOfSync", health="Progressing"),
    summary("e", sync="Weird", health="Strange"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, listing.Filters()),
        (
            {"sync": "OutOfSync", "health": "Degraded", "namespace": "ops"},
            listing.Filters("OutOfSync", "Degraded", "ops"),
        ),
        ({"sync": "bogus", "health": "<script>", "namespace": "Not_A_Namespace"}, listing.Filters()),
        ({"namespace": "a" * 64}, listing.Filters()),
    ],
)
def test_filters_from_the_query(query: dict[str, str], expected: listing.Filters) -> None:
    assert listing.Filters.parse(query) == expected


def test_select() -> None:
    names = lambda f: [a.name for a in listing.select(APPS, f)]  # noqa: E731
    assert names(listing.Filters()) == ["a", "b", "c", "d", "e"]
    assert names(listing.Filters(sync="OutOfSync")) == ["b", "d"]
    assert names(listing.Filters(health="Degraded")) == ["c"]
    assert names(listing.Filters(sync="OutOfSync", namespace="ops")) == ["d"]


def test_urls_are_shareable() -> None:
    filters = listing.Filters(sync="OutOfSync", namespace="ops")
    assert filters.url() == "/?sync=OutOfSync&namespace=ops"
    assert filters.url(health="Degraded") == "/?sync=OutOfSync&health=Degraded&namespace=ops"
    assert filters.url(sync="", namespace="") == "/"
    assert filters.active and not listing.Filters().active


def test_counts() -> None:
    counts = listing.count(APPS)
    assert counts.total == 5
    assert counts.sync == [("Synced", 2), ("OutOfSync", 2), ("Weird", 1)]
    assert counts.health == [("Healthy", 2), ("Progressing", 1), ("Degraded", 1), ("Strange", 1)]
    assert listing.count([]) == listing.Counts(0, [], [])
