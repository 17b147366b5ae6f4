"""The event broadcaster without a cluster: only summary changes are sent, slow clients are told
to resync instead of growing a queue, and streams end at shutdown."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from gitward.core.manifests import Manifest
from gitward.server import sse


@dataclass
class FakeInformer:
    store: dict[Any, Manifest] = field(default_factory=dict)
    handlers: list[Any] = field(default_factory=list)


@dataclass
class FakeBackend:
    applications: FakeInformer = field(default_factory=FakeInformer)
    on_stop: list[Any] = field(default_factory=list)


def app(name: str, sync: str = "Synced", rv: str = "1") -> Manifest:
    return {
        "metadata": {"namespace": "ns", "name": name, "resourceVersion": rv},
        "spec": {"source": {"repoURL": "https://x/y.git"}},
        "status": {"sync": {"status": sync}},
    }


def parse(chunk: bytes) -> tuple[str, Any]:
    fields = dict(line.split(": ", 1) for line in chunk.decode().strip().splitlines() if not line.startswith(":"))
    return fields.get("event", ""), json.loads(fields["data"]) if "data" in fields else None


def make() -> tuple[FakeBackend, sse.Broadcaster]:
    backend = FakeBackend()
    return backend, sse.Broadcaster(backend, ping=0.05)  # type: ignore[arg-type]


def emit(backend: FakeBackend, event: str, obj: Manifest) -> None:
    for handler in backend.applications.handlers:
        handler(event, obj)


async def test_only_changes_are_sent_and_the_stream_ends_on_stop() -> None:
    backend, broadcaster = make()
    backend.applications.store["web"] = app("web")
    emit(backend, "ADDED", app("web"))
    stream = broadcaster.stream(sse.Subscriber(None, None))
    kind, data = parse(await anext(stream))
    assert kind == "snapshot" and [i["name"] for i in data["items"]] == ["web"]

    emit(backend, "MODIFIED", app("web", rv="2"))  # same summary: nothing to say
    emit(backend, "MODIFIED", app("web", "OutOfSync", rv="3"))
    chunk = await anext(stream)
    while chunk.startswith(b":"):  # pings
        chunk = await anext(stream)
    kind, data = parse(chunk)
    assert kind == "application" and data["type"] == "MODIFIED" and data["application"]["syncStatus"] == "OutOfSync"
    emit(backend, "DELETED", app("web"))
    kind, data = parse(await anext(stream))
    assert data == {"type": "DELETED", "namespace": "ns", "name": "web", "application": None}

    for callback in backend.on_stop:
        callback()
    assert [c async for c in stream if not c.startswith(b":")] == []
    assert broadcaster.subscribers == set()


async def test_a_slow_client_is_told_to_resync_and_memory_stays_bounded() -> None:
    backend, broadcaster = make()
    subscriber = sse.Subscriber(None, None)
    stream = broadcaster.stream(subscriber)
    await anext(stream)  # snapshot
    for i in range(2000):
        emit(backend, "ADDED", app(f"app-{i}"))
        assert subscriber.queue.qsize() <= 256
    kind, _ = parse(await anext(stream))
    assert kind == "resync"
    names = [parse(await anext(stream))[1]["name"]]
    while subscriber.queue.qsize():
        names.append(parse(await anext(stream))[1]["name"])
    assert names[-1] == "app-1999" and len(names) <= 256  # the newest events survive
    await stream.aclose()
    assert broadcaster.subscribers == set()


async def test_filters() -> None:
    backend, broadcaster = make()
    stream = broadcaster.stream(sse.Subscriber("ns", "two"))
    await anext(stream)
    emit(backend, "ADDED", app("one"))
    emit(backend, "ADDED", app("two"))
    _, data = parse(await anext(stream))
    assert data["name"] == "two"
    await stream.aclose()


async def test_a_stream_opened_after_shutdown_ends_at_once() -> None:
    _, broadcaster = make()
    broadcaster.close()
    async with asyncio.timeout(1):
        assert [c async for c in broadcaster.stream(sse.Subscriber(None, None))] == []
