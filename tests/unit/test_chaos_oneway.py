"""Chaos's one-way and gray fault kinds, without processes (red-team round 6): who is the
primary, and which names --faults takes."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from chainfin.errors import ChainfinError
from testnet.chaos import (
    FAULT_GROUPS,
    GRAY_KINDS,
    NET_KINDS,
    ONEWAY_KINDS,
    ChaosResult,
    Monitor,
    run_chaos,
)

KEYS = [f"{i:02x}" * 32 for i in range(4)]


def _monitor() -> Monitor:
    def index_of(key: str) -> int:
        return KEYS.index(key)

    tn = types.SimpleNamespace(n=4, rest_url=lambda i: f"http://node{i}", reader=lambda: None,
                               index_of=index_of)
    return Monitor(tn, None, ChaosResult(duration_s=1), f=1)  # type: ignore[arg-type]


def test_the_primary_is_the_one_most_honest_nodes_name() -> None:
    mon = _monitor()
    assert mon.primary([0, 1, 2, 3]) is None  # nobody polled yet
    mon.primaries = [KEYS[2], KEYS[1], KEYS[1], None]  # node0 lags a view behind
    assert mon.primary([0, 1, 2, 3]) == 1
    assert mon.primary([0]) == 2
    mon.primaries = [KEYS[3], KEYS[3], "ff" * 32, KEYS[3]]
    assert mon.primary([2]) is None  # a key that is no node's


def test_groups_and_their_kinds() -> None:
    assert FAULT_GROUPS["oneway"] == ONEWAY_KINDS and FAULT_GROUPS["gray"] == GRAY_KINDS
    assert {"deaf-primary", "mute-primary", "deaf-replica", "mute-replica",
            "nontransitive"} == set(ONEWAY_KINDS)
    assert set(ONEWAY_KINDS) | set(GRAY_KINDS) | {"oneway", "gray", "isolate"} <= NET_KINDS
    assert "kill" not in NET_KINDS


async def test_faults_take_a_kind_alone_and_refuse_an_unknown_one(tmp_path: Path) -> None:
    with pytest.raises(ChainfinError, match="unknown fault 'deaf'"):
        await run_chaos(tmp_path, 1, ["deaf"])
    # a kind of a group passes the name check; the missing testnet is the next refusal
    with pytest.raises(ChainfinError) as e:
        await run_chaos(tmp_path, 1, ["deaf-primary", "gray-loss"])
    assert "unknown fault" not in str(e.value)
