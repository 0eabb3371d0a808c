"""testnet grow (issue 20) and the storage diet: a grown ledger verifies and re-executes to the same
state; SMT pruning keeps exactly the live tree and current-state proofs; compressed block records."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from chainfin import codec
from chainfin.errors import StorageError
from chainfin.genesis import load_keyed_genesis
from chainfin.smt import EMPTY, SparseMerkleTree, verify_proof
from chainfin.store import BLOCKS, SMT_NODES, WAL, MemoryStore, PlyvelStore
from chainfin.types import Block, CommitCertificate
from contracts import CONTRACTS
from node.ledger import Ledger, pack_block_record, unpack_block_record
from testnet import scale
from testnet.launch import init_testnet, load_manifest


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    d = tmp_path_factory.mktemp("grow")
    init_testnet(d, nodes=4, extra_clients=8, tls=False)
    first = scale.grow(d, 1000, block_txs=150, out=io.StringIO())
    second = scale.grow(d, 2000, block_txs=150, out=io.StringIO())  # resumes
    return d, first, second


def _records(d):
    m = load_manifest(d)
    store = PlyvelStore(f"{m.nodes[0].data_dir}/db")
    try:
        recs = [codec.decode(unpack_block_record(v)) for _, v in store.iterate(BLOCKS)]
    finally:
        store.close()
    return load_keyed_genesis(m.genesis), recs


def test_grow_resumes_to_the_target(grown):
    _, first, second = grown
    assert first.done and first.txs >= 1000
    assert second.done and second.txs >= 2000 and second.height > first.height


def test_grown_blocks_verify_and_reexecute_to_the_same_state(grown):
    d, _, second = grown
    genesis, recs = _records(d)
    assert len(recs) == second.height
    replay = Ledger(MemoryStore(), genesis, registry=CONTRACTS)
    committed = 0
    for rec in recs:
        block = Block.from_wire(rec["block"])
        cert = CommitCertificate.from_wire(rec["cert"])
        # checks the certificate against the set in force and every tx signature, re-executes
        replay.apply_certified(block, cert)
        assert replay.tip.state_root == block.header.state_root
        committed += sum(1 for r in rec["receipts"] if r["status"] == "committed")
    assert replay.tip.height == second.height
    txs = sum(len(r["block"]["txs"]) for r in recs)
    assert txs >= 2000 and committed / txs > 0.95  # the mix executes, it is not rejected


def test_grown_ledger_copies_to_the_other_nodes(grown, tmp_path):
    d, _, second = grown
    copied = scale.copy_ledger(d)
    assert len(copied) == 3
    genesis = load_keyed_genesis(load_manifest(d).genesis)
    src = Path(load_manifest(d).nodes[0].data_dir) / "db"
    tables = sorted(src.glob("*.ldb"))
    assert tables and all((Path(copied[0]) / t.name).stat().st_ino == t.stat().st_ino
                          for t in tables)  # the immutable tables are shared, not copied
    with PlyvelStore(str(src)) as s:  # a node ran on the source: it signed something
        s.put(WAL + b"\x00" * 8 + b"x", b"a vote node0 signed", sync=True)
    copied = scale.copy_ledger(d)
    with PlyvelStore(copied[1]) as s:
        assert next(s.iterate(WAL), None) is None  # the copies signed nothing
    before = {p.name: p.read_bytes() for p in src.iterdir() if p.name != "LOCK"}
    store = PlyvelStore(copied[0])
    try:
        assert Ledger(store, genesis, registry=CONTRACTS).tip.height == second.height
        for i in range(20_000):  # writes and a compaction in the copy ...
            store.put(b"zz/%d" % i, bytes(100))
        store._db.compact_range()
    finally:
        store.close()
    # ... leave the source as it was
    assert {p.name: p.read_bytes() for p in src.iterdir() if p.name != "LOCK"} == before


def _tree_records(store, root):
    t = SparseMerkleTree(_Nodes(store))
    out = {root}
    if store.get(SMT_NODES + root)[0] == 4:
        t._all_records(root, out)
    return out


class _Nodes:
    def __init__(self, store):
        self.store = store

    def get(self, h):
        return self.store.get(SMT_NODES + h)


def test_pruning_keeps_exactly_the_live_tree_and_current_proofs(tmp_path):
    from node.ledger import SMT_FLUSH_BLOCKS
    from tests.node.test_ledger import certify, issue_tx

    d = tmp_path / "tn"
    m = init_testnet(d, nodes=4, tls=False)
    from chainfin.crypto import load_identity

    genesis = load_keyed_genesis(m.genesis)
    nodes = [load_identity(n.key_file) for n in m.nodes]
    clients = {c.name: load_identity(c.key_file) for c in m.clients}
    store = PlyvelStore(str(tmp_path / "db"))
    led = Ledger(store, genesis, registry=CONTRACTS, prune_smt=True, digest_leaves=True)
    roots = []
    nonce = 0
    for i in range(3 * SMT_FLUSH_BLOCKS + 5):
        txs = []
        for _ in range(3):
            nonce += 1
            txs.append(issue_tx(genesis, clients, nonce, amount=nonce))
        b = led.build(i + 1, 0, led.tip.block_hash, genesis.genesis_time_ms + i + 1,
                      nodes[0].public_key, txs, 10)
        led.commit(b, certify(genesis, nodes, b))
        roots.append(led.tip.state_root)
    led.flush_smt()
    assert led.pruned_records > 0
    on_disk = {k[len(SMT_NODES):]: v for k, v in store.iterate(SMT_NODES)}
    leaves = [v for v in on_disk.values() if v[0] != 4]
    assert leaves and all(v[0] == 5 and len(v) == 65 for v in leaves)  # digest leaves only
    assert set(on_disk) == _tree_records(store, led.tip.state_root)  # nothing stale, nothing missing
    key = f"settlement/bal/{clients['exporter'].public_key.hex()}/USD".encode()
    for old in (roots[10], roots[SMT_FLUSH_BLOCKS - 1]):  # an old root: a clear refusal
        with pytest.raises(StorageError, match="pruned"):
            SparseMerkleTree.on_store(store).prove(old, key)
    tree = led.committed_tree()
    flushed = led.flushed_root
    _commit_blocks_once = led.build(led.tip.height + 1, 0, led.tip.block_hash,
                                    genesis.genesis_time_ms + 10_000, nodes[0].public_key,
                                    [issue_tx(genesis, clients, nonce + 1, amount=7)], 10)
    led.commit(_commit_blocks_once, certify(genesis, nodes, _commit_blocks_once))
    with pytest.raises(StorageError, match="old root"):  # the value changed since that root
        tree.get(flushed, key)
    tip = led.tip
    store.close()
    store = PlyvelStore(str(tmp_path / "db"))  # a restarted node serves the tip's proofs
    again = Ledger(store, genesis, registry=CONTRACTS, prune_smt=True,
                   digest_leaves=True)
    assert again.tip.state_root == tip.state_root
    value = again.committed_tree().get(tip.state_root, key)
    assert value == codec.encode(again.state_value("settlement", key.decode().split("/", 1)[1]))
    assert verify_proof(tip.state_root, key, value,
                        again.committed_tree().prove(tip.state_root, key))
    from chainfin.snapshot import decode_chunk, verify_chunk
    from node import statesync
    # digest leaves serve snapshots too: the values come from the state key space (decision 92)
    statesync.manifest(again, None)
    h = again.snapshot_height
    for p in range(4):
        c = decode_chunk(statesync.ledger_chunk(again, h, p, 2))
        verify_chunk(again.state_root_at(h), c)  # raises if it does not hash to the root
    store.close()


@pytest.mark.parametrize("seed", range(8))
def test_stale_records_are_what_the_old_root_alone_reaches(seed):
    rng = random.Random(seed)
    nodes: dict[bytes, bytes] = {}
    tree = SparseMerkleTree(nodes)

    def reach(root):
        if root == EMPTY:
            return set()
        out = {root}
        if nodes[root][0] == 4:
            tree._all_records(root, out)
        return out

    root, keys = EMPTY, []
    for _ in range(30):
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.choice([1, 3, 20, 200])):
            r = rng.random()
            if keys and r < 0.3:
                changes[rng.choice(keys)] = None  # deletes move leaves up
            elif keys and r < 0.7:
                changes[rng.choice(keys)] = rng.choice([b"a", b"b", rng.randbytes(3)])
            else:
                keys.append(rng.randbytes(8))
                changes[keys[-1]] = rng.choice([b"a", b"b"])  # equal values: shared leaves
        new: dict[bytes, bytes] = {}
        nr = tree.update(root, changes, new)
        nodes.update(new)
        assert tree.stale_records(root, nr) == reach(root) - reach(nr)
        keys = [k for k in keys if changes.get(k, b"") is not None]
        root = nr


def test_block_records_are_compressed_and_old_ones_still_read():
    rec = {"block": {"header": {}, "txs": [b"x" * 300] * 13}, "receipts": [{"status": "ok"}] * 13}
    packed = pack_block_record(rec)
    plain = codec.encode_local(rec)
    assert len(packed) < len(plain) / 2
    assert unpack_block_record(packed) == plain
    assert unpack_block_record(plain) == plain  # records written before compression
