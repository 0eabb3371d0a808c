"""Restart from Persist records: a restored replica never signs a conflicting vote."""

from __future__ import annotations

from chainfin.consensus.api import (
    BuildBlock,
    ExecuteBlock,
    Persist,
    Received,
    Send,
    Tick,
    TxsPending,
)
from chainfin.consensus.engine import PbftEngine
from chainfin.consensus.messages import COMMIT, PRE_PREPARE, PREPARE, VIEW_CHANGE
from chainfin.types import Block, BlockHeader
from tests.sim.harness import Cluster, make_txs


def _alt(block: Block) -> Block:
    h = block.header
    return Block(BlockHeader(h.chain_id, h.height, h.view, h.prev_hash, h.tx_root, h.state_root,
                             h.validators_hash, h.next_validators_hash, h.timestamp_ms + 1,
                             h.proposer), block.txs)


def _pp(c, block: Block, view: int = 0) -> bytes:
    p = c.node_of(c.validators.primary(view))
    d = block.hash()
    sig = c.codec.sign(p.identity, PRE_PREPARE, view, block.height, d)
    return c.codec.envelope(PRE_PREPARE, view, block.height, d, p.key, sig, block.to_wire())


def _restart(c, nd, **kw):
    eng = PbftEngine(c.cfg, nd.identity, c.validators, nd.app.height,
                     nd.app.hashes[-1],
                     restored=list(nd.records), codec=c.codec, **kw)
    nd.engine = eng
    return eng


def _signed(c, actions, kind):
    return [c.decode(a.payload) for a in actions if type(a) is Send
            and c.decode(a.payload).kind == kind]


def test_restored_replica_never_prepares_a_conflicting_proposal():
    c = Cluster(4)
    c.submit(make_txs(2), [c.primary.idx])
    pp = c.decode(c.wire[0][2])
    b = next(nd for nd in c.nodes if nd is not c.primary)
    c.step(b.idx, Received(c.primary.key, pp.payload))
    prepared = c.sent(b.idx, PREPARE)
    assert [m.digest for m in prepared] == [pp.digest]
    # the record was persisted before the PREPARE went out
    i_persist = next(i for i, a in enumerate(b.log) if type(a) is Persist
                     and a.record.get("k") == "p")
    i_send = next(i for i, a in enumerate(b.log) if type(a) is Send
                  and c.decode(a.payload).kind == PREPARE)
    assert i_persist < i_send

    eng = _restart(c, b)
    eng.step(Tick(1))
    alt = _alt(pp.body)
    b.app.specs[alt.hash()] = b.app.specs[pp.digest]
    out = eng.step(Received(c.primary.key, _pp(c, alt)))
    for a in out:  # even if it executes the block, it must not vote for it
        if type(a) is ExecuteBlock:
            out += eng.step(b.app.execute(a.block)[0])
    assert not _signed(c, out, PREPARE)
    assert eng.stats["refused_conflicting_sign"] >= 1
    # the original proposal is still acceptable: same digest, same signature as before
    eng2 = _restart(c, b)
    eng2.step(Tick(1))
    out = eng2.step(Received(c.primary.key, pp.payload))
    for a in out:
        if type(a) is ExecuteBlock:
            out += eng2.step(b.app.execute(a.block)[0])
    again = _signed(c, out, PREPARE)
    assert [m.signature for m in again] == [prepared[0].signature]


def test_restored_replica_never_commits_a_conflicting_block():
    c = Cluster(4)
    c.submit(make_txs(2))
    c.deliver(lambda s, d, m: m.kind != COMMIT)  # every replica prepared and sent COMMIT
    b = next(nd for nd in c.nodes if nd is not c.primary)
    commits = c.sent(b.idx, COMMIT)
    assert len(commits) == 1
    original = commits[0].digest
    c.wire.clear()
    # its prepared certificate survives the restart: its next VIEW-CHANGE carries it
    probe = _restart(c, b)
    probe.step(Tick(1))
    probe.step(TxsPending(1))  # known work arms the view-change timer
    vcs = _signed(c, probe.step(Tick(10_000)), VIEW_CHANGE)
    assert [(pc.seq, pc.digest) for pc in vcs[0].body.prepared] == [(1, original)]
    eng = _restart(c, b)
    eng.step(Tick(1))
    # feed a conflicting block with a full set of prepares for it
    alt = _alt(next(m.body for m in c.sent(c.primary.idx, PRE_PREPARE) if m.digest == original))
    b.app.specs[alt.hash()] = b.app.specs[original]
    out = eng.step(Received(c.primary.key, _pp(c, alt)))
    for a in list(out):
        if type(a) is ExecuteBlock:
            out += eng.step(b.app.execute(a.block)[0])
    for nd in c.nodes:
        if nd is not b and nd is not c.primary:
            sig = c.codec.sign(nd.identity, PREPARE, 0, 1, alt.hash())
            out += eng.step(Received(nd.key, c.codec.envelope(PREPARE, 0, 1, alt.hash(), nd.key,
                                                              sig)))
    assert not [m for m in _signed(c, out, COMMIT) if m.digest != original]
    assert not [m for m in _signed(c, out, PREPARE) if m.digest != original]


def test_restored_replica_resumes_its_view_change():
    c = Cluster(4)
    c.submit(make_txs(1))
    c.primary.down = True
    b = next(nd for nd in c.nodes if not nd.down)
    c.advance(1001)
    vc = c.sent(b.idx, VIEW_CHANGE)
    assert vc and vc[0].view == 1
    eng = _restart(c, b)
    assert eng.view == 1 and eng.in_vc
    out = eng.step(Tick(c.now + 1))
    resent = _signed(c, out, VIEW_CHANGE)
    assert resent and resent[0].payload == vc[0].payload  # exactly what it signed before


def test_restored_primary_reproposes_what_it_signed():
    c = Cluster(4)
    p = c.primary
    c.submit(make_txs(2), [p.idx])
    pp = c.decode(c.wire[0][2])
    c.wire.clear()
    eng = _restart(c, p)
    p.app.add(make_txs(3, 10))  # more txs: a fresh build would differ
    out = eng.step(Tick(5))
    for a in list(out):
        if type(a) is ExecuteBlock:
            out += eng.step(p.app.execute(a.block)[0])
    assert not any(type(a) is BuildBlock and a.height == 1 for a in out)
    re = _signed(c, out, PRE_PREPARE)
    assert [m.digest for m in re] == [pp.digest]
