"""Compact sparse Merkle tree: shape against a from-the-definition reference, order and batching
independence, (non-)inclusion proofs and their tampering, versioned reads, storage, cost."""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import smt
from chainfin.errors import InvalidMessage, StorageError
from chainfin.smt import EMPTY, Proof, SparseMerkleTree, verify_proof
from chainfin.store import SMT_NODES, MemoryStore, PlyvelStore


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def ref_root(state: dict[bytes, bytes], depth: int = 0) -> bytes:
    """The compact SMT root straight from its definition: a subtree with no key is EMPTY, with one
    key is that key's leaf, with more is an internal node over its two halves."""
    items = {H(k): H(v) for k, v in state.items()} if depth == 0 else state
    return _ref(items, depth)


def _ref(items: dict[bytes, bytes], depth: int) -> bytes:
    if not items:
        return EMPTY
    if len(items) == 1:
        ((kh, vh),) = items.items()
        return H(b"\x02" + kh + vh)
    left = {k: v for k, v in items.items() if not (k[depth // 8] >> (7 - depth % 8)) & 1}
    right = {k: v for k, v in items.items() if k not in left}
    return H(b"\x03" + _ref(left, depth + 1) + _ref(right, depth + 1))


class Layers:
    """A node reader over several dicts (what the ledger does with speculative blocks)."""

    def __init__(self, *layers: smt.NodeReader) -> None:
        self.layers = layers
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        for layer in self.layers:
            v = layer.get(key)
            if v is not None:
                return v
        return None


def fresh() -> tuple[SparseMerkleTree, dict[bytes, bytes]]:
    nodes: dict[bytes, bytes] = {}
    return SparseMerkleTree(nodes), nodes


keys = st.binary(min_size=0, max_size=2)  # small key space: updates and deletes hit real keys
values = st.binary(min_size=0, max_size=6)
ops = st.lists(st.tuples(keys, st.one_of(st.none(), values)), max_size=60)


def apply_ops(state: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    for k, v in changes.items():
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v


# --------------------------------------------------------------------------- shape and roots


def test_empty_and_single() -> None:
    t, nodes = fresh()
    assert t.empty_root == EMPTY == b"\0" * 32
    assert t.update(EMPTY, {}, nodes) == EMPTY
    assert t.update(EMPTY, {b"absent": None}, nodes) == EMPTY
    r = t.update(EMPTY, {b"k": b"v"}, nodes)
    assert r == H(b"\x02" + H(b"k") + H(b"v"))  # a lone leaf is the root
    assert t.get(r, b"k") == b"v" and t.get(r, b"x") is None
    assert t.update(r, {b"k": None}, nodes) == EMPTY
    assert t.get(EMPTY, b"k") is None


@settings(max_examples=120, deadline=None)
@given(batches=st.lists(ops, min_size=1, max_size=6), seed=st.integers(0, 2**32))
def test_root_matches_definition_and_ignores_order_and_batching(
    batches: list[list[tuple[bytes, bytes | None]]], seed: int
) -> None:
    t, nodes = fresh()
    state: dict[bytes, bytes] = {}
    root = EMPTY
    for batch in batches:
        changes = dict(batch)
        root = t.update(root, changes, nodes)
        apply_ops(state, changes)
        assert root == ref_root(state)
    # one batch from scratch
    t1, n1 = fresh()
    assert t1.update(EMPTY, dict(state), n1) == root
    # one key at a time, in a random order
    rng = random.Random(seed)
    items = list(state.items())
    rng.shuffle(items)
    t2, n2 = fresh()
    r2 = EMPTY
    for k, v in items:
        r2 = t2.update(r2, {k: v}, n2)
    assert r2 == root
    # the full contents read back
    assert sorted(t.items(root)) == sorted((H(k), v) for k, v in state.items())


def test_long_shared_prefixes_and_collapse() -> None:
    """Keys whose hashes share 16+ leading bits: a chain of one-sided internal nodes, which must
    collapse back to a lone leaf when the other key goes."""
    by_prefix: dict[bytes, bytes] = {}
    i = 0
    while True:
        k = i.to_bytes(4, "big")
        p = H(k)[:2]
        if p in by_prefix:
            a, b = by_prefix[p], k
            break
        by_prefix[p] = k
        i += 1
    t, nodes = fresh()
    r = t.update(EMPTY, {a: b"A", b: b"B", b"c": b"C"}, nodes)
    assert r == ref_root({a: b"A", b: b"B", b"c": b"C"})
    pa = t.prove(r, a)
    assert pa.depth >= 16 and verify_proof(r, a, b"A", pa)
    assert len(pa.siblings) <= 3  # compact: only the non-empty siblings are carried
    r2 = t.update(r, {b: None}, nodes)
    assert r2 == ref_root({a: b"A", b"c": b"C"})
    assert t.prove(r2, a).depth <= 2
    assert t.get(r, b) == b"B" and t.get(r2, b) is None  # the old root still reads


# --------------------------------------------------------------------------- proofs


@settings(max_examples=80, deadline=None)
@given(state=st.dictionaries(keys, values, max_size=40), probes=st.lists(keys, max_size=10))
def test_proofs_inclusion_and_non_inclusion(state: dict[bytes, bytes], probes: list[bytes]) -> None:
    t, nodes = fresh()
    root = t.update(EMPTY, dict(state), nodes)
    for k, v in state.items():
        p = t.prove(root, k)
        assert p.leaf is None
        assert verify_proof(root, k, v, p)
        assert not verify_proof(root, k, v + b"x", p)
        assert not verify_proof(root, k, None, p)  # an inclusion proof is no non-inclusion proof
        assert Proof.from_json(json.loads(json.dumps(p.to_json()))) == p
        assert Proof.from_wire(p.to_wire()) == p
        # the key's own leaf presented as "another key's leaf" is refused
        forged = Proof(p.depth, p.bitmap, p.siblings, (H(k), H(v)))
        assert not verify_proof(root, k, None, forged)
    for k in probes:
        if k in state:
            continue
        p = t.prove(root, k)
        assert verify_proof(root, k, None, p)
        assert not verify_proof(root, k, b"", p)
        assert Proof.from_json(p.to_json()) == p
        # a non-inclusion proof of an absent key never proves a present key absent
        for present in state:
            assert not verify_proof(root, present, None, p)


def _tampered(p: Proof) -> Iterator[Proof]:
    for i, s in enumerate(p.siblings):
        for j in (0, 31):
            sib = list(p.siblings)
            sib[i] = s[:j] + bytes([s[j] ^ 0x01]) + s[j + 1:]
            yield Proof(p.depth, p.bitmap, tuple(sib), p.leaf)
        yield Proof(p.depth, p.bitmap, p.siblings[:i] + p.siblings[i + 1:], p.leaf)
    for j in range(len(p.bitmap)):
        for bit in range(8):
            bm = p.bitmap[:j] + bytes([p.bitmap[j] ^ (1 << bit)]) + p.bitmap[j + 1:]
            yield Proof(p.depth, bm, p.siblings, p.leaf)
    if p.leaf is not None:
        okh, ovh = p.leaf
        for j in (0, 15, 31):
            yield Proof(p.depth, p.bitmap, p.siblings,
                        (okh[:j] + bytes([okh[j] ^ 0x80]) + okh[j + 1:], ovh))
            yield Proof(p.depth, p.bitmap, p.siblings,
                        (okh, ovh[:j] + bytes([ovh[j] ^ 0x01]) + ovh[j + 1:]))
        yield Proof(p.depth, p.bitmap, p.siblings, None)
    else:
        yield Proof(p.depth, p.bitmap, p.siblings, (H(b"other"), H(b"v")))
    for d in (p.depth - 1, p.depth + 1, p.depth + 8):
        if d >= 0:
            yield Proof(d, p.bitmap, p.siblings, p.leaf)
            nb = (d + 7) // 8
            yield Proof(d, (p.bitmap + b"\0")[:nb].ljust(nb, b"\0"), p.siblings, p.leaf)
    yield Proof(p.depth, p.bitmap + b"\0", p.siblings, p.leaf)
    yield Proof(p.depth, p.bitmap, (*p.siblings, EMPTY), p.leaf)
    yield Proof(p.depth, p.bitmap, (H(b"x"), *p.siblings), p.leaf)
    if p.depth % 8:  # an unused trailing bitmap bit set, with an extra sibling to match it
        bm = p.bitmap[:-1] + bytes([p.bitmap[-1] | 1])
        yield Proof(p.depth, bm, (H(b"x"), *p.siblings), p.leaf)
        yield Proof(p.depth, bm, (*p.siblings, H(b"x")), p.leaf)


@settings(max_examples=40, deadline=None)
@given(state=st.dictionaries(st.binary(max_size=4), values, min_size=1, max_size=60),
       probe=st.binary(min_size=5, max_size=6))
def test_tampering_any_part_of_a_proof_fails(state: dict[bytes, bytes], probe: bytes) -> None:
    t, nodes = fresh()
    root = t.update(EMPTY, dict(state), nodes)
    k, v = next(iter(state.items()))
    for key, value in ((k, v), (probe, None)):
        p = t.prove(root, key)
        assert verify_proof(root, key, value, p)
        for bad in _tampered(p):
            assert not verify_proof(root, key, value, bad), (p, bad)
        other_root = root[:5] + bytes([root[5] ^ 1]) + root[6:]
        assert not verify_proof(other_root, key, value, p)


def test_non_inclusion_ending_at_another_leaf_carries_it() -> None:
    t, nodes = fresh()
    state = {bytes([i]): bytes([i]) * 3 for i in range(50)}
    root = t.update(EMPTY, state, nodes)
    kinds = set()
    for i in range(200, 400):
        k = i.to_bytes(2, "big")
        p = t.prove(root, k)
        kinds.add(p.leaf is None)
        if p.leaf is not None:
            okh, ovh = p.leaf
            owner = next(x for x in state if H(x) == okh)
            assert ovh == H(state[owner])
        assert verify_proof(root, k, None, p)
    assert kinds == {True, False}  # both endings occur


def test_verify_never_raises_and_from_json_is_strict() -> None:
    t, nodes = fresh()
    root = t.update(EMPTY, {b"a": b"1", b"b": b"2"}, nodes)
    p = t.prove(root, b"a")
    junk: list[object] = [None, 1, "ab", b"", b"\0" * 31, [1], {"x": 1}, 1.5]
    for j in junk:
        assert verify_proof(j, b"a", b"1", p) is False  # type: ignore[arg-type]
        assert verify_proof(root, j, b"1", p) is False  # type: ignore[arg-type]
        assert verify_proof(root, b"a", j, p) is False  # type: ignore[arg-type]
        assert verify_proof(root, b"a", b"1", j) is False  # type: ignore[arg-type]
        if j != p.depth:
            assert verify_proof(root, b"a", b"1", Proof(j, p.bitmap, p.siblings)) is False  # type: ignore[arg-type]
        assert verify_proof(root, b"a", b"1", Proof(p.depth, j, p.siblings)) is False  # type: ignore[arg-type]
        assert verify_proof(root, b"a", b"1", Proof(p.depth, p.bitmap, j)) is False  # type: ignore[arg-type]
        assert verify_proof(root, b"a", None, Proof(p.depth, p.bitmap, p.siblings, j)) is False  # type: ignore[arg-type]
    assert verify_proof(root, b"a", b"1", Proof(257, b"\0" * 33, ())) is False
    good = p.to_json()
    for bad in (
        None, [], {**good, "extra": 1}, {k: v for k, v in good.items() if k != "leaf"},
        {**good, "depth": -1}, {**good, "depth": "3"}, {**good, "depth": 300},
        {**good, "bitmap": "zz"}, {**good, "siblings": "00"}, {**good, "siblings": ["00"]},
        {**good, "leaf": {"key_hash": "00" * 32}}, {**good, "leaf": "x"},
    ):
        with pytest.raises(InvalidMessage):
            Proof.from_json(bad)


# --------------------------------------------------------------------------- versions and storage


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(ops, min_size=2, max_size=6))
def test_old_roots_stay_readable(batches: list[list[tuple[bytes, bytes | None]]]) -> None:
    t, nodes = fresh()
    history: list[tuple[bytes, dict[bytes, bytes]]] = []
    state: dict[bytes, bytes] = {}
    root = EMPTY
    for batch in batches:
        root = t.update(root, dict(batch), nodes)
        apply_ops(state, dict(batch))
        history.append((root, dict(state)))
    every_key = {k for _, s in history for k in s}
    for r, s in history:
        for k in every_key:
            assert t.get(r, k) == s.get(k)
            assert verify_proof(r, k, s.get(k), t.prove(r, k))


@pytest.mark.parametrize("backend", ["memory", "plyvel"])
def test_nodes_in_the_commit_batch(backend: str, tmp_path: Path) -> None:
    store = MemoryStore() if backend == "memory" else PlyvelStore(tmp_path / "db")
    try:
        tree = SparseMerkleTree.on_store(store)
        state = {b"acct/%d" % i: b"%d" % (i * 7) for i in range(300)}
        # the SMT nodes go into the same atomic batch as the block
        with store.write_batch(sync=True) as b:
            r1 = tree.update(EMPTY, state, b)
            b.put(b"b/" + b"\0" * 8, b"block 0")
        # chaining two updates before a commit: collect nodes in a dict and read through it
        pending: dict[bytes, bytes] = {}
        spec = SparseMerkleTree(Layers(pending, smt.StoreNodes(store)))  # type: ignore[arg-type]
        r2 = spec.update(r1, {b"acct/1": None, b"acct/new": b"1"}, pending)
        r3 = spec.update(r2, {b"acct/2": b"changed"}, pending)
        with pytest.raises(StorageError, match="missing"):
            tree.get(r3, b"acct/2")  # not committed yet
        with store.write_batch(sync=True) as b:
            smt.put_nodes(b, pending)
        assert all(k.startswith(SMT_NODES) for k, _ in store.iterate(SMT_NODES))
        for r, s in ((r1, state), (r3, {**state, b"acct/new": b"1", b"acct/2": b"changed"})):
            s = dict(s)
            if r == r3:
                s.pop(b"acct/1")
            assert r == ref_root(s)
            for k in (b"acct/0", b"acct/1", b"acct/2", b"acct/new", b"nope"):
                assert tree.get(r, k) == s.get(k)
                assert verify_proof(r, k, s.get(k), tree.prove(r, k))
        # an exception inside the batch leaves no node behind
        with pytest.raises(RuntimeError), store.write_batch(sync=True) as b:
            r4 = tree.update(r3, {b"acct/9": b"x"}, b)
            raise RuntimeError("block rejected")
        with pytest.raises(StorageError):
            tree.get(r4, b"acct/9")
    finally:
        store.close()


def test_missing_node_is_a_storage_error() -> None:
    t, nodes = fresh()
    root = t.update(EMPTY, {b"a": b"1", b"b": b"2"}, nodes)
    empty_tree = SparseMerkleTree({})
    for call in (lambda: empty_tree.get(root, b"a"), lambda: empty_tree.prove(root, b"a"),
                 lambda: empty_tree.update(root, {b"c": b"3"}, {})):
        with pytest.raises(StorageError, match=root.hex()):
            call()


def test_types_are_checked() -> None:
    t, nodes = fresh()
    with pytest.raises(TypeError):
        t.update(EMPTY, {"k": b"v"}, nodes)  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        t.update(EMPTY, {b"k": "v"}, nodes)  # type: ignore[dict-item]


# --------------------------------------------------------------------------- cost


def test_batch_update_costs_k_log_n() -> None:
    rng = random.Random(7)
    n, k = 20_000, 500
    base = {rng.randbytes(12): rng.randbytes(20) for _ in range(n)}
    committed: dict[bytes, bytes] = {}
    root = SparseMerkleTree(committed).update(EMPTY, base, committed)
    existing = list(base)
    changes: dict[bytes, bytes | None] = {rng.randbytes(12): b"new" for _ in range(k // 2)}
    changes.update({existing[i]: b"upd" for i in range(k // 4)})
    changes.update({existing[-1 - i]: None for i in range(k // 4)})
    reader = Layers(committed)
    new: dict[bytes, bytes] = {}
    r2 = SparseMerkleTree(reader).update(root, changes, new)  # type: ignore[arg-type]
    depth = n.bit_length()  # ~log2(n) + 1
    # every touched node is on a changed path: at most k paths of ~log2(n) + a few nodes, and far
    # less than 256 per key
    assert len(new) < k * (depth + 4), len(new)
    assert reader.reads < k * (depth + 4), reader.reads
    final = dict(base)
    apply_ops(final, changes)
    assert r2 == SparseMerkleTree({}).update(EMPTY, final, {})


def test_deterministic_across_processes_sorting() -> None:
    """The same changes given in a different dict order produce the same nodes, in the same order
    (TRAPS #14: nothing depends on hash-randomised iteration)."""
    changes = {os.urandom(6): os.urandom(4) for _ in range(200)}
    a: dict[bytes, bytes] = {}
    b: dict[bytes, bytes] = {}
    ra = SparseMerkleTree(a).update(EMPTY, changes, a)
    rb = SparseMerkleTree(b).update(EMPTY, dict(reversed(list(changes.items()))), b)
    assert ra == rb and list(a) == list(b)
