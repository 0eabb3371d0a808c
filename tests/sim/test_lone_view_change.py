"""A lone view change with no spare vote (decision 172; docs/consensus.md, "Joining a lone view
change") in the hand-driven cluster of real engines.

n = 4, one validator silent (a byzantine `garbage` node: nothing it sends counts), one honest
validator that asked for a view change alone after a one-way fault. The other two need its votes
but it votes in nothing until they join its view change; before decision 172 they waited for
their own doubled timers (failed views since their last commit), 6 s here, 20-25 s in the chaos
run of docs/reliability.md. Now a replica whose commits stopped for the base timeout while it
holds work joins at once; a byzantine validator's lone VIEW-CHANGE moves no committing network,
and cuts at most one doubled timer short per commit.
"""

from __future__ import annotations

import itertools

from chainfin.consensus import viewchange
from chainfin.consensus.messages import PRE_PREPARE, VIEW_CHANGE, Message
from tests.sim.harness import Cluster, make_txs

BASE = 1000  # view_timeout_ms
STEP = 100  # ms between ticks


def _roles(c: Cluster) -> list[int]:
    """The node index of the primary of views 0, 1, 2, 3."""
    return [c.nodes.index(c.node_of(c.validators.primary(v))) for v in range(4)]


def _byzantine_view_change(c: Cluster, idx: int, view: int) -> bytes:
    """A VIEW-CHANGE for ``view``, validly signed by node ``idx`` (its last commit as the base,
    no prepared certificate): what a byzantine validator can send whenever it likes."""
    e = c.nodes[idx].engine
    base = viewchange.base_proof(e._low_proof, e._tip_cert)
    assert base is not None
    body, digest, _ = viewchange.view_change_body(base, {}, {})
    sig = c.codec.sign(c.nodes[idx].identity, VIEW_CHANGE, view, base.height, digest)
    return c.codec.envelope(VIEW_CHANGE, view, base.height, digest, e.me, sig, body)


def _broadcast(c: Cluster, src: int, payload: bytes) -> None:
    for nd in c.nodes:
        if nd.idx != src:
            c.wire.append((src, nd.idx, payload))


def test_a_lone_view_change_with_no_spare_vote_is_joined_at_once() -> None:
    c = Cluster(4, view_timeout_ms=BASE)
    p = _roles(c)
    # the silent node is view 1's primary; `lone` is not the primary of the view it leaves
    silent, a, b, lone = p[1], p[0], p[3], p[2]
    honest = [a, b, lone]
    fault = {"proposals": False, "deaf": False}

    def keep(src: int, dst: int, m: Message) -> bool:
        if src == silent:
            return False  # garbage: nothing it sends is a valid message
        if dst == lone and (fault["deaf"] or (fault["proposals"] and m.kind == PRE_PREPARE)):
            return False
        return True

    c.submit(make_txs(1))
    nonce = 1
    c.advance(10)
    c.deliver(keep)
    assert c.heights() == [1, 1, 1, 1]
    # 1. a gray link drops the proposals to `lone` while `a` and `b` hold work: their timers
    # fail views 0, 1 (its primary silent) and 2 (its primary `lone` holds nothing to
    # propose), while `lone`, with no work, joins by f + 1 or fails fewer. All three enter
    # view 3 with `a` and `b` at three failed views since their last commit (an 8 s timer),
    # `lone` at fewer
    fault["proposals"] = True
    c.submit(make_txs(1, start=nonce), [a, b])
    nonce += 1
    for _ in range(200):
        c.advance(STEP)
        c.deliver(keep)
        if all(c.nodes[i].engine.view == 3 and not c.nodes[i].engine.in_vc for i in honest):
            break
    assert all(c.nodes[i].engine.view == 3 and not c.nodes[i].engine.in_vc for i in honest)
    assert c.nodes[a].engine.failed_views > c.nodes[lone].engine.failed_views
    # 2. a one-way fault: `lone` hears nothing while its own client's transaction waits, so
    # it asks for view 4 alone; the fault heals at that moment
    fault["proposals"], fault["deaf"] = False, True
    c.submit(make_txs(1, start=nonce), [lone])
    nonce += 1
    h0 = min(c.heights()[i] for i in honest)
    left = resumed = None
    for _ in range(300):
        c.advance(STEP)
        if left is None and c.nodes[lone].engine.in_vc:
            left, fault["deaf"] = c.now, False
        if left is not None:  # the load goes on at every node
            c.submit(make_txs(1, start=nonce))
            nonce += 1
        c.deliver(keep)
        if min(c.heights()[i] for i in honest) > h0:
            resumed = c.now
            break
    assert left is not None, [c.nodes[i].engine.view for i in honest]
    assert resumed is not None, "no commit for 30 s after the lone view change"
    stall = resumed - left
    # before decision 172: `a` and `b` waited for their own 8 s timers (6 s of stall here)
    assert stall <= 2 * STEP, stall
    assert {c.nodes[i].engine.view for i in honest} == {4}
    assert all(c.nodes[i].engine.stats["early_view_change_joins"] == 1 for i in (a, b))
    assert c.nodes[lone].engine.stats["early_view_change_joins"] == 0


def test_a_byzantine_lone_view_change_does_not_move_a_committing_network() -> None:
    c = Cluster(4, view_timeout_ms=BASE)
    byz = _roles(c)[1]
    honest = [nd.idx for nd in c.nodes if nd.idx != byz]
    nonce = 0
    for k in range(100):  # 10 s of load, a commit every STEP
        c.submit(make_txs(1, start=nonce))
        nonce += 1
        if k % 5 == 0:  # every 0.5 s a VIEW-CHANGE for a view above everyone's, signed
            _broadcast(c, byz, _byzantine_view_change(c, byz, 1 + k // 5))
        c.deliver()
        c.advance(STEP)
    c.deliver()
    assert {c.nodes[i].engine.view for i in honest} == {0}
    assert all(c.nodes[i].engine.stats.get("early_view_change_joins", 0) == 0 for i in honest)
    assert all(c.nodes[i].engine.stats["view_changes_started"] == 0 for i in honest)
    assert min(c.heights()[i] for i in honest) >= 95


def test_a_byzantine_view_change_cuts_at_most_one_doubled_timer_short_per_commit() -> None:
    # nothing can commit: one validator down, one byzantine that votes in nothing but takes
    # part in every view change (so views start) and asks for the next view as soon as one
    # starts. The honest two join it early once; after that they wait their own doubled timers
    c = Cluster(4, view_timeout_ms=BASE, max_timeout_ms=600_000)
    p = _roles(c)
    byz, down = p[1], p[3]
    honest = [p[0], p[2]]
    c.submit(make_txs(1))
    c.nodes[down].down = True

    def keep(src: int, dst: int, m: Message) -> bool:
        return dst != down and (src != byz or m.kind == VIEW_CHANGE)

    asked = set()
    entered: list[int] = []
    view = 0
    for _ in range(700):  # 70 s
        c.advance(STEP)
        c.deliver(keep)
        e = c.nodes[honest[0]].engine
        if e.view > view and not e.in_vc:
            view = e.view
            entered.append(c.now)
        if e.in_vc and e.view not in asked:  # take part in the view change
            asked.add(e.view)
            _broadcast(c, byz, _byzantine_view_change(c, byz, e.view))
            c.deliver(keep)
        elif not e.in_vc and e.view + 1 not in asked:  # then ask for the next one at once
            asked.add(e.view + 1)
            _broadcast(c, byz, _byzantine_view_change(c, byz, e.view + 1))
            c.deliver(keep)
    assert max(c.heights()[i] for i in honest) == 0
    joins = [c.nodes[i].engine.stats["early_view_change_joins"] for i in honest]
    assert joins == [1, 1], joins
    assert len(entered) >= 3, entered
    gaps = [y - x for x, y in zip(entered, entered[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] >= 4 * gaps[0], gaps  # the timers kept doubling


def test_a_healed_one_way_fault_with_a_silent_validator_recovers_within_seconds() -> None:
    # one validator silent for good, another one mute (it hears, nothing it sends arrives) for
    # 10 s under load: no quorum meanwhile, every honest replica ends up in a view change whose
    # quorum needs the mute one's VIEW-CHANGE. Once the fault heals, that VIEW-CHANGE arrives
    # at its sender's next resend: up to 64 doubled timeouts later before decision 172 (21 s
    # here, 24 s in the chaos run of docs/reliability.md), at most 2 base timeouts now
    c = Cluster(4, view_timeout_ms=BASE)
    p = _roles(c)
    silent, mute = p[1], p[2]
    honest = [i for i in range(4) if i != silent]
    cut = {"on": False}

    def keep(src: int, dst: int, m: Message) -> bool:
        return src != silent and not (cut["on"] and src == mute)

    nonces = itertools.count()

    def step() -> None:
        c.submit(make_txs(1, start=next(nonces)))
        c.deliver(keep)
        c.advance(STEP)

    for _ in range(20):
        step()
    assert min(c.heights()[i] for i in honest) >= 15
    cut["on"] = True
    for _ in range(10_000 // STEP):
        step()
    cut["on"] = False
    healed, h = c.now, min(c.heights()[i] for i in honest)
    for _ in range(400):
        step()
        if min(c.heights()[i] for i in honest) > h:
            break
    took = c.now - healed
    assert min(c.heights()[i] for i in honest) > h, "no commit within 40 s of the heal"
    assert took <= 2 * 2 * BASE, took  # two resend periods at most (3.1 s measured)
