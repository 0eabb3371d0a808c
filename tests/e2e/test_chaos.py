"""kill -9, SIGTERM and SIGSTOP of random nodes under load: nothing acknowledged is lost."""

from __future__ import annotations

import io

import pytest

from testnet.chaos import run_chaos
from testnet.launch import init_testnet

pytestmark = pytest.mark.slow


async def test_chaos_kill_stop_pause_loses_nothing(tmp_path):
    d = tmp_path / "tn"
    init_testnet(d, nodes=4)
    out = io.StringIO()
    res = await run_chaos(d, duration=12, faults=["kill", "stop", "pause"], rate=20, seed=7,
                          out=out)
    assert res.faults, out.getvalue()
    assert {f["fault"] for f in res.faults} >= {"kill"} or len(res.faults) >= 3
    assert res.acknowledged > 50, out.getvalue()
    assert res.agree, out.getvalue()
    assert not res.lost, res.lost[:5]
