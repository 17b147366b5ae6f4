"""controller.queueing: de-duplication, one worker per key, re-run when added while processing,
earliest delayed add wins."""

from __future__ import annotations

import asyncio

from gitward.controller.queueing import WorkQueue


async def test_deduplicates_and_serialises() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    key = await queue.get()
    assert key == "a"
    queue.add("a")  # while processing: not handed out again now
    assert await queue.get() == "b"
    assert len(queue) == 0
    queue.done("a")  # ... but once done, it runs again
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_delayed_adds_keep_the_earliest() -> None:
    queue = WorkQueue()
    timer = asyncio.create_task(queue.run_timer())
    try:
        queue.add_after("x", 10)
        queue.add_after("x", 0.05)
        queue.add_after("x", 5)
        assert await asyncio.wait_for(queue.get(), 2) == "x"
        queue.done("x")
        queue.add_after("y", 0.01)
        queue.forget("y")
        await asyncio.sleep(0.1)
        assert len(queue) == 0
    finally:
        timer.cancel()


async def test_a_closed_queue_hands_out_nothing_and_drains() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("b")
    assert await queue.get() == "a"
    queue.close()
    getter = asyncio.create_task(queue.get())  # "b" was queued before close: never handed out now
    drained = asyncio.create_task(queue.drained())
    await asyncio.sleep(0.05)
    assert not getter.done() and not drained.done()  # "a" is still being processed
    queue.done("a")
    await asyncio.wait_for(drained, 1)
    assert not getter.done()
    getter.cancel()
