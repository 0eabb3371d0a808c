"""Ledger: speculative build/execute, atomic commit, catch-up verification, reopen."""

from __future__ import annotations

import pytest

from chainfin import codec
from chainfin.crypto import load_identity
from chainfin.errors import InvalidMessage
from chainfin.genesis import load_keyed_genesis
from chainfin.store import MemoryStore, PlyvelStore
from chainfin.types import CommitCertificate, Transaction, Vote, vote_message
from contracts import CONTRACTS
from node.ledger import Ledger
from testnet.launch import init_testnet


@pytest.fixture(scope="module")
def tn(tmp_path_factory):
    d = tmp_path_factory.mktemp("tn")
    m = init_testnet(d, nodes=4)
    genesis = load_keyed_genesis(d / "genesis.json")
    nodes = [load_identity(d / "keys" / f"node{i}.json") for i in range(4)]
    clients = {c.name: load_identity(c.key_file) for c in m.clients}
    return genesis, nodes, clients


def certify(genesis, nodes, block, signers=3):
    msg = vote_message(genesis.chain_id, "commit", 0, block.height, block.hash())
    votes = tuple(Vote(n.public_key, n.sign("consensus", msg)) for n in nodes[:signers])
    return CommitCertificate(genesis.chain_id, block.height, 0, block.hash(), votes)


def issue_tx(genesis, clients, nonce, amount=5):
    return Transaction.create(clients["usd_issuer"], genesis.chain_id, nonce, "settlement",
                              "issue", {"currency": "USD",
                                        "to": clients["exporter"].public_key.hex(),
                                        "amount": amount})


def test_build_execute_commit_and_replica_agrees(tn):
    genesis, nodes, clients = tn
    primary, replica = Ledger(MemoryStore(), genesis, registry=CONTRACTS), Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    assert primary.tip.state_root == replica.tip.state_root
    txs = [issue_tx(genesis, clients, n) for n in range(1, 6)]
    b1 = primary.build(1, 0, primary.tip.block_hash, genesis.genesis_time_ms + 10,
                       nodes[0].public_key, txs, 100)
    # pipelined: block 2 on top of speculative block 1, with a reused nonce left out
    more = [issue_tx(genesis, clients, 1), issue_tx(genesis, clients, 6)]
    b2 = primary.build(2, 0, b1.hash(), genesis.genesis_time_ms + 20, nodes[0].public_key,
                       more, 100)
    assert [t.nonce for t in b2.txs] == [6]
    replica.execute(b1, None, 0)
    replica.execute(b2, None, 0)
    for led in (primary, replica):
        led.commit(b1, certify(genesis, nodes, b1))
        led.commit(b2, certify(genesis, nodes, b2))
    assert primary.tip.state_root == replica.tip.state_root == b2.header.state_root
    bal = primary.state_value("settlement", f"bal/{clients['exporter'].public_key.hex()}/USD")
    assert bal == 30
    assert primary.tx_location(txs[2].tx_id) == (1, 2)
    assert sorted(primary.used_nonces(clients["usd_issuer"].public_key)) == [1, 2, 3, 4, 5, 6]


def test_replica_rejects_tampered_proposals(tn):
    genesis, nodes, clients = tn
    primary, replica = Ledger(MemoryStore(), genesis, registry=CONTRACTS), Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    b = primary.build(1, 0, primary.tip.block_hash, genesis.genesis_time_ms + 10,
                      nodes[0].public_key, [issue_tx(genesis, clients, 1)], 10)
    from dataclasses import replace

    from chainfin.types import Block

    bad_root = Block(replace(b.header, state_root=b"\1" * 32), b.txs)
    with pytest.raises(InvalidMessage, match="state root"):
        replica.execute(bad_root, None, 0)
    old = Block(replace(b.header, timestamp_ms=genesis.genesis_time_ms - 1), b.txs)
    with pytest.raises(InvalidMessage, match="backwards"):
        replica.execute(old, None, 0)
    future = Block(replace(b.header, timestamp_ms=10**13), b.txs)
    with pytest.raises(InvalidMessage, match="future"):
        replica.execute(future, genesis.genesis_time_ms, 5000)
    dropped = Block(b.header, ())
    with pytest.raises(InvalidMessage, match="tx root"):
        replica.execute(dropped, None, 0)


def test_catch_up_verifies_certificates(tn):
    genesis, nodes, clients = tn
    src, dst = Ledger(MemoryStore(), genesis, registry=CONTRACTS), Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    b = src.build(1, 0, src.tip.block_hash, genesis.genesis_time_ms + 1, nodes[0].public_key,
                  [issue_tx(genesis, clients, 1)], 10)
    with pytest.raises(InvalidMessage):
        dst.apply_certified(b, certify(genesis, nodes, b, signers=2))
    dst.apply_certified(b, certify(genesis, nodes, b))
    assert dst.tip.block_hash == b.hash()


def test_reopen_from_leveldb(tn, tmp_path):
    genesis, nodes, clients = tn
    store = PlyvelStore(str(tmp_path / "db"))
    led = Ledger(store, genesis, registry=CONTRACTS)
    b = led.build(1, 0, led.tip.block_hash, genesis.genesis_time_ms + 1, nodes[0].public_key,
                  [issue_tx(genesis, clients, 1)], 10)
    led.commit(b, certify(genesis, nodes, b))
    store.close()
    store = PlyvelStore(str(tmp_path / "db"))
    again = Ledger(store, genesis, registry=CONTRACTS)
    assert again.tip.height == 1 and again.tip.block_hash == b.hash()
    rec = again.block_record(1)
    assert codec.decode(codec.encode(rec))["receipts"][0]["status"] == "committed"
    store.close()


def _commit_blocks(led, genesis, nodes, clients, start_nonce, count):
    for i in range(count):
        n = start_nonce + i
        b = led.build(led.tip.height + 1, 0, led.tip.block_hash,
                      genesis.genesis_time_ms + 10 * (led.tip.height + 1), nodes[0].public_key,
                      [issue_tx(genesis, clients, n)], 10)
        led.commit(b, certify(genesis, nodes, b))


def test_smt_pages_are_written_every_flush_and_rebuilt_after_a_crash(tn, tmp_path):
    from chainfin.smt import verify_proof
    from node.ledger import P_SMT, SMT_FLUSH_BLOCKS

    genesis, nodes, clients = tn
    store = PlyvelStore(str(tmp_path / "db"))
    led = Ledger(store, genesis, registry=CONTRACTS)
    stored = sum(1 for _ in store.iterate(prefix=P_SMT))
    _commit_blocks(led, genesis, nodes, clients, 1, SMT_FLUSH_BLOCKS)
    assert led.unflushed == {}  # flushed: only the records the root still reaches
    written = sum(1 for _ in store.iterate(prefix=P_SMT)) - stored
    _commit_blocks(led, genesis, nodes, clients, 100, 3)  # these stay in memory ...
    assert led.unflushed and store.get(P_SMT + led.tip.state_root) is None
    key = f"bal/{clients['exporter'].public_key.hex()}/USD"
    proof = led.committed_tree().prove(led.tip.state_root, b"settlement/" + key.encode())
    assert verify_proof(led.tip.state_root, b"settlement/" + key.encode(),
                        codec.encode(led.state_value("settlement", key)), proof)
    tip = led.tip
    store.close()  # ... and are lost: a kill -9 now
    store = PlyvelStore(str(tmp_path / "db"))
    again = Ledger(store, genesis, registry=CONTRACTS)  # rebuilds the tree from the committed state
    assert (again.tip.height, again.tip.state_root) == (tip.height, tip.state_root)
    assert store.get(P_SMT + tip.state_root) is not None
    assert again.committed_tree().get(tip.state_root, b"settlement/" + key.encode()) == \
        codec.encode(again.state_value("settlement", key))
    _commit_blocks(again, genesis, nodes, clients, 200, 2)  # and goes on from there
    assert again.tip.height == tip.height + 2
    store.close()
    # the flush wrote fewer records than the blocks made (the pages near the root once)
    per_block = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    made = 0
    for i in range(SMT_FLUSH_BLOCKS):
        b = per_block.build(i + 1, 0, per_block.tip.block_hash, genesis.genesis_time_ms + i + 1,
                            nodes[0].public_key, [issue_tx(genesis, clients, i + 1)], 10)
        made += len(per_block.spec[b.hash()].smt_nodes)
        per_block.commit(b, certify(genesis, nodes, b))
    assert written < made


def test_nodes_flush_the_smt_at_different_heights(tn):
    from chainfin.crypto import Identity
    from node.ledger import SMT_FLUSH_BLOCKS, flush_phase_for

    genesis, nodes, clients = tn
    phases = sorted(flush_phase_for(n.public_key, genesis) for n in nodes)
    assert phases == [0, 16, 32, 48]  # four validators, a quarter of the interval apart
    outsider = flush_phase_for(Identity.generate("observer").public_key, genesis)
    assert 0 <= outsider < SMT_FLUSH_BLOCKS
    led = Ledger(MemoryStore(), genesis, registry=CONTRACTS, flush_phase=SMT_FLUSH_BLOCKS - 3)
    _commit_blocks(led, genesis, nodes, clients, 1, 2)
    assert led.unflushed  # heights 1 and 2: held in memory
    _commit_blocks(led, genesis, nodes, clients, 10, 1)
    assert led.unflushed == {}  # height 3: 3 + 61 = 64, this ledger's turn to write them
    _commit_blocks(led, genesis, nodes, clients, 20, SMT_FLUSH_BLOCKS - 1)
    assert led.unflushed and led.tip.height == SMT_FLUSH_BLOCKS + 2
    _commit_blocks(led, genesis, nodes, clients, 200, 1)
    assert led.unflushed == {}  # and every SMT_FLUSH_BLOCKS after


def test_a_damaged_state_is_refused_at_reopen(tn, tmp_path):
    from chainfin.errors import StorageError
    from node.ledger import P_STATE

    genesis, nodes, clients = tn
    store = PlyvelStore(str(tmp_path / "db"))
    led = Ledger(store, genesis, registry=CONTRACTS)
    _commit_blocks(led, genesis, nodes, clients, 1, 3)  # unflushed: a reopen rebuilds
    k, v = next(iter(store.iterate(prefix=P_STATE)))
    store.put(k, v + b"\0")
    store.close()
    store = PlyvelStore(str(tmp_path / "db"))
    with pytest.raises(StorageError, match="does not hash to the state root"):
        Ledger(store, genesis, registry=CONTRACTS)
    store.close()
