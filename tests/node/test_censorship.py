"""A censoring primary (node/byzantine.py ``censor``) among three honest validators, in process
over real peer links: it commits every other client's transactions, so blocks keep coming and
the view-change timer (reset by every commit) never fires; the request timer replaces it and
the censored client's transaction commits (docs/consensus.md, "The request timer")."""

from __future__ import annotations

import asyncio
import time

from chainfin.crypto import Identity
from chainfin.store import MemoryStore
from chainfin.types import Block, Transaction
from node.byzantine import ByzantineNode
from node.runtime import Node
from tests.fixtures import client_ids, connect, make_genesis, validator_ids

REQUEST_TIMEOUT_MS = 2000


async def test_a_censoring_primary_is_replaced_and_the_censored_transaction_commits() -> None:
    validators = validator_ids(4)
    ids = client_ids()
    genesis = make_genesis(validators, ids, chain_id="chainfin-testnet-censor")
    victim = ids["exporter"]
    p0 = genesis.validator_set().primary(0)
    nodes: list[Node] = []
    for i, v in enumerate(validators):
        if v.public_key == p0:
            nodes.append(ByzantineNode(v, genesis, MemoryStore(), "127.0.0.1", 0, {},
                                       f"node{i}", behaviour="censor",
                                       censor=[victim.public_key],
                                       request_timeout_ms=REQUEST_TIMEOUT_MS))
        else:
            nodes.append(Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}",
                              request_timeout_ms=REQUEST_TIMEOUT_MS))
    bad = next(nd for nd in nodes if isinstance(nd, ByzantineNode))
    honest = [nd for nd in nodes if nd is not bad]
    for nd in nodes:
        await nd.start()
    await connect(nodes, what="validators did not connect")
    stop = asyncio.Event()

    async def load() -> None:  # another client's transactions: a block every ~50 ms
        nonce = 0
        while not stop.is_set():
            nonce += 1
            honest[nonce % 3].admit(Transaction.create(
                ids["usd_issuer"], genesis.chain_id, nonce, "settlement", "issue",
                {"currency": "USD", "amount": 5, "to": victim.public_key.hex()}))
            await asyncio.sleep(0.05)

    task = asyncio.get_running_loop().create_task(load())
    try:
        await asyncio.sleep(1.0)
        assert all(nd.view == 0 for nd in nodes) and honest[0].ledger.tip.height > 5
        tx = Transaction.create(victim, genesis.chain_id, 1, "settlement", "transfer",
                                {"to": ids["importer"].public_key.hex(), "currency": "USD",
                                 "amount": 1})
        at_submit = honest[0].ledger.tip.height
        t0 = time.monotonic()
        honest[0].admit(tx)
        fut = honest[0].wait_for(tx.tx_id)
        outcome = await asyncio.wait_for(fut, timeout=20)
        waited = time.monotonic() - t0
        print(f"censored transaction committed after {waited:.2f} s "
              f"(request timeout {REQUEST_TIMEOUT_MS / 1000:.1f} s), views "
              f"{[nd.view for nd in nodes]}, request timeouts "
              f"{[nd.engine.stats['request_timeouts'] for nd in nodes]}")
        assert outcome.height is not None
        # the load committed all along: only the request timer could replace this primary
        assert outcome.height > at_submit + 10
        assert REQUEST_TIMEOUT_MS / 1000 <= waited < REQUEST_TIMEOUT_MS / 1000 + 6, waited
        assert all(nd.view >= 1 for nd in honest), [nd.view for nd in honest]
        assert sum(nd.engine.stats["request_timeouts"] for nd in honest) >= 1
        rec = honest[0].ledger.block_record(outcome.height)
        assert rec is not None
        assert Block.from_wire(rec["block"]).header.proposer != bad.identity.public_key
        assert bad.stats["byzantine_censored"] > 0
        # the honest nodes agree on every block
        await asyncio.sleep(0.3)
        top = min(nd.ledger.tip.height for nd in honest)
        for h in range(1, top + 1):
            assert len({_hash_at(nd, h) for nd in honest}) == 1, h
    finally:
        stop.set()
        await task
        for nd in nodes:
            await nd.stop()


def _hash_at(nd: Node, h: int) -> bytes:
    rec = nd.ledger.block_record(h)
    assert rec is not None
    return Block.from_wire(rec["block"]).hash()


async def test_an_honest_primary_at_capacity_and_a_never_proposable_transaction_cost_no_view(
) -> None:
    # 5 transactions a block, 10 blocks a second: 50 tx/s, and 300 arrive at once, so the last
    # wait ~6 s, three request timeouts; the primary's blocks are full, so it is at capacity,
    # not censoring. Meanwhile every replica holds a transaction no primary can propose (its
    # sender is unknown to the chain, as one revoked after admission): dropped, never counted
    validators = validator_ids(4)
    ids = client_ids()
    genesis = make_genesis(validators, ids, chain_id="chainfin-testnet-capacity",
                           params={"max_block_txs": 5, "block_interval_ms": 100,
                                   "block_interval_max_ms": 100})
    nodes = [Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}",
                  request_timeout_ms=REQUEST_TIMEOUT_MS) for i, v in enumerate(validators)]
    for nd in nodes:
        await nd.start()
    await connect(nodes, what="validators did not connect")
    try:
        stranger = Transaction.create(Identity.generate("nobody"), genesis.chain_id, 1,
                                      "settlement", "issue",
                                      {"currency": "USD", "amount": 1,
                                       "to": ids["exporter"].public_key.hex()})
        for nd in nodes:  # (past admission: as if its sender lost its identity since)
            nd.mempool.add(stranger)
            nd.admission.admitted_at[stranger.tx_id] = time.perf_counter()
            nd.admission.request_start[stranger.tx_id] = time.perf_counter()
        txs = [Transaction.create(ids["usd_issuer"], genesis.chain_id, n, "settlement", "issue",
                                  {"currency": "USD", "amount": 1,
                                   "to": ids["exporter"].public_key.hex()})
               for n in range(1, 301)]
        t0 = time.monotonic()
        for n, tx in enumerate(txs):
            nodes[n % 4].admit(tx)
        futs = [nodes[n % 4].wait_for(tx.tx_id) for n, tx in enumerate(txs)]
        await asyncio.sleep(REQUEST_TIMEOUT_MS / 1000)
        # dropped under load (blocks every 100 ms: the idle sweep never ran), at half the timeout
        assert not all(f.done() for f in futs)
        assert all(stranger.tx_id not in nd.mempool for nd in nodes)
        await asyncio.wait_for(asyncio.gather(*futs), timeout=25)
        took = time.monotonic() - t0
        print(f"300 transactions at 50 tx/s committed in {took:.1f} s, views "
              f"{[nd.view for nd in nodes]}")
        assert took > 2 * REQUEST_TIMEOUT_MS / 1000  # the backlog outlived the timeout ...
        assert [nd.view for nd in nodes] == [0] * 4  # ... and nobody asked for a view change
        assert sum(nd.engine.stats["view_changes_started"] for nd in nodes) == 0
        assert all(stranger.tx_id not in nd.mempool for nd in nodes)
    finally:
        for nd in nodes:
            await nd.stop()
