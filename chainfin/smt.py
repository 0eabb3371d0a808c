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

Storage. Nodes are content-addressed (node hash -> record) and never overwritten, so every root
ever written stays readable ("versioned by root"); nothing is pruned yet. Records::

    leaf       0x02 || key_hash (32) || value        (the value itself, so get() works at any root)
    internal   0x03 || left (32) || right (32)       (exactly the hash preimage)

In the node's database they live under ``m/`` (``chainfin.store.SMT_NODES``) + node hash.

Writes. :meth:`SparseMerkleTree.update` never writes to the store itself: it puts the new nodes in
the ``batch`` the caller passes — either a dict (node hash -> record; the ledger keeps it with its
speculative block, reads through it for the next block and writes it into the block's commit
batch with :func:`put_nodes`) or a store write batch (nodes go straight under ``m/``). Either way
the SMT nodes land in the same atomic write batch as the block that produced them.

Proofs. A :class:`Proof` lists the siblings along the key's path from the root, keeping only the
non-empty ones plus a bitmap of which depths have one. The path ends at the key's own leaf
(inclusion), at an empty subtree, or at another key's leaf — whose key hash and value hash the
proof then carries (non-inclusion). :func:`verify_proof` is a pure function that never raises.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from chainfin.errors import InvalidMessage, StorageError
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
    "StoreNodes",
]

EMPTY = b"\0" * 32
MAX_DEPTH = 256
_LEAF = b"\x02"
_NODE = b"\x03"
_LEAF_B = 0x02
_NODE_B = 0x03

_sha256 = hashlib.sha256

# kinds of the hash a recursive step returns (UNKNOWN: an untouched child, not loaded)
_K_EMPTY, _K_LEAF, _K_NODE, _K_UNKNOWN = 0, 1, 2, 3


def key_hash(key: bytes) -> bytes:
    """The 256-bit path of a state key: SHA-256 of its bytes."""
    return _sha256(key).digest()


def leaf_hash(key_hash_: bytes, value_hash: bytes) -> bytes:
    return _sha256(_LEAF + key_hash_ + value_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE + left + right).digest()


class NodeReader(Protocol):
    """Where the tree reads nodes: ``get(node hash) -> record or None``."""

    def get(self, key: bytes) -> bytes | None: ...


class StoreNodes:
    """Reads SMT nodes from a KV store's ``m/`` key space."""

    __slots__ = ("_store",)

    def __init__(self, store: KVReader) -> None:
        self._store = store

    def get(self, key: bytes) -> bytes | None:
        return self._store.get(SMT_NODES + key)


def put_nodes(batch: KVWriter, nodes: Mapping[bytes, bytes]) -> None:
    """Write nodes collected by :meth:`SparseMerkleTree.update` into a store batch under ``m/``."""
    for h, rec in nodes.items():
        batch.put(SMT_NODES + h, rec)


# --------------------------------------------------------------------------- proofs


@dataclass(frozen=True, slots=True)
class Proof:
    """Path of a key from the root down to where it ends (``depth`` levels).

    ``bitmap`` has bit ``d`` (byte d // 8, most significant bit first) set when the sibling at
    depth ``d`` is non-empty; ``siblings`` are those non-empty siblings, root side first.
    ``leaf`` is (key hash, value hash) of another key's leaf where the path ends (non-inclusion);
    None for inclusion or when the path ends at an empty subtree.
    """

    depth: int
    bitmap: bytes
    siblings: tuple[bytes, ...]
    leaf: tuple[bytes, bytes] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "bitmap": self.bitmap.hex(),
            "siblings": [s.hex() for s in self.siblings],
            "leaf": None
            if self.leaf is None
            else {"key_hash": self.leaf[0].hex(), "value_hash": self.leaf[1].hex()},
        }

    @classmethod
    def from_json(cls, d: Any) -> Proof:
        """Parse :meth:`to_json`'s form (checks types and sizes; soundness is verify_proof's job).

        Raises:
            InvalidMessage: not a well-formed SMT proof document.
        """
        try:
            if not isinstance(d, Mapping) or set(d) != {"depth", "bitmap", "siblings", "leaf"}:
                raise ValueError("wrong fields")
            depth = d["depth"]
            if type(depth) is not int or not 0 <= depth <= MAX_DEPTH:
                raise ValueError("bad depth")
            bitmap = bytes.fromhex(d["bitmap"])
            if not isinstance(d["siblings"], list):
                raise ValueError("siblings must be a list")
            sibs = tuple(_hex32(s) for s in d["siblings"])
            leaf = d["leaf"]
            if leaf is not None:
                if not isinstance(leaf, Mapping) or set(leaf) != {"key_hash", "value_hash"}:
                    raise ValueError("bad leaf")
                leaf = (_hex32(leaf["key_hash"]), _hex32(leaf["value_hash"]))
        except (ValueError, TypeError, KeyError) as e:
            raise InvalidMessage(f"malformed state proof: {e}") from e
        return cls(depth, bitmap, sibs, leaf)

    def to_wire(self) -> dict[str, Any]:
        """Canonical-codec form (bytes stay bytes)."""
        return {
            "depth": self.depth,
            "bitmap": self.bitmap,
            "siblings": list(self.siblings),
            "leaf": None if self.leaf is None else list(self.leaf),
        }

    @classmethod
    def from_wire(cls, d: Any) -> Proof:
        """Raises: InvalidMessage: not a well-formed wire proof."""
        try:
            if not isinstance(d, Mapping) or set(d) != {"depth", "bitmap", "siblings", "leaf"}:
                raise ValueError("wrong fields")
            leaf = d["leaf"]
            if leaf is not None:
                a, b = leaf
                leaf = (bytes(a), bytes(b))
            p = cls(d["depth"], bytes(d["bitmap"]), tuple(bytes(s) for s in d["siblings"]), leaf)
            if type(p.depth) is not int:
                raise ValueError("bad depth")
        except (ValueError, TypeError, KeyError) as e:
            raise InvalidMessage(f"malformed state proof: {e}") from e
        return p


def _hex32(s: Any) -> bytes:
    if not isinstance(s, str):
        raise TypeError("expected a hex string")
    b = bytes.fromhex(s)
    if len(b) != 32:
        raise ValueError("expected 32 bytes")
    return b


def _verify(root: bytes, key: bytes, value: bytes | None, proof: Proof) -> bool:
    if type(root) is not bytes or len(root) != 32 or not isinstance(proof, Proof):
        return False
    if not isinstance(key, bytes | bytearray) or not (value is None or isinstance(value, bytes)):
        return False
    depth, bitmap, sibs = proof.depth, proof.bitmap, proof.siblings
    if type(depth) is not int or not 0 <= depth <= MAX_DEPTH:
        return False
    if type(bitmap) is not bytes or len(bitmap) != (depth + 7) // 8:
        return False
    bits = int.from_bytes(bitmap, "big") if bitmap else 0
    pad = len(bitmap) * 8 - depth
    if bits & ((1 << pad) - 1):  # unused trailing bits must be zero (one encoding per proof)
        return False
    if not isinstance(sibs, tuple) or bits.bit_count() != len(sibs):
        return False
    for s in sibs:
        if type(s) is not bytes or len(s) != 32 or s == EMPTY:  # empty siblings are omitted
            return False
    kh = _sha256(bytes(key)).digest()
    k = int.from_bytes(kh, "big")
    if value is not None:
        if proof.leaf is not None:
            return False
        node = _sha256(_LEAF + kh + _sha256(value).digest()).digest()
    elif proof.leaf is None:
        node = EMPTY
    else:
        if not isinstance(proof.leaf, tuple) or len(proof.leaf) != 2:
            return False
        okh, ovh = proof.leaf
        if type(okh) is not bytes or type(ovh) is not bytes or len(okh) != 32 or len(ovh) != 32:
            return False
        if okh == kh:  # the key's own leaf is an inclusion, never a non-inclusion
            return False
        if depth and (int.from_bytes(okh, "big") ^ k) >> (256 - depth):
            return False  # that leaf does not sit on this key's path
        node = _sha256(_LEAF + okh + ovh).digest()
    bits >>= pad  # now bit (depth - 1 - d) is depth d's flag
    i = len(sibs)
    sha = _sha256
    for d in range(depth - 1, -1, -1):
        if (bits >> (depth - 1 - d)) & 1:
            i -= 1
            s = sibs[i]
        else:
            s = EMPTY
        if (k >> (255 - d)) & 1:
            node = sha(_NODE + s + node).digest()
        else:
            node = sha(_NODE + node + s).digest()
    return node == root


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: Proof) -> bool:
    """True when ``proof`` shows that under ``root`` the state key ``key`` holds ``value``
    (``value=None``: that ``key`` is absent). Pure, offline, never raises."""
    try:
        return _verify(root, key, value, proof)
    except Exception:  # an auditor's verifier answers False to hostile input, never crashes
        return False


# --------------------------------------------------------------------------- the tree


def _leaf_record(kh: bytes, value: bytes) -> tuple[bytes, bytes]:
    return _sha256(_LEAF + kh + _sha256(value).digest()).digest(), _LEAF + kh + value


class SparseMerkleTree:
    """Compact sparse Merkle tree over a node reader. Stateless apart from the reader: any root
    written through it (and stored) can be read, updated and proven from.

    ``SparseMerkleTree(StoreNodes(store))`` (or :meth:`on_store`) reads committed nodes from a
    store's ``m/`` space; the ledger passes a reader that looks in its speculative blocks' node
    dicts first.
    """

    empty_root = EMPTY
    _new: dict[bytes, bytes]  # nodes created by the update in progress (not thread-safe)

    def __init__(self, nodes: NodeReader) -> None:
        self.nodes = nodes

    @classmethod
    def on_store(cls, store: KVReader) -> SparseMerkleTree:
        return cls(StoreNodes(store))

    def _load(self, h: bytes) -> bytes:
        rec = self.nodes.get(h)
        if rec is None:
            raise StorageError(
                f"SMT node {h.hex()} is missing (a root that was never stored, or a damaged store)"
            )
        return rec

    # ------------------------------------------------------------------ reads

    def get(self, root: bytes, key: bytes) -> bytes | None:
        """The value of state key ``key`` under ``root``, or None when absent.

        Raises:
            StorageError: a node on the path is missing.
        """
        kh = _sha256(key).digest()
        k = int.from_bytes(kh, "big")
        h, depth = root, 0
        while h != EMPTY:
            rec = self._load(h)
            if rec[0] == _LEAF_B:
                return rec[33:] if rec[1:33] == kh else None
            h = rec[33:65] if (k >> (255 - depth)) & 1 else rec[1:33]
            depth += 1
        return None

    def prove(self, root: bytes, key: bytes) -> Proof:
        """Inclusion proof when ``key`` is present under ``root``, non-inclusion otherwise.

        Raises:
            StorageError: a node on the path is missing.
        """
        kh = _sha256(key).digest()
        k = int.from_bytes(kh, "big")
        h, depth = root, 0
        bits = 0
        sibs: list[bytes] = []
        leaf: tuple[bytes, bytes] | None = None
        while h != EMPTY:
            rec = self._load(h)
            if rec[0] == _LEAF_B:
                okh = rec[1:33]
                if okh != kh:
                    leaf = (okh, _sha256(rec[33:]).digest())
                break
            if (k >> (255 - depth)) & 1:
                h, s = rec[33:65], rec[1:33]
            else:
                h, s = rec[1:33], rec[33:65]
            bits <<= 1
            if s != EMPTY:
                bits |= 1
                sibs.append(s)
            depth += 1
        nbytes = (depth + 7) // 8
        bitmap = (bits << (nbytes * 8 - depth)).to_bytes(nbytes, "big") if nbytes else b""
        return Proof(depth, bitmap, tuple(sibs), leaf)

    def items(self, root: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key hash, value) under ``root`` in key-hash order (state transfer, debugging)."""
        stack = [root]
        while stack:
            h = stack.pop()
            if h == EMPTY:
                continue
            rec = self._load(h)
            if rec[0] == _LEAF_B:
                yield rec[1:33], rec[33:]
            else:
                stack.append(rec[33:65])
                stack.append(rec[1:33])

    # ------------------------------------------------------------------ writes

    def update(
        self,
        root: bytes,
        changes: Mapping[bytes, bytes | None],
        batch: MutableMapping[bytes, bytes] | KVWriter,
    ) -> bytes:
        """Apply many changes at once (``None`` deletes; deleting an absent key is a no-op) and
        return the new root. Reads only the nodes on the changed paths; O(k log n) hashes.

        New nodes go into ``batch``: a dict-like mapping receives ``node hash -> record``; a store
        write batch (anything with ``put``) receives them under ``m/``. Nodes written into a store
        batch are not readable until it is committed: to chain updates before a commit, collect
        them in a dict and read through it (or through a ``store.Overlay``).

        Raises:
            TypeError: a key or value is not bytes.
            StorageError: a node under ``root`` is missing.
        """
        if not changes:
            return root
        entries: list[tuple[int, bytes, bytes | None]] = []
        for key, value in changes.items():
            if type(key) is not bytes or not (value is None or type(value) is bytes):
                raise TypeError("SMT keys must be bytes and values bytes or None")
            kh = _sha256(key).digest()
            entries.append((int.from_bytes(kh, "big"), kh, value))
        entries.sort()
        new: dict[bytes, bytes] = {}
        self._new = new
        try:
            ints = [e[0] for e in entries]
            out, _ = self._update(root, 0, entries, ints, 0, len(entries))
        finally:
            del self._new
        if isinstance(batch, MutableMapping):
            batch.update(new)
        else:
            for h, rec in new.items():
                batch.put(SMT_NODES + h, rec)
        return out

    def _update(
        self,
        h: bytes,
        depth: int,
        entries: list[tuple[int, bytes, bytes | None]],
        ints: list[int],
        lo: int,
        hi: int,
    ) -> tuple[bytes, int]:
        if lo == hi:
            return h, (_K_EMPTY if h == EMPTY else _K_UNKNOWN)
        if h == EMPTY:
            return self._build(depth, [(e[0], e[1], e[2], None) for e in entries[lo:hi]
                                       if e[2] is not None])
        rec = self._load(h)
        if rec[0] == _LEAF_B:
            okh = rec[1:33]
            todo: list[tuple[int, bytes, bytes | None, bytes | None]] = [
                (e[0], e[1], e[2], None) for e in entries[lo:hi] if e[2] is not None
            ]
            ok = int.from_bytes(okh, "big")
            i = bisect_left(ints, ok, lo, hi)
            if i == hi or ints[i] != ok:  # the existing leaf is not touched: keep it as it is
                todo.append((ok, okh, rec[33:], h))
                todo.sort(key=lambda t: t[0])
            return self._build(depth, todo)
        if depth >= MAX_DEPTH:
            raise StorageError(f"SMT node {h.hex()} is an internal node below depth 256")
        left, right = rec[1:33], rec[33:65]
        shift = 256 - depth
        t = ((ints[lo] >> shift) << shift) | (1 << (shift - 1))
        mid = bisect_left(ints, t, lo, hi)
        nl, lk = self._update(left, depth + 1, entries, ints, lo, mid)
        nr, rk = self._update(right, depth + 1, entries, ints, mid, hi)
        if nl == left and nr == right:
            return h, _K_NODE
        return self._join(nl, lk, nr, rk)

    def _is_leaf(self, h: bytes, kind: int) -> bool:
        if kind != _K_UNKNOWN:
            return kind == _K_LEAF
        return self._load(h)[0] == _LEAF_B

    def _join(self, left: bytes, lk: int, right: bytes, rk: int) -> tuple[bytes, int]:
        """Parent of two subtrees, keeping the compact shape: a lone leaf moves up, and an
        internal node never has two empty children or one empty child and a leaf."""
        if left == EMPTY:
            if right == EMPTY:
                return EMPTY, _K_EMPTY
            if self._is_leaf(right, rk):
                return right, _K_LEAF
        elif right == EMPTY and self._is_leaf(left, lk):
            return left, _K_LEAF
        rec = _NODE + left + right
        h = _sha256(rec).digest()
        self._new[h] = rec
        return h, _K_NODE

    def _build(
        self, depth: int, todo: list[tuple[int, bytes, bytes | None, bytes | None]]
    ) -> tuple[bytes, int]:
        """Subtree of the given (sorted) present entries: (int, key hash, value, known hash)."""
        n = len(todo)
        if n == 0:
            return EMPTY, _K_EMPTY
        if n == 1:
            _, kh, value, known = todo[0]
            if known is not None:
                return known, _K_LEAF
            assert value is not None
            h, rec = _leaf_record(kh, value)
            self._new[h] = rec
            return h, _K_LEAF
        assert depth < MAX_DEPTH, "two entries with one key hash"
        shift = 256 - depth
        t = ((todo[0][0] >> shift) << shift) | (1 << (shift - 1))
        mid = bisect_left(todo, (t,))
        lh, _ = self._build(depth + 1, todo[:mid])
        rh, _ = self._build(depth + 1, todo[mid:])
        rec = _NODE + lh + rh
        h = _sha256(rec).digest()
        self._new[h] = rec
        return h, _K_NODE
