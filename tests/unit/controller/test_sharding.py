"""controller.manager.in_shard: `--shard I/N` splits Applications between replicas, each exactly once."""

from __future__ import annotations

import pytest
import typer

from gitward.cli.run import _parse_shard
from gitward.controller.leadership import lease_name
from gitward.controller.manager import in_shard, shard_of


def test_every_key_is_in_exactly_one_shard() -> None:
    keys = [f"ns-{i % 7}/app-{i}" for i in range(500)]
    for count in (1, 2, 3, 5):
        owners = [[index for index in range(count) if in_shard(key, (index, count))] for key in keys]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o == [index]) for index in range(count)]
        assert min(sizes) > len(keys) / count / 2  # roughly balanced
    assert all(in_shard(key, None) for key in keys)


def test_each_shard_campaigns_on_its_own_lease() -> None:
    assert lease_name(None) == "gitward-controller"
    assert lease_name((0, 1)) == "gitward-controller"
    names = {lease_name((i, 3)) for i in range(3)}
    assert names == {f"gitward-controller-shard-{i}-of-3" for i in range(3)}
    assert lease_name((1, 2)) != lease_name((1, 3))


@pytest.mark.parametrize(
    ("shard", "hostname", "expected"),
    [
        ("1/3", "x", (1, 3)),
        ("auto/3", "gitward-2", (2, 3)),
        ("auto/2", "gitward-controller-0", (0, 2)),
        ("", "x", None),
    ],
)
def test_shard_flag(shard: str, hostname: str, expected: tuple[int, int] | None) -> None:
    assert _parse_shard(shard, hostname) == expected


@pytest.mark.parametrize(
    ("shard", "hostname"), [("3/3", "x"), ("auto/3", "gitward-3"), ("auto/2", "laptop"), ("a/b", "x")]
)
def test_bad_shard_flag(shard: str, hostname: str) -> None:
    with pytest.raises(typer.BadParameter):
        _parse_shard(shard, hostname)


def test_a_new_shard_takes_keys_only_from_the_others_and_only_its_share() -> None:
    """Consistent: from N to N+1 shards a key either stays where it was or moves to the new shard."""
    keys = [f"team-{i % 13}/app-{i}" for i in range(3000)]
    for count in (1, 2, 3, 7):
        before = {key: shard_of(key, count) for key in keys}
        after = {key: shard_of(key, count + 1) for key in keys}
        moved = [key for key in keys if before[key] != after[key]]
        assert all(after[key] == count for key in moved)  # only to the new shard
        share = len(keys) / (count + 1)
        assert share * 0.7 < len(moved) < share * 1.3  # about its fair share, not a reshuffle
    assert {shard_of(key, 5) for key in keys} == set(range(5))
