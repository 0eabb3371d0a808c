"""The driver's execution of a proposal when the ledger is ahead of the engine (node/engine_io.py
``EngineIO._execute_block``): catch-up commits certified blocks in the background and tells
the engine with ``Synced`` once it is done, so for a while the engine can ask to execute a
proposal at a height the ledger has already committed (a NEW-VIEW's re-proposals, seen in
chaos runs right after a restart or a full disk). Such a proposal is valid exactly when it is
the committed block; it used to fail with "parent block is unknown" and make the replica
suspect an honest primary."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from chainfin.consensus.api import BlockExecuted
from chainfin.types import Block
from tests.fixtures import Harness, start_cluster, stop_cluster


async def test_a_proposal_at_a_height_catch_up_committed_is_judged_by_its_hash() -> None:
    genesis, nodes, ids = await start_cluster(4)
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        node = nodes[0]
        for _ in range(3):  # three blocks, one after the other
            tx = h.issue()
            fut = node.wait_for(tx.tx_id)
            node.admit(tx)
            await asyncio.wait_for(fut, 20)
        assert node.ledger.tip.height >= 3
        rec = node.ledger.block_record(2)
        assert rec is not None
        committed = Block.from_wire(rec["block"])
        ok = node.io._execute_block(committed)
        assert (ok.block_hash, ok.ok) == (committed.hash(), True), ok  # type: ignore[attr-defined]
        other = Block(dataclasses.replace(committed.header,
                                          timestamp_ms=committed.header.timestamp_ms + 1),
                      committed.txs)
        bad = node.io._execute_block(other)
        assert not bad.ok  # type: ignore[attr-defined]
        assert bad.reason == "another block is committed at height 2"  # type: ignore[attr-defined]
    finally:
        await stop_cluster(nodes)


async def test_an_idle_network_changes_no_view_after_its_last_block() -> None:
    """The engine's count of pending transactions went down only while some stayed pending:
    after the block that emptied the mempool it kept its last count (1), so every replica ran
    its view-change timer on an idle network, changed views after 1, 2, 4, ... s, and the next
    transaction waited for a new view (the docs walk-through saw view 32 on an idle testnet)."""
    genesis, nodes, ids = await start_cluster(4)
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        for i in range(2):
            tx = h.issue()
            fut = nodes[i].wait_for(tx.tx_id)
            nodes[i].admit(tx)
            await asyncio.wait_for(fut, 20)
        await asyncio.sleep(0.3)  # every replica applies the last commit
        assert [len(nd.mempool) for nd in nodes] == [0, 0, 0, 0]
        assert [nd.engine._pending for nd in nodes] == [0, 0, 0, 0]
        assert all(nd.engine._progress_deadline is None for nd in nodes)
        timeout_s = nodes[0].engine._timeout() / 1000
        await asyncio.sleep(timeout_s * 1.5)  # past a view-change timeout, nothing to do
        assert [nd.engine.view for nd in nodes] == [0, 0, 0, 0]
    finally:
        await stop_cluster(nodes)


async def test_proposals_of_more_than_f_primaries_executed_differently_say_so_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """Decision 189: a node whose execution disagrees with f + 1 primaries at one height (its
    code or state differs from theirs: an upgrade done on some nodes only, a non-deterministic
    contract) logs one ERROR line for that height and counts it; one primary's bad block is
    only that primary's fault (a WARNING, as before)."""
    genesis, nodes, ids = await start_cluster(4)
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        node = nodes[0]
        tx = h.issue()
        fut = node.wait_for(tx.tx_id)
        node.admit(tx)
        await asyncio.wait_for(fut, 20)
        await asyncio.sleep(0.3)  # the commit is applied (its after_commit ran)
        tip = node.ledger.tip
        built = node.ledger.build(tip.height + 1, node.engine.view, tip.block_hash,
                                  node.io.clock(), node.identity.public_key, [h.issue()], 10)
        assert built is not None
        others = [nd.identity.public_key for nd in nodes[1:]]

        def other_root(proposer: bytes) -> Block:  # as another code version would execute it
            hd = dataclasses.replace(built.header, proposer=proposer,
                                     state_root=bytes(32 - len(b"v2")) + b"v2")
            return Block(hd, built.txs)

        caplog.set_level(logging.WARNING, logger="chainfin.node")
        before = node.stats["execution_disagreements"]
        r = node.io._execute_block(other_root(others[0]))
        assert isinstance(r, BlockExecuted)
        assert (r.ok, r.reason) == (False, "state root does not match")
        assert node.stats["execution_disagreements"] == before
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        node.io._execute_block(other_root(others[1]))  # f + 1 = 2 primaries
        node.io._execute_block(other_root(others[2]))  # the same height: said once
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert f"disagrees with 2 primaries at height {tip.height + 1}" in errors[0]
        assert "coordinated upgrade" in errors[0]
        assert node.stats["execution_disagreements"] == before + 1
        text = node.metrics.render().decode()
        assert f'chainfin_node_total{{what="execution_disagreements"}} {before + 1}.0' in text
    finally:
        await stop_cluster(nodes)
