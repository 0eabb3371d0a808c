"""State snapshots in chunks, each verifiable on its own against a certified state root.

A chunk is the part of the state whose key hashes (``SHA-256(storage key)``, the state tree's
paths) start with a ``depth``-bit ``prefix``: every (storage key, value) in that region, plus the
``depth`` siblings along the prefix's path from the root. The verifier computes the region's
compact subtree from the entries, folds the siblings in up to the root, and compares with the
state root of a certified header. A chunk that checks out holds exactly the state of its region:
nothing left out, nothing added, nothing changed (collision resistance of SHA-256; the argument
is in docs/decisions.md, entry 76).

Siblings on the wire, root side last (index 0 is the sibling at depth 1)::

    [0]                       an empty subtree
    [1, key_hash, value_hash] a subtree that is one leaf (the verifier hashes it itself and checks
                              that the key hash lies in that sibling's region)
    [3, node_hash]            a subtree with two or more keys

A leaf sibling is given by its key hash, not its hash: the compact tree moves a lone leaf up past
empty siblings, so the verifier must know the sibling is a leaf *and where its key lies*, or a
server could present a node that holds this region's keys as a "leaf" of the next region.

Pure code: no IO. The node serves chunks from ``SparseMerkleTree.chunk`` (``chainfin.smt``) and
installs them with ``node.statesync``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chainfin import codec
from chainfin.errors import ChainfinError, InvalidMessage
from chainfin.smt_verify import EMPTY, LEAF_TAG, NODE_TAG
from chainfin.types import Block, BlockHeader, CommitCertificate, ValidatorSet

__all__ = ["MAX_CHUNK_BYTES", "MAX_CHUNK_DEPTH", "MAX_CHUNK_ENTRIES", "Chunk", "Sibling",
           "SetChangeBlock", "decode_chunk", "encode_chunk", "fold_siblings", "region_end",
           "verify_chunk",
           "verify_snapshot_header"]

#: a chunk holds at most this many entries ...
MAX_CHUNK_ENTRIES = 4096
#: ... and at most this many bytes of keys and values (unless it is a single entry); a server
#: refuses a region above either bound and the client asks for its two halves
MAX_CHUNK_BYTES = 1 << 20
#: regions are at most this deep (2^32 regions: far beyond any state that fits a node)
MAX_CHUNK_DEPTH = 32

S_EMPTY, S_LEAF, S_NODE = 0, 1, 3

_sha256 = hashlib.sha256

#: a sibling: (kind, hash or key hash, value hash for a leaf else b"")
Sibling = tuple[int, bytes, bytes]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One region of the state at ``height``: ``prefix`` (an int below 2**depth) of ``depth``
    bits, the siblings along its path (index j - 1 = the sibling at depth j) and the region's
    (storage key, value) entries in key-hash order."""

    height: int
    prefix: int
    depth: int
    siblings: tuple[Sibling, ...]
    entries: tuple[tuple[bytes, bytes], ...]

    @property
    def start(self) -> int:
        """The first 256-bit key-hash position of the region."""
        return self.prefix << (256 - self.depth)


def region_end(prefix: int, depth: int) -> int:
    """One past the last 256-bit key-hash position of the region (2**256 for the last one)."""
    return (prefix + 1) << (256 - depth)


def encode_chunk(c: Chunk) -> bytes:
    """The chunk's canonical encoding (``codec.encode``'s bytes). Packed directly, its map keys
    inserted in sorted order: the canonical re-walk of thousands of entries cost a server ~15 %
    of its time per chunk, and every value here is bytes or a small int already."""
    sibs: list[list[Any]] = []
    for kind, a, b in c.siblings:
        sibs.append([S_EMPTY] if kind == S_EMPTY else [kind, a, b] if kind == S_LEAF else [kind, a])
    if not 0 <= c.height < 1 << 63:
        raise InvalidMessage("chunk: height out of range")
    return codec.encode_local({"depth": c.depth, "entries": [[k, v] for k, v in c.entries],
                               "height": c.height, "prefix": c.prefix, "siblings": sibs})


def _b32(v: Any, what: str) -> bytes:
    if type(v) is not bytes or len(v) != 32:
        raise InvalidMessage(f"chunk: {what} is not 32 bytes")
    return v


def decode_chunk(raw: bytes) -> Chunk:
    """Parse a chunk's wire form (shape and sizes only; :func:`verify_chunk` checks content).

    Raises:
        InvalidMessage: not a well-formed chunk.
    """
    try:
        d = codec.decode(raw)
    except ChainfinError as e:
        raise InvalidMessage(f"chunk does not decode: {e}") from e
    if not isinstance(d, dict) or set(d) != {"height", "prefix", "depth", "siblings", "entries"}:
        raise InvalidMessage("chunk: wrong fields")
    height, prefix, depth = d["height"], d["prefix"], d["depth"]
    if type(height) is not int or height < 0 or type(depth) is not int \
            or not 0 <= depth <= MAX_CHUNK_DEPTH or type(prefix) is not int \
            or not 0 <= prefix < 1 << depth:
        raise InvalidMessage("chunk: bad height, depth or prefix")
    sibs_in, ents_in = d["siblings"], d["entries"]
    if not isinstance(sibs_in, list) or len(sibs_in) != depth:
        raise InvalidMessage("chunk: needs one sibling per level of its depth")
    if not isinstance(ents_in, list) or len(ents_in) > MAX_CHUNK_ENTRIES:
        raise InvalidMessage(f"chunk: entries must be a list of at most {MAX_CHUNK_ENTRIES}")
    sibs: list[Sibling] = []
    for s in sibs_in:
        if not isinstance(s, list) or not s or s[0] not in (S_EMPTY, S_LEAF, S_NODE):
            raise InvalidMessage("chunk: bad sibling")
        if s[0] == S_EMPTY and len(s) == 1:
            sibs.append((S_EMPTY, EMPTY, b""))
        elif s[0] == S_LEAF and len(s) == 3:
            sibs.append((S_LEAF, _b32(s[1], "a leaf sibling's key hash"),
                         _b32(s[2], "a leaf sibling's value hash")))
        elif s[0] == S_NODE and len(s) == 2:
            h = _b32(s[1], "a node sibling")
            if h == EMPTY:
                raise InvalidMessage("chunk: a node sibling with the empty hash")
            sibs.append((S_NODE, h, b""))
        else:
            raise InvalidMessage("chunk: bad sibling")
    ents: list[tuple[bytes, bytes]] = []
    for ent in ents_in:
        if not isinstance(ent, list) or len(ent) != 2 or type(ent[0]) is not bytes \
                or type(ent[1]) is not bytes:
            raise InvalidMessage("chunk: an entry is not [key bytes, value bytes]")
        ents.append((ent[0], ent[1]))
    return Chunk(height, prefix, depth, tuple(sibs), tuple(ents))


# (key hash as int, leaf hash)
_Leaf = tuple[int, bytes]


def _subtree(depth: int, leaves: Sequence[_Leaf]) -> tuple[bytes, int]:
    """(hash, kind) of the compact subtree at ``depth`` over the sorted ``leaves`` (all in its
    region): EMPTY, a lone leaf (it sits as high as it can), or an internal node."""
    n = len(leaves)
    if n == 0:
        return EMPTY, S_EMPTY
    if n == 1:
        return leaves[0][1], S_LEAF
    shift = 256 - depth
    t = ((leaves[0][0] >> shift) << shift) | (1 << (shift - 1))
    mid = bisect_left(leaves, (t,))
    lh, _ = _subtree(depth + 1, leaves[:mid])
    rh, _ = _subtree(depth + 1, leaves[mid:])
    return _sha256(NODE_TAG + lh + rh).digest(), S_NODE


def chunk_root(c: Chunk) -> bytes:
    """The state root that the chunk's entries and siblings hash to.

    Raises:
        InvalidMessage: an entry or a leaf sibling lies outside its region, or two entries
            have one key, or the entries are not in key-hash order.
    """
    leaves: list[_Leaf] = [(k, lh) for k, _, _, _, lh in region_leaves(c)]
    h, kind = _subtree(c.depth, leaves)
    return fold_siblings(c, h, kind)


def fold_siblings(c: Chunk, h: bytes, kind: int) -> bytes:
    """The root that the region's subtree (``h``, of sibling kind ``kind``: S_EMPTY, S_LEAF or
    S_NODE) hashes to with the chunk's siblings.

    Raises:
        InvalidMessage: a leaf sibling lies outside its region.
    """
    # fold the siblings in, deepest first; the compact shape: an empty subtree next to a leaf
    # (or to another empty one) is not a node: the leaf (or the empty subtree) moves up
    for j in range(c.depth, 0, -1):
        skind, a, b = c.siblings[j - 1]
        bit = (c.prefix >> (c.depth - j)) & 1  # 1: our path goes right at depth j
        if skind == S_LEAF:
            side = (c.prefix >> (c.depth - j + 1)) << 1 | (bit ^ 1)  # the sibling's j-bit prefix
            if int.from_bytes(a, "big") >> (256 - j) != side:
                raise InvalidMessage("chunk: a leaf sibling's key lies outside its region")
            sh = _sha256(LEAF_TAG + a + b).digest()
        else:
            sh = a
        if kind == S_EMPTY and skind != S_NODE:
            h, kind = sh, skind  # (EMPTY, EMPTY) -> EMPTY; (EMPTY, leaf) -> the leaf
            continue
        if skind == S_EMPTY and kind == S_LEAF:
            continue  # the leaf moves up
        h = _sha256(NODE_TAG + (sh + h if bit else h + sh)).digest()
        kind = S_NODE
    return h


def region_leaves(c: Chunk) -> Iterator[tuple[int, bytes, bytes, bytes, bytes]]:
    """The chunk's entries as (key hash as int, key hash, value, value hash, leaf hash), each
    checked to lie
    in the chunk's region and to follow the one before in strictly increasing key-hash order
    (so no key twice): what both the verifier and the tree builder (``chainfin.snapshot_tree``)
    hash.

    Raises:
        InvalidMessage: an entry outside the region, or out of order.
    """
    shift = 256 - c.depth
    last = -1
    for key, value in c.entries:
        kh = _sha256(key).digest()
        k = int.from_bytes(kh, "big")
        if k >> shift != c.prefix:
            raise InvalidMessage("chunk: an entry's key lies outside the chunk's region")
        if k <= last:
            raise InvalidMessage("chunk: entries not in strictly increasing key-hash order")
        last = k
        vh = _sha256(value).digest()
        yield k, kh, value, vh, _sha256(LEAF_TAG + kh + vh).digest()


def verify_chunk(state_root: bytes, c: Chunk) -> None:
    """Check ``c`` against the (certified) ``state_root`` of its height.

    Raises:
        InvalidMessage: the chunk does not hash to ``state_root`` (or is malformed).
    """
    if chunk_root(c) != state_root:
        raise InvalidMessage(f"chunk {c.prefix}/{c.depth} of height {c.height} does not hash to "
                             "the certified state root")


# --------------------------------------------------------------------------- the header


@dataclass(frozen=True, slots=True)
class SetChangeBlock:
    """A certified block that changed the validator set, whole (a joining node stores it), and
    the members it set (``chainfin.proofs.SetChange`` is the same change with the header only,
    as proofs carry it)."""

    block: Block
    cert: CommitCertificate
    members: ValidatorSet


def verify_snapshot_header(chain_id: str, genesis_set: ValidatorSet,
                           changes: Sequence[SetChangeBlock], block: Block,
                           cert: CommitCertificate) -> ValidatorSet:
    """Check the certificate of the snapshot's block against the validator set derived from
    ``genesis_set`` through the certified ``changes`` (in height order, every change below the
    snapshot's height, and the one at it if any), never a set the server names (TRAPS #12).
    Returns the set in force after the block (the one that certifies the next block).

    A change the server leaves out is caught: the next header's ``validators_hash`` (each header
    commits to the set that certifies it) then differs from the set derived here.

    Raises:
        InvalidMessage: a certificate, a header or a member list does not check out.
    """
    vs = genesis_set
    last = 0
    header: BlockHeader
    for ch in changes:
        header = ch.block.header
        if header.height <= last or header.height > block.height:
            raise InvalidMessage("set changes out of order or above the snapshot")
        last = header.height
        _check_certified(chain_id, vs, ch.block, ch.cert)
        if header.next_validators_hash != ch.members.hash() \
                or header.next_validators_hash == header.validators_hash:
            raise InvalidMessage(f"block {header.height} did not set these validators")
        if header.height == block.height:
            if ch.block.hash() != block.hash():
                raise InvalidMessage("the snapshot's block and its set change differ")
            return ch.members
        vs = ch.members
    _check_certified(chain_id, vs, block, cert)
    if block.header.next_validators_hash != vs.hash():
        raise InvalidMessage(f"block {block.height} changes the validator set: its change is "
                             "missing")
    return vs


def _check_certified(chain_id: str, vs: ValidatorSet, block: Block,
                     cert: CommitCertificate) -> None:
    h = block.header
    if h.chain_id != chain_id:
        raise InvalidMessage("block of another chain")
    if h.validators_hash != vs.hash():
        raise InvalidMessage(f"block {h.height} names a validator set other than the one "
                             "derived from genesis and the certified changes")
    if cert.block_hash != block.hash() or cert.height != h.height:
        raise InvalidMessage(f"certificate is not for block {h.height}")
    cert.verify(vs, chain_id)
