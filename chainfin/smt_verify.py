"""The sparse Merkle tree's hashing and its (non-)inclusion proofs: :class:`Proof` and
:func:`verify_proof`, a pure function that never raises (what an auditor's verifier needs: no
store, no tree). The tree itself is :mod:`chainfin.smt`, which re-exports all of this; the
scheme is written up in its docstring ("Hashes", "Proofs").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainfin.errors import InvalidMessage

__all__ = ["EMPTY", "LEAF_TAG", "MAX_DEPTH", "NODE_TAG", "Proof", "key_hash", "leaf_hash",
           "node_hash", "verify_proof"]

EMPTY = b"\0" * 32
MAX_DEPTH = 256
LEAF_TAG = _LEAF = b"\x02"
NODE_TAG = _NODE = b"\x03"

_sha256 = hashlib.sha256


def key_hash(key: bytes) -> bytes:
    """The 256-bit path of a state key: SHA-256 of its bytes."""
    return _sha256(key).digest()


def leaf_hash(key_hash_: bytes, value_hash: bytes) -> bytes:
    return _sha256(_LEAF + key_hash_ + value_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE + left + right).digest()


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


def _verify(root: object, key: object, value: object, proof: object) -> bool:
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


def verify_proof(root: Any, key: Any, value: Any, proof: Any) -> bool:
    """True when ``proof`` (a :class:`Proof`) shows that under ``root`` the state key ``key``
    (bytes) holds ``value`` (bytes; None: that ``key`` is absent). Pure, offline, never raises:
    anything of another type answers False (hence Any: compiled, a typed parameter would raise
    TypeError)."""
    try:
        return _verify(root, key, value, proof)
    except Exception:  # an auditor's verifier answers False to hostile input, never crashes
        return False
