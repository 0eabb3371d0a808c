"""RFC 6962 Merkle tree: root, inclusion (audit) proofs and consistency proofs.

Hashing (RFC 6962 §2.1, the same as Certificate Transparency)::

    empty tree   MTH({})   = SHA-256("")
    leaf         leaf_hash = SHA-256(0x00 || leaf data)
    inner node   node_hash = SHA-256(0x01 || left || right)

The 0x00/0x01 prefixes keep a leaf from ever being passed off as an inner node (second-preimage
resistance). The tree is built level by level: hash pairs left to right and carry an odd last node
up unchanged. That yields exactly RFC 6962's MTH (split at the largest power of two below n), with
one ``hashlib`` call per node and no per-node Python objects.

Error policy:
- builders (:func:`root`, :func:`inclusion_proof`, :func:`consistency_proof`) raise ``ValueError``
  for an index or size out of range: that is the caller's bug;
- verifiers (:func:`verify_inclusion`, :func:`verify_inclusion_hash`, :func:`verify_consistency`)
  **never raise**: anything malformed (wrong types, wrong hash lengths, wrong sizes, a tampered or
  truncated proof) returns ``False``. Auditors feed them untrusted documents.

Leaves given to the builders and to :func:`verify_inclusion` are the raw leaf *data*; the ``*_hash``
variants take leaf hashes (:func:`leaf_hash`) instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_hashes",
    "inclusion_proof",
    "inclusion_proof_from_hashes",
    "verify_inclusion",
    "verify_inclusion_hash",
    "root_from_inclusion",
    "consistency_proof",
    "consistency_proof_from_hashes",
    "verify_consistency",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return _sha256(_LEAF + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


def _next_level(level: list[bytes]) -> list[bytes]:
    """Hash pairs of one level; an odd last node is carried up unchanged."""
    sha = _sha256
    nxt = [sha(_NODE + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)]
    if len(level) & 1:
        nxt.append(level[-1])
    return nxt


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaves given as leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    sha = _sha256
    return [sha(_LEAF + bytes(x)).digest() for x in leaves]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the raw leaf data ``leaves`` (``EMPTY_ROOT`` when there are none)."""
    return root_from_hashes(_leaf_hashes(leaves))


# --------------------------------------------------------------------------- inclusion


def inclusion_proof_from_hashes(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[n]) over leaves given as leaf hashes, leaf-side sibling first.

    Raises:
        ValueError: ``index`` is not in ``[0, len(hashes))``.
    """
    return _root_and_path(hashes, index)[1]


def _root_and_path(hashes: Sequence[bytes], index: int) -> tuple[bytes, list[bytes]]:
    """The root over leaf ``hashes`` and the audit path of leaf ``index``, in one pass."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} out of range for a tree of {n} leaves")
    proof: list[bytes] = []
    level = list(hashes)
    i = index
    while len(level) > 1:
        sib = i ^ 1
        if sib < len(level):  # no sibling: i is a carried-up odd last node, nothing to add
            proof.append(level[sib])
        level = _next_level(level)
        i >>= 1
    return level[0], proof


def root_and_path(leaves: Sequence[bytes], index: int) -> tuple[bytes, list[bytes]]:
    """``(root(leaves), inclusion_proof(leaves, index))`` in one pass over the tree.

    Raises:
        ValueError: ``index`` is not in ``[0, len(leaves))``.
    """
    return _root_and_path(_leaf_hashes(leaves), index)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of the raw leaf data ``leaves``.

    Raises:
        ValueError: ``index`` is not in ``[0, len(leaves))``.
    """
    return inclusion_proof_from_hashes(_leaf_hashes(leaves), index)


def _is_hash(b: object) -> bool:
    return isinstance(b, bytes) and len(b) == HASH_SIZE


def root_from_inclusion(
    leaf_hash_: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes | None:
    """The root that ``proof`` implies for ``leaf_hash_`` at ``index`` (RFC 9162 §2.1.3.2).

    Returns None (never raises) when the inputs cannot form a valid proof of that shape.
    """
    if type(index) is not int or type(tree_size) is not int or not 0 <= index < tree_size:
        return None
    if not _is_hash(leaf_hash_) or not isinstance(proof, Sequence) or isinstance(proof, bytes):
        return None
    fn, sn = index, tree_size - 1
    r = leaf_hash_
    sha = _sha256
    for p in proof:
        if not _is_hash(p) or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = sha(_NODE + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


# The verifiers' parameters are Any: an auditor passes what a file gave it, and anything but
# the right types answers False (compiled, a typed parameter would raise TypeError instead).
def verify_inclusion_hash(
    leaf_hash_: Any, index: Any, tree_size: Any, proof: Any, root_: Any
) -> bool:
    """True when ``proof`` shows the leaf with hash ``leaf_hash_`` at ``index`` of a tree of
    ``tree_size`` leaves whose root is ``root_``. Never raises."""
    try:
        got = root_from_inclusion(leaf_hash_, index, tree_size, proof)
        return got is not None and _is_hash(root_) and got == root_
    except Exception:  # verifiers never raise on hostile input
        return False


def verify_inclusion(leaf_data: Any, index: Any, tree_size: Any, proof: Any, root_: Any) -> bool:
    """Like :func:`verify_inclusion_hash` but takes the raw leaf data. Never raises."""
    if not isinstance(leaf_data, bytes | bytearray | memoryview):
        return False
    return verify_inclusion_hash(leaf_hash(bytes(leaf_data)), index, tree_size, proof, root_)


# --------------------------------------------------------------------------- consistency


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def consistency_proof_from_hashes(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(m, D[n]) over leaves given as leaf hashes.

    Empty for ``m == 0`` and ``m == n`` (nothing to prove). Costs O(n) hashes.

    Raises:
        ValueError: ``m`` is not in ``[0, n]``.
    """
    n = len(hashes)
    if not 0 <= m <= n:
        raise ValueError(f"old size {m} out of range for a tree of {n} leaves")
    if m == 0 or m == n:
        return []
    # Iterative SUBPROOF(m, D[lo:hi], b): each step appends one subtree root; the recursion's
    # output order is innermost first, so collect outside-in and reverse.
    out: list[bytes] = []
    lo, hi, complete = 0, n, True
    while m != hi - lo:
        k = _largest_pow2_below(hi - lo)
        if m <= k:
            out.append(root_from_hashes(hashes[lo + k : hi]))
            hi = lo + k
        else:
            out.append(root_from_hashes(hashes[lo : lo + k]))
            m -= k
            lo += k
            complete = False
    if not complete:
        out.append(root_from_hashes(hashes[lo:hi]))
    out.reverse()
    return out


def consistency_proof(leaves: Sequence[bytes], m: int) -> list[bytes]:
    """Proof that the tree of the first ``m`` leaves is a prefix of the tree of all ``leaves``.

    Raises:
        ValueError: ``m`` is not in ``[0, len(leaves)]``.
    """
    return consistency_proof_from_hashes(_leaf_hashes(leaves), m)


def _verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes,
                        proof: Sequence[bytes]) -> bool:
    if type(m) is not int or type(n) is not int or not 0 <= m <= n:
        return False
    if not _is_hash(old_root) or not _is_hash(new_root):
        return False
    if isinstance(proof, bytes) or not isinstance(proof, Sequence):
        return False
    path = list(proof)
    if not all(_is_hash(p) for p in path):
        return False
    if m == 0:  # the empty tree is a prefix of every tree
        return not path and old_root == EMPTY_ROOT
    if m == n:
        return not path and old_root == new_root
    # RFC 9162 §2.1.4.2
    if not path:
        return False
    if m & (m - 1) == 0:  # m is an exact power of two: old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sha = _sha256
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(_NODE + c + fr).digest()
            sr = sha(_NODE + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def verify_consistency(m: Any, n: Any, old_root: Any, new_root: Any, proof: Any) -> bool:
    """True when ``proof`` shows the tree of size ``m`` with root ``old_root`` is a prefix of the
    tree of size ``n`` with root ``new_root`` (RFC 9162 §2.1.4.2). Never raises.

    ``m == 0`` needs an empty proof and ``old_root == EMPTY_ROOT``; ``m == n`` needs an empty proof
    and equal roots.
    """
    try:
        return _verify_consistency(m, n, old_root, new_root, proof)
    except Exception:  # verifiers never raise on hostile input
        return False
