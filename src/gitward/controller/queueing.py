"""The work queue of the controller: one entry per Application key ("namespace/name").

Called by the watchers (enqueue on Application, managed-object and webhook events), by the reconciler
(requeue after an interval or a backoff) and by the workers (`get` / `done`). Semantics are those of
client-go's workqueue: a key is queued at most once (de-duplication), a key being processed is never
handed to a second worker, and a key added while it is processed runs again once `done` is called.
Delayed adds keep only the earliest due time per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools


class WorkQueue:
    def __init__(self) -> None:
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._delayed: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # set while no key is being processed
        self._idle.set()
        self._closed = False

    def add(self, key: str) -> None:
        """Queue `key` now (no-op when already queued; re-run later when being processed)."""
        if self._closed:
            return
        self._due.pop(key, None)
        if key in self._processing:
            self._dirty.add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self._ready.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        """Queue `key` after `delay` seconds, unless it is due earlier already."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._counter), key))
        self._wakeup.set()

    def forget(self, key: str) -> None:
        """Drop pending delayed adds of `key` (the Application was deleted)."""
        self._due.pop(key, None)

    async def get(self) -> str:
        """The next key to process; once the queue is closed, no more (waits until cancelled)."""
        key = await self._ready.get()
        if self._closed:
            await asyncio.Future()  # shutting down: take no new work
        self._queued.discard(key)
        self._processing.add(key)
        self._idle.clear()
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)
        if not self._processing:
            self._idle.set()

    async def drained(self) -> None:
        """Return once no key is being processed (after `close`, nothing new starts)."""
        await self._idle.wait()

    def __len__(self) -> int:
        return len(self._queued)

    def pending_delayed(self, key: str) -> float | None:
        return self._due.get(key)

    async def run_timer(self) -> None:
        """Move due delayed keys to the ready queue; runs until cancelled."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            now = loop.time()
            while self._delayed and self._delayed[0][0] <= now:
                due, _, key = heapq.heappop(self._delayed)
                if self._due.get(key) == due:
                    del self._due[key]
                    self.add(key)
            timeout = self._delayed[0][0] - now if self._delayed else None
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()  # lets the timer return: on Python 3.11 a cancel racing a wake-up is lost
