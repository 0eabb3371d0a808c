"""A byzantine validator (node/byzantine.py) among three honest ones, in process over real peer
links: the honest nodes keep committing and never disagree, whatever the byzantine one sends."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from chainfin.crypto import Identity
from chainfin.errors import ConfigError
from chainfin.genesis import Genesis
from chainfin.store import MemoryStore
from chainfin.types import Block, Transaction
from node.byzantine import BEHAVIOURS, ByzantineNode, enable_byzantine
from node.config import load_config
from node.runtime import Node
from tests.fixtures import client_ids, connect, make_genesis, validator_ids


async def _cluster(behaviour: str) -> tuple[list[Node], Node, dict[str, Identity], Genesis]:
    """Four validators; the byzantine one is the primary of view 0 (equivocate and invalid need
    it to propose)."""
    validators = validator_ids(4)
    ids = client_ids()
    # view changes away from a byzantine primary are quick
    genesis = make_genesis(validators, ids, chain_id="chainfin-testnet-byz",
                           params={"view_timeout_ms": 300})
    p0 = genesis.validator_set().primary(0)
    nodes: list[Node] = []
    for i, v in enumerate(validators):
        if v.public_key == p0:
            nodes.append(ByzantineNode(v, genesis, MemoryStore(), "127.0.0.1", 0, {},
                                       f"node{i}", behaviour=behaviour, flood_rate=400, seed=5))
        else:
            nodes.append(Node(v, genesis, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}"))
    bad = next(nd for nd in nodes if isinstance(nd, ByzantineNode))
    for nd in nodes:
        await nd.start()
    await connect(nodes, what="validators did not connect")
    return nodes, bad, ids, genesis


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
async def test_honest_nodes_commit_and_agree_despite(behaviour: str) -> None:
    nodes, bad, ids, genesis = await _cluster(behaviour)
    honest = [nd for nd in nodes if nd is not bad]
    try:
        nonce = 0
        deadline = time.monotonic() + 20
        while any(nd.ledger.tip.height < 4 for nd in honest):
            assert time.monotonic() < deadline, (
                behaviour, [nd.ledger.tip.height for nd in honest],
                [dict(nd.engine.stats) for nd in honest][:1])
            nonce += 1
            tx = Transaction.create(ids["usd_issuer"], genesis.chain_id, nonce, "settlement",
                                    "issue", {"currency": "USD", "amount": 5,
                                              "to": ids["exporter"].public_key.hex()})
            honest[nonce % 3].admit(tx)
            await asyncio.sleep(0.05)
        top = min(nd.ledger.tip.height for nd in honest)
        for h in range(1, top + 1):
            blocks = {nd.ledger.block_raw(h) for nd in honest}
            assert len(blocks) == 1 or len({_hash_at(nd, h) for nd in honest}) == 1, (
                behaviour, h)
        if behaviour != "silent":
            assert bad.stats["byzantine_sent"] > 0
        dropped = sum(v for nd in honest for k, v in nd.engine.stats.items()
                      if k.startswith("dropped"))
        dropped += sum(v for nd in honest for k, v in nd.transport.stats.items()
                       if k.startswith("dropped"))
        if behaviour in ("invalid", "equivocate", "silent"):  # its views had to be changed
            assert all(nd.view > 0 for nd in honest), (behaviour, [nd.view for nd in honest])
        if behaviour == "invalid":
            assert sum(nd.engine.stats["proposals_rejected"] for nd in honest) > 0
        for nd in honest:  # whatever was proposed, every committed transaction verifies
            for h in range(1, nd.ledger.tip.height + 1):
                rec = nd.ledger.block_record(h)
                assert rec is not None
                for tx in Block.from_wire(rec["block"]).txs:
                    tx.verify_signature()
        if behaviour in ("garbage", "replay", "conflict", "flood", "equivocate"):
            assert dropped > 0, (behaviour, [dict(nd.engine.stats) for nd in honest])
    finally:
        for nd in nodes:
            await nd.stop()


def _hash_at(nd: Node, h: int) -> bytes:
    rec = nd.ledger.block_record(h)
    assert rec is not None
    return Block.from_wire(rec["block"]).hash()


def test_byzantine_section_needs_a_test_network(tmp_path) -> None:
    from testnet.launch import init_testnet

    m = init_testnet(tmp_path / "tn", nodes=4, tls=False)
    cfg = m.nodes[1].config
    raw = json.loads(open(cfg).read())
    raw["byzantine"] = {"behaviour": "silent"}
    open(cfg, "w").write(json.dumps(raw))
    with pytest.raises(ConfigError, match="test_network"):
        load_config(cfg)
    enable_byzantine(cfg, m.genesis, "flood")
    assert load_config(cfg).byzantine.behaviour == "flood"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown byzantine behaviour"):
        enable_byzantine(cfg, m.genesis, "nice")


def test_byzantine_node_refuses_a_production_chain() -> None:
    validators = [Identity.generate("v")]
    genesis = make_genesis(validators, client_ids(), chain_id="chainfin-bank-consortium",
                           params={"view_timeout_ms": 300})
    with pytest.raises(ConfigError, match="test networks only"):
        ByzantineNode(validators[0], genesis, MemoryStore(), "127.0.0.1", 0, {}, "v",
                      behaviour="silent")
