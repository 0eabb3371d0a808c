"""Red-team round 4 (time), on in-process nodes: a primary holding block time back, a clock
stepped back by NTP, clocks behind the chain (docs/reliability.md, "Red-team round 4: time")."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from chainfin.store import MemoryStore
from chainfin.types import Block
from contracts import CONTRACTS
from node import runtime
from node.ledger import MAX_TIMESTAMP_LAG_MS, Ledger
from tests.fixtures import Harness, make_genesis, start_cluster, stop_cluster


async def test_a_primary_cannot_hold_block_time_back() -> None:
    """A replica refused a timestamp going backwards or running ahead of its clock, but not one
    lagging it: a primary could stamp every block with its parent's time for as long as it
    stayed primary (it proposes valid blocks, so no view change) and hold an LC, a PvP offer
    or a governance proposal open, a maturity short of overdue, a risk window full, for hours.
    A fresh proposal may now lag a replica's clock by at most MAX_TIMESTAMP_LAG_MS; a NEW-VIEW's
    re-proposal (its header of an older view) is judged without that bound."""
    genesis, nodes, _ = await start_cluster(4)
    try:
        replica = nodes[1]
        assert replica.view == 0 and replica.ledger.tip.height == 0
        # the primary's block at height 1, stamped 1 s after genesis (valid in every other way)
        ts = genesis.genesis_time_ms + 1000
        block = Ledger(MemoryStore(), genesis, registry=CONTRACTS).build(
            1, 0, replica.ledger.tip.block_hash, ts, nodes[0].identity.public_key, [], 10)
        clock = replica.io.clock
        try:
            replica.io.clock = lambda: ts + 2000  # an honest block, executed 2 s after it was cut
            ok = replica.io._execute_block(block)
            assert ok.ok, ok  # type: ignore[attr-defined]
            replica.ledger.discard_above(0)
            replica.io.clock = lambda: ts + MAX_TIMESTAMP_LAG_MS + 1  # held back past the bound
            bad = replica.io._execute_block(block)
            assert not bad.ok  # type: ignore[attr-defined]
            assert bad.reason == "timestamp too far in the past"  # type: ignore[attr-defined]
            replica.engine.view = 1  # the same block re-proposed by the NEW-VIEW of view 1
            again = replica.io._execute_block(block)
            assert again.ok, again  # type: ignore[attr-defined]
        finally:
            replica.io.clock = clock
            replica.engine.view = 0
            replica.ledger.discard_above(0)
    finally:
        await stop_cluster(nodes)


async def test_a_clock_stepped_back_within_the_skew_stalls_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's timers and pacing ran on the wall clock, and the engine ignores a Tick
    older than the last one: a clock stepped back 3 s (within the 5 s skew, so every block
    still valid) froze every timer and the primary's pacing, and the network committed nothing
    for 3 s. The engine now runs on a monotonic clock; blocks are stamped with the wall clock."""
    genesis, nodes, ids = await start_cluster(4)
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        tx = h.issue()
        fut = nodes[1].wait_for(tx.tx_id)
        nodes[1].admit(tx)
        first = await asyncio.wait_for(fut, 20)
        real = runtime.now_ms
        monkeypatch.setattr(runtime, "now_ms", lambda: real() - 3000)  # NTP steps every clock
        t0 = time.monotonic()
        for _ in range(2):
            tx = h.issue()
            fut = nodes[1].wait_for(tx.tx_id)
            nodes[1].admit(tx)
            out = await asyncio.wait_for(fut, 1.5)
            assert out.status == "committed"
        assert time.monotonic() - t0 < 1.5
        # block time did not go back: the new blocks carry their parent's time (the first
        # block's) until the clocks pass it again
        assert out.height > first.height
        stamps = [Block.from_wire(nodes[1].ledger.block_record(x)["block"]).header.timestamp_ms
                  for x in (first.height, out.height)]
        assert stamps[1] >= stamps[0]
        # and every node shows its clock 3 s behind the blocks (alert ChainfinClockOff)
        offsets = [nd.metrics.block_time_offset._value.get() for nd in nodes]
        assert all(-3.5 < o < -2 for o in offsets), offsets
    finally:
        await stop_cluster(nodes)


@pytest.mark.parametrize("interval_ms", [0, 20])
async def test_clocks_behind_the_chain_wait_for_it_instead_of_storming_views(
        monkeypatch: pytest.MonkeyPatch, interval_ms: int) -> None:
    """Every clock stepped back an hour: no block can be valid until the clocks pass the last
    block's time again (it may not go back, nor run ahead of a replica's clock by more than the
    skew: TRAPS #13). A primary built its block anyway (its parent's time) and every replica
    refused it at once: one view change after another, 345 in 3 s. A primary now does
    not build a block whose parent's time is more than the skew ahead of its clock, so views
    change only as the backed-off view-change timer says. (Paced, the frozen engine of the
    test above hid the storm; unpaced, it did not.)"""
    def paced(validators: Any, clients: Any) -> Any:
        return make_genesis(validators, clients, params={"block_interval_ms": interval_ms,
                                                         "block_interval_max_ms": interval_ms})

    genesis, nodes, ids = await start_cluster(4, genesis=paced)
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        tx = h.issue()
        fut = nodes[1].wait_for(tx.tx_id)
        nodes[1].admit(tx)
        await asyncio.wait_for(fut, 20)
        real = runtime.now_ms
        monkeypatch.setattr(runtime, "now_ms", lambda: real() - 3_600_000)
        tx = h.issue()
        fut = nodes[1].wait_for(tx.tx_id)
        nodes[1].admit(tx)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), 3)
        assert max(nd.view for nd in nodes) <= 4, [nd.view for nd in nodes]
        monkeypatch.setattr(runtime, "now_ms", real)  # the clocks catch up: it commits
        out = await asyncio.wait_for(fut, 30)
        assert out.status == "committed"
    finally:
        await stop_cluster(nodes)


@pytest.mark.parametrize("clock_offset_ms", [-10_000, MAX_TIMESTAMP_LAG_MS + 10_000])
async def test_a_certified_block_commits_whatever_the_replicas_clock(
        clock_offset_ms: int) -> None:
    """The engine commits a block it holds a commit certificate for; if the block's execution
    is gone meanwhile the driver executes it again — with the clock checks of a fresh proposal,
    so a block older than the lag bound (or, before, one ahead of a slow clock) failed there
    and the commit stopped the node ("commit of a block that was not executed"). A certified
    block is checked against no clock, as catch-up does."""
    from chainfin.types import CommitCertificate, Vote, vote_message

    genesis, nodes, _ = await start_cluster(4)
    try:
        replica = nodes[1]
        ts = genesis.genesis_time_ms + 1000
        block = Ledger(MemoryStore(), genesis, registry=CONTRACTS).build(
            1, 0, replica.ledger.tip.block_hash, ts, nodes[0].identity.public_key, [], 10)
        msg = vote_message(genesis.chain_id, "commit", 0, 1, block.hash())
        cert = CommitCertificate(genesis.chain_id, 1, 0, block.hash(), tuple(
            Vote(nd.identity.public_key, nd.identity.sign("consensus", msg)) for nd in nodes[:3]))
        replica.io.clock = lambda: ts + clock_offset_ms  # 10 s slow, or past the lag bound
        replica.io._commit(block, cert)
        assert replica.ledger.tip.height == 1 and replica.ledger.tip.block_hash == block.hash()
    finally:
        await stop_cluster(nodes)


async def test_blocks_fetched_by_catch_up_do_not_set_the_clock_offset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``chainfin_block_time_offset_seconds`` is this node's clock error only for a block it
    committed live: an observer catching up on old blocks showed their age (an hour here) and
    kept it on a chain with no new block, so ``ChainfinClockOff`` fired for a right clock."""
    from chainfin.store import MemoryStore
    from tests.fixtures import wait_height
    from tests.node.test_statesync import _commit_issues, _observer, _serve

    gen, nodes, ids = await start_cluster()
    runner, url = await _serve(nodes[0])
    try:
        await _commit_issues(nodes, ids, 10)
        real = runtime.now_ms
        monkeypatch.setattr(runtime, "now_ms", lambda: real() + 3_600_000)  # an hour later
        joiner = _observer(gen, MemoryStore(), url, ids["auditor"], state_sync=False)
        await joiner.start()
        try:
            await wait_height(joiner, nodes[0].ledger.tip.height, timeout=30)
            assert joiner.stats["blocks_fetched"] > 0
            assert joiner.metrics.block_time_offset._value.get() == 0.0
        finally:
            await joiner.stop()
    finally:
        await runner.cleanup()
        await stop_cluster(nodes)
