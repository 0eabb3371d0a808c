"""Build the stored state tree of a snapshot straight from its verified chunks.

A joining node used to verify a chunk (hash its region's subtree, fold the siblings in, compare
with the certified root) and then feed the same entries to ``SparseMerkleTree.update``, which
hashed the region a second time, and, chunk after chunk, read back and rewrote the pages above
the regions. Here the verification *is* the build: :func:`build_region` hashes the region's
subtree once and, while it does, makes the records the tree stores for it (the leaves and every
page whose root lies inside the region); :func:`assemble_top` builds the few pages above the
regions at the end from each region's (hash, kind) and its topmost nodes.

The records are byte for byte those ``chainfin.smt`` writes for the same key/value set (leaves
that hold their values, pages of four levels: see its module docstring for the format): the
stored tree's shape and hashes are functions of the key/value set alone, and the tests compare
the two record sets. Pure code: no IO; a region may be built in a worker process.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chainfin.errors import InvalidMessage
from chainfin.smt import _DLEAF as DLEAF_TAG
from chainfin.smt_verify import EMPTY, LEAF_TAG, NODE_TAG
from chainfin.snapshot import S_EMPTY, S_LEAF, S_NODE, Chunk, fold_siblings, region_leaves

__all__ = ["K_EMPTY", "K_LEAF", "K_NODE", "Region", "RegionBuild", "assemble_top",
           "build_region", "verify_build_region"]

#: kinds of a subtree, as a page's slot codes (``chainfin.smt``): empty, leaf, internal node
K_EMPTY, K_LEAF, K_NODE = 1, 2, 3
_PAGE = b"\x04"
_sha256 = hashlib.sha256
# (left hash, left kind, right hash, right kind) of an internal node, by its hash
_Built = dict[bytes, tuple[bytes, int, bytes, int]]
_TO_SIBLING_KIND = {K_EMPTY: S_EMPTY, K_LEAF: S_LEAF, K_NODE: S_NODE}


@dataclass(frozen=True, slots=True)
class Region:
    """What the top of the tree needs of a built region: where it is, its subtree's (hash, kind)
    and its internal nodes above the next page boundary (depths ``depth`` .. next multiple of 4,
    exclusive), which sit in a page whose root lies above the region."""

    start: int
    depth: int
    hash: bytes
    kind: int
    upper: tuple[tuple[bytes, bytes, int, bytes, int], ...]


@dataclass(frozen=True, slots=True)
class RegionBuild:
    """A verified region: its summary, its storage keys' hashes (entry order) and the tree
    records to store (hash -> record: its leaves and the pages rooted inside it)."""

    region: Region
    key_hashes: tuple[bytes, ...]
    records: dict[bytes, bytes]


def _page_record(root: bytes, built: _Built) -> bytes:
    """The page record of the internal node ``root`` whose nodes down to the page's frontier are
    all in ``built`` (``chainfin.smt``'s page format). Walked level by level, so the hashes come
    out in slot order and a sparse page (most are) costs a few steps, not 30."""
    kinds = 0
    parts: list[bytes] = []
    level = [(1, root)]  # the page's internal nodes at one depth: (slot, hash)
    for _ in range(4):
        below = []
        for s, h in level:
            lh, lk, rh, rk = built[h]
            c = 2 * s
            kinds |= lk << (2 * c - 4) | rk << (2 * c - 2)
            if lk >= K_LEAF:
                parts.append(lh)
                if lk == K_NODE:
                    below.append((c, lh))
            if rk >= K_LEAF:
                parts.append(rh)
                if rk == K_NODE:
                    below.append((c + 1, rh))
        if not below:
            break
        level = below
    return _PAGE + kinds.to_bytes(8, "little") + b"".join(parts)


class _Builder:
    """The recursion over a sorted run of leaves: node hashes, the ``built`` table the pages are
    encoded from, and the record of every page root it passes (depth a multiple of 4)."""

    __slots__ = ("ints", "hashes", "built", "records")

    def __init__(self, ints: list[int], hashes: list[bytes], records: dict[bytes, bytes]) -> None:
        self.ints = ints
        self.hashes = hashes
        self.built: _Built = {}
        self.records = records

    def build(self, depth: int, lo: int, hi: int) -> tuple[bytes, int]:
        n = hi - lo
        if n == 0:
            return EMPTY, K_EMPTY
        if n == 1:
            return self.hashes[lo], K_LEAF
        ints = self.ints
        shift = 256 - depth
        t = ((ints[lo] >> shift) << shift) | (1 << (shift - 1))
        mid = bisect_left(ints, t, lo, hi)
        lh, lk = self.build(depth + 1, lo, mid)
        rh, rk = self.build(depth + 1, mid, hi)
        if lk == K_EMPTY and rk != K_NODE:
            return rh, rk  # all leaves on one side: a lone leaf never happens here (n >= 2)
        if rk == K_EMPTY and lk != K_NODE:
            return lh, lk
        h = _sha256(NODE_TAG + lh + rh).digest()
        self.built[h] = (lh, lk, rh, rk)
        if not depth & 3:
            self.records[h] = _page_record(h, self.built)
        return h, K_NODE


def _ceil4(d: int) -> int:
    return (d + 3) & ~3


def build_region(c: Chunk, digest_leaves: bool = False) -> RegionBuild:
    """Hash the chunk's region and make its records (not yet checked against any root: see
    :func:`verify_build_region`). ``digest_leaves``: leaf records hold the value's hash, not
    the value (``chainfin.smt``'s 0x05 records; the ledger's default, decision 93).

    Raises:
        InvalidMessage: an entry lies outside the region, or the entries are not in strictly
            increasing key-hash order (two entries with one key among them).
    """
    ints: list[int] = []
    hashes: list[bytes] = []
    khs: list[bytes] = []
    records: dict[bytes, bytes] = {}
    for k, kh, value, vh, lh in region_leaves(c):
        records[lh] = DLEAF_TAG + kh + vh if digest_leaves else LEAF_TAG + kh + value
        ints.append(k)
        hashes.append(lh)
        khs.append(kh)
    b = _Builder(ints, hashes, records)
    h, kind = b.build(c.depth, 0, len(ints))
    upper = _upper_nodes(h, kind, c.depth, b.built)
    return RegionBuild(Region(c.start, c.depth, h, kind, upper), tuple(khs), records)


def _upper_nodes(h: bytes, kind: int, depth: int, built: _Built
                 ) -> tuple[tuple[bytes, bytes, int, bytes, int], ...]:
    """The region's internal nodes at depths ``depth`` .. the next multiple of 4 (exclusive):
    the page above the region holds them."""
    out = []
    todo = [(h, kind, depth)]
    stop = _ceil4(depth)
    while todo:
        h, kind, d = todo.pop()
        if kind != K_NODE or d >= stop:
            continue
        lh, lk, rh, rk = built[h]
        out.append((h, lh, lk, rh, rk))
        todo.append((lh, lk, d + 1))
        todo.append((rh, rk, d + 1))
    return tuple(out)


def verify_build_region(state_root: bytes, c: Chunk, digest_leaves: bool = False) -> RegionBuild:
    """:func:`build_region`, then the check that the chunk hashes to the (certified)
    ``state_root``: nothing of a chunk that fails is returned.

    Raises:
        InvalidMessage: the chunk does not hash to ``state_root`` (or is malformed).
    """
    rb = build_region(c, digest_leaves)
    r = rb.region
    if fold_siblings(c, r.hash, _TO_SIBLING_KIND[r.kind]) != state_root:
        raise InvalidMessage(f"chunk {c.prefix}/{c.depth} of height {c.height} does not hash to "
                             "the certified state root")
    return rb


def assemble_top(regions: Iterable[Region]) -> tuple[bytes, dict[bytes, bytes]]:
    """The root of the tree whose regions are ``regions`` (in key-hash order, tiling the whole
    key space) and the page records above them (pages whose root lies above a region).

    Raises:
        InvalidMessage: the regions do not tile the key space.
    """
    rs = sorted(regions, key=lambda r: r.start)
    pos = 0
    for r in rs:
        if r.start != pos or not 0 <= r.depth <= 256:
            raise InvalidMessage("the installed regions do not tile the key space")
        pos = r.start + (1 << (256 - r.depth))
    if pos != 1 << 256:
        raise InvalidMessage("the installed regions do not cover the key space")
    built: _Built = {}
    for r in rs:
        for h, lh, lk, rh, rk in r.upper:
            built[h] = (lh, lk, rh, rk)
    records: dict[bytes, bytes] = {}
    starts = [r.start for r in rs]
    h, _ = _top(rs, starts, 0, len(rs), 0, built, records)
    return h, records


def _top(rs: Sequence[Region], starts: list[int], lo: int, hi: int, depth: int, built: _Built,
         records: dict[bytes, bytes]) -> tuple[bytes, int]:
    """(hash, kind) of the subtree at ``depth`` made of the regions rs[lo:hi]."""
    if hi - lo == 1 and rs[lo].depth == depth:
        return rs[lo].hash, rs[lo].kind
    shift = 256 - depth
    mid = bisect_left(starts, ((starts[lo] >> shift) << shift) | (1 << (shift - 1)), lo, hi)
    lh, lk = _top(rs, starts, lo, mid, depth + 1, built, records)
    rh, rk = _top(rs, starts, mid, hi, depth + 1, built, records)
    if lk == K_EMPTY and rk != K_NODE:
        return rh, rk  # (EMPTY, EMPTY) -> EMPTY; (EMPTY, leaf) -> the leaf moves up
    if rk == K_EMPTY and lk != K_NODE:
        return lh, lk
    h = _sha256(NODE_TAG + lh + rh).digest()
    built[h] = (lh, lk, rh, rk)
    if not depth & 3:
        records[h] = _page_record(h, built)
    return h, K_NODE


class RegionRoot:
    """The root of a state fed in key-hash order, a region of ``depth`` bits at a time with
    :func:`build_region`, so memory holds one region, not the whole tree: the ledger's rebuild
    of its tree at open and a backup's check use it. ``on_records`` receives each region's
    tree records as it is built (None: not kept)."""

    def __init__(self, height: int, depth: int, digest_leaves: bool,
                 on_records: Callable[[dict[bytes, bytes]], None] | None = None) -> None:
        self.height, self.depth, self.digest_leaves = height, depth, digest_leaves
        self.on_records = on_records
        self.regions: list[Region] = []
        self.bucket: list[tuple[bytes, bytes, bytes]] = []
        self.cur = 0
        self.keys = 0

    def _close(self) -> None:
        self.bucket.sort()
        c = Chunk(self.height, self.cur, self.depth, (), tuple((k, v) for _, k, v in self.bucket))
        rb = build_region(c, self.digest_leaves)
        self.regions.append(rb.region)
        if self.on_records is not None:
            self.on_records(rb.records)
        self.bucket = []
        self.cur += 1

    def add(self, key_hash: bytes, key: bytes, value: bytes) -> None:
        """The next entry (``key_hash`` = SHA-256 of ``key``), in key-hash order."""
        p = int.from_bytes(key_hash[:4], "big") >> (32 - self.depth)
        while self.cur < p:
            self._close()
        self.bucket.append((key_hash, key, value))
        self.keys += 1

    def finish(self) -> tuple[bytes, dict[bytes, bytes]]:
        """The root and the records above the regions.

        Raises:
            InvalidMessage: the entries were not in key-hash order."""
        while self.cur < 1 << self.depth:
            self._close()
        return assemble_top(self.regions)

