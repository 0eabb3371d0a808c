"""The state tree's batch update (:meth:`chainfin.smt.SparseMerkleTree.update`): the recursion
over the changed paths and the writing of the changed pages. Split from :mod:`chainfin.smt`
(which was at its 900-line limit), whose page format, records and hashing it uses unchanged.

Where its time goes (``python -m testnet.smt_bench``, 90 changed keys into a 100,000-key tree,
~30 us per changed key on the reference machine): writing the changed pages ~10 us (a third:
~2.8 pages per key, and a page whose shape changes, one per new key, is re-encoded at ~8 us),
the walk down and back up the key's path ~10 us, SHA-256 ~4.5 us (~10 node hashes per key at
~0.45 us), checking the pages read ~2 us, the new leaf ~1 us. A cache of the pages and leaf
keys the previous updates wrote (so the next block reads them without the reader and the page
check) cut the reads per changed key from 3.6 to 1.0 and saved no measurable CPU, so it is not
here (decision 86).

``chainfin/_smt_fast.c`` is this module again in C, step for step (the same reads, roots and
records); :meth:`SparseMerkleTree.update` runs it when it is built
(:func:`chainfin.compiled.c_tree_update`) and runs this where it declines (a missing or damaged
record). A change here is a change there.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from chainfin.errors import StorageError
from chainfin.smt import (
    _ABSENT,
    _EMPTY_K,
    _LEAF_K,
    _NODE_K,
    _NODE_SHA,
    _bad,
    _encode_page,
    _is_leaf,
    _leaf_record,
    _Nav,
    _page_nav,
)
from chainfin.smt_verify import EMPTY, MAX_DEPTH

if TYPE_CHECKING:
    from chainfin.smt import SparseMerkleTree

__all__ = ["run_update"]

# Nodes of subtrees built from scratch by an update: hash -> (left, left kind, right, right kind)
_Built = dict[bytes, tuple[bytes, int, bytes, int]]
# What an update changed in an existing page: first a flag, True once a slot changed kind (the
# page's shape changed), then (offset of the slot's old hash, slot, new code, new hash) per change
_Patches = list[Any]


def _page_new(root: bytes, built: _Built) -> bytes:
    """The page of a node of a subtree built from scratch (its nodes are all in ``built``)."""
    ks = [0] * 32
    hs = [EMPTY] * 32
    ks[1] = _NODE_K
    hs[1] = root
    for s in range(1, 16):
        if ks[s] == _NODE_K:
            c = 2 * s
            hs[c], ks[c], hs[c + 1], ks[c + 1] = built[hs[s]]
    return _encode_page(ks, hs)


def _page_reshaped(rec: bytes, nav: _Nav, patches: _Patches, built: _Built) -> bytes:
    """The new version of the page (rec, nav) after changes that altered its shape: the old
    slots, overwritten by ``patches``; slots under a slot that is no longer a node dropped; the
    slots under a node of a newly built subtree taken from ``built``."""
    ks = list(nav[:32])
    hs = [EMPTY] * 32
    for s in range(2, 32):
        if ks[s] >= _LEAF_K:
            o = 9 + (nav[32 + s] << 5)
            hs[s] = rec[o:o + 32]
    for i in range(1, len(patches)):
        _, s, c, x = patches[i]  # (not `_, s, ks[s], hs[s] = ...`: mypyc indexes with the old s)
        ks[s] = c
        hs[s] = x
    for s in range(2, 16):
        c = 2 * s
        if ks[s] != _NODE_K:
            ks[c] = ks[c + 1] = _ABSENT
        else:
            b = built.get(hs[s])
            if b is not None:
                hs[c], ks[c], hs[c + 1], ks[c + 1] = b
    return _encode_page(ks, hs)



class _Update:
    """One :meth:`SparseMerkleTree.update`: the binary recursion over the changed paths, reading
    nodes out of the pages it passes through, and writing each changed page once the new version
    of its root is known. (Methods, not closures: CPython specialises calls to a function object it
    has seen before, and a closure would be a new one per update.)"""

    __slots__ = ("tree", "get", "entries", "ints", "out", "built")

    def __init__(self, tree: SparseMerkleTree, entries: list[tuple[int, bytes, bytes | None]]):
        self.tree = tree
        self.get = tree.nodes.get
        self.entries = entries  # the changes, sorted: (key hash as int, key hash, value or None)
        self.ints = [e[0] for e in entries]
        self.out: dict[bytes, bytes] = {}  # records to write: new leaves and new pages
        self.built: _Built = {}  # nodes of subtrees built from scratch

    def page(self, h: bytes, depth: int) -> tuple[bytes, _Nav]:
        if depth >= MAX_DEPTH:
            raise _bad(h, f"a page root at depth {depth}")
        rec = self.get(h)
        if rec is None:
            raise StorageError(f"SMT node {h.hex()} is missing (a root that was never stored, "
                               "or a damaged store)")
        return rec, _page_nav(h, rec)

    def present(self, lo: int, hi: int) -> list[tuple[int, bytes, bytes | None, bytes | None]]:
        """entries[lo:hi] that set a value (not deletes), in :meth:`build`'s form: subtrees built
        from scratch (an empty subtree or a leaf replaced by several keys) hold only these."""
        return [(e[0], e[1], e[2], None) for e in self.entries[lo:hi] if e[2] is not None]

    def build(
        self, depth: int, todo: list[tuple[int, bytes, bytes | None, bytes | None]]
    ) -> tuple[bytes, int]:
        """Subtree at ``depth`` of the given (sorted) present entries: (int, key hash, value,
        known leaf hash)."""
        n = len(todo)
        if n == 0:
            return EMPTY, _EMPTY_K
        if n == 1:
            _, kh, value, known = todo[0]
            if known is not None:
                return known, _LEAF_K
            assert value is not None
            h, rec = _leaf_record(kh, value, self.tree.digest_leaves)
            self.out[h] = rec
            return h, _LEAF_K
        assert depth < MAX_DEPTH, "two entries with one key hash"
        shift = 256 - depth
        t = ((todo[0][0] >> shift) << shift) | (1 << (shift - 1))
        mid = bisect_left(todo, (t,))
        lh, lk = self.build(depth + 1, todo[:mid])
        rh, rk = self.build(depth + 1, todo[mid:])
        h = _node(lh, rh)
        self.built[h] = (lh, lk, rh, rk)
        if not depth & 3:  # a page root: its page is complete
            self.out[h] = _page_new(h, self.built)
        return h, _NODE_K

    def emit(self, h: bytes, rec: bytes, nav: _Nav, patches: _Patches) -> None:
        """Write the new version, rooted at the new node ``h``, of the page (rec, nav) given what
        changed in it."""
        if patches[0]:
            self.out[h] = _page_reshaped(rec, nav, patches, self.built)
            return
        # the same shape: the old record with the new hashes written over the old ones
        del patches[0]
        patches.sort(reverse=True)  # (by offset, last first)
        parts = []
        end = len(rec)
        for o, _, _, x in patches:
            parts.append(rec[o + 32:end])
            parts.append(x)
            end = o
        parts.append(rec[:end])
        parts.reverse()
        self.out[h] = b"".join(parts)

    def upd(
        self, h: bytes, kind: int, depth: int, lo: int, hi: int,
        rec: bytes, nav: _Nav, s: int, patches: _Patches,
    ) -> tuple[bytes, int]:
        """New (hash, kind) of the subtree ``h`` (a leaf or a node) at ``depth`` after the changes
        entries[lo:hi] (lo < hi). A node sits in slot ``s`` of the checked page (rec, nav) and
        notes how it changes its children in that page's ``patches``; ``s == 0``: it is the root
        of a page not loaded yet."""
        ints = self.ints
        if kind == _LEAF_K:
            okh = self.tree._leaf(h)[1:33]
            todo = self.present(lo, hi)
            ok = int.from_bytes(okh, "big")
            i = bisect_left(ints, ok, lo, hi)
            if i == hi or ints[i] != ok:  # the existing leaf is not touched: keep it as it is
                todo.append((ok, okh, None, h))
                todo.sort(key=_first)
            return self.build(depth, todo)
        if s == 0:
            rec, nav = self.page(h, depth)
            s = 1
            patches = [False]
        shift = 256 - depth
        mid = bisect_left(ints, ((ints[lo] >> shift) << shift) | (1 << (shift - 1)), lo, hi)
        ls = 2 * s
        lc = nav[ls]
        rc = nav[ls + 1]
        lo_ = 9 + (nav[32 + ls] << 5)  # offsets of the children's hashes (if they have one)
        ro = 9 + (nav[33 + ls] << 5)
        left = rec[lo_:lo_ + 32] if lc >= _LEAF_K else EMPTY
        right = rec[ro:ro + 32] if rc >= _LEAF_K else EMPTY
        cs = ls if ls < 16 else 0  # the children's slot in this page, or 0: in a page below
        if lo == mid:
            nl, lk = left, lc
        elif lc == _EMPTY_K:
            nl, lk = self.build(depth + 1, self.present(lo, mid))
        elif mid - lo == 1:
            nl, lk = self.upd1(left, lc, depth + 1, lo, rec, nav, cs, patches)
        else:
            nl, lk = self.upd(left, lc, depth + 1, lo, mid, rec, nav, cs, patches)
        if mid == hi:
            nr, rk = right, rc
        elif rc == _EMPTY_K:
            nr, rk = self.build(depth + 1, self.present(mid, hi))
        elif hi - mid == 1:
            nr, rk = self.upd1(right, rc, depth + 1, mid, rec, nav, cs and cs + 1, patches)
        else:
            nr, rk = self.upd(right, rc, depth + 1, mid, hi, rec, nav, cs and cs + 1, patches)
        if nl == left and nr == right:
            return h, _NODE_K
        # parent of the two new subtrees, keeping the compact shape: a lone leaf moves up, and an
        # internal node never has two empty children or one empty child and a leaf
        if nl == EMPTY:
            if nr == EMPTY:
                return EMPTY, _EMPTY_K
            if rk == _LEAF_K:
                return nr, _LEAF_K
        elif nr == EMPTY and lk == _LEAF_K:
            return nl, _LEAF_K
        n = _node(nl, nr)
        if nl != left:
            patches.append((lo_, ls, lk, nl))
        if nr != right:
            patches.append((ro, ls + 1, rk, nr))
        if lk != lc or rk != rc:
            patches[0] = True  # the page changes shape
        if s == 1:  # a page root: its page is complete
            self.emit(n, rec, nav, patches)
        return n, _NODE_K

    def upd1(
        self, h: bytes, kind: int, depth: int, i: int,
        rec: bytes, nav: _Nav, s: int, patches: _Patches,
    ) -> tuple[bytes, int]:
        """:meth:`upd` for a single change, entries[i]: the same result without the recursion and
        its bisections (down the key's path, then back up re-hashing). Most of an update's nodes
        are on paths that only one change follows."""
        k, kh, value = self.entries[i]
        top, top_kind = h, kind
        # the nodes passed: (page, nav, slot, the page's patches, child's slot, offset of its hash,
        # its old code, sibling, sibling's code)
        path = []
        get = self.get
        while kind == _NODE_K:
            if s == 0:
                if depth >= MAX_DEPTH:
                    raise _bad(h, f"a page root at depth {depth}")
                r = get(h)  # (not into `rec`: compiled, None there would be a TypeError)
                if r is None:
                    rec, nav = self.page(h, depth)  # raises the StorageError
                else:
                    rec = r
                nav = _page_nav(h, rec)
                s = 1
                patches = [False]
            c = 2 * s + ((k >> (255 - depth)) & 1)
            kind = nav[c]
            o = 9 + (nav[32 + c] << 5)
            h = rec[o:o + 32] if kind >= _LEAF_K else EMPTY
            sc = nav[c ^ 1]
            if sc >= _LEAF_K:
                so = 9 + (nav[32 + (c ^ 1)] << 5)
                path.append((rec, nav, s, patches, c, o, kind, rec[so:so + 32], sc))
            else:
                path.append((rec, nav, s, patches, c, o, kind, EMPTY, sc))
            s = c if c < 16 else 0
            depth += 1
        # where the key's path ends: an empty subtree or a leaf
        if kind == _EMPTY_K:
            if value is None:
                return top, top_kind
            nh, nrec = _leaf_record(kh, value, self.tree.digest_leaves)
            self.out[nh] = nrec
            nk = _LEAF_K
        else:
            lrec = self.get(h)
            if lrec is None or not _is_leaf(lrec):
                lrec = self.tree._leaf(h)  # raises the StorageError
            okh = lrec[1:33]
            if okh == kh:
                if value is None:
                    nh, nk = EMPTY, _EMPTY_K
                else:
                    nh, nrec = _leaf_record(kh, value, self.tree.digest_leaves)
                    if nh == h:
                        return top, top_kind
                    self.out[nh] = nrec
                    nk = _LEAF_K
            elif value is None:
                return top, top_kind
            else:
                ok = int.from_bytes(okh, "big")
                two = [(k, kh, value, None), (ok, okh, None, h)]
                if ok < k:
                    two.reverse()
                nh, nk = self.build(depth, two)
        # back up: at each node passed, the parent of the new child and the old sibling
        for rec, nav, s, patches, c, o, oc, sib, sc in reversed(path):
            if nk == _EMPTY_K or sc == _EMPTY_K:  # the compact shape: a lone leaf moves up
                if nk == _EMPTY_K and sc != _NODE_K:
                    nh, nk = sib, sc
                    continue
                if sc == _EMPTY_K and nk == _LEAF_K:
                    continue
            patches.append((o, c, nk, nh))
            if nk != oc:
                patches[0] = True  # the page changes shape
            x = _NODE_SHA.copy()
            if c & 1:
                x.update(sib)
                x.update(nh)
            else:
                x.update(nh)
                x.update(sib)
            nh = x.digest()
            nk = _NODE_K
            if s == 1:  # a page root: its page is complete
                self.emit(nh, rec, nav, patches)
        return nh, nk


def _first(t: tuple[int, Any, Any, Any]) -> int:
    return t[0]


def run_update(tree: SparseMerkleTree, root: bytes, entries: list[tuple[int, bytes, bytes | None]]
               ) -> tuple[bytes, dict[bytes, bytes]]:
    """The new root after the sorted ``entries`` and the records to write (the body of
    :meth:`SparseMerkleTree.update`)."""
    u = _Update(tree, entries)
    if root == EMPTY:
        new_root, _ = u.build(0, u.present(0, len(entries)))
    else:
        rec, kind, nav = tree._root(root)
        if len(entries) == 1:
            new_root, _ = u.upd1(root, kind, 0, 0, rec, nav, 1, [False])
        else:
            new_root, _ = u.upd(root, kind, 0, 0, len(entries), rec, nav, 1, [False])
    return new_root, u.out


def _node(left: bytes, right: bytes) -> bytes:
    """An internal node's hash (a copied SHA-256 state: cheaper than hashing a concatenation)."""
    x = _NODE_SHA.copy()
    x.update(left)
    x.update(right)
    return x.digest()
