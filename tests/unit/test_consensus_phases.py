"""The PBFT normal case, phase by phase, on hand-driven engines (tests/sim/harness.py)."""

from __future__ import annotations

from chainfin.consensus.api import (
    BuildBlock,
    Commit,
    ExecuteBlock,
    Persist,
    PruneLog,
    Received,
    Send,
    Tick,
    TxsPending,
)
from chainfin.consensus.messages import CHECKPOINT, COMMIT, PRE_PREPARE, PREPARE
from chainfin.consensus.quorum import quorum
from tests.sim.harness import CHAIN, Cluster, make_txs


def _first(actions, t):
    return next(a for a in actions if type(a) is t)


def test_primary_builds_persists_then_sends_pre_prepare():
    c = Cluster(4)
    p = c.primary
    p.app.add(make_txs(3))
    out = p.engine.step(TxsPending(3))
    build = _first(out, BuildBlock)
    assert (build.height, build.view, build.prev_hash) == (1, 0, p.engine.committed_hash)
    out = p.engine.step(p.app.build(build)[0])
    kinds = [type(a) for a in out]
    assert kinds.index(Persist) < kinds.index(Send)  # what we sign is durable before it leaves
    m = c.decode(_first(out, Send).payload)
    assert m.kind == PRE_PREPARE and m.seq == 1 and m.view == 0 and len(m.body.txs) == 3
    assert m.digest == m.body.hash()


def test_backups_execute_before_prepare_and_prepare_after_execution_only():
    c = Cluster(4)
    p = c.primary
    c.submit(make_txs(2), [p.idx])
    src, dst, payload = c.wire.popleft()
    backup = c.nodes[dst]
    out = backup.engine.step(Received(p.key, payload))
    assert [type(a) for a in out] == [ExecuteBlock]  # no PREPARE before execution
    block = out[0].block
    out = backup.engine.step(backup.app.execute(block)[0])
    kinds = [type(a) for a in out]
    assert kinds[0] is Persist and Send in kinds
    m = c.decode(_first(out, Send).payload)
    assert (m.kind, m.view, m.seq, m.digest) == (PREPARE, 0, 1, block.hash())


def test_invalid_proposal_gets_no_prepare():
    c = Cluster(4)
    p = c.primary
    backup = next(nd for nd in c.nodes if nd is not p)
    c.submit(make_txs(1), [p.idx])
    block = c.decode(c.wire[0][2]).body
    backup.app.reject.add(block.hash())
    c.deliver()
    assert not c.sent(backup.idx, PREPARE)
    assert backup.engine.stats["proposals_rejected"] == 1


def test_full_round_commits_with_a_verifiable_certificate():
    c = Cluster(4)
    c.submit(make_txs(5))
    c.deliver()
    assert c.heights() == [1, 1, 1, 1]
    blocks = {nd.app.certified(1)[0].hash() for nd in c.nodes}
    assert len(blocks) == 1
    for nd in c.nodes:
        block, cert = nd.app.certified(1)
        assert cert.height == 1 and cert.block_hash == block.hash() and cert.chain_id == CHAIN
        assert len({v.validator for v in cert.votes}) >= quorum(4)
        cert.verify(c.validators, CHAIN)
        # COMMIT was persisted (with its prepared certificate) before it was sent
        log = nd.log
        i_send = next(i for i, a in enumerate(log) if type(a) is Send
                      and c.decode(a.payload).kind == COMMIT)
        rec = [a for a in log[:i_send] if type(a) is Persist and a.record.get("k") == "c"]
        assert rec and rec[-1].record["d"] == block.hash() and rec[-1].record["pc"]


def test_commit_needs_quorum_of_distinct_commits():
    c = Cluster(4)
    c.submit(make_txs(1))
    target = c.nodes[3]
    # deliver everything except other COMMITs to node 3, then feed them one by one
    held = []
    c.deliver(lambda s, d, m: not (d == 3 and m.kind == COMMIT and (held.append((s, m)) or True)))
    assert target.app.height == 0 and len(held) == 3
    votes = 1  # node 3's own COMMIT
    for s, m in held:
        out = target.engine.step(Received(c.nodes[s].key, m.payload))
        again = target.engine.step(Received(c.nodes[s].key, m.payload))  # duplicate: no vote
        votes += 1
        committed = [a for a in out if type(a) is Commit]
        assert bool(committed) == (votes == quorum(4))
        assert not any(type(a) is Commit for a in again)
        if committed:
            committed[0].certificate.verify(c.validators, CHAIN)
    assert target.engine.stats["dropped_duplicate"] + target.engine.stats["dropped_stale"] >= 3


def test_pipelined_heights_commit_in_order():
    c = Cluster(4, window=4)
    c.submit(make_txs(1, 0))
    c.submit(make_txs(1, 1))
    c.submit(make_txs(1, 2))
    c.deliver()
    for nd in c.nodes:
        chain = [nd.app.certified(h) for h in range(1, nd.app.height + 1)]
        assert [b.height for b, _ in chain] == list(range(1, nd.app.height + 1))
        assert nd.app.height >= 2
        for (b1, _), (b2, _) in zip(chain, chain[1:], strict=False):
            assert b2.header.prev_hash == b1.hash()


def test_window_bounds_proposals_in_flight():
    c = Cluster(4, window=2)
    p = c.primary
    built = 0
    for k in range(5):
        p.app.add(make_txs(1, k))
        out = p.engine.step(TxsPending(len(p.app.mempool)))
        for a in out:
            if type(a) is BuildBlock:
                built += 1
                p.engine.step(p.app.build(a)[0])
    assert built == 2  # nothing commits (no delivery), so at most `window` heights in flight


def test_block_interval_paces_proposals_and_a_tick_cuts_the_deferred_block():
    c = Cluster(4, window=4, block_interval_ms=20)
    p = c.primary
    e = p.engine
    e.step(Tick(1000))

    def offer(k: int) -> list:
        p.app.add(make_txs(1, k))
        out = e.step(TxsPending(len(p.app.mempool)))
        for a in out:
            if type(a) is BuildBlock:
                e.step(p.app.build(a)[0])
        return [a for a in out if type(a) is BuildBlock]

    assert len(offer(0)) == 1  # idle: the first block leaves at once
    assert offer(1) == []  # 0 ms later: waits for the interval although a slot is free
    assert [a for a in e.step(Tick(1010)) if type(a) is BuildBlock] == []
    builds = [a for a in e.step(Tick(1020)) if type(a) is BuildBlock]
    assert len(builds) == 1 and builds[0].height == 2  # the tick after 20 ms cuts it


def test_txs_pending_can_change_the_pacing_interval():
    c = Cluster(4, window=4, block_interval_ms=20)
    p = c.primary
    e = p.engine
    e.step(Tick(1000))

    def offer(k: int, interval: int | None) -> list:
        p.app.add(make_txs(1, k))
        out = e.step(TxsPending(len(p.app.mempool), interval))
        for a in out:
            if type(a) is BuildBlock:
                e.step(p.app.build(a)[0])
        return [a for a in out if type(a) is BuildBlock]

    assert len(offer(0, 50)) == 1  # idle: the first block leaves at once
    assert offer(1, None) == []  # None keeps 50 ms
    assert e.next_deadline() == 1050
    assert [a for a in e.step(Tick(1030)) if type(a) is BuildBlock] == []  # 20 ms is not enough
    builds = [a for a in e.step(Tick(1050)) if type(a) is BuildBlock]
    assert len(builds) == 1 and builds[0].height == 2
    for ev in p.app.build(builds[0]):
        e.step(ev)
    # back to 20 ms: the block deferred at 1055 leaves at the tick 20 ms after the last cut
    assert offer(2, 20) == []
    assert e.next_deadline() == 1070
    assert len([a for a in e.step(Tick(1070)) if type(a) is BuildBlock]) == 1


def test_engine_memory_stays_bounded_over_many_blocks():
    c = Cluster(4, checkpoint_interval=2, window=2)
    for k in range(30):
        c.submit(make_txs(1, k))
        c.deliver()
    assert min(c.heights()) >= 20
    for nd in c.nodes:  # per-block bookkeeping is pruned at stable checkpoints
        sizes = nd.engine.log_sizes()
        assert sizes["exec"] <= 8 and sizes["blocks"] <= 8


def test_checkpoint_becomes_stable_and_prunes_the_log():
    c = Cluster(4, checkpoint_interval=2, window=2)
    for k in range(4):
        c.submit(make_txs(1, k))
        c.deliver()
    assert min(c.heights()) >= 2
    for nd in c.nodes:
        assert nd.engine.low >= 2
        assert any(type(a) is PruneLog for a in nd.log)
        assert c.sent(nd.idx, CHECKPOINT)
        # nothing below the stable checkpoint is still in the persisted log but the state record
        low = nd.engine.low
        for _k, rec in nd.records:
            if rec.get("k") != "state":
                assert rec["s"] > low


def test_messages_above_the_high_water_mark_are_dropped():
    c = Cluster(4, checkpoint_interval=2, window=2)
    e = c.nodes[1].engine
    L = c.cfg.log_window
    sig = c.codec.sign(c.nodes[2].identity, COMMIT, 0, L + 5, b"\1" * 32)
    payload = c.codec.envelope(COMMIT, 0, L + 5, b"\1" * 32, c.nodes[2].key, sig)
    e.step(Received(c.nodes[2].key, payload))
    assert e.stats["dropped_out_of_window"] == 1
