"""VIEW-CHANGE / NEW-VIEW: timers, prepared certificates, recomputation, joining, back-off."""

from __future__ import annotations

from chainfin import codec
from chainfin.consensus.api import ExecuteBlock, Received, Send, Tick, TxsPending, ViewChanged
from chainfin.consensus.engine import PbftEngine
from chainfin.consensus.messages import COMMIT, NEW_VIEW, PRE_PREPARE, VIEW_CHANGE, NewView
from tests.sim.harness import GENESIS, Cluster, make_txs


def _backups(c, view=0):
    p = c.validators.primary(view)
    return [nd for nd in c.nodes if nd.key != p]


def test_silent_primary_is_replaced_and_the_request_commits():
    c = Cluster(4)
    old = c.primary
    old.down = True  # silent: receives nothing, sends nothing
    c.submit(make_txs(2))
    c.advance(999)
    assert all(nd.engine.view == 0 for nd in c.nodes)  # timer has not fired yet
    c.advance(2)
    c.deliver()
    live = [nd for nd in c.nodes if not nd.down]
    assert all(nd.engine.view == 1 and not nd.engine.in_vc for nd in live)
    assert all(nd.app.height == 1 for nd in live)
    assert all(any(type(a) is ViewChanged and a.view == 1 for a in nd.log) for nd in live)
    assert c.sent(c.validators.members.index(c.validators.primary(1)) and
                  c.node_of(c.validators.primary(1)).idx, NEW_VIEW)


def test_prepared_block_is_reproposed_with_the_same_hash():
    c = Cluster(4)
    c.submit(make_txs(3))
    # let PRE-PREPARE and PREPARE through, lose every COMMIT: the block is prepared, not final
    c.deliver(lambda s, d, m: m.kind != COMMIT)
    assert all(nd.app.height == 0 for nd in c.nodes)
    # a replica sends its COMMIT once it has prepared (the COMMITs are lost, not unsent)
    prepared = {m.digest for nd in c.nodes for m in c.sent(nd.idx, COMMIT) if m.seq == 1}
    assert len(prepared) == 1
    c.primary.down = True
    c.advance(1001)  # halfway the votes are resent (and lost again), then the view changes
    c.deliver(lambda s, d, m: not (m.kind == COMMIT and m.view == 0))
    live = [nd for nd in c.nodes if not nd.down]
    for nd in live:
        block, cert = nd.app.certified(1)
        assert block.hash() in prepared  # re-proposed as is: header.view stays 0
        assert block.header.view == 0 and cert.view == 1


def test_block_committed_at_one_replica_survives_the_view_change():
    c = Cluster(4)
    c.submit(make_txs(3))
    lucky = _backups(c)[0]
    c.deliver(lambda s, d, m: m.kind != COMMIT or d == lucky.idx)
    assert lucky.app.height == 1 and sum(nd.app.height for nd in c.nodes) == 1
    final = lucky.app.certified(1)[0].hash()
    c.primary.down = True
    c.submit(make_txs(1, 100), [nd.idx for nd in c.nodes if not nd.down])
    c.advance(1001)
    c.deliver()
    for nd in c.nodes:
        if not nd.down:
            assert nd.app.height >= 1 and nd.app.certified(1)[0].hash() == final


def test_tampered_new_view_is_rejected():
    c = Cluster(4)
    c.submit(make_txs(3))
    c.deliver(lambda s, d, m: m.kind != COMMIT)  # block 1 prepared everywhere
    c.primary.down = True
    c.advance(1001)
    new_primary = c.node_of(c.validators.primary(1))
    # hold the NEW-VIEW, forge one that leaves out the prepared block, signed by the new primary
    held = []
    c.deliver(lambda s, d, m: not (m.kind == COMMIT and m.view == 0)
              and (m.kind != NEW_VIEW or (held.append(m) and False)))
    nv = held[0]
    assert [b.height for b in nv.body.blocks] == [1]
    body = NewView(nv.body.view_changes, (), ()).to_wire()
    digest = codec.hash_value(body)
    sig = c.codec.sign(new_primary.identity, NEW_VIEW, 1, nv.seq, digest)
    forged = c.codec.envelope(NEW_VIEW, 1, nv.seq, digest, new_primary.key, sig, body)
    victim = next(nd for nd in c.nodes if nd is not new_primary and not nd.down)
    victim.engine.step(Received(new_primary.key, forged))
    assert victim.engine.stats["new_views_rejected"] == 1
    assert victim.engine.view == 2 and victim.engine.in_vc  # and it moves on


def test_new_view_with_too_few_view_changes_is_rejected():
    c = Cluster(4)
    c.submit(make_txs(1))
    c.primary.down = True
    c.advance(1001)
    new_primary = c.node_of(c.validators.primary(1))
    held = []
    c.deliver(lambda s, d, m: m.kind != NEW_VIEW or (held.append(m) and False))
    nv = held[0]
    body = NewView(nv.body.view_changes[:1], nv.body.blocks, nv.body.pp_signatures).to_wire()
    digest = codec.hash_value(body)
    sig = c.codec.sign(new_primary.identity, NEW_VIEW, 1, nv.seq, digest)
    forged = c.codec.envelope(NEW_VIEW, 1, nv.seq, digest, new_primary.key, sig, body)
    victim = next(nd for nd in c.nodes if nd is not new_primary and not nd.down)
    victim.engine.step(Received(new_primary.key, forged))
    assert victim.engine.stats["new_views_rejected"] == 1


def test_f_plus_one_view_changes_make_a_replica_join():
    c = Cluster(4)  # f = 1: two VIEW-CHANGEs for view 3 pull a replica from view 0 to 3
    late = c.nodes[0]
    # two other validators that have given up on view 2 (replicas of theirs restored in view 2,
    # not its primary): a request pending, their progress timer fires, each asks for view 3
    others = [nd for nd in c.nodes[1:] if nd.key != c.validators.primary(2)][:2]
    vcs = []
    for nd in others:
        e = PbftEngine(c.cfg, nd.identity, c.validators, 0, GENESIS, codec=c.codec, view=2)
        e.step(Tick(0))
        e.step(TxsPending(1))
        out: list[object] = []
        for _ in range(2):  # halfway its votes are resent; at the timeout the view changes
            deadline = e.next_deadline()
            assert deadline is not None and not e.in_vc
            out = e.step(Tick(deadline))
        vcs += [a.payload for a in out
                if type(a) is Send and c.decode(a.payload).kind == VIEW_CHANGE]
    assert [c.decode(p).view for p in vcs] == [3, 3]
    late.engine.step(Received(b"", vcs[0]))
    assert late.engine.view == 0
    late.engine.step(Received(b"", vcs[1]))
    assert late.engine.view == 3 and late.engine.in_vc  # without any timer firing
    assert c.now == 0


def test_view_change_timeouts_back_off_exponentially():
    c = Cluster(10, view_timeout_ms=100)  # f = 3
    for nd in c.nodes:  # primaries of views 0, 1, 2 are silent
        if nd.key in (c.validators.primary(0), c.validators.primary(1), c.validators.primary(2)):
            nd.down = True
    c.submit(make_txs(1))
    t = next(nd for nd in c.nodes if not nd.down)
    seen = []
    for _ in range(150):
        c.advance(10)
        c.deliver()
        if not seen or seen[-1][0] != t.engine.view:
            seen.append((t.engine.view, c.now))
        if t.engine.view >= 3 and not t.engine.in_vc:
            break
    assert [v for v, _ in seen][:4] == [0, 1, 2, 3]
    d1 = seen[2][1] - seen[1][1]
    d2 = seen[3][1] - seen[2][1]
    assert d1 >= 200 and d2 >= 2 * d1 - 20  # each failed view waits twice as long
    assert all(nd.app.height == 1 for nd in c.nodes if not nd.down)


def test_timer_is_not_reset_by_message_trickle():
    c = Cluster(4)
    c.submit(make_txs(1))
    t = _backups(c)[0]  # its progress deadline: 1000 (the view timeout after the request)
    # the proposal arrives and is prepared, but it never commits
    c.deliver(lambda s, d, m: m.kind != COMMIT)
    c.advance(500)  # our votes are resent halfway, the deadline stays
    c.deliver(lambda s, d, m: m.kind != COMMIT)
    c.advance(499)
    assert t.engine.view == 0 and not t.engine.in_vc  # not before the deadline
    c.advance(1)  # at 1000, as armed at the request: the trickle at 0 and 500 did not push it
    assert t.engine.view == 1 and t.engine.in_vc
    assert t.engine.stats["view_changes_started"] == 1


def test_new_primary_fetches_a_missing_block_from_view_change_attachments():
    c = Cluster(4)
    c.submit(make_txs(2))
    new_primary = c.node_of(c.validators.primary(1))
    # the next primary never sees the PRE-PREPARE, the others prepare the block
    c.deliver(lambda s, d, m: m.kind != COMMIT and not (m.kind == PRE_PREPARE
                                                         and d == new_primary.idx))
    assert not any(type(a) is ExecuteBlock for a in new_primary.log)  # it has no block 1
    c.primary.down = True
    c.advance(1001)
    c.deliver()
    assert all(nd.app.height == 1 for nd in c.nodes if not nd.down)


def test_view_change_carries_prepared_certificates():
    c = Cluster(4)
    c.submit(make_txs(1))
    c.deliver(lambda s, d, m: m.kind != COMMIT)
    c.primary.down = True
    c.advance(1001)
    vcs = [c.decode(p) for s, d, p in c.wire if c.decode(p).kind == VIEW_CHANGE]
    assert vcs
    for m in vcs:
        assert [pc.seq for pc in m.body.prepared] == [1]
        assert m.body.base.kind == "genesis"
        assert [b.height for b in m.attachment] == [1]


def test_a_replica_that_missed_blocks_the_others_certified_fetches_instead_of_leaving_the_view():
    # a replica misses every message of block 1 (a validator that has just joined, say), then
    # sees a quorum's COMMITs for block 2: the network commits in this view, so when its
    # progress timer fires it must fetch the blocks, not start a view change alone (it would
    # then vote in no view until the others change view too)
    c = Cluster(4)
    lagger = _backups(c)[0]
    c.submit(make_txs(2))
    c.deliver(lambda s, d, m: not (d == lagger.idx and m.seq == 1))
    assert [nd.app.height for nd in c.nodes if nd is not lagger] == [1, 1, 1]
    assert lagger.app.height == 0
    c.submit(make_txs(2, start=10))
    got: list[tuple[int, str, int]] = []
    c.deliver(lambda s, d, m: got.append((d, m.kind, m.seq)) is None)
    # it holds a quorum's COMMITs for block 2 (a certificate above its height), not block 1
    assert got.count((lagger.idx, COMMIT, 2)) >= 3 and lagger.app.height == 0
    c.advance(1001)  # the lagger's progress deadline (armed at the first submit) has passed
    c.deliver()
    assert lagger.engine.view == 0 and not lagger.engine.in_vc
    assert lagger.app.height == 2 and all(nd.app.height == 2 for nd in c.nodes)
    assert not c.sent(lagger.idx, VIEW_CHANGE)
