"""controller.manager.in_shard: `--shard I/N` splits Applications between replicas, each exactly once."""

from __future__ import annotations

from gitward.controller.manager import in_shard


def test_every_key_is_in_exactly_one_shard() -> None:
    keys = [f"ns-{i % 7}/app-{i}" for i in range(500)]
    for count in (1, 2, 3, 5):
        owners = [[index for index in range(count) if in_shard(key, (index, count))] for key in keys]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o == [index]) for index in range(count)]
        assert min(sizes) > len(keys) / count / 2  # roughly balanced
    assert all(in_shard(key, None) for key in keys)
