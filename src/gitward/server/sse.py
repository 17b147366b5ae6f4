"""`GET /api/v1/events`: server-sent events of Application changes, for the dashboard and scripts.

    event: snapshot        data: {"items": [<summary>, ...]}                  first, on connect
    id: 7
    event: application     data: {"type": "ADDED|MODIFIED|DELETED", "namespace", "name",
                                  "application": <summary> | null}
    event: resync          data: {}    the client was too slow and missed events: re-read the list
    : ping                 every `ping` seconds (keeps proxies from closing the stream)

Query `namespace` and `name` narrow the stream to some Applications. A `Broadcaster` (made by
gitward.server.app.build) listens to the server's Application informer and sends an event only
when an Application's summary changed (status, spec, not every resourceVersion). Memory is
bounded: a queue per subscriber, and at most `max_subscribers` streams. Streams end when the
backend stops (shutdown).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from gitward.core.manifests import Manifest
from gitward.server import auth, backend, schemas, views

__all__ = ["Broadcaster", "router"]


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    namespace: str
    name: str
    application: dict[str, Any] | None

    def encode(self) -> bytes:
        data = {"type": self.type, "namespace": self.namespace, "name": self.name, "application": self.application}
        return f"id: {self.id}\nevent: application\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


_CLOSED = object()


@dataclass(eq=False)
class Subscriber:
    namespace: str | None
    name: str | None
    queue: asyncio.Queue[Event | object] = field(default_factory=lambda: asyncio.Queue(256))
    lagged: bool = False

    def wants(self, event: Event) -> bool:
        return self.namespace in (None, event.namespace) and self.name in (None, event.name)

    def offer(self, item: Event | object) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.lagged = True  # drop what is queued; the client is told to re-read the list
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(item)


class Broadcaster:
    """Fans the informer's Application events out to the event streams (one `Subscriber` each)."""

    def __init__(self, server: backend.Backend, ping: float = 15.0, max_subscribers: int = 1000) -> None:
        self.server = server
        self.ping = ping
        self.max_subscribers = max_subscribers
        self.subscribers: set[Subscriber] = set()
        self._last: dict[tuple[str, str], str] = {}
        self._counter = 0
        self._closed = False
        server.applications.handlers.append(self._on_event)
        server.on_stop.append(self.close)

    def _on_event(self, event: str, app: Manifest) -> None:
        namespace, name = views.key(app)
        if event == "DELETED":
            if self._last.pop((namespace, name), None) is None:
                return
            self._publish("DELETED", namespace, name, None)
            return
        summary = views.summary(app).model_dump(mode="json")
        text = json.dumps(summary, sort_keys=True)
        previous = self._last.get((namespace, name))
        if previous == text:
            return
        self._last[(namespace, name)] = text
        self._publish("ADDED" if previous is None else "MODIFIED", namespace, name, summary)

    def _publish(self, type_: str, namespace: str, name: str, summary: dict[str, Any] | None) -> None:
        self._counter += 1
        event = Event(self._counter, type_, namespace, name, summary)
        for subscriber in list(self.subscribers):
            if subscriber.wants(event):
                subscriber.offer(event)

    def close(self) -> None:
        self._closed = True
        for subscriber in list(self.subscribers):
            subscriber.offer(_CLOSED)

    async def stream(self, subscriber: Subscriber) -> AsyncGenerator[bytes, None]:
        """The bytes of one client's stream, from the snapshot until shutdown or disconnect."""
        self.subscribers.add(subscriber)
        try:
            if self._closed:
                return
            yield self._snapshot(subscriber)
            while True:
                try:
                    item = await asyncio.wait_for(subscriber.queue.get(), self.ping)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if item is _CLOSED:
                    return
                if subscriber.lagged:
                    subscriber.lagged = False
                    yield b"event: resync\ndata: {}\n\n"
                if isinstance(item, Event):
                    yield item.encode()
        finally:
            self.subscribers.discard(subscriber)

    def _snapshot(self, subscriber: Subscriber) -> bytes:
        items = [
            views.summary(app).model_dump(mode="json")
            for app in self.server.applications.store.values()
            if subscriber.namespace in (None, views.key(app)[0]) and subscriber.name in (None, views.key(app)[1])
        ]
        items.sort(key=lambda s: (s["namespace"], s["name"]))
        return f"event: snapshot\ndata: {json.dumps({'items': items}, separators=(',', ':'))}\n\n".encode()


def of(request: Request) -> Broadcaster:
    broadcaster = getattr(request.app.state, "events", None)
    if not isinstance(broadcaster, Broadcaster):
        raise backend.Unavailable("this server has no event stream", retry_after=60)
    return broadcaster


router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "A server-sent event stream (see below)."},
        401: {"model": schemas.Error},
        503: {"model": schemas.Error},
    },
)
async def events(
    principal: auth.Viewer,
    broadcaster: Annotated[Broadcaster, Depends(of)],
    namespace: Annotated[str | None, Query(max_length=253)] = None,
    name: Annotated[str | None, Query(max_length=253)] = None,
) -> StreamingResponse:
    """Server-sent events: a `snapshot` of the Application summaries, then an `application` event
    (`{"type": "ADDED|MODIFIED|DELETED", "namespace", "name", "application"}`) whenever one changes."""
    await broadcaster.server.synced()
    if len(broadcaster.subscribers) >= broadcaster.max_subscribers:
        raise backend.Unavailable("too many event streams", retry_after=30)
    subscriber = Subscriber(namespace, name)
    return StreamingResponse(
        broadcaster.stream(subscriber),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"},
    )
