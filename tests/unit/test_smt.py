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

from chainfin import compiled, smt
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


def _junk_proof(*fields: object) -> Proof | None:
    """A Proof with a field of the wrong type: the compiled class refuses to make one (TypeError,
    chainfin/compiled.py); the Python class makes it, and then the verifier must answer False."""
    try:
        return Proof(*fields)  # type: ignore[arg-type]
    except TypeError:
        assert compiled.status()["compiled"], "the Python Proof takes any field"
        return None


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
        fields: list[tuple[object, ...]] = [(p.depth, j, p.siblings), (p.depth, p.bitmap, j)]
        if j != p.depth:
            fields.append((j, p.bitmap, p.siblings))
        for f in fields:
            proof = _junk_proof(*f)
            assert proof is None or verify_proof(root, b"a", b"1", proof) is False
        proof = _junk_proof(p.depth, p.bitmap, p.siblings, j)
        assert proof is None or verify_proof(root, b"a", None, proof) is False
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


def test_a_missing_page_below_the_root_is_a_storage_error() -> None:
    """On the one-key path too (compiled, that path once raised a TypeError instead)."""
    t, nodes = fresh()
    root = t.update(EMPTY, {b"k%d" % i: b"v" for i in range(400)}, nodes)
    page = next(h for h, rec in nodes.items() if rec[0] == 0x04 and h != root)
    broken = SparseMerkleTree({h: rec for h, rec in nodes.items() if h != page})
    failed = 0
    for i in range(400):
        for changes in ({b"k%d" % i: b"new"}, {b"k%d" % i: b"new", b"k%d" % (i ^ 1): None}):
            try:
                broken.update(root, changes, {})
            except StorageError as e:
                assert page.hex() in str(e)
                failed += 1
    assert failed >= 4


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


# --------------------------------------------------------------------------- pages (storage)
#
# Internal nodes are stored in pages of four levels (module docstring); hashes, roots and proofs
# are those of the binary tree. These tests compare every root and proof with a reference built
# straight from the key set (no storage at all), through sequences of inserts, updates and deletes
# chosen to build and collapse chains of internal nodes across page boundaries.


def _bit(kh: bytes, depth: int) -> int:
    return (kh[depth // 8] >> (7 - depth % 8)) & 1


class RefTree:
    """The compact tree of a key/value set built in memory from its definition: nodes are
    ("E",), ("L", hash, key hash, value hash) or ("N", hash, left, right, depth)."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.items = sorted((H(k), H(v)) for k, v in state.items())
        self.root = self._build(self.items, 0)

    def _build(self, items: list[tuple[bytes, bytes]], depth: int) -> tuple:
        if not items:
            return ("E",)
        if len(items) == 1:
            kh, vh = items[0]
            return ("L", H(b"\x02" + kh + vh), kh, vh)
        i = next((j for j, (kh, _) in enumerate(items) if _bit(kh, depth)), len(items))
        left, right = self._build(items[:i], depth + 1), self._build(items[i:], depth + 1)
        return ("N", H(b"\x03" + _h(left) + _h(right)), left, right, depth)

    @property
    def root_hash(self) -> bytes:
        return _h(self.root)

    def proof(self, key: bytes) -> Proof:
        kh = H(key)
        node, depth, flags, sibs = self.root, 0, [], []
        while node[0] == "N":
            child, sib = (node[3], node[2]) if _bit(kh, depth) else (node[2], node[3])
            flags.append(_h(sib) != EMPTY)
            if _h(sib) != EMPTY:
                sibs.append(_h(sib))
            node, depth = child, depth + 1
        leaf = (node[2], node[3]) if node[0] == "L" and node[2] != kh else None
        nbytes = (depth + 7) // 8
        bits = int("".join("1" if f else "0" for f in flags) or "0", 2)
        bitmap = (bits << (nbytes * 8 - depth)).to_bytes(nbytes, "big") if nbytes else b""
        return Proof(depth, bitmap, tuple(sibs), leaf)

    def internal(self) -> dict[bytes, int]:
        """Every internal node: hash -> depth."""
        out: dict[bytes, int] = {}
        stack = [self.root]
        while stack:
            n = stack.pop()
            if n[0] == "N":
                out[n[1]] = n[4]
                stack += [n[2], n[3]]
        return out


def _h(node: tuple) -> bytes:
    return EMPTY if node[0] == "E" else node[1]


def _prefix_pool() -> list[bytes]:
    """Keys whose hashes share long prefixes: 5 sharing the first 12 bits, a pair sharing 24 bits
    (a chain of ~24 one-sided nodes across 6 pages), a pair sharing 17, and 10 unrelated keys."""
    by12: dict[int, list[bytes]] = {}
    by24: dict[int, bytes] = {}
    by17: dict[int, bytes] = {}
    pair24: list[bytes] = []
    pair17: list[bytes] = []
    group12: list[bytes] = []
    i = 0
    while not (pair24 and pair17 and group12):
        k = b"pool/%d" % i
        x = int.from_bytes(H(k)[:4], "big")
        i += 1
        if not pair24:
            if x >> 8 in by24:
                pair24 = [by24[x >> 8], k]
            by24[x >> 8] = k
        if not pair17 and x >> 15 in by17 and _bit(H(by17[x >> 15]), 17) != _bit(H(k), 17):
            pair17 = [by17[x >> 15], k]
        by17.setdefault(x >> 15, k)
        g = by12.setdefault(x >> 20, [])
        g.append(k)
        if len(g) == 5 and not group12:
            group12 = g
    return group12 + pair24 + pair17 + [b"other/%d" % j for j in range(10)]


POOL = _prefix_pool()


def _page_slots(rec: bytes) -> tuple[list[int], list[bytes]]:
    nav = smt._page_nav(b"\0" * 32, rec)
    codes = [nav[s] for s in range(32)]
    return codes, [smt._slot(rec, nav, s) if s >= 2 else b"" for s in range(32)]


def check_pages(nodes: dict[bytes, bytes], only: dict[bytes, bytes] | None = None) -> None:
    """Every record is a leaf or a page; a page's stored node hashes are the hashes of their
    children, its root's hash is its key, and it is in the one canonical encoding."""
    for h, rec in (only if only is not None else nodes).items():
        if rec[0] == 0x02:
            assert len(rec) >= 33 and H(rec[:33] + H(rec[33:]))[:0] == b""
            assert h == H(b"\x02" + rec[1:33] + H(rec[33:]))
            continue
        assert rec[0] == 0x04, rec[:1]
        codes, hashes = _page_slots(rec)
        codes[1], hashes[1] = 3, h
        for s in range(15, 0, -1):
            if codes[s] == 3:
                assert hashes[s] == H(b"\x03" + hashes[2 * s] + hashes[2 * s + 1]), (h.hex(), s)
        assert smt._encode_page(codes, hashes) == rec  # canonical: what a rebuild would write


def test_page_record_layout_is_pinned() -> None:
    """Two keys that differ in their first bit: one page, the root node with two leaves."""
    a = next(k for k in (b"%d" % i for i in range(100)) if _bit(H(k), 0) == 0)
    b = next(k for k in (b"%d" % i for i in range(100)) if _bit(H(k), 0) == 1)
    t, nodes = fresh()
    r = t.update(EMPTY, {a: b"1", b: b"2"}, nodes)
    la, lb = H(b"\x02" + H(a) + H(b"1")), H(b"\x02" + H(b) + H(b"2"))
    assert r == H(b"\x03" + la + lb)
    # kinds: slot 2 = leaf (2) at bits 0-1, slot 3 = leaf (2) at bits 2-3: 0b1010
    assert nodes == {r: b"\x04" + bytes([0b1010]) + b"\0" * 7 + la + lb,
                     la: b"\x02" + H(a) + b"1", lb: b"\x02" + H(b) + b"2"}
    # the 24-bit pair: a chain of one-sided nodes from the root down to depth 24
    p, q = POOL[5], POOL[6]
    t, nodes = fresh()
    r = t.update(EMPTY, {p: b"P", q: b"Q"}, nodes)
    ref = RefTree({p: b"P", q: b"Q"})
    assert r == ref.root_hash
    depths = sorted(ref.internal().values())
    assert depths[:24] == list(range(24))
    pages = {h: rec for h, rec in nodes.items() if rec[0] == 0x04}
    # one page per page-root depth 0, 4, ..., up to the node where the keys split
    assert sorted(ref.internal()[h] for h in pages) == [d for d in depths if d % 4 == 0]
    root_codes, _ = _page_slots(nodes[r])
    bits = [_bit(H(p), d) for d in range(4)]
    s = 1
    for d in range(4):  # down the chain: the path's slot is a node, its sibling empty
        s = 2 * s + bits[d]
        assert root_codes[s] == 3 and root_codes[s ^ 1] == 1
    assert sum(1 for c in root_codes[2:] if c) == 8  # 4 levels x (node + empty sibling)
    check_pages(nodes)


def test_only_leaves_and_page_roots_are_stored() -> None:
    rng = random.Random(11)
    state = {rng.randbytes(6): rng.randbytes(5) for _ in range(3000)}
    state.update({k: b"pool" for k in POOL})
    t, nodes = fresh()
    r = t.update(EMPTY, state, nodes)
    ref = RefTree(state)
    assert r == ref.root_hash
    inner = ref.internal()
    leaves = {H(b"\x02" + H(k) + H(v)) for k, v in state.items()}
    page_roots = {h for h, d in inner.items() if d % 4 == 0}
    assert set(nodes) == leaves | page_roots
    assert len(nodes) < len(leaves) + len(inner) / 2.5  # vs one record per internal node
    check_pages(nodes)


def _check_state(t: SparseMerkleTree, root: bytes, state: dict[bytes, bytes],
                 probes: list[bytes]) -> None:
    ref = RefTree(state)
    assert root == ref.root_hash == ref_root(state)
    for k in probes:
        assert t.get(root, k) == state.get(k)
        p = t.prove(root, k)
        assert p == ref.proof(k), k
        assert verify_proof(root, k, state.get(k), p)
    assert list(t.items(root)) == sorted((H(k), v) for k, v in state.items())


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(
    st.lists(st.tuples(st.sampled_from(POOL), st.one_of(st.none(), values)), max_size=12),
    min_size=1, max_size=10))
def test_pages_match_the_reference_through_chains_and_collapses(
    batches: list[list[tuple[bytes, bytes | None]]]
) -> None:
    t, nodes = fresh()
    state: dict[bytes, bytes] = {}
    root = EMPTY
    history = []
    for batch in batches:
        changes = dict(batch)
        new: dict[bytes, bytes] = {}
        root = t.update(root, changes, new)
        check_pages(nodes, new)
        nodes.update(new)
        apply_ops(state, changes)
        _check_state(t, root, state, POOL + [b"absent"])
        history.append((root, dict(state)))
    for r, s in history:  # every intermediate root still reads
        assert [t.get(r, k) for k in POOL] == [s.get(k) for k in POOL]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pages_match_the_reference_on_random_sequences(seed: int) -> None:
    """A 1,500-key tree plus the prefix pool, then 25 batches of inserts, value updates and
    deletes (some deleting most of the pool, so leaves move up across pages), one key at a time
    as well as in batches; each intermediate root checked against the reference."""
    rng = random.Random(seed)
    state = {b"k/%d" % i: rng.randbytes(rng.randrange(0, 40)) for i in range(1500)}
    t, nodes = fresh()
    root = t.update(EMPTY, state, nodes)
    _check_state(t, root, state, POOL[:3] + [b"k/1", b"k/2"])
    history = [(root, dict(state))]
    for step in range(25):
        keys = list(state)
        changes: dict[bytes, bytes | None] = {}
        for k in rng.sample(keys, rng.randrange(0, 30)):
            changes[k] = rng.randbytes(8)
        for k in rng.sample(keys, rng.randrange(0, 15)):
            changes[k] = None
        for k in rng.sample(POOL, rng.randrange(0, len(POOL))):
            changes[k] = rng.choice([None, None, rng.randbytes(3)])
        for _ in range(rng.randrange(0, 10)):
            changes[b"new/%d" % rng.randrange(10**6)] = b"n"
        if step % 5 == 4:  # one key at a time
            for k, v in changes.items():
                new: dict[bytes, bytes] = {}
                root = t.update(root, {k: v}, new)
                check_pages(nodes, new)
                nodes.update(new)
        else:
            new = {}
            root = t.update(root, changes, new)
            check_pages(nodes, new)
            nodes.update(new)
        apply_ops(state, changes)
        probes = rng.sample(list(changes), min(15, len(changes))) + POOL
        _check_state(t, root, state, probes)
        history.append((root, dict(state)))
    for r, s in history[::5]:
        assert list(t.items(r)) == sorted((H(k), v) for k, v in s.items())


def test_records_per_update_shrink() -> None:
    """38 changed keys (32 values, 4 new keys, 2 deletes) into a 20,000-key tree: about 140 new
    records (38 leaves + ~100 pages) where one record per changed internal node took ~470."""
    rng = random.Random(5)
    state = {b"acct/%d" % i: rng.randbytes(40) for i in range(20_000)}
    t, nodes = fresh()
    root = t.update(EMPTY, state, nodes)
    counts, per_node = [], []
    for i in range(12):
        keys = list(state)
        changes: dict[bytes, bytes | None] = {k: rng.randbytes(40) for k in rng.sample(keys, 32)}
        changes.update({b"new/%d/%d" % (i, j): b"x" for j in range(4)})
        changes.update({k: None for k in rng.sample(keys, 2)})
        before = RefTree(state).internal() if i < 2 else None
        new: dict[bytes, bytes] = {}
        root = t.update(root, changes, new)
        nodes.update(new)
        apply_ops(state, changes)
        counts.append(len(new))
        if before is not None:  # the old layout: every new internal node + every new leaf
            after = RefTree(state).internal()
            new_leaves = sum(1 for v in changes.values() if v is not None)
            per_node.append(len(set(after) - set(before)) + new_leaves)
    assert root == ref_root(state)
    assert sum(counts) / len(counts) <= 170, counts
    assert all(n <= 190 for n in counts), counts
    assert all(c * 2.5 < o for c, o in zip(counts[:2], per_node, strict=True)), (counts, per_node)


# --------------------------------------------------------------------------- damaged records


def _reads(t: SparseMerkleTree, root: bytes) -> list:
    return [lambda: t.get(root, b"x"), lambda: t.prove(root, b"x"),
            lambda: list(t.items(root)), lambda: t.update(root, {b"x": b"1"}, {}),
            lambda: t.update(root, {b"x": b"1", b"y": None, b"z": b"3"}, {})]


def _kinds(**slots: int) -> bytes:
    k = 0
    for name, c in slots.items():
        k |= c << (2 * (int(name[1:]) - 2))
    return k.to_bytes(8, "little")


def test_malformed_pages_raise_storage_error() -> None:
    t0, nodes = fresh()
    root = t0.update(EMPTY, {bytes([i]): b"v" for i in range(40)}, nodes)
    good = nodes[root]
    leaf = next(h for h, rec in nodes.items() if rec[0] == 0x02)
    x, y = H(b"x"), H(b"y")
    bad_records = {
        "empty": b"",
        "tag only": b"\x04",
        "unknown tag": b"\x05" + good[1:],
        "old per-node record": b"\x03" + x + y,
        "truncated": good[:-1],
        "one byte too many": good + b"\0",
        "padding bits": good[:8] + bytes([good[8] | 0x10]) + good[9:],
        "slot 3 missing": b"\x04" + _kinds(s2=2) + x,
        "slot under a leaf": b"\x04" + _kinds(s2=2, s3=2, s4=2, s5=2) + x + y + x + y,
        "empty next to a leaf": b"\x04" + _kinds(s2=1, s3=2) + x,
        "two empty children": b"\x04" + _kinds(s2=1, s3=1),
        "node slot without children": b"\x04" + _kinds(s2=3, s3=2) + x + y,
    }
    for why, rec in bad_records.items():
        t = SparseMerkleTree({**nodes, root: rec})
        for i, call in enumerate(_reads(t, root)):
            try:
                call()
            except StorageError:
                continue
            pytest.fail(f"{why}: read {i} accepted the record")
    with pytest.raises(StorageError, match="old layout"):
        SparseMerkleTree({**nodes, root: b"\x03" + x + y}).get(root, b"x")
    # a page whose slots point to a record of the wrong kind
    fake = H(b"fake")
    leaves_to_a_page = b"\x04" + _kinds(s2=2, s3=2) + root + root
    chain = _kinds(s2=3, s3=2, s4=3, s5=2, s8=3, s9=2, s16=3, s17=2)
    page_to_a_leaf = b"\x04" + chain + leaf * 8
    for rec, why in ((leaves_to_a_page, "no leaf record"), (page_to_a_leaf, "not a page")):
        t = SparseMerkleTree({**nodes, fake: rec})
        with pytest.raises(StorageError, match=why):
            list(t.items(fake))


def test_a_page_below_itself_is_refused() -> None:
    """A damaged store whose page points to itself: reads stop at depth 256 or at the repeated
    page with a StorageError instead of looping."""
    h = H(b"loop")
    full = b"\x04" + _kinds(**{f"s{s}": 3 for s in range(2, 32)}) + h * 30
    t = SparseMerkleTree({h: full})
    for call in _reads(t, h):
        with pytest.raises(StorageError):
            call()


@settings(max_examples=300, deadline=None)
@given(rec=st.one_of(st.binary(max_size=200),
                     st.builds(lambda k, n: b"\x04" + k + H(b"x") * n,
                               st.binary(min_size=8, max_size=8), st.integers(0, 31))))
def test_garbage_records_never_crash(rec: bytes) -> None:
    t0, nodes = fresh()
    root = t0.update(EMPTY, {bytes([i]): b"v" for i in range(40)}, nodes)
    for target in (root, next(iter(sorted(nodes)))):
        t = SparseMerkleTree({**nodes, target: rec})
        for call in _reads(t, root):
            try:
                call()
            except StorageError:
                pass
