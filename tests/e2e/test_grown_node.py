"""A ledger `chainfin testnet grow` made starts as a normal node and serves proofs that verify."""

from __future__ import annotations

import io

import pytest

from chainfin import codec, proofs
from chainfin.genesis import load_genesis
from chainfin.store import BLOCKS, PlyvelStore
from chainfin.types import Block
from node.ledger import unpack_block_record
from testnet import scale
from testnet.launch import Testnet, init_testnet

pytestmark = pytest.mark.slow


def test_grown_node_restarts_and_serves_verified_proofs(tmp_path):
    m = init_testnet(tmp_path, nodes=4, extra_clients=8, tls=False)
    res = scale.grow(tmp_path, 1500, block_txs=300, out=io.StringIO())
    assert res.done
    store = PlyvelStore(f"{m.nodes[0].data_dir}/db")
    try:
        rec = codec.decode(unpack_block_record(dict(store.iterate(BLOCKS))[BLOCKS + (3).to_bytes(8, "big")]))
    finally:
        store.close()
    tx = Block.from_wire(rec["block"]).txs[7]
    genesis = load_genesis(m.genesis)
    trader = next(c for c in m.clients if c.name == "trader1")
    with Testnet(tmp_path) as tn:
        tn.start(0)  # alone: a node serves its committed ledger without a quorum
        tn.wait_ready(60, nodes=[0])
        with tn.client(0) as cl:
            tx_doc = cl.proof_tx(tx.tx_id)
            st_doc = cl.proof_state("settlement", f"bal/{trader.public_key}/USD")
    v = proofs.verify_proof(genesis, tx_doc)
    assert v.height == 3
    v = proofs.verify_proof(genesis, st_doc)
    assert v.height == res.height and st_doc["value"] is not None
