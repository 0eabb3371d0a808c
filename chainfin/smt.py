"""Authenticated state: a compact sparse Merkle tree over 256-bit keys, with (non-)inclusion proofs.

Shape. The key of a state entry in the tree is ``key_hash = SHA-256(state key bytes)``; bit ``d``
of it (most significant first) picks the child at depth ``d`` (0 = left). The tree is *compact*
(as in Diem/Aptos' Jellyfish Merkle tree, binary here): a leaf sits at the shallowest depth where
it is the only key in its subtree, an empty subtree is the constant ``EMPTY`` (32 zero bytes), and
every subtree with two or more keys is an internal node. That shape is a function of the set of
keys alone, so the root depends only on the key/value set — never on insertion order or on how
updates were batched. A tree of n random keys is about log2(n) + 1 deep, so an update of k keys
costs O(k log n) hashes, not 256 per key.

Hashes (tags 0x02/0x03 differ from RFC 6962's 0x00/0x01, so a node of the transaction tree can
never pass for a node of the state tree, and a leaf never for an internal node)::

    empty      EMPTY = 32 zero bytes
    leaf       SHA-256(0x02 || key_hash || SHA-256(value))
    internal   SHA-256(0x03 || left || right)

Storage. Records are content-addressed (hash -> record) and never overwritten, so a root stays
readable for as long as its records are kept; :meth:`SparseMerkleTree.stale_records` tells which
records an old root alone reaches (the ledger deletes them at each flush). Leaves have one record
each. Internal nodes are stored in *pages* of four levels: an internal node at a depth d with
d % 4 == 0 is a page root, and its record, stored under its node hash, holds every internal node
of its subtree at depths d..d+3 and their children down to the page's frontier; the internal nodes
at other depths have no record of their own. This is storage only: hashes, roots and proofs are
those of the binary tree above. Records::

    leaf   0x02 || key_hash (32) || value     (the value itself, so get() works at any root)
    dleaf  0x05 || key_hash (32) || SHA-256(value)   (a digest leaf: the value is kept elsewhere,
                                                      see SparseMerkleTree(values=))
    page   0x04 || kinds (8) || hash (32) for each slot whose code is 2 or 3, in slot order

Slots number a page's binary subtree in heap order: the page root is slot 1 (its hash is the key
the record is stored under), and slot s has children 2s (key bit 0) and 2s + 1 (bit 1), so slots
2-3, 4-7, 8-15 and 16-31 are at depths d+1, d+2, d+3 and d+4. ``kinds`` is a little-endian u64
with two bits per slot s = 2..31 at bit 2(s - 2): 0 = absent (its parent is not an internal node of
this page), 1 = EMPTY, 2 = leaf (the hash of a leaf record), 3 = internal node (in slots 2..15 a
node of this page, whose children are slots 2s and 2s + 1; in slots 16..31 the root of the next
page down). Bits 60..63 are zero. The format has one encoding per page: a slot is present exactly
when its parent is an internal node of the page (slots 2 and 3 always are); no node has two empty
children, or an empty child and a leaf (the compact shape); the length is 9 + 32 × the number of
slots with code 2 or 3. Reading checks all of it and refuses any other record with
``StorageError``, like a missing one; a page is read by its shape, memoised per kinds word. A full
page (15 nodes, 16 children) is 969 bytes; in a 30,000-key tree pages average 250 bytes (most are
deep and sparse). An update writes its new leaves plus one record per page it changed (the old
page with the new hashes written over it, or re-encoded when its shape changed): about a third as
many records as one per changed node, ~140 instead of ~450 for 38 changed keys of a 30,000-key
tree. A store written with the earlier one-record-per-node layout (0x03 records) is not readable:
its roots fail with a ``StorageError`` that says so (rebuild the node's data from genesis).

In the node's database they live under ``m/`` (``chainfin.store.SMT_NODES``) + hash.

Writes. :meth:`SparseMerkleTree.update` never writes to the store itself: it puts the new records
(new leaves and new pages) in the ``batch`` the caller passes — either a dict (hash -> record;
the ledger keeps it with its speculative block, reads through it for the next block and writes it
into the block's commit batch with :func:`put_nodes`) or a store write batch (records go straight
under ``m/``). Either way the SMT records land in the same atomic write batch as the block that
produced them. The update's recursion over the changed paths lives in
:mod:`chainfin.smt_update`, and the same again in C in ``chainfin/_smt_fast.c``, which runs
instead when it was built (:func:`chainfin.compiled.c_tree_update`).

Proofs. A :class:`Proof` lists the siblings along the key's path from the root, keeping only the
non-empty ones plus a bitmap of which depths have one. The path ends at the key's own leaf
(inclusion), at an empty subtree, or at another key's leaf — whose key hash and value hash the
proof then carries (non-inclusion). :func:`verify_proof` is a pure function that never raises. Both (and the hashing) live in
:mod:`chainfin.smt_verify`, re-exported here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Protocol

from chainfin.compiled import c_tree_update
from chainfin.errors import StorageError
from chainfin.smt_verify import (  # re-exported: the hashing and the proofs
    EMPTY,
    MAX_DEPTH,
    Proof,
    key_hash,
    leaf_hash,
    node_hash,
    verify_proof,
)
from chainfin.smt_verify import LEAF_TAG as _LEAF
from chainfin.smt_verify import NODE_TAG as _NODE
from chainfin.store import SMT_NODES, KVReader, KVWriter

__all__ = [
    "EMPTY",
    "MAX_DEPTH",
    "NodeReader",
    "SparseMerkleTree",
    "Proof",
    "verify_proof",
    "key_hash",
    "leaf_hash",
    "node_hash",
    "put_nodes",
    "reachable_records",
    "StoreNodes",
]

_PAGE = b"\x04"
_LEAF_B = 0x02
_DLEAF_B = 0x05  # a digest leaf: key hash and value hash, the value kept elsewhere
_DLEAF = b"\x05"
_DLEAF_LEN = 65
_NODE_B = 0x03
_PAGE_B = 0x04

_sha256 = hashlib.sha256
_NODE_SHA = hashlib.sha256(_NODE)  # copied, then fed both children: a little cheaper than concat
_LEAF_SHA = hashlib.sha256(_LEAF)  # (the same for a leaf's key hash and value hash)


class NodeReader(Protocol):
    """Where the tree reads its records: ``get(hash) -> record or None``."""

    def get(self, key: bytes) -> bytes | None: ...


class StoreNodes:
    """Reads SMT records from a KV store's ``m/`` key space."""

    __slots__ = ("_store",)

    def __init__(self, store: KVReader) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get(SMT_NODES + key)


def put_nodes(batch: KVWriter, nodes: Mapping[bytes, bytes]) -> None:
    """Write records collected by :meth:`SparseMerkleTree.update` into a store batch (``m/``)."""
    for h, rec in nodes.items():
        batch.put(SMT_NODES + h, rec)


# --------------------------------------------------------------------------- page records
#
# Slots of a page (module docstring): the page root is slot 1 and slot s has children 2s and
# 2s + 1, so slots 2..15 hold the page's other nodes and slots 16..31 its lower edge. The kinds
# word has slot s's code at bit 2(s - 2).
_ABSENT, _EMPTY_K, _LEAF_K, _NODE_K = 0, 1, 2, 3  # slot codes (and kinds of subtrees)
_PAGE_HDR = 9  # tag + kinds
_M01 = sum(1 << 2 * i for i in range(30))  # the low bit of every slot's code
_M10 = _M01 << 1  # the high bit: set for a leaf or a node, i.e. for the slots that have a hash
_ML = sum(1 << 4 * i for i in range(15))  # low code bits of the left slots 2, 4, ..., 30
_MR = _ML << 2  # ... and of the right slots 3, 5, ..., 31
# _SPREAD[b] maps the 4 slots whose low code bits are the even bits of byte b to both children of
# each (bit 2i -> bits 4i and 4i + 2, before a shift): from "which slots hold a node of the page"
# it builds "which slots must be present"
_SPREAD = [sum(5 << (4 * i) for i in range(4) if b >> (2 * i) & 1) for b in range(256)]

# A page's navigation table ("nav", 64 bytes), a function of its kinds word: nav[s] is slot s's
# code and nav[32 + s] the number of hashes stored before its own, so its hash is at offset
# 9 + 32 * nav[32 + s] (slots 2..31 that have one); nav[0] is the page's number of hashes and
# nav[1] the root's code (a node).
_Nav = bytes


def _bad(h: bytes, why: str) -> StorageError:
    return StorageError(f"SMT record {h.hex()} is malformed: {why}")


def _shape_nav(h: bytes, k: int) -> _Nav:
    """Check a page's kinds word against every rule of the format and return its nav.

    The rules, with a few integer operations: slots present exactly below the page's nodes (slots
    2 and 3 always); no node with two empty children or with an empty child and a leaf (the
    compact shape); zero padding bits."""
    lo = k & _M01
    hi = (k >> 1) & _M01
    inner = lo & hi  # slots with a node
    i = inner & 0xFFFFFFF  # ... among slots 2..15 (slots 16..31 are the next pages' roots)
    below = (_SPREAD[i & 255] | _SPREAD[(i >> 8) & 255] << 16 | _SPREAD[(i >> 16) & 255] << 32
             | _SPREAD[i >> 24] << 48) << 4
    if k >> 60 or (lo | hi) != below | 5:
        raise _bad(h, "its slots do not form a binary tree under the page root")
    empty = lo ^ inner
    if empty & _ML & ~(inner >> 2) or empty & _MR & ~(inner << 2):
        raise _bad(h, "an empty subtree next to a leaf or to another empty subtree")
    nav = bytearray(64)
    nav[1] = _NODE_K
    n = 0
    for s in range(2, 32):
        c = (k >> (2 * s - 4)) & 3
        nav[s] = c
        if c >= _LEAF_K:
            nav[32 + s] = n
            n += 1
    nav[0] = n
    return bytes(nav)


# header (tag + kinds word, 9 bytes) -> nav, for the shapes seen: a memo of _shape_nav (pages
# share shapes: every full page has the same one, and a tree of 200,000 random keys has about
# 7,500 shapes). Keyed by the header bytes as read, so a hit costs one slice and one lookup, and
# vouches for the tag too. Bounded: about 3 MB.
_NAVS: dict[bytes, _Nav] = {}
_NAVS_MAX = 1 << 14


def _page_nav(h: bytes, rec: bytes) -> _Nav:
    """Check the page record ``rec`` stored under ``h`` and return its nav. Any record that passes
    can be read without further checks.

    Raises:
        StorageError: the record is not a well-formed page.
    """
    nav = _NAVS.get(rec[:_PAGE_HDR])
    if nav is None:
        nav = _header_nav(h, rec)
    if len(rec) != _PAGE_HDR + 32 * nav[0]:
        raise _bad(h, f"{len(rec)} bytes where its slots need {_PAGE_HDR + 32 * nav[0]}")
    return nav


def _header_nav(h: bytes, rec: bytes) -> _Nav:
    """:func:`_page_nav` for a header not seen yet: check it, memoise its nav."""
    n = len(rec)
    if n < _PAGE_HDR or rec[0] != _PAGE_B:
        if n and rec[0] == _NODE_B:
            raise _bad(h, "a per-node record (0x03) of the old layout where a page is expected")
        raise _bad(h, "not a page record")
    nav = _shape_nav(h, int.from_bytes(rec[1:9], "little"))
    if len(_NAVS) >= _NAVS_MAX:
        _NAVS.clear()
    _NAVS[rec[:_PAGE_HDR]] = nav
    return nav


def _slot(rec: bytes, nav: _Nav, s: int) -> bytes:
    """The hash in slot ``s`` of a checked page (EMPTY for an empty slot)."""
    if nav[s] < _LEAF_K:
        return EMPTY
    o = 9 + (nav[32 + s] << 5)
    return rec[o:o + 32]


def _encode_page(ks: list[int], hs: list[bytes]) -> bytes:
    kinds = 0
    parts: list[bytes] = []
    for s in range(2, 32):
        c = ks[s]
        if c:
            kinds |= c << (2 * s - 4)
            if c >= _LEAF_K:
                parts.append(hs[s])
    return _PAGE + kinds.to_bytes(8, "little") + b"".join(parts)


def reachable_records(root: bytes, records: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    """The records among ``records`` that the tree under ``root`` reaches without passing through
    a record outside ``records``. A ledger that keeps the records of its latest blocks in memory
    writes just these: whatever else is in ``records`` was superseded by a later block (the
    pages near the root are rewritten by every block), and what lies outside is stored already.

    Raises:
        StorageError: a page among ``records`` is malformed.
    """
    out: dict[bytes, bytes] = {}
    stack = [root]
    while stack:
        h = stack.pop()
        rec = records.get(h)
        if rec is None or h in out:
            continue
        out[h] = rec
        if rec[0] == _PAGE_B:
            nav = _page_nav(h, rec)
            for s in range(2, 32):
                c = nav[s]
                if c == _LEAF_K or (c == _NODE_K and s >= 16):
                    stack.append(_slot(rec, nav, s))
    return out


def _leaf_record(kh: bytes, value: bytes, digest: bool) -> tuple[bytes, bytes]:
    """(hash, record) of the leaf of (key hash, value)."""
    vh = _sha256(value).digest()
    x = _LEAF_SHA.copy()
    x.update(kh)
    x.update(vh)
    return x.digest(), (_DLEAF + kh + vh if digest else _LEAF + kh + value)


def _is_leaf(rec: bytes) -> bool:
    return len(rec) >= 33 and (rec[0] == _LEAF_B or (rec[0] == _DLEAF_B
                                                     and len(rec) == _DLEAF_LEN))


def _value_hash(rec: bytes) -> bytes:
    """The value hash of a (checked) leaf record of either form."""
    return rec[33:65] if rec[0] == _DLEAF_B else _sha256(rec[33:]).digest()


class ValueReader(Protocol):
    """Where a tree of digest leaves reads values: ``get(state key) -> value or None``."""

    def get(self, key: bytes) -> bytes | None: ...


# --------------------------------------------------------------------------- the tree


class SparseMerkleTree:
    """Compact sparse Merkle tree over a node reader. Stateless apart from the reader: any root
    written through it (and stored) can be read, updated and proven from.

    ``SparseMerkleTree(StoreNodes(store))`` (or :meth:`on_store`) reads committed records from a
    store's ``m/`` space; the ledger passes a reader that looks in its speculative blocks' record
    dicts first.
    """

    empty_root = EMPTY

    def __init__(self, nodes: NodeReader, values: ValueReader | None = None) -> None:
        """With ``values`` (state key -> its current value), the tree writes *digest leaves*
        (``0x05 || key_hash || SHA-256(value)``, 65 bytes) instead of leaves that hold the value,
        and :meth:`get` reads a digest leaf's value from ``values``, checked against the leaf's
        value hash. Same hashes, roots and proofs; the value is not stored twice (the ledger has
        it in its state key space). Reads understand both forms."""
        self.nodes = nodes
        self.values = values
        self.digest_leaves = values is not None

    @classmethod
    def on_store(cls, store: KVReader) -> SparseMerkleTree:
        return cls(StoreNodes(store))

    def _load(self, h: bytes) -> bytes:
        rec = self.nodes.get(h)
        if rec is None:
            raise StorageError(
                f"SMT node {h.hex()} is missing (a root that was never stored or whose records were "
                "pruned as stale, or a damaged store)"
            )
        return rec

    def _leaf(self, h: bytes) -> bytes:
        rec = self._load(h)
        if not _is_leaf(rec):
            raise _bad(h, "a page points to it as a leaf, but it is no leaf record")
        return rec

    def _page(self, h: bytes, depth: int) -> tuple[bytes, _Nav]:
        if depth >= MAX_DEPTH:
            raise _bad(h, f"a page root at depth {depth}")
        rec = self._load(h)
        return rec, _page_nav(h, rec)

    def _root(self, root: bytes) -> tuple[bytes, int, _Nav]:
        """(record, kind, nav) of a non-empty root: a lone leaf (nav empty) or a page."""
        rec = self._load(root)
        if _is_leaf(rec):
            return rec, _LEAF_K, b""
        return rec, _NODE_K, _page_nav(root, rec)

    # ------------------------------------------------------------------ reads

    def get(self, root: bytes, key: bytes) -> bytes | None:
        """The value of state key ``key`` under ``root``, or None when absent.

        Raises:
            StorageError: a record on the path is missing or malformed.
        """
        kh = _sha256(key).digest()
        if root == EMPTY:
            return None
        rec, kind, nav = self._root(root)
        if kind == _LEAF_K:
            return self._leaf_value(key, rec) if rec[1:33] == kh else None
        k = int.from_bytes(kh, "big")
        depth = 0
        while True:
            s = 1
            while True:  # down one page: slot s is a node of it, at depth `depth`
                s = 2 * s + ((k >> (255 - depth)) & 1)
                depth += 1
                c = nav[s]
                if c == _EMPTY_K:
                    return None
                o = 9 + (nav[32 + s] << 5)
                h = rec[o:o + 32]
                if c == _LEAF_K:
                    leaf = self._leaf(h)
                    return self._leaf_value(key, leaf) if leaf[1:33] == kh else None
                if s >= 16:
                    break
            rec, nav = self._page(h, depth)

    def _leaf_value(self, key: bytes, rec: bytes) -> bytes:
        if rec[0] != _DLEAF_B:
            return rec[33:]
        v = None if self.values is None else self.values.get(key)
        if v is None or _sha256(v).digest() != rec[33:65]:
            raise StorageError(
                f"the value of {key[:80]!r} under this root is not stored: the tree keeps value "
                "hashes and only the current state's values are kept (an old root)")
        return v

    @staticmethod
    def _held_value(h: bytes, rec: bytes) -> bytes:
        if rec[0] == _DLEAF_B:
            raise StorageError(f"SMT leaf {h.hex()} holds a value hash, not the value: items() "
                               "needs a tree whose leaves hold their values")
        return rec[33:]

    def prove(self, root: bytes, key: bytes) -> Proof:
        """Inclusion proof when ``key`` is present under ``root``, non-inclusion otherwise.

        Raises:
            StorageError: a record on the path is missing or malformed.
        """
        kh = _sha256(key).digest()
        k = int.from_bytes(kh, "big")
        depth = 0
        bits = 0
        sibs: list[bytes] = []
        leaf: tuple[bytes, bytes] | None = None
        if root != EMPTY:
            rec, kind, nav = self._root(root)
            if kind == _LEAF_K:
                if rec[1:33] != kh:
                    leaf = (rec[1:33], _value_hash(rec))
            else:
                s = 1
                while True:
                    s = 2 * s + ((k >> (255 - depth)) & 1)
                    sib = _slot(rec, nav, s ^ 1)
                    bits <<= 1
                    if sib != EMPTY:
                        bits |= 1
                        sibs.append(sib)
                    depth += 1
                    c = nav[s]
                    if c == _EMPTY_K:
                        break
                    h = _slot(rec, nav, s)
                    if c == _LEAF_K:
                        lrec = self._leaf(h)
                        if lrec[1:33] != kh:
                            leaf = (lrec[1:33], _value_hash(lrec))
                        break
                    if s >= 16:
                        rec, nav = self._page(h, depth)
                        s = 1
        nbytes = (depth + 7) // 8
        bitmap = (bits << (nbytes * 8 - depth)).to_bytes(nbytes, "big") if nbytes else b""
        return Proof(depth, bitmap, tuple(sibs), leaf)

    def items(self, root: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key hash, value) under ``root`` in key-hash order (state transfer, debugging).

        Raises:
            StorageError: a record is missing or malformed.
        """
        if root == EMPTY:
            return
        rec, kind, nav = self._root(root)
        if kind == _LEAF_K:
            yield rec[1:33], self._held_value(root, rec)
            return
        # slots still to visit, the leftmost last: (page record, nav, slot, page root's depth)
        stack = [(rec, nav, 3, 0), (rec, nav, 2, 0)]
        seen = {root}  # a tree never holds one page twice: a damaged store could loop
        while stack:
            rec, nav, s, depth = stack.pop()
            c = nav[s]
            if c == _LEAF_K:
                leaf = self._leaf(_slot(rec, nav, s))
                yield leaf[1:33], self._held_value(_slot(rec, nav, s), leaf)
            elif c == _NODE_K:
                if s >= 16:
                    h = _slot(rec, nav, s)
                    if h in seen:
                        raise _bad(h, "a page below itself")
                    seen.add(h)
                    depth += 4
                    rec, nav = self._page(h, depth)
                    s = 1
                stack.append((rec, nav, 2 * s + 1, depth))
                stack.append((rec, nav, 2 * s, depth))

    def chunk(self, root: bytes, prefix: int, depth: int, max_entries: int, *,
              leaves: bool = True
              ) -> tuple[list[tuple[int, bytes, bytes]], list[tuple[bytes, bytes]]] | None:
        """The region of key hashes starting with the ``depth``-bit ``prefix`` under ``root``:
        (siblings along its path, index j - 1 = depth j, in ``chainfin.snapshot``'s form
        (kind 0 empty, 1 leaf as (1, key hash, value hash), 3 node as (3, hash, b"")); the
        region's (key hash, value) leaves in key-hash order), or None when the region holds
        more than ``max_entries`` leaves. ``leaves=False``: the siblings only (the leaves list
        empty; the node serves the values from its state key space, decision 92), which works
        on digest leaves too.

        Raises:
            StorageError: a record is missing or malformed.
        """
        sibs: list[tuple[int, bytes, bytes]] = []
        empty = (0, EMPTY, b"")
        if root == EMPTY:
            return [empty] * depth, []
        rec, kind, nav = self._root(root)
        if kind == _LEAF_K:
            return self._chunk_leaf(rec, prefix, depth, 0, sibs, leaves)
        s, d = 1, 0  # the path's node: slot s of page (rec, nav), at depth d
        while d < depth:
            c = 2 * s + ((prefix >> (depth - d - 1)) & 1)
            sc = c ^ 1
            skind = nav[sc]
            if skind == _LEAF_K:
                lrec = self._leaf(_slot(rec, nav, sc))
                sibs.append((1, lrec[1:33], _value_hash(lrec)))
            elif skind == _NODE_K:
                sibs.append((3, _slot(rec, nav, sc), b""))
            else:
                sibs.append(empty)
            d += 1
            ck = nav[c]
            if ck == _EMPTY_K:
                return sibs + [empty] * (depth - d), []
            h = _slot(rec, nav, c)
            if ck == _LEAF_K:
                return self._chunk_leaf(self._leaf(h), prefix, depth, d, sibs, leaves)
            if c >= 16:
                rec, nav = self._page(h, d)
                s = 1
            else:
                s = c
        out: list[tuple[bytes, bytes]] = []
        if not leaves:
            return sibs, out
        # the region's node is slot s of (rec, nav) at depth d: its leaves, left to right
        pd = d - (d & 3)  # the depth of the page's root (pages start at multiples of 4)
        stack = [(rec, nav, 2 * s + 1, pd), (rec, nav, 2 * s, pd)]
        while stack:
            rec, nav, s, pd = stack.pop()
            c = nav[s]
            if c == _LEAF_K:
                if len(out) >= max_entries:
                    return None
                leaf = self._leaf(_slot(rec, nav, s))
                out.append((leaf[1:33], leaf[33:]))
            elif c == _NODE_K:
                if s >= 16:
                    pd += 4
                    rec, nav = self._page(_slot(rec, nav, s), pd)
                    s = 1
                stack.append((rec, nav, 2 * s + 1, pd))
                stack.append((rec, nav, 2 * s, pd))
        return sibs, out

    @staticmethod
    def _chunk_leaf(lrec: bytes, prefix: int, depth: int, d: int,
                    sibs: list[tuple[int, bytes, bytes]], leaves: bool = True
                    ) -> tuple[list[tuple[int, bytes, bytes]], list[tuple[bytes, bytes]]]:
        """:meth:`chunk` when the region's path ends at a leaf at depth ``d`` (<= depth): the
        leaf is in the region, or it is the sibling where its key leaves the region's path."""
        kh = lrec[1:33]
        k = int.from_bytes(kh, "big")
        empty = (0, EMPTY, b"")
        if k >> (256 - depth) == prefix:
            return sibs + [empty] * (depth - d), [(kh, lrec[33:])] if leaves else []
        m = d + 1  # the depth at which the leaf's key leaves the path
        while (k >> (256 - m)) == (prefix >> (depth - m)):
            m += 1
        rest = [empty] * (depth - d)
        rest[m - d - 1] = (1, kh, _value_hash(lrec))
        return sibs + rest, []

    def stale_records(self, old_root: bytes, new_root: bytes) -> set[bytes]:
        """The records ``old_root`` reaches and ``new_root`` does not (:mod:`chainfin.smt_prune`)."""
        from chainfin.smt_prune import stale_records

        return stale_records(self, old_root, new_root)

    def _all_records(self, page: bytes, out: set[bytes]) -> None:
        from chainfin.smt_prune import all_records

        all_records(self, page, out)

    # ------------------------------------------------------------------ writes

    def update(
        self,
        root: bytes,
        changes: Mapping[bytes, bytes | None],
        batch: MutableMapping[bytes, bytes] | KVWriter,
    ) -> bytes:
        """Apply many changes at once (``None`` deletes; deleting an absent key is a no-op) and
        return the new root. Reads only the records on the changed paths; O(k log n) hashes.

        New records (the new leaves and the new pages) go into ``batch``: a dict-like mapping
        receives ``hash -> record``; a store write batch (anything with ``put``) receives them
        under ``m/``. Records written into a store batch are not readable until it is committed:
        to chain updates before a commit, collect them in a dict and read through it (or through a
        ``store.Overlay``).

        Raises:
            TypeError: a key or value is not bytes.
            StorageError: a record under ``root`` is missing or malformed.
        """
        if not changes:
            return root
        fast = c_tree_update()  # all of the below in C (chainfin/_smt_fast.c), when built
        done: tuple[bytes, dict[bytes, bytes]] | None = (
            fast(self, root, changes) if fast is not None else None)
        if done is None:  # (also where the C code leaves bad input or a damaged store to this)
            entries: list[tuple[int, bytes, bytes | None]] = []
            for key, value in changes.items():
                if type(key) is not bytes or not (value is None or type(value) is bytes):
                    raise TypeError("SMT keys must be bytes and values bytes or None")
                kh = _sha256(key).digest()
                entries.append((int.from_bytes(kh, "big"), kh, value))
            entries.sort()
            from chainfin.smt_update import run_update  # (it imports this module's helpers)

            done = run_update(self, root, entries)
        new_root, out = done
        if isinstance(batch, MutableMapping):
            batch.update(out)
        else:
            for h, rec in out.items():
                batch.put(SMT_NODES + h, rec)
        return new_root
