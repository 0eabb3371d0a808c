"""The chaos monitor's bookkeeping, without processes: forks are caught, stalls are measured only
while at most f nodes are faulty."""

from __future__ import annotations

import types

from testnet.chaos import ChaosResult, Monitor


def _monitor(n: int = 4) -> tuple[Monitor, ChaosResult]:
    res = ChaosResult(duration_s=1)
    tn = types.SimpleNamespace(n=n, rest_url=lambda i: f"http://node{i}", reader=lambda: None)
    return Monitor(tn, None, res, f=1), res  # type: ignore[arg-type]


def test_two_hashes_at_one_height_are_a_fork() -> None:
    mon, res = _monitor()
    mon._record(0, 5, "aa" * 32)
    mon._record(1, 5, "aa" * 32)
    assert not res.forks and not res.ok
    mon._record(2, 5, "bb" * 32)
    assert len(res.forks) == 1 and "height 5" in res.forks[0] and "node2" in res.forks[0]


def test_stall_counts_only_within_the_fault_model() -> None:
    mon, res = _monitor()
    mon.observe(0.0, 1)
    mon.observe(2.0, 1)
    assert res.longest_stall_s == 2.0
    mon.observe(2.5, 2)  # a block: the stall ends
    mon.over_f = True  # a split: beyond f, no progress is owed
    mon.observe(10.0, 2)
    assert res.longest_stall_s == 2.0
    mon.over_f = False
    mon.observe(11.0, 2)  # back within f: the clock restarts here, not at the last block
    mon.observe(14.0, 2)
    assert res.longest_stall_s == 3.0
    mon.faulty.update({1, 2})  # two faulty of four: beyond f = 1
    mon.observe(30.0, 2)
    assert res.longest_stall_s == 3.0
