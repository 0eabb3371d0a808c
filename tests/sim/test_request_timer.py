"""The request timer (docs/consensus.md, "The request timer") in the hand-driven cluster: a
censoring primary is replaced and the censored transaction commits after one view change; an
honest primary with a backlog, and a transaction no primary ever proposes, start no storm.

Each replica reports the age of its oldest pending transaction before every tick
(``Cluster(ages=True)``), as the node's ticker does."""

from __future__ import annotations

from chainfin.crypto import Identity
from chainfin.types import Transaction
from tests.sim.harness import Cluster, make_txs

T = 2000  # request timeout (ms)
VIEW_TIMEOUT = 1000
STEP = 100  # ms between load transactions (and ticks)
VICTIM = Identity.from_seed_text("unit-censored-client")


def _committed(c: Cluster, tx: Transaction, nodes: list[int]) -> bool:
    return all(tx.tx_id in c.nodes[i].app.committed_txs for i in nodes)


def test_a_censoring_primary_is_replaced_and_the_censored_transaction_commits() -> None:
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True)
    bad = c.primary
    bad.censor = frozenset({VICTIM.public_key})
    honest = [nd.idx for nd in c.nodes if nd is not bad]
    victim = make_txs(1, sender=VICTIM)[0]
    submitted_at = committed_at = None
    height_at_submit = 0
    for step in range(int(6 * T / STEP)):
        c.submit(make_txs(1, start=step))  # other clients' load: a commit every STEP
        if step == 5:
            c.submit([victim])
            submitted_at, height_at_submit = c.now, min(c.heights())
        c.deliver()
        if submitted_at is not None and _committed(c, victim, honest):
            committed_at = c.now
            break
        c.advance(STEP)
    assert submitted_at is not None
    assert committed_at is not None, (
        "the censored transaction never committed", c.heights(),
        [nd.engine.view for nd in c.nodes])
    waited = committed_at - submitted_at
    # one request timeout, then one view change (no message delay here: the tick is the grain)
    assert T <= waited <= T + VIEW_TIMEOUT, waited
    views = {c.nodes[i].engine.view for i in honest}
    assert views == {1}, views  # exactly one view change
    assert sum(c.nodes[i].engine.stats["request_timeouts"] for i in honest) >= 1
    # the load kept committing while the transaction was censored: the view-change timer (reset
    # by every commit) would never have replaced this primary
    assert min(c.heights()) > height_at_submit + T // STEP // 2
    where = next(h for h in range(1, c.nodes[honest[0]].app.height + 1)
                 if any(t.tx_id == victim.tx_id
                        for t in c.nodes[honest[0]].app.chain[h][0].txs))  # type: ignore[index]
    block = c.nodes[honest[0]].app.chain[where][0]  # type: ignore[index]
    assert block.header.proposer != bad.key and block.header.view == 1


def test_a_censor_that_fills_a_block_now_and_then_is_still_replaced() -> None:
    # a full block every 0.8 s (five transactions at once, the block's capacity here), one
    # transaction a block in between: the latest proposal is full often, yet the primary had
    # room most of the time the censored transaction waited
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True,
                max_block_txs=5)
    bad = c.primary
    bad.censor = frozenset({VICTIM.public_key})
    victim = make_txs(1, sender=VICTIM)[0]
    c.submit([victim])
    nonce = 0
    full = 0
    for step in range(6 * T // STEP):
        burst = 5 if step % 8 == 0 else 1
        c.submit(make_txs(burst, start=nonce))
        nonce += burst
        c.deliver()
        if _committed(c, victim, list(range(4))):
            break
        c.advance(STEP)
    for nd in c.nodes:
        full = max(full, sum(1 for h in range(1, nd.app.height + 1)
                             if len(nd.app.chain[h][0].txs) == 5))  # type: ignore[index]
    assert full >= 2  # it did fill blocks
    assert _committed(c, victim, list(range(4))), c.heights()
    assert c.now <= T + T // 2, c.now  # replaced about as soon as a censor that never pads
    assert {nd.engine.view for nd in c.nodes} == {1}


def test_a_primary_that_commits_one_small_block_at_a_time_is_replaced() -> None:
    # the deliberate slow primary: one transaction a block, a block every 0.9 s (under the
    # 1 s view-change timer, which each commit resets) while 10 tx/s arrive: the queue grows
    # and every transaction waits longer; the request timer replaces it after T, and the next
    # primary (as fast as its pacing, 0.9 s too) drains the queue
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True,
                block_interval_ms=900)
    slow = c.primary
    slow.block_txs = 1
    txs = make_txs(60)
    for tx in txs:
        c.submit([tx])
        c.deliver()
        c.advance(STEP)
    for _ in range(30):
        c.deliver()
        c.advance(STEP)
    views = [nd.engine.view for nd in c.nodes]
    assert views == [1] * 4, views  # one view change, by the request timer
    assert all(tx.tx_id in c.nodes[0].app.committed_txs for tx in txs), c.heights()
    assert sum(nd.engine.stats["request_timeouts"] for nd in c.nodes) >= 3


def test_an_honest_primary_with_a_backlog_older_than_the_timeout_is_not_replaced() -> None:
    # at most 5 transactions a block, a block every 100 ms: 50 tx/s, and 200 arrive at once,
    # so the last waits ~4 s, twice the request timeout. The primary's blocks are full: it is
    # at capacity, not censoring
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True,
                max_block_txs=5, block_interval_ms=100)
    txs = make_txs(200)
    c.submit(txs)
    oldest = 0
    for _ in range(100):
        c.deliver()
        if all(_committed(c, t, list(range(4))) for t in txs):
            break
        oldest = max(oldest, *(nd.oldest_pending_ms(c.now) or 0 for nd in c.nodes))
        c.advance(STEP)
    assert all(_committed(c, t, list(range(4))) for t in txs), c.heights()
    assert oldest > T  # the backlog was older than the timeout ...
    assert [nd.engine.view for nd in c.nodes] == [0] * 4  # ... and nobody asked for a view
    assert sum(nd.engine.stats["view_changes_started"] for nd in c.nodes) == 0


def test_a_transaction_no_primary_proposes_costs_views_at_doubling_intervals_only() -> None:
    # every replica reports it as pending but no primary ever proposes it (what an exclusion
    # the node missed would do): view changes back off (T, 2T, 4T, ...), never one before the
    # new primary had a whole timeout, and the load keeps committing
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True)
    stuck = make_txs(1, sender=VICTIM)[0]
    for nd in c.nodes:
        nd.censor = frozenset({VICTIM.public_key})
    c.submit([stuck])
    entered: list[int] = []
    view = 0
    run_ms = 30 * T
    for step in range(run_ms // STEP):
        c.submit(make_txs(1, start=step))
        c.deliver()
        v = min(nd.engine.view for nd in c.nodes)
        if v != view:
            view = v
            entered.append(c.now)
        c.advance(STEP)
    assert stuck.tx_id not in c.nodes[0].app.committed_txs
    # without the back-off: a view change every ~T, 30 of them; with it, T + 2T + 4T + 8T +
    # 16T + 16T ... = 4 or 5 in 30 T
    assert 1 <= len(entered) <= 5, entered
    gaps = [b - a for a, b in zip(entered, entered[1:], strict=False)]
    assert all(g >= 2 * T for g in gaps), gaps  # each view got at least the doubled timeout
    assert min(c.heights()) >= run_ms // STEP - 10 * len(entered) - 10  # the load committed


def test_each_new_primary_gets_a_whole_timeout_and_the_next_view_a_doubled_one() -> None:
    # the primaries of views 0 and 1 both censor: view 1 begins with the transaction already
    # older than T, yet its primary is not accused before it had the (doubled: the view before
    # was left with a transaction past the timeout) timeout in view 1; view 2's honest
    # primary proposes it
    c = Cluster(4, request_timeout_ms=T, view_timeout_ms=VIEW_TIMEOUT, ages=True)
    for v in (0, 1):
        c.node_of(c.validators.primary(v)).censor = frozenset({VICTIM.public_key})
    assert c.validators.primary(2) not in (c.validators.primary(0), c.validators.primary(1))
    victim = make_txs(1, sender=VICTIM)[0]
    c.submit([victim])
    entered: dict[int, int] = {}
    for step in range(8 * T // STEP):
        c.submit(make_txs(1, start=step))
        c.deliver()
        v = min(nd.engine.view for nd in c.nodes)
        entered.setdefault(v, c.now)
        if _committed(c, victim, list(range(4))):
            break
        c.advance(STEP)
    assert _committed(c, victim, list(range(4))), entered
    assert sorted(entered) == [0, 1, 2], entered
    assert T <= entered[1] <= T + STEP, entered
    assert entered[2] - entered[1] >= 2 * T, entered
    assert c.now - entered[2] <= STEP, (c.now, entered)  # view 2's primary proposed it at once
