"""bench.scenarios.common.idle_window, the sampling loop of gitward's and Flux's idle fleets: it reads
memory until the window has passed and keeps the highest reading, the one taken before included."""

from __future__ import annotations

from bench.scenarios.common import idle_window


def test_the_highest_reading_of_the_window_is_kept() -> None:
    readings = iter([5, 9, 3, *([1] * 10_000)])
    seen: list[int] = []

    def rss() -> int:
        seen.append(next(readings))
        return seen[-1]

    elapsed, peak = idle_window(rss, 7, window=0.05, every=0.01)
    assert seen, "the window was sampled"
    assert peak == max([7, *seen])
    assert elapsed >= 0.05


def test_a_first_reading_higher_than_the_window_is_the_peak() -> None:
    _, peak = idle_window(lambda: 1, 10, window=0.02, every=0.01)
    assert peak == 10
