"""A stopping primary hands over (decision 173; docs/consensus.md, "A stopping primary hands
over") in the hand-driven cluster of real engines: on ``Stopping`` the primary sends its own
VIEW-CHANGE for the next view, and the others start that view change at once, with no timer; a
VIEW-CHANGE for the next view from anyone but the current primary does not do that."""

from __future__ import annotations

from chainfin.consensus import viewchange
from chainfin.consensus.api import Stopping
from chainfin.consensus.messages import VIEW_CHANGE
from tests.sim.harness import Cluster, make_txs


def test_a_stopping_primary_hands_over_and_the_next_view_starts_at_once() -> None:
    c = Cluster(4, view_timeout_ms=1000)
    c.submit(make_txs(2))
    c.advance(10)
    c.deliver()
    assert c.heights() == [1, 1, 1, 1]
    old = c.primary
    others = [nd for nd in c.nodes if nd is not old]
    c.submit(make_txs(1, start=2), [nd.idx for nd in others])  # work waiting at the others
    c.deliver()
    c.step(old.idx, Stopping())
    vcs = c.sent(old.idx, VIEW_CHANGE)
    assert [m.view for m in vcs] == [1]  # its own, signed, for the next view
    assert old.engine.stats["handovers"] == 1
    old.down = True  # the process exits; what it sent is on the wire
    c.deliver()
    # no time passed: nobody's timer fired, they followed the primary's VIEW-CHANGE
    assert all(nd.engine.view == 1 and not nd.engine.in_vc for nd in others), \
        [(nd.engine.view, nd.engine.in_vc) for nd in others]
    assert all(nd.engine.stats["handovers_joined"] == 1 for nd in others)
    c.advance(10)
    c.deliver()
    assert all(nd.app.height == 2 for nd in others)  # the new primary commits the waiting work
    # restarted, the old primary is in the view change it signed and rejoins the others
    old.down = False
    assert old.engine.in_vc and old.engine.view == 1


def test_a_stopping_replica_sends_nothing_and_a_replica_cannot_force_the_next_view() -> None:
    c = Cluster(4, view_timeout_ms=1000)
    c.submit(make_txs(1))
    c.advance(10)
    c.deliver()
    replica = next(nd for nd in c.nodes if nd is not c.primary)
    before = len(replica.log)
    c.step(replica.idx, Stopping())
    assert replica.log[before:] == [] and replica.engine.stats["handovers"] == 0
    # a replica's own VIEW-CHANGE for the next view, validly signed, is one VIEW-CHANGE (f of
    # them make nobody join): the others stay in view 0 and keep committing
    e = replica.engine
    base = viewchange.base_proof(e._low_proof, e._tip_cert)
    assert base is not None
    body, digest, _ = viewchange.view_change_body(base, {}, {})
    sig = c.codec.sign(replica.identity, VIEW_CHANGE, 1, base.height, digest)
    vc = c.codec.envelope(VIEW_CHANGE, 1, base.height, digest, e.me, sig, body)
    for nd in c.nodes:
        if nd is not replica:
            c.wire.append((replica.idx, nd.idx, vc))
    c.deliver()
    c.submit(make_txs(1, start=1))
    c.advance(10)
    c.deliver()
    rest = [nd for nd in c.nodes if nd is not replica]
    assert all(nd.engine.view == 0 and nd.engine.stats["handovers_joined"] == 0 for nd in rest)
    assert all(nd.app.height == 2 for nd in rest)


def test_replicas_that_follow_a_primary_timing_out_first_still_double_their_timers() -> None:
    # a network too slow for the base timeout (here: nothing commits, the PREPAREs never
    # arrive). The primary's own timer fires first and the replicas follow it at once; they
    # count the failed view, so the next view waits twice as long, and so on
    c = Cluster(4, view_timeout_ms=1000, max_timeout_ms=600_000)
    tx = make_txs(1)
    c.submit(tx, [c.primary.idx])  # its timer starts 100 ms before the others'
    c.advance(100)
    c.submit(tx, [nd.idx for nd in c.nodes if nd is not c.primary])
    starts: list[int] = []
    seen = 0
    for _ in range(400):  # 40 s
        c.advance(100)
        c.deliver(lambda src, dst, m: m.kind != "prepare")
        e = c.nodes[0].engine
        if e.stats["view_changes_started"] > seen:
            seen = e.stats["view_changes_started"]
            starts.append(c.now)
            if seen == 1:  # the primary's timer fired, the others followed: all count it
                assert [nd.engine.failed_views for nd in c.nodes] == [1, 1, 1, 1]
    assert max(c.heights()) == 0
    assert sum(nd.engine.stats["handovers_joined"] for nd in c.nodes) >= 1
    gaps = [y - x for x, y in zip(starts, starts[1:], strict=False)]
    assert len(gaps) >= 3 and all(y >= 2 * x for x, y in zip(gaps, gaps[1:], strict=False)), \
        (starts, gaps)
