"""A pruning ledger (the default, decision 90) serves state-sync snapshots from a LevelDB snapshot
pinned at a flush: the chunks of a pinned height still verify after later flushes pruned the
records of that height's tree; idle pins are released; the disk holds one tree."""

from __future__ import annotations

import time

import pytest

from chainfin.crypto import load_identity
from chainfin.genesis import load_keyed_genesis
from chainfin.smt import SparseMerkleTree
from chainfin.snapshot import decode_chunk, verify_chunk
from chainfin.store import SMT_NODES, PlyvelStore
from contracts import CONTRACTS
from node import ledger as ledger_mod
from node import statesync
from node.ledger import SMT_FLUSH_BLOCKS, Ledger
from testnet.launch import init_testnet
from tests.node.test_ledger import certify, issue_tx


def _grow(led, genesis, nodes, clients, blocks, nonce):
    for _ in range(blocks):
        txs = []
        for _ in range(3):
            nonce += 1
            txs.append(issue_tx(genesis, clients, nonce, amount=nonce))
        h = led.tip.height + 1
        b = led.build(h, 0, led.tip.block_hash, genesis.genesis_time_ms + h, nodes[0].public_key,
                      txs, 10)
        led.commit(b, certify(genesis, nodes, b))
    return nonce


def _all_chunks_verify(led, height, root):
    for prefix in range(4):
        c = decode_chunk(statesync.ledger_chunk(led, height, prefix, 2))
        verify_chunk(root, c)  # raises on any mismatch


@pytest.fixture
def chain(tmp_path):
    m = init_testnet(tmp_path / "tn", nodes=4, tls=False)
    genesis = load_keyed_genesis(m.genesis)
    nodes = [load_identity(n.key_file) for n in m.nodes]
    clients = {c.name: load_identity(c.key_file) for c in m.clients}
    store = PlyvelStore(str(tmp_path / "db"))
    yield store, genesis, nodes, clients
    store.close()


def test_a_pinned_height_is_served_after_pruning_removed_its_records(chain) -> None:
    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    assert led.prune_smt and led.digest_leaves  # the defaults (decisions 90, 93)
    nonce = _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS, 0)
    first = led.snapshot_height
    assert first == SMT_FLUSH_BLOCKS and led.pinned_heights() == [first]
    root1 = led.state_root_at(first)
    statesync.manifest(led, None)  # a joiner starts on it: the pin is in use
    nonce = _grow(led, genesis, nodes, clients, 2 * SMT_FLUSH_BLOCKS, nonce)
    assert led.pruned_records > 0
    assert store.get(SMT_NODES + root1) is None  # pruned from the store ...
    _all_chunks_verify(led, first, root1)  # ... but served from the pin
    assert led.pinned_heights() == [first, led.snapshot_height]
    _all_chunks_verify(led, led.snapshot_height, led.tip.state_root)
    # the disk holds one version of the tree: the tip's
    on_disk = {k[len(SMT_NODES):] for k, _ in store.iterate(SMT_NODES)}
    reach = {led.tip.state_root}
    SparseMerkleTree.on_store(store)._all_records(led.tip.state_root, reach)
    assert on_disk == reach


def test_idle_pins_are_released_and_unpinned_heights_refused(chain, monkeypatch) -> None:
    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    nonce = _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS, 0)
    first = led.snapshot_height
    monkeypatch.setattr(ledger_mod, "PIN_IDLE_S", 0.0)  # nothing counts as in use
    time.sleep(0.01)
    _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS, nonce)
    assert led.pinned_heights() == [led.snapshot_height]
    with pytest.raises(statesync.SnapshotRefused) as e:
        statesync.ledger_chunk(led, first, 0, 1)
    assert e.value.code == "not_found" and "not served here" in str(e.value)
    with pytest.raises(statesync.SnapshotRefused) as e:
        statesync.manifest(led, first)
    assert e.value.code == "not_found"


def test_a_reopened_ledger_pins_its_flushed_tip(chain) -> None:
    store, genesis, nodes, clients = chain
    led = Ledger(store, genesis, registry=CONTRACTS)
    _grow(led, genesis, nodes, clients, 5, 0)
    led.flush_smt()  # what a node does when it stops
    again = Ledger(store, genesis, registry=CONTRACTS)
    assert again.pinned_heights() == [5]
    _all_chunks_verify(again, 5, again.tip.state_root)


def test_a_data_dir_with_full_leaves_reopens_with_the_defaults(chain) -> None:
    """Data dirs written before decision 93 hold full leaves (the value in the leaf record);
    they must stay readable and go on committing with digest leaves, the default since."""
    store, genesis, nodes, clients = chain
    old = Ledger(store, genesis, registry=CONTRACTS, digest_leaves=False)
    nonce = _grow(old, genesis, nodes, clients, SMT_FLUSH_BLOCKS + 3, 0)
    old.flush_smt()
    leaves = [v for _, v in store.iterate(SMT_NODES) if v[0] != 4]
    assert leaves and all(v[0] == 2 for v in leaves)
    led = Ledger(store, genesis, registry=CONTRACTS)  # the defaults: digest leaves
    key = f"settlement/bal/{clients['exporter'].public_key.hex()}/USD".encode()
    root = led.tip.state_root
    assert led.committed_tree().get(root, key) is not None  # a full leaf, read
    _grow(led, genesis, nodes, clients, SMT_FLUSH_BLOCKS, nonce)
    led.flush_smt()
    assert led.committed_tree().get(led.tip.state_root, key) is not None
    assert any(v[0] == 5 for _, v in store.iterate(SMT_NODES))  # new leaves hold value hashes
    _all_chunks_verify(led, led.snapshot_height, led.tip.state_root)  # and snapshots are served
