"""A peer's gossip frame is admitted transaction by transaction: a bad one is dropped and
counted, the others in the same frame still enter the mempool (Admission.on_gossip on a Node
that is not started)."""

from __future__ import annotations

import dataclasses

from chainfin import codec
from chainfin.store import MemoryStore
from chainfin.types import Transaction
from node.mempool import encode_tx_batch
from node.runtime import Node
from tests.fixtures import client_ids, make_genesis, validator_ids


def _setup() -> tuple[Node, list[Transaction]]:
    vals, ids = validator_ids(), client_ids()
    gen = make_genesis(vals, ids)
    node = Node(vals[0], gen, MemoryStore(), "127.0.0.1", 0, {}, "node0")
    to = ids["exporter"].public_key.hex()
    txs = [Transaction.create(ids["usd_issuer"], gen.chain_id, n, "settlement", "issue",
                              {"currency": "USD", "to": to, "amount": n}) for n in (1, 2, 3)]
    return node, txs


async def test_one_bad_transaction_drops_only_itself_and_is_counted() -> None:
    node, (a, b, c) = _setup()
    try:
        forged = dataclasses.replace(b, signature=bytes(64), body=b.body, tx_id=b.tx_id)
        frame = encode_tx_batch([a.encode(), forged.encode(), b"\x93garbage", c.encode()])
        node.admission.on_gossip(frame)
        assert a.tx_id in node.mempool and c.tx_id in node.mempool
        assert b.tx_id not in node.mempool
        assert node.stats["gossip_txs_in"] == 2
        assert node.stats["gossip_txs_bad"] == 2  # the forged signature and the garbage
        node.admission.on_gossip(frame)  # again: the admitted ones are known, not counted
        assert node.stats["gossip_txs_in"] == 2 and len(node.mempool) == 2
    finally:
        node.gossip.close()
        if node.admission._pending_timer is not None:
            node.admission._pending_timer.cancel()


async def test_a_frame_that_is_not_a_list_is_one_bad_frame() -> None:
    node, _ = _setup()
    try:
        node.admission.on_gossip(codec.encode({"not": "a list"}))
        node.admission.on_gossip(b"\xc1")  # not msgpack at all
        assert node.stats["gossip_txs_bad"] == 2 and len(node.mempool) == 0
    finally:
        node.gossip.close()


async def test_a_peer_gossiping_bad_signatures_has_a_budget_until_the_next_commit() -> None:
    """A linked validator's gossip frames may hold 100,000 transactions, each with a bad
    signature costing a check (red-team round 3). A link gets GOSSIP_BAD_SIGNATURES of them
    between two commits; the rest of its frames are dropped unchecked; another link is not
    touched."""
    from node.admission import GOSSIP_BAD_SIGNATURES

    node, (a, b, c) = _setup()
    liar, honest = b"\x01" * 32, b"\x02" * 32
    try:
        forged = [dataclasses.replace(b, nonce=100 + i, signature=bytes(64), body=b"",
                                      tx_id=b"") for i in range(GOSSIP_BAD_SIGNATURES + 50)]
        node.admission.on_gossip(encode_tx_batch([f.encode() for f in forged]), liar)
        assert node.stats["gossip_txs_bad"] == GOSSIP_BAD_SIGNATURES  # the rest unchecked
        node.admission.on_gossip(encode_tx_batch([a.encode()]), liar)
        assert a.tx_id not in node.mempool and node.stats["gossip_frames_over_budget"] == 2
        node.admission.on_gossip(encode_tx_batch([c.encode()]), honest)
        assert c.tx_id in node.mempool
        node.admission.committed(1, [])  # a commit: the budget starts again
        node.admission.on_gossip(encode_tx_batch([a.encode()]), liar)
        assert a.tx_id in node.mempool
    finally:
        node.gossip.close()
        if node.admission._pending_timer is not None:
            node.admission._pending_timer.cancel()
