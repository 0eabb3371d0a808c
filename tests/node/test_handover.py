"""A stopping primary hands over (decision 173) between in-process nodes over real links: the
primary's ``Node.stop()`` (what SIGTERM runs) sends its VIEW-CHANGE for the next view before
its links close, the others start that view at once, and a transaction sent to a survivor
right after the stop commits well within one view-change timeout (1 s). Before, the others
noticed the primary gone only by their timer: the same transaction waited ~1.1 s (the rolling
restart figures of docs/reliability.md)."""

from __future__ import annotations

import asyncio
import time

from tests.fixtures import Harness, start_cluster, stop_cluster, until


async def test_a_primary_stopped_gracefully_hands_over_without_a_timeout() -> None:
    genesis, nodes, ids = await start_cluster(4)
    stopped = []
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        tx = h.issue()
        fut = nodes[0].wait_for(tx.tx_id)
        nodes[0].admit(tx)
        await asyncio.wait_for(fut, 20)
        primary = next(nd for nd in nodes if nd.engine.is_primary)
        rest = [nd for nd in nodes if nd is not primary]
        await until(lambda: all(nd.ledger.tip.height == primary.ledger.tip.height
                                for nd in rest))
        t0 = time.monotonic()
        await primary.stop()
        stopped.append(primary)
        assert primary.engine.stats["handovers"] == 1
        tx = h.issue()
        fut = rest[0].wait_for(tx.tx_id)
        rest[0].admit(tx)
        await asyncio.wait_for(fut, 20)
        took = time.monotonic() - t0
        assert all(nd.engine.stats["handovers_joined"] == 1 for nd in rest), \
            [nd.engine.stats["handovers_joined"] for nd in rest]
        assert all(nd.engine.stats["view_changes_started"] == 1 for nd in rest)
        assert {nd.engine.view for nd in rest} == {1}
        timeout_s = genesis.params.view_timeout_ms / 1000
        assert took < 0.8 * timeout_s, took  # no view-change timer could have fired
    finally:
        await stop_cluster([nd for nd in nodes if nd not in stopped])
