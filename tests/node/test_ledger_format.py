"""Ledger format 2 (decision 95): the header certifies the block's receipts (``receipts_root``),
the state records used nonces in words instead of one receipt per transaction. A replica refuses a
proposal whose receipts root is not the one its own execution gives, a format-1 ledger refuses a
header that carries one, and a tx proof served from the stored record shows the receipt."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chainfin import proofs
from chainfin.errors import InvalidMessage, InvalidTransaction
from chainfin.execution import check_tx_static, receipt_leaf, receipts_root
from chainfin.store import PlyvelStore, state_key_of
from chainfin.types import Block, CommitCertificate, Transaction
from contracts import CONTRACTS
from node.ledger import Ledger
from tests.node import test_snapshot_pins as pins
from tests.node.test_ledger import certify, issue_tx

chain = pins.chain  # the fixture: a 4-validator testnet genesis and an empty LevelDB


def _format(genesis, fmt: int):
    return genesis.model_copy(update={"params": genesis.params.model_copy(
        update={"ledger_format": fmt})})


def _proposal(led: Ledger, genesis, nodes, clients, nonce: int) -> Block:
    txs = [issue_tx(genesis, clients, nonce + i, amount=10 + i) for i in range(3)]
    h = led.tip.height + 1
    return led.build(h, 0, led.tip.block_hash, genesis.genesis_time_ms + h,
                     nodes[0].public_key, txs, 10)


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_replica_refuses_a_receipts_root_its_execution_does_not_give(chain, tmp_path,
                                                                      fmt: int) -> None:
    store, genesis, nodes, clients = chain
    assert genesis.params.ledger_format == 3  # what `testnet init` writes (decision 129)
    genesis = _format(genesis, fmt)
    primary = Ledger(store, genesis, registry=CONTRACTS)
    block = _proposal(primary, genesis, nodes, clients, 1)
    spec = primary.spec[block.hash()]
    salts = [t.leaf() for t in block.txs] if fmt == 3 else None
    assert block.header.receipts_root == receipts_root(spec.result.receipts_json, salts)
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
                                CommitCertificate.from_wire(rec["cert"]), 1, [], rec["receipts"],
                                salted=genesis.params.ledger_format >= 3)
    v = proofs.verify_proof(genesis, proofs.parse_document(json.dumps(doc)))
    assert v.receipt["status"] == "committed" and v.receipt["index"] == 1
    assert any(line.startswith("outcome:        committed") for line in v.lines())


def test_a_format_1_chain_upgraded_by_governance_certifies_receipts_from_the_next_block(
        chain, tmp_path) -> None:
    """The block applying ``upgrade_ledger_format`` is still of format 1; the next carries a
    receipts root, a replica executing the same blocks agrees, and a nonce used before the
    upgrade is refused after it."""
    store, genesis, nodes, clients = chain
    g1 = _format(genesis, 1)
    led = Ledger(store, g1, registry=CONTRACTS)
    replica = Ledger(PlyvelStore(str(tmp_path / "replica")), g1, registry=CONTRACTS)

    def commit(txs):
        h = led.tip.height + 1
        b = led.build(h, 0, led.tip.block_hash, g1.genesis_time_ms + h, nodes[0].public_key,
                      txs, 10)
        replica.execute(b, None, 0)
        cert = certify(g1, nodes, b)
        led.commit(b, cert)
        replica.commit(b, cert)
        return b

    assert commit([issue_tx(g1, clients, 1)]).header.receipts_root is None
    propose = Transaction.create(nodes[0], g1.chain_id, 0, "governance", "propose",
                                 {"action": "upgrade_ledger_format", "params": {"format": 2}})
    b = commit([propose])
    pid = led.block_record(b.height)["receipts"][0]["result"]["proposal_id"]
    votes = [Transaction.create(n, g1.chain_id, 0, "governance", "vote", {"proposal_id": pid})
             for n in nodes[1:3]]
    applying = commit(votes)
    assert applying.header.receipts_root is None  # the block that applies it: format 1
    after = commit([issue_tx(g1, clients, 2)])
    assert after.header.receipts_root is not None
    assert replica.tip.state_root == led.tip.state_root
    rec = led.block_record(after.height)
    v = proofs.verify_proof(g1, proofs.parse_document(json.dumps(led.tx_proof(after.height, 0, []))))
    assert v.receipt["status"] == "committed" and rec["receipts"][0]["status"] == "committed"
    # nonce 1 was used (a receipt in the state) before the upgrade: still used after it
    with pytest.raises(InvalidTransaction) as ei:
        check_tx_static(issue_tx(g1, clients, 1), led.committed_state(), registry=CONTRACTS,
                        nonce_words=True, legacy_receipts=True)
    assert ei.value.code == "nonce_reused"
    assert led.replay_rule(led.committed_state()) == (True, True)
    # /v1/nonce's index: nonce 1 from the format-1 block (n/), 2 from its word (o/)
    issuer = clients["usd_issuer"].public_key
    assert led.used_nonces(issuer) == [1, 2] and led.max_nonce(issuer) == 2
    replica.store.close()


def test_format_3_leaves_commit_to_signatures_a_proof_reader_does_not_hold(chain) -> None:
    """Decision 129. In format 2 the neighbouring hashes of a transaction's proof were a
    neighbour's tx id and receipt encoding, hashed bare: a reader who guessed the neighbour's
    fields (sender, nonce, payee, amount; its balance after) found them. In format 3 each leaf
    commits to the neighbour's signature: the same guess no longer reproduces the hash. The
    proof still verifies offline, and a format-2 verifier refuses it (the genesis fixes the
    format)."""
    from chainfin import merkle

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    pins._grow(led, genesis, nodes, clients, 2, 0)
    rec = led.block_record(2)
    block = Block.from_wire(rec["block"])
    assert len(block.txs) >= 2
    doc = led.tx_proof(2, 0, [])
    v = proofs.verify_proof(genesis, proofs.parse_document(json.dumps(doc)))
    assert v.receipt["status"] == "committed"
    neighbour, its_receipt = block.txs[1], rec["receipts"][1]
    # what a reader who guessed everything about the neighbour computes, format 2's way
    guessed_tx = merkle.leaf_hash(neighbour.tx_id)
    guessed_receipt = merkle.leaf_hash(receipt_leaf(its_receipt))
    path = doc["inclusion"]["path"] + doc["receipt_path"]
    assert guessed_tx.hex() not in path and guessed_receipt.hex() not in path
    # the salted leaves are the siblings (the neighbour's signature is in them)
    assert merkle.leaf_hash(neighbour.leaf()).hex() == doc["inclusion"]["path"][0]
    assert merkle.leaf_hash(neighbour.leaf() + receipt_leaf(its_receipt)).hex() == \
        doc["receipt_path"][0]
    with pytest.raises(proofs.ProofError, match="Merkle path"):
        proofs.verify_proof(_format(genesis, 2), proofs.parse_document(json.dumps(doc)))


def test_the_by_hand_procedure_in_the_docs_reads_format_3(chain, tmp_path, monkeypatch,
                                                          capsys) -> None:
    """docs/proofs.md §4's script (no chainfin) accepts a format-3 proof, salted leaves and
    all, and refuses it with the receipt's path changed."""
    import runpy
    import sys

    from tests.unit.test_proofs import _by_hand_script

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    pins._grow(led, genesis, nodes, clients, 2, 0)
    script = tmp_path / "verify_by_hand.py"
    script.write_text(_by_hand_script())
    g = tmp_path / "genesis.json"
    g.write_text(genesis.to_json_text())

    def run(doc) -> str:
        p = tmp_path / "proof.json"
        p.write_text(json.dumps(doc))
        monkeypatch.setattr(sys, "argv", [str(script), str(g), str(p)])
        runpy.run_path(str(script), run_name="__main__")
        return capsys.readouterr().out

    doc = led.tx_proof(2, 1, [])
    assert f"tx {doc['tx_id']} is final in block 2" in run(doc)
    doc["receipt_path"][0] = "00" * 32
    with pytest.raises(AssertionError, match="receipts_root"):
        run(doc)
