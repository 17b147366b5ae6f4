"""Watch streams in a background thread, so the scenarios time events as they arrive instead of
polling the API server (which would add load to the very server being measured).

Used by the scenarios: `Watch(api, path)` lists then watches a collection and keeps the latest
object per name; `track(predicate)` follows which objects satisfy a predicate and when the last
one of them did; `expect(name, predicate)` records the arrival time of the first event of `name`
that satisfies it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx  # the one HTTP client family (httpx2, as the kube client)

from bench.apiserver import ApiServer, Manifest

Predicate = Callable[[Manifest], bool]


class Tracker:
    """The names whose latest object satisfies `predicate`, and the time that set last grew."""

    def __init__(self, predicate: Predicate, names: set[str] | None = None) -> None:
        self.predicate = predicate
        self.names = names  # None: every object of the collection
        self.done: set[str] = set()
        self.changed_at = 0.0
        self.first_at: float | None = None

    def feed(self, name: str, obj: Manifest | None, at: float) -> None:
        if self.names is not None and name not in self.names:
            return
        if obj is not None and self.predicate(obj):
            if name not in self.done:
                self.done.add(name)
                self.changed_at = at
                if self.first_at is None:
                    self.first_at = at
        else:
            self.done.discard(name)


class Watch:
    def __init__(self, api: ApiServer, path: str, *, label_selector: str = "") -> None:
        self.api, self.path, self.label_selector = api, path, label_selector
        self.objects: dict[str, Manifest] = {}
        self.events = 0
        self._trackers: list[Tracker] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError(f"watch {self.path}: no initial list within 60 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ waiting

    def track(self, predicate: Predicate, names: set[str] | None = None) -> Tracker:
        tracker = Tracker(predicate, names)
        with self._cond:
            for name, obj in self.objects.items():
                tracker.feed(name, obj, time.monotonic())
            self._trackers.append(tracker)
        return tracker

    def untrack(self, tracker: Tracker) -> None:
        with self._cond:
            self._trackers.remove(tracker)

    def wait(self, tracker: Tracker, count: int, timeout: float) -> float:
        """Wait until `count` objects satisfy the tracker; the time the last of them did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(tracker.done) < count:
                if self._error is not None:
                    raise RuntimeError(f"watch {self.path} failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(tracker.done)}/{count} objects ready after {timeout:.0f} s")
                self._cond.wait(min(left, 1.0))
            return tracker.changed_at

    def expect(self, name: str, predicate: Predicate) -> Tracker:
        """Start recording when `name` first satisfies `predicate` (call before causing it; if the
        latest object satisfies it already, that counts as arriving now)."""
        tracker = Tracker(predicate, {name})
        with self._cond:
            if name in self.objects:
                tracker.feed(name, self.objects[name], time.monotonic())
            self._trackers.append(tracker)
        return tracker

    def arrival(self, tracker: Tracker, timeout: float) -> float:
        """The arrival time of the first event that satisfied an `expect` tracker."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while tracker.first_at is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"watch {self.path}: expected event did not arrive in {timeout:.0f} s")
                self._cond.wait(min(left, 1.0))
            self._trackers.remove(tracker)
            return tracker.first_at

    # ------------------------------------------------------------------ the thread

    def _params(self) -> dict[str, Any]:
        return {"labelSelector": self.label_selector} if self.label_selector else {}

    def _run(self) -> None:
        with self.api.connect() as http:
            while not self._stop.is_set():
                try:
                    version = self._list(http)
                    self._error = None
                    self._ready.set()
                    while not self._stop.is_set():
                        version = self._watch(http, version)
                except (httpx.HTTPError, ValueError, RuntimeError) as exc:
                    if self._stop.is_set():
                        return
                    self._error = exc
                    time.sleep(0.5)

    def _list(self, http: httpx.Client) -> str:
        body = http.get(self.path, params=self._params()).raise_for_status().json()
        with self._cond:
            self.objects = {o["metadata"]["name"]: o for o in body.get("items") or []}
            now = time.monotonic()
            for tracker in self._trackers:
                for name, obj in self.objects.items():
                    tracker.feed(name, obj, now)
            self._cond.notify_all()
        return str(body["metadata"]["resourceVersion"])

    def _watch(self, http: httpx.Client, version: str) -> str:
        params = {**self._params(), "watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": "60"}  # fmt: skip
        timeout = httpx.Timeout(30.0, read=90.0)
        with http.stream("GET", self.path, params=params, timeout=timeout) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines():
                if self._stop.is_set():
                    break
                if line:
                    version = self._event(json.loads(line), version)
        return version

    def _event(self, event: dict[str, Any], version: str) -> str:
        at = time.monotonic()
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise RuntimeError(f"watch error: {obj.get('message')}")
        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        if kind == "BOOKMARK":
            return version
        name = obj["metadata"]["name"]
        with self._cond:
            self.events += 1
            if kind == "DELETED":
                self.objects.pop(name, None)
            else:
                self.objects[name] = obj
            for tracker in self._trackers:
                tracker.feed(name, None if kind == "DELETED" else obj, at)
            self._cond.notify_all()
        return version
