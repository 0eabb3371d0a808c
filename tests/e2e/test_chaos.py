"""Every fault kind under load on a real 4-node testnet for 60 s, seeded: nothing acknowledged is
lost or duplicated, no fork ever (checked while running), state roots agree, every fault heals."""

from __future__ import annotations

import io

import pytest

from testnet.chaos import run_chaos
from testnet.launch import init_testnet

pytestmark = pytest.mark.slow


async def test_chaos_every_fault_kind_loses_nothing(tmp_path):
    d = tmp_path / "tn"
    init_testnet(d, nodes=4)
    out = io.StringIO()
    res = await run_chaos(d, duration=60, rate=20, seed=11, out=out,
                          faults=["kill", "stop", "pause", "partition", "delay", "byzantine"],
                          behaviours=["equivocate"])
    log = out.getvalue()
    kinds = {f["fault"] for f in res.faults}
    assert kinds >= {"kill", "stop", "pause", "isolate", "split", "flap", "delay"}, log
    assert res.byzantine and list(res.byzantine.values()) == ["equivocate"], log
    assert res.acknowledged > 300, log
    assert not res.forks, res.forks
    assert res.polls > 100, log  # the fork check ran all along
    assert res.agree and res.state_roots_agree, log
    assert not res.lost, res.lost[:5]
    assert not res.duplicated, res.duplicated[:5]
    assert res.split_commits == 0, log
    assert not res.unrecovered, res.unrecovered
    assert res.recovery_after_last_heal_s is not None
    assert res.longest_stall_s < 20, log
    assert res.ok, log
