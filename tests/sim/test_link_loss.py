"""A lost link to the primary (decisions 198 and 199; docs/consensus.md, "A lost link to the
primary") in the hand-driven cluster of real engines: a SIGKILLed primary's links drop at once,
and the replicas that hold work give up on its view after the link grace (300 ms here), not the
view-change timeout (1 s); a view change whose new primary's links are down moves on after the
grace, not a doubled NEW-VIEW timeout. What must not change: a link that flaps within the
grace, or one replica cut off from a primary that keeps committing with the others, moves no
view."""

from __future__ import annotations

from tests.sim.harness import Cluster, Node, make_txs

GRACE = 300


def _run_until(c: Cluster, done: list[Node], height: int, limit_ms: int) -> int | None:
    """Advance 50 ms at a time (delivering everything) until every node of ``done`` is at
    ``height``; the ms it took, or None."""
    t0 = c.now
    while c.now - t0 < limit_ms:
        c.advance(50)
        c.deliver()
        if all(nd.app.height >= height for nd in done):
            return c.now - t0
    return None


def _stat(nd: Node, name: str) -> int:
    return nd.engine.stats.get(name, 0)


def test_a_sigkilled_primary_is_replaced_after_the_link_grace_not_the_timeout() -> None:
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=GRACE)
    c.submit(make_txs(2))
    c.advance(10)
    c.deliver()
    assert c.heights() == [1, 1, 1, 1]
    old = c.primary
    rest = [nd for nd in c.nodes if nd is not old]
    c.kill(old.idx)  # kill -9: its links drop at once, nothing runs to hand over
    c.submit(make_txs(1, start=2), [nd.idx for nd in rest])
    took = _run_until(c, rest, 2, 3000)
    # before decision 198: the view-change timeout (1 s) and the NEW-VIEW round, ~1.05 s
    assert took is not None and took <= GRACE + 100, took
    assert all(nd.engine.view == 1 and not nd.engine.in_vc for nd in rest)
    assert all(_stat(nd, "link_loss_view_changes") == 1 for nd in rest)


def test_a_link_that_flaps_within_the_grace_changes_nothing_before_the_timer() -> None:
    # a primary that closes its links and opens them again on purpose (or a flaky link): each
    # loss shorter than the grace is forgotten when the link is back; the progress timer alone
    # decides, as before (here the primary proposes nothing: its view fails at 1 s)
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=GRACE)
    p = c.primary
    rest = [nd for nd in c.nodes if nd is not p]
    c.submit(make_txs(1), [nd.idx for nd in rest])
    for _ in range(3):  # 3 x 260 ms, each loss 250 ms
        for nd in rest:
            c.link(p.idx, nd.idx, False)
        c.advance(GRACE - 50)
        c.deliver()
        for nd in rest:
            c.link(p.idx, nd.idx, True)
        c.advance(10)
        c.wire.clear()  # (the primary's proposals are lost: it is silent)
    assert all(nd.engine.view == 0 and not nd.engine.in_vc for nd in rest)
    assert all(_stat(nd, "link_loss_view_changes") == 0 for nd in c.nodes)
    c.advance(300)  # past the 1 s timer: the view change, as before
    assert all(nd.engine.in_vc and nd.engine.view == 1 for nd in rest)


def test_a_primary_that_cuts_one_replica_off_moves_no_committing_network() -> None:
    # the primary (or the network) drops its link to one replica and keeps committing with the
    # other two, which are a quorum with it. The replica cut off sees their certificates and
    # catches up by fetching; its lone suspicion (at most one per commit) needs f + 1 to move
    # anybody, and the others commit all along, so nobody joins it
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=GRACE)
    p = c.primary
    lone = next(nd for nd in c.nodes if nd is not p)
    c.link(p.idx, lone.idx, False)
    rest = [nd for nd in c.nodes if nd is not lone]
    for k in range(40):  # 2 s of load, a transaction every 50 ms
        c.submit(make_txs(1, start=k))
        c.advance(50)
        c.deliver()
    assert all(nd.engine.view == 0 and not nd.engine.in_vc for nd in rest)
    assert all(nd.app.height >= 39 for nd in rest), c.heights()
    assert lone.app.height >= 35, c.heights()  # it follows by certificates
    assert _stat(lone, "link_loss_view_changes") <= 1
    assert all(_stat(nd, "link_loss_view_changes") == 0 for nd in rest)


def test_a_view_change_whose_new_primary_is_dead_moves_on_after_the_grace() -> None:
    # decision 199: the primary of view 1 is SIGKILLed; then view 0's primary stops proposing,
    # every live replica's timer fires and they hold a quorum of VIEW-CHANGEs for view 1. Its
    # primary will never send the NEW-VIEW: their links to it are down, so after the grace they
    # ask for view 2 instead of waiting the NEW-VIEW timer (doubled: 2 s)
    c = Cluster(4, view_timeout_ms=1000, link_grace_ms=GRACE)
    c.submit(make_txs(1))
    c.advance(10)
    c.deliver()
    assert c.heights() == [1, 1, 1, 1]
    dead = c.node_of(c.validators.primary(1))
    c.kill(dead.idx)
    live = [nd for nd in c.nodes if nd is not dead]
    p0 = c.primary
    c.submit(make_txs(1, start=1), [nd.idx for nd in live])
    t0 = c.now
    while not all(nd.engine.in_vc for nd in live):  # view 0's proposals are all lost
        assert c.now - t0 < 2000
        c.wire = type(c.wire)(w for w in c.wire if w[0] != p0.idx)
        c.advance(50)
        c.deliver(keep=lambda src, dst, m: src != p0.idx)
    assert all(nd.engine.view == 1 for nd in live)
    took = _run_until(c, live, 2, 5000)
    # before decision 199: the NEW-VIEW timer, doubled (4.0 s here)
    assert took is not None and took <= GRACE + 100, took
    assert all(nd.engine.view == 2 for nd in live)
    assert all(_stat(nd, "link_loss_view_skips") == 1 for nd in live)
