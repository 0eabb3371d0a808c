"""Simulator scenarios: determinism, membership change, partitions, state transfer, the CLI."""

from __future__ import annotations

import argparse
import json

from chainfin.consensus.quorum import quorum
from chainfin.testing.sim import SimConfig, Simulation, run
from testnet.sim import cli_main


def test_same_seed_same_run_byte_for_byte():
    cfg = dict(nodes=7, byzantine=1, crash=1, txs=25, drop=0.05, duplicate=0.05, partitions=True,
               heal_ms=500, primary_faulty=True)
    a = run(SimConfig(seed=42, **cfg))
    b = run(SimConfig(seed=42, **cfg))
    c = run(SimConfig(seed=43, **cfg))
    assert a.transcript == b.transcript
    assert a.to_json()["committed_blocks"] == b.to_json()["committed_blocks"]
    assert (a.messages, a.sim_time_ms, a.finality_p99_ms) == (b.messages, b.sim_time_ms,
                                                             b.finality_p99_ms)
    assert c.transcript != a.transcript


def test_validator_set_grows_from_4_to_5():
    sim = Simulation(SimConfig(nodes=4, txs=60, seed=7, join_at_ms=150, tx_spread_ms=600))
    res = sim.run()
    assert res.safety and res.liveness, res.violations
    app = sim.nodes[0].app
    assert [vs.n for _, vs in app.sets] == [4, 5]
    change = app.sets[1][0] - 1  # the block that changed the set
    new_key = sim.nodes[4].key
    assert new_key in sim.nodes[4].engine.validators and sim.nodes[4].app.height == app.height
    signers_after = set()
    for h in range(1, app.height + 1):
        entry = app.chain[h]
        assert entry is not None
        block, cert = entry
        n = 4 if h <= change else 5
        assert len({v.validator for v in cert.votes}) >= quorum(n)
        if h > change:
            assert quorum(5) == 4
            signers_after |= {v.validator for v in cert.votes}
        else:
            assert new_key not in {v.validator for v in cert.votes}
    assert new_key in signers_after  # the new validator votes once it is in


def test_partition_heals_and_everyone_converges():
    res = run(SimConfig(nodes=7, txs=40, seed=3, partitions=True, heal_ms=1500, drop=0.05,
                        tx_spread_ms=1500))
    assert res.safety and res.liveness
    assert len(set(res.heights.values())) == 1


def test_lagging_replica_catches_up_by_state_transfer():
    sim = Simulation(SimConfig(nodes=4, txs=60, seed=5, partitions=True, heal_ms=2000,
                               tx_spread_ms=2500, checkpoint_interval=4))
    res = sim.run()
    assert res.safety and res.liveness
    assert res.dropped.get("blocks_synced", 0) + res.dropped.get("fetches", 0) > 0


def test_crashed_replicas_restart_from_their_wal_and_catch_up():
    for seed in range(4):
        sim = Simulation(SimConfig(nodes=7, crash=2, txs=40, seed=seed, restart_ms=600,
                                   heal_ms=800, drop=0.05, tx_spread_ms=1500,
                                   primary_faulty=seed % 2 == 0))
        res = sim.run()
        assert res.safety and res.liveness, seed
        back = [nd for nd in sim.nodes if nd.restarted]
        assert len(back) == 2
        assert all(nd.app.height == max(res.heights.values()) for nd in back)


def test_up_to_f_crashed():
    res = run(SimConfig(nodes=7, crash=2, txs=30, seed=9, primary_faulty=True))
    assert res.safety and res.liveness and res.view_changes >= 1


def test_sixteen_nodes():
    res = run(SimConfig(nodes=16, byzantine=5, txs=20, seed=1, primary_faulty=True))
    assert res.safety and res.liveness


def _args(**kw):
    base = dict(nodes=4, byzantine=0, crash=0, delay_ms=10, txs=100, seed=1, json=True)
    base.update(kw)
    return argparse.Namespace(**base)


def test_cli_acceptance_commands(capsys):
    assert cli_main(_args(nodes=4, byzantine=1, seed=1)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["safety"] is True and out["liveness"] is True
    for k in ("committed_blocks", "views_changed", "messages_sent", "finality_p50_ms",
              "finality_p99_ms"):
        assert k in out
    assert cli_main(_args(nodes=7, byzantine=2, crash=0, delay_ms=50, txs=500, seed=2)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["safety"] is True and out["liveness"] is True


def test_cli_text_output_and_bad_arguments(capsys):
    assert cli_main(_args(json=False, txs=10)) == 0
    text = capsys.readouterr().out
    assert "safety:   true" in text and "liveness: true" in text
    assert cli_main(_args(byzantine=3, crash=2)) == 2
    assert "between 0 and --nodes" in capsys.readouterr().err


def test_cli_node_params_fixed_delay_and_rate(capsys):
    """What docs/performance.md's namespace table compares with (issue 20): the node's window,
    pacing and block size, a fixed one-way delay, the bench's rate. At 100 ms one way (200 ms
    RTT) no tx is final before PBFT's three one-way phases (300 ms)."""
    assert cli_main(_args(delay_ms=100, jitter=0.0, rate=150.0, txs=300, node_params=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["safety"] and out["liveness"] and out["views_changed"] == 0
    assert 300 <= out["finality_p50_ms"] <= 800, out
    assert cli_main(_args(delay_ms=0, jitter=0.0, rate=150.0, txs=300, node_params=True)) == 0
    assert json.loads(capsys.readouterr().out)["finality_p50_ms"] < 50
    assert cli_main(_args(jitter=1.5)) == 2
