"""controller.sources with a real Git server and a real Fetcher: least-recently-used checkouts are
evicted, never one a render is reading.

To hold a render in the middle of reading its checkout, the test pauses the render's thread where
it opens the checkout's manifest (a Python audit hook on `open`, armed for one path only): the
Sources, the Fetcher, git and the renderer are the real ones.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.support.fixtures import MakeRepo
from tests.support.gitserver import GitHttpServer

from gitward.controller.sources import Sources
from gitward.core.applications import Source
from gitward.sourcing import Fetcher


@dataclass
class Pause:
    """Stops the first thread that opens a file named `name` under `under` until `release`."""

    under: str
    name: str
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


_pause: Pause | None = None


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    pause = _pause
    if pause is None or event != "open" or not isinstance(args[0], str | Path):
        return
    path = str(args[0])
    if path.startswith(pause.under) and path.endswith("/" + pause.name) and not pause.entered.is_set():
        pause.entered.set()
        pause.release.wait(60)  # bounded: a failing test never hangs the session


sys.addaudithook(_on_audit)  # audit hooks cannot be removed; this one does nothing unless armed


@pytest.fixture
def pause_at() -> Iterator[Any]:
    def arm(under: Path, name: str) -> Pause:
        global _pause
        _pause = Pause(str(under), name)
        return _pause

    yield arm
    global _pause
    if _pause is not None:
        _pause.release.set()
    _pause = None


def configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: '1'\n"


def checkouts(work: Path) -> list[Path]:
    return sorted(work.glob("checkout-*/tree"))


def names(objs: list[dict[str, Any]]) -> list[str]:
    return [obj["metadata"]["name"] for obj in objs]


async def test_a_checkout_being_rendered_survives_eviction(
    make_repo: MakeRepo, git_http_server: GitHttpServer, tmp_path: Path, pause_at: Any
) -> None:
    repo = make_repo()
    shas = {
        "a": repo.commit({"cm-a.yaml": configmap("a")}),
        "b": repo.commit({"cm-a.yaml": None, "cm-b.yaml": configmap("b")}),
        "c": repo.commit({"cm-b.yaml": None, "cm-c.yaml": configmap("c")}),
    }
    url = git_http_server.publish(repo, "config.git")
    work = tmp_path / "work"
    with Fetcher(tmp_path / "git", timeout=60) as fetcher:
        sources = Sources(fetcher, work, max_checkouts=1)
        at = {key: Source.model_validate({"repoURL": url, "targetRevision": sha}) for key, sha in shas.items()}
        for key, sha in shas.items():
            assert (await sources.revision(at[key], None)).sha == sha

        pause = pause_at(work, "cm-a.yaml")
        reading = asyncio.create_task(sources.render(at["a"], shas["a"], None))
        assert await asyncio.to_thread(pause.entered.wait, 60), "the render of a never opened its manifest"
        (tree_a,) = checkouts(work)
        assert names(await sources.render(at["b"], shas["b"], None)) == ["b"]
        assert tree_a.exists(), "the tree being read must stay"
        assert checkouts(work) == [tree_a], "one checkout at most: b's went as soon as its render was done"

        pause.release.set()
        assert names(await reading) == ["a"]
        assert checkouts(work) == [tree_a], "a render released its tree: kept, it is the only one"
        assert names(await sources.render(at["c"], shas["c"], None)) == ["c"]
        (tree_c,) = checkouts(work)
        assert not tree_a.exists() and tree_c != tree_a, "once idle, the older checkout goes"
        assert sources.cached_render(at["a"], shas["a"]) is not None, "renders stay cached without their checkout"
        sources.close()
        assert checkouts(work) == []
