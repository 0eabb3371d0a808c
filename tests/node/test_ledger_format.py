"""Ledger format 2 (decision 95): the header certifies the block's receipts (``receipts_root``),
the state records used nonces in words instead of one receipt per transaction. A replica refuses a
proposal whose receipts root is not the one its own execution gives, a format-1 ledger refuses a
header that carries one, and a tx proof served from the stored record shows the receipt."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chainfin import proofs
from chainfin.errors import InvalidMessage
from chainfin.execution import receipts_root
from chainfin.store import PlyvelStore, state_key_of
from chainfin.types import Block, CommitCertificate
from contracts import CONTRACTS
from node.ledger import Ledger
from tests.node import test_snapshot_pins as pins
from tests.node.test_ledger import issue_tx

chain = pins.chain  # the fixture: a 4-validator testnet genesis and an empty LevelDB


def _format(genesis, fmt: int):
    return genesis.model_copy(update={"params": genesis.params.model_copy(
        update={"ledger_format": fmt})})


def _proposal(led: Ledger, genesis, nodes, clients, nonce: int) -> Block:
    txs = [issue_tx(genesis, clients, nonce + i, amount=10 + i) for i in range(3)]
    h = led.tip.height + 1
    return led.build(h, 0, led.tip.block_hash, genesis.genesis_time_ms + h,
                     nodes[0].public_key, txs, 10)


def test_a_replica_refuses_a_receipts_root_its_execution_does_not_give(chain, tmp_path) -> None:
    store, genesis, nodes, clients = chain
    assert genesis.params.ledger_format == 2  # what `testnet init` writes
    primary = Ledger(store, genesis, registry=CONTRACTS)
    block = _proposal(primary, genesis, nodes, clients, 1)
    spec = primary.spec[block.hash()]
    assert block.header.receipts_root == receipts_root(spec.result.receipts_json)
    replica_store = PlyvelStore(str(tmp_path / "replica"))
    try:
        replica = Ledger(replica_store, genesis, registry=CONTRACTS)
        for forged in (bytes(32), None):  # another root, or none at all
            bad = Block(dataclasses.replace(block.header, receipts_root=forged), block.txs)
            with pytest.raises(InvalidMessage, match="receipts root"):
                replica.execute(bad, None, 0)
        replica.execute(block, None, 0)  # the genuine one executes to the same root
        # a format-1 ledger of the same chain refuses a header with a receipts root
        g1 = _format(genesis, 1)
        old = Ledger(PlyvelStore(str(tmp_path / "old")), g1, registry=CONTRACTS)
        plain = _proposal(old, g1, nodes, clients, 1)
        assert plain.header.receipts_root is None
        with pytest.raises(InvalidMessage, match="format 1"):
            old.execute(Block(dataclasses.replace(plain.header, receipts_root=bytes(32)),
                              plain.txs), None, 0)
        old.store.close()
    finally:
        replica_store.close()


def test_no_receipt_in_the_state_and_the_tx_proof_shows_it(chain) -> None:
    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    nonce = pins._grow(led, genesis, nodes, clients, 3, 0)
    keys = [state_key_of(k) for k, _ in store.iterate(prefix=b"y/")]
    assert not [k for k in keys if k.startswith(b"_tx/")]
    assert [k for k in keys if k.startswith(b"_nonce/")]
    issuer = clients["usd_issuer"].public_key
    assert led.max_nonce(issuer) == nonce and sorted(led.used_nonces(issuer)) == list(
        range(1, nonce + 1))
    rec = led.block_record(2)
    doc = proofs.build_tx_proof(Block.from_wire(rec["block"]),
                                CommitCertificate.from_wire(rec["cert"]), 1, [], rec["receipts"])
    v = proofs.verify_proof(genesis, proofs.parse_document(json.dumps(doc)))
    assert v.receipt["status"] == "committed" and v.receipt["index"] == 1
    assert any(line.startswith("outcome:        committed") for line in v.lines())
