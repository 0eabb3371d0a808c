"""The state tree's update (chainfin.smt_update) is byte-identical to the algorithm it replaced:
every root and every record written, over random update sequences, against digests computed
with the code of commit 66ffa16 (before the update moved to chainfin.smt_update and its
hashing and page checks were made cheaper).

The digests: ``PYTHONPATH=<a checkout of 66ffa16> python tests/unit/test_smt_update.py``
prints them (this file imports nothing of the new code to compute them).
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections.abc import Callable, Iterator

import pytest

from chainfin.smt import EMPTY, SparseMerkleTree

Changes = dict[bytes, bytes | None]


def _sequence(seed: int, n0: int, updates: int, batch: int) -> Iterator[Changes]:
    """A tree of ``n0`` keys, then ``updates`` batches of about ``batch`` changes: new keys,
    rewrites of recent and old keys (some to the same value), deletes (some of absent keys),
    and now and then a single change or a mass delete that collapses whole pages."""
    rng = random.Random(seed)
    live: list[bytes] = []
    values: dict[bytes, bytes] = {}
    first: Changes = {}
    for i in range(n0):
        k = b"k/%d/%d" % (seed, i)
        first[k] = rng.randbytes(rng.randint(0, 120))
    yield first
    live.extend(first)
    values.update({k: v for k, v in first.items() if v is not None})
    nxt = n0
    for u in range(updates):
        ch: Changes = {}
        mode = rng.random()
        if mode < 0.08:  # one change (the single-key path from the root)
            size = 1
        elif mode < 0.12 and len(live) > 40:  # delete most keys of one region of the tree
            prefix = rng.randrange(16)
            for k in live:
                if hashlib.sha256(k).digest()[0] >> 4 == prefix and rng.random() < 0.9:
                    ch[k] = None
            size = len(ch) + 2
        else:
            size = rng.randint(2, batch)
        while len(ch) < size:
            r = rng.random()
            if r < 0.25 or not live:
                k = b"k/%d/%d" % (seed, nxt)
                nxt += 1
                ch[k] = rng.randbytes(rng.randint(0, 200))
            elif r < 0.35:
                ch[rng.choice(live)] = None
            elif r < 0.38:
                ch[b"absent/%d" % rng.randrange(10**9)] = None
            elif r < 0.42:
                k = rng.choice(live)
                ch[k] = values.get(k, b"")  # the same value again (or a deleted key back)
            else:
                k = live[-1 - min(int(rng.expovariate(1 / 30)), len(live) - 1)]
                ch[k] = rng.randbytes(rng.randint(40, 200))
        yield ch
        for k, v in ch.items():
            if v is None:
                values.pop(k, None)
            else:
                if k not in values:
                    live.append(k)
                values[k] = v
        if u % 16 == 15:
            live = [k for k in live if k in values]


# (seed, keys at first, updates, changes per update, digest leaves) -> digest with 66ffa16
CASES: dict[tuple[int, int, int, int, bool], str] = {
    (1, 0, 120, 6, False): "548a09f1ffa83d5e67b8a3a738329426bed554d67ff24c58818eafda006cc922",
    (2, 300, 150, 40, False): "99948a74ba58b87336d58c7bb922612130e6f0fc5518488134c2d681f66f2da8",
    (3, 3000, 80, 120, False): "2cc10edf6a23d23cfbe44cc519ef57fffbaf231cd6faf3256a4c0a3424f174c0",
    (4, 3000, 80, 90, True): "e946ad67feeaffe1031eb7bca76066b5cd00fbdf1a48dffe886c3f65e415cbae",
    (5, 20_000, 25, 500, False): "fbe15a1e73d31edf104b7bca31f09b00032a3d54e02692ac39b5dee2dd7fa8ec",
    (6, 1, 60, 3, True): "39575456fcd177cae3ce13ac866417c943cbbf1b70bd5253f8462b41dacc41b8",
}


class _Reader:
    """What the ledger reads through: the records written so far, kept in a dict."""

    def __init__(self) -> None:
        self.records: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.records.get(key)


class _Values:
    def get(self, key: bytes) -> bytes | None:
        return None


def run_case(case: tuple[int, int, int, int, bool],
             make_tree: Callable[[_Reader, _Values | None], SparseMerkleTree]) -> str:
    """The digest of every root and every record (sorted) of one case's sequence."""
    seed, n0, updates, batch, digest = case
    reader = _Reader()
    d = hashlib.sha256()
    root = EMPTY
    for ch in _sequence(seed, n0, updates, batch):
        out: dict[bytes, bytes] = {}
        root = make_tree(reader, _Values() if digest else None).update(root, ch, out)
        d.update(root)
        for h in sorted(out):
            d.update(h + len(out[h]).to_bytes(4, "big") + out[h])
        reader.records.update(out)
    return d.hexdigest()


def _one_tree() -> Callable[[_Reader, _Values | None], SparseMerkleTree]:
    """One tree for the whole sequence (as the limit loop keeps it)."""
    trees: dict[int, SparseMerkleTree] = {}

    def make(reader: _Reader, values: _Values | None) -> SparseMerkleTree:
        if id(reader) not in trees:
            trees[id(reader)] = SparseMerkleTree(reader, values)  # type: ignore[arg-type]
        return trees[id(reader)]

    return make


def _fresh_trees(reader: _Reader, values: _Values | None) -> SparseMerkleTree:
    """A new tree for each update (as the ledger makes one per block)."""
    return SparseMerkleTree(reader, values)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", list(CASES))
def test_roots_and_records_are_those_of_the_old_code(
        case: tuple[int, int, int, int, bool]) -> None:
    assert run_case(case, _one_tree()) == CASES[case]
    assert run_case(case, _fresh_trees) == CASES[case]


if __name__ == "__main__":
    sys.exit(print("\n".join(f"    {c!r}: \"{run_case(c, _fresh_trees)}\","  # type: ignore[func-returns-value]
                             for c in CASES)))
