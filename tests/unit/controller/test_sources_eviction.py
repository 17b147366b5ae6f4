"""controller.sources: least-recently-used checkouts are evicted, never one a render is reading."""

from __future__ import annotations

from pathlib import Path

from gitward.controller.sources import Sources
from gitward.sourcing import Credentials


class _TreeWriter:
    """A stand-in for the Fetcher's checkout: writes one file per (url, sha)."""

    async def checkout(self, url: str, sha: str, dest: Path, creds: Credentials | None = None) -> None:
        dest.mkdir(parents=True)
        (dest / "cm.yaml").write_text(f"# {url} {sha}\n")


async def test_a_checkout_in_use_survives_eviction(tmp_path: Path) -> None:
    sources = Sources(_TreeWriter(), tmp_path, max_checkouts=1)  # type: ignore[arg-type]
    first = await sources._checkout("repo", "a" * 40, None)
    sources._in_use[first] = 1  # a render is reading it
    second = await sources._checkout("repo", "b" * 40, None)
    assert first.exists() and second.exists(), "the tree being read must stay"
    sources._release(first)
    assert not first.exists(), "once released, the older checkout goes"
    assert second.exists()
    third = await sources._checkout("repo", "c" * 40, None)
    assert third.exists() and not second.exists()
    sources.close()
    assert not third.exists()
