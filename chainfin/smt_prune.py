"""Pruning the state tree: which stored records an older root reaches that a newer one does
not (the ledger's ``prune_smt``, decision 81). Split from :mod:`chainfin.smt`, whose page
format and helpers it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainfin.smt import _LEAF_K, _NODE_K, _PAGE_B, EMPTY, _page_nav, _slot

if TYPE_CHECKING:
    from chainfin.smt import SparseMerkleTree

__all__ = ["all_records", "stale_records"]


def stale_records(tree: SparseMerkleTree, old_root: bytes, new_root: bytes) -> set[bytes]:
    """The records that the tree under ``old_root`` reaches and the tree under ``new_root``
    does not: what a store that keeps only ``new_root`` (and later roots) may delete.

    Walks both trees together, page by page, descending only where they differ (a slot's
    hash equal on both sides is one shared subtree). Pages never move (an internal node's
    depth is fixed by its key set); a leaf may move up or down its key's path when keys come
    or go, so every record met on the old side is kept when it is also met on the new side.
    Cost: the pages both updates changed, read once each.

    Raises:
        StorageError: a record of either tree is missing or malformed.
    """
    old_side: set[bytes] = set()
    new_side: set[bytes] = set()
    pairs = [(old_root, new_root)]
    while pairs:
        a, b = pairs.pop()
        if a == b:
            continue
        ra = None if a == EMPTY else tree._load(a)
        rb = None if b == EMPTY else tree._load(b)
        a_page = ra is not None and ra[0] == _PAGE_B
        b_page = rb is not None and rb[0] == _PAGE_B
        if ra is not None:
            old_side.add(a)
        if rb is not None:
            new_side.add(b)
        if not (a_page and b_page):
            if a_page:
                all_records(tree, a, old_side)
            if b_page:
                all_records(tree, b, new_side)
            continue
        assert ra is not None and rb is not None
        na, nb = _page_nav(a, ra), _page_nav(b, rb)
        for s in range(2, 32):
            ca, cb = na[s], nb[s]
            ha, hb = _slot(ra, na, s), _slot(rb, nb, s)
            if ha == hb:
                continue
            deep = s >= 16
            if deep and ca == _NODE_K and cb == _NODE_K:
                pairs.append((ha, hb))
                continue
            for code, h, side in ((ca, ha, old_side), (cb, hb, new_side)):
                if code == _LEAF_K:
                    side.add(h)
                elif code == _NODE_K and deep:
                    side.add(h)
                    all_records(tree, h, side)
    return old_side - new_side

def all_records(tree: SparseMerkleTree, page: bytes, out: set[bytes]) -> None:
    """Add every record of the subtree under the page ``page`` to ``out``."""
    stack = [page]
    while stack:
        h = stack.pop()
        rec = tree._load(h)
        out.add(h)
        nav = _page_nav(h, rec)
        for s in range(2, 32):
            c = nav[s]
            if c == _LEAF_K:
                out.add(_slot(rec, nav, s))
            elif c == _NODE_K and s >= 16:
                stack.append(_slot(rec, nav, s))
