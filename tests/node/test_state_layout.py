"""The state key space ordered by key hash (decision 92): a data dir of the layout before it
(``s/<key>`` plus the ``k/`` key index) is moved on open, resuming after a crash; a chunk read
with one scan of the state key space is the chunk the tree walk gives; ``/v1/nonce`` answers
from the ``n/`` index."""

from __future__ import annotations

import hashlib

import pytest

from chainfin.smt import SparseMerkleTree
from chainfin.snapshot import MAX_CHUNK_ENTRIES, decode_chunk
from chainfin.store import (
    KEY_INDEX,
    LEGACY_STATE,
    NONCE_INDEX,
    STATE,
    state_db_key,
    state_key_of,
)
from contracts import CONTRACTS
from node import ledger as ledger_mod
from node import statesync
from node.ledger import K_KEY_INDEX, SMT_FLUSH_BLOCKS, Ledger
from tests.node import test_snapshot_pins as pins

_grow = pins._grow
chain = pins.chain  # the fixture: a 4-validator genesis and an empty LevelDB


def _state(store) -> dict[bytes, bytes]:
    return {state_key_of(k): v for k, v in store.iterate(prefix=STATE)}


def _to_old_layout(store) -> None:
    """Rewrite a data dir as the code before decision 92 left it: state under ``s/<key>``,
    the ``k/`` index, no ``n/`` entries."""
    with store.write_batch(sync=True) as b:
        for k, v in store.iterate(prefix=STATE):
            key = state_key_of(k)
            b.delete(k)
            b.put(LEGACY_STATE + key, v)
            b.put(KEY_INDEX + hashlib.sha256(key).digest(), key)
        for k, _ in store.iterate(prefix=NONCE_INDEX):
            b.delete(k)
        b.put(K_KEY_INDEX, b"1")


def test_an_old_layout_data_dir_is_moved_on_open_and_a_crash_resumes(chain, monkeypatch) -> None:
    store, genesis, nodes, clients = chain
    # data dirs of the old layout were all written before ledger format 2 (receipts in state)
    genesis = genesis.model_copy(update={"params": genesis.params.model_copy(
        update={"ledger_format": 1})})
    led = Ledger(store, genesis, registry=CONTRACTS)
    nonce = _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS + 5, 0)
    tip = led.tip
    state = _state(store)
    issuer = clients["usd_issuer"].public_key
    used = sorted(led.used_nonces(issuer))
    assert used == list(range(1, nonce + 1))
    _to_old_layout(store)
    assert not _state(store) and led.used_nonces(issuer) == []

    # a crash part-way: the batches written are moved, the rest still in the old layout
    monkeypatch.setattr(ledger_mod, "MIGRATE_BATCH", 7)
    calls = {"n": 0}
    real = ledger_mod.nonce_key_of_receipt

    def crash_after_a_while(key: bytes):
        calls["n"] += 1
        if calls["n"] > 30:
            raise KeyboardInterrupt("killed")
        return real(key)

    monkeypatch.setattr(ledger_mod, "nonce_key_of_receipt", crash_after_a_while)
    with pytest.raises(KeyboardInterrupt):
        Ledger(store, genesis, registry=CONTRACTS)
    moved = _state(store)
    assert 0 < len(moved) < len(state) and all(state[k] == v for k, v in moved.items())
    assert len(moved) + sum(1 for _ in store.iterate(prefix=LEGACY_STATE)) == len(state)

    monkeypatch.setattr(ledger_mod, "nonce_key_of_receipt", real)
    again = Ledger(store, genesis, registry=CONTRACTS)  # resumes and finishes
    assert _state(store) == state
    assert not list(store.iterate(prefix=LEGACY_STATE)) and not list(store.iterate(prefix=KEY_INDEX))
    assert store.get(K_KEY_INDEX) is None
    assert again.tip == tip
    assert sorted(again.used_nonces(issuer)) == used
    # and it goes on committing on the same state
    _grow(again, genesis, nodes, clients, 2, nonce)
    assert again.tip.height == tip.height + 2


def test_a_chunk_scanned_from_the_state_key_space_is_the_tree_walks(chain) -> None:
    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS, digest_leaves=False)  # (values in leaves)
    _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS, 0)
    h = led.snapshot_height
    root = led.state_root_at(h)
    tree = SparseMerkleTree.on_store(store)  # full leaves: the walk gives the values too
    state = _state(store)
    by_hash = {hashlib.sha256(k).digest(): k for k in state}
    for depth in range(5):
        for prefix in range(1 << depth):
            c = decode_chunk(statesync.ledger_chunk(led, h, prefix, depth))
            sibs, leaves = tree.chunk(root, prefix, depth, MAX_CHUNK_ENTRIES)
            assert list(c.siblings) == sibs
            assert list(c.entries) == [(by_hash[kh], v) for kh, v in leaves]
    assert state_db_key(b"x")[len(STATE):len(STATE) + 8] == hashlib.sha256(b"x").digest()[:8]


def test_an_old_layout_data_dir_of_another_chain_is_refused_untouched(chain, tmp_path) -> None:
    from chainfin.errors import StorageError
    from chainfin.genesis import load_genesis
    from testnet.launch import init_testnet

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    _grow(led, genesis, nodes, clients, 3, 0)
    _to_old_layout(store)
    before = list(store.iterate(prefix=LEGACY_STATE))
    other = load_genesis(init_testnet(tmp_path / "other", nodes=4, tls=False).genesis)
    with pytest.raises(StorageError, match="different genesis"):
        Ledger(store, other, registry=CONTRACTS)
    assert list(store.iterate(prefix=LEGACY_STATE)) == before and not _state(store)


def test_next_nonce_is_one_seek_and_past_the_top_the_smallest_unused(chain) -> None:
    """``/v1/nonce`` reads the highest nonce a sender used with one reverse seek of ``n/``
    (it read all of them: an issuer with millions of transactions waited seconds), plus the
    mempool's; once 2**63 - 1 is used, the smallest unused one."""
    from types import SimpleNamespace

    from node.runtime import Node
    from tests.node.test_ledger import certify, issue_tx

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    issuer = clients["usd_issuer"].public_key

    def commit(*nonces: int) -> None:
        h = led.tip.height + 1
        b = led.build(h, 0, led.tip.block_hash, genesis.genesis_time_ms + h, nodes[0].public_key,
                      [issue_tx(genesis, clients, n) for n in nonces], 10)
        led.commit(b, certify(genesis, nodes, b))

    pending: list[int] = []
    node = SimpleNamespace(ledger=led, mempool=SimpleNamespace(
        by_sender=lambda s: [SimpleNamespace(nonce=n) for n in pending]))
    assert led.max_nonce(issuer) is None and Node.next_nonce(node, issuer) == 1
    commit(5, 2, 9)  # nonces are unique per sender, not ordered
    assert led.max_nonce(issuer) == 9 and sorted(led.used_nonces(issuer)) == [2, 5, 9]
    assert Node.next_nonce(node, issuer) == 10
    pending.append(12)
    assert Node.next_nonce(node, issuer) == 13
    pending.clear()
    assert led.max_nonce(clients["exporter"].public_key) is None
    commit(2**63 - 1)
    assert Node.next_nonce(node, issuer) == 1
    commit(1)
    assert Node.next_nonce(node, issuer) == 3


@pytest.mark.parametrize("digest", [True, False])
def test_a_lost_tree_is_rebuilt_region_by_region_and_serves_proofs(chain, digest) -> None:
    """After a crash the tree is rebuilt from the state key space a key-hash region at a time
    (memory: one region): the same root, proofs that verify, and the ledger goes on."""
    from chainfin.smt import verify_proof
    from chainfin.store import SMT_NODES

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS, digest_leaves=digest)
    nonce = _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS + 5, 0)
    tip = led.tip
    with store.write_batch() as b:  # the whole tree gone, as if never written
        for k, _ in store.iterate(prefix=SMT_NODES):
            b.delete(k)
    again = Ledger(store, genesis, registry=CONTRACTS, digest_leaves=digest)
    assert again.tip == tip
    key = f"settlement/bal/{clients['exporter'].public_key.hex()}/USD".encode()
    value = again.committed_tree().get(tip.state_root, key)
    assert value is not None
    assert verify_proof(tip.state_root, key, value,
                        again.committed_tree().prove(tip.state_root, key))
    _grow(again, genesis, nodes, clients, 2, nonce)
    assert again.tip.height == tip.height + 2


def test_a_state_entry_out_of_its_hash_place_is_refused_at_rebuild(chain) -> None:
    from chainfin.store import SMT_NODES, DamagedStore

    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    _grow(led, genesis, nodes, clients, 3, 0)  # unflushed: a reopen rebuilds
    k, v = next(iter(store.iterate(prefix=STATE)))
    with store.write_batch() as b:  # the same key and value filed under another hash prefix
        b.delete(k)
        b.put(STATE + bytes(8) + state_key_of(k), v)
    assert store.get(SMT_NODES + led.tip.state_root) is None
    with pytest.raises(DamagedStore):
        Ledger(store, genesis, registry=CONTRACTS)
