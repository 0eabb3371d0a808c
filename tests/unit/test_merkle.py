"""RFC 6962 Merkle tree: Certificate Transparency reference vectors, a literal recursive reference
implementation of the RFC for cross-checking, and property tests for proofs and tampering."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import merkle

# --------------------------------------------------------------------------- CT reference vectors

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# Roots of the first 1..8 leaves (CT merkle_tree_test.cc). Note: the 7-leaf root is
# ...78929c2942b7...; a copy of this table with "c5942" in it is a transcription error.
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
EMPTY = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def _hx(*hs: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hs]


# (leaf index 0-based, tree size, path)
INCLUSION = [
    (0, 1, []),
    (0, 8, _hx(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, _hx(
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, _hx("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hx(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]

# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, _hx(
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, _hx(
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, _hx(
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]


def test_empty_root() -> None:
    assert merkle.root([]) == EMPTY == merkle.EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 9))
def test_reference_roots(n: int) -> None:
    assert merkle.root(LEAVES[:n]) == ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_reference_inclusion(index: int, size: int, path: list[bytes]) -> None:
    assert merkle.inclusion_proof(LEAVES[:size], index) == path
    assert merkle.verify_inclusion(LEAVES[index], index, size, path, ROOTS[size - 1])
    assert merkle.verify_inclusion_hash(
        merkle.leaf_hash(LEAVES[index]), index, size, path, ROOTS[size - 1])


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_reference_consistency(m: int, n: int, proof: list[bytes]) -> None:
    assert merkle.consistency_proof(LEAVES[:n], m) == proof
    assert merkle.verify_consistency(m, n, ROOTS[m - 1], ROOTS[n - 1], proof)


def test_inclusion_corruptions_like_ct() -> None:
    """The probes of CT's log verifier tests (wrong index/size/leaf/root, garbage, bit flips)."""
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size, path in INCLUSION:
        r, lh = ROOTS[size - 1], merkle.leaf_hash(LEAVES[index])
        probes = [
            (index - 1, size, r, lh, path),
            (index + 1, size, r, lh, path),
            (index ^ 2, size, r, lh, path),
            (index, size * 2, r, lh, path),
            (index, size // 2, r, lh, path),
            (index, size, r, b"WrongLeaf", path),
            (index, size, EMPTY, lh, path),
            (index, size, some, lh, path),
            (index, size, r, lh, [*path, b""]),
            (index, size, r, lh, [*path, r]),
            (index, size, r, lh, [b"", *path]),
            (index, size, r, lh, [r, *path]),
        ]
        for i in range(len(path)):
            bad = list(path)
            bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
            probes.append((index, size, r, lh, bad))
        if path:
            probes.append((index, size, r, lh, path[:-1]))
        if len(path) > 1:
            probes.append((index, size, r, lh, [path[0], some, *path[1:]]))
        for p in probes:
            assert not merkle.verify_inclusion_hash(p[3], p[0], p[1], p[4], p[2]), p


def test_consistency_edge_cases() -> None:
    r1, r2 = ROOTS[0], ROOTS[1]
    assert merkle.verify_consistency(0, 0, EMPTY, EMPTY, [])
    assert merkle.verify_consistency(0, 5, EMPTY, ROOTS[4], [])
    assert merkle.verify_consistency(1, 1, r1, r1, [])
    assert not merkle.verify_consistency(1, 1, r1, r2, [])
    assert not merkle.verify_consistency(0, 0, EMPTY, EMPTY, [EMPTY])
    assert not merkle.verify_consistency(0, 1, EMPTY, r1, [EMPTY])
    assert not merkle.verify_consistency(1, 1, r1, r1, [EMPTY])
    assert not merkle.verify_consistency(1, 0, r1, r2, [])
    assert not merkle.verify_consistency(2, 1, r1, r2, [])
    assert not merkle.verify_consistency(1, 2, r1, r2, [])  # empty proof for m < n
    for m, n, proof in CONSISTENCY[1:]:
        ro, rn = ROOTS[m - 1], ROOTS[n - 1]
        probes = [
            (m - 1, n, ro, rn, proof), (m + 1, n, ro, rn, proof), (m ^ 2, n, ro, rn, proof),
            (m, n * 2, ro, rn, proof), (m, n // 2, ro, rn, proof),
            (m, n, b"WrongRoot", rn, proof), (m, n, ro, b"WrongRoot", proof), (m, n, rn, ro, proof),
            (m, n, ro, rn, []), (m, n, ro, rn, [*proof, b""]), (m, n, ro, rn, [*proof, ro]),
            (m, n, ro, rn, [*proof, rn]), (m, n, ro, rn, [b"", *proof]),
            (m, n, ro, rn, [ro, *proof]), (m, n, ro, rn, [rn, *proof]),
            (m, n, ro, rn, [proof[0], *proof]), (m, n, ro, rn, proof[:-1]),
        ]
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
            probes.append((m, n, ro, rn, bad))
        for p in probes:
            assert not merkle.verify_consistency(*p), p


def test_verifiers_never_raise() -> None:
    junk: list[object] = [None, "ab", 1.5, -1, [None], [1], b"x", {"a": 1}, [b"\0" * 33]]
    for j in junk:
        assert merkle.verify_inclusion(j, 0, 1, [], ROOTS[0]) is False  # type: ignore[arg-type]
        assert merkle.verify_inclusion(b"", j, 1, [], ROOTS[0]) is False  # type: ignore[arg-type]
        assert merkle.verify_inclusion(b"", 0, j, [], ROOTS[0]) is False  # type: ignore[arg-type]
        assert merkle.verify_inclusion(b"", 0, 1, j, ROOTS[0]) is False  # type: ignore[arg-type]
        assert merkle.verify_inclusion(b"", 0, 1, [], j) is False  # type: ignore[arg-type]
        assert merkle.verify_consistency(j, 2, ROOTS[0], ROOTS[1], []) is False  # type: ignore[arg-type]
        assert merkle.verify_consistency(1, 2, ROOTS[0], ROOTS[1], j) is False  # type: ignore[arg-type]
        assert merkle.verify_consistency(1, 2, j, ROOTS[1], []) is False  # type: ignore[arg-type]


def test_builders_reject_bad_ranges() -> None:
    for n, i in ((0, 0), (3, 3), (3, -1)):
        with pytest.raises(ValueError):
            merkle.root_and_path([b"x"] * n, i)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(LEAVES, 8)
    with pytest.raises(ValueError):
        merkle.inclusion_proof([], 0)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(LEAVES, -1)
    with pytest.raises(ValueError):
        merkle.consistency_proof(LEAVES, 9)
    assert merkle.consistency_proof(LEAVES, 0) == []


def test_root_of_10k_leaves_is_fast() -> None:
    leaves = [os.urandom(64) for _ in range(10_000)]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        merkle.root(leaves)
        best = min(best, time.perf_counter() - t0)
    assert best < 0.05, f"root of 10k leaves took {best * 1000:.1f} ms"


# --------------------------------------------------------------------------- literal RFC reference


def _h(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + d[0])
    k = _k(n)
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=300)


def _flip(b: bytes, i: int) -> bytes:
    i %= len(b)
    return b[:i] + bytes([b[i] ^ 0x01]) + b[i + 1:]


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_inclusion_property(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    r = merkle.root(leaves)
    assert r == ref_mth(leaves)
    # every leaf of small trees, a sample of larger ones
    indices = range(n) if n <= 40 else data.draw(
        st.lists(st.integers(0, n - 1), min_size=1, max_size=10))
    for i in indices:
        proof = merkle.inclusion_proof(leaves, i)
        assert proof == ref_path(i, leaves)
        assert merkle.root_and_path(leaves, i) == (r, proof)  # the one-pass form agrees
        assert merkle.verify_inclusion(leaves[i], i, n, proof, r)
        pos = data.draw(st.integers(0, 10_000))
        if proof:
            j = pos % len(proof)
            bad = list(proof)
            bad[j] = _flip(bad[j], pos // 7)
            assert not merkle.verify_inclusion(leaves[i], i, n, bad, r)
            assert not merkle.verify_inclusion(leaves[i], i, n, proof[:-1], r)
        assert not merkle.verify_inclusion(leaves[i] + b"\x00", i, n, proof, r)
        if leaves[i]:
            assert not merkle.verify_inclusion(_flip(leaves[i], pos), i, n, proof, r)
        assert not merkle.verify_inclusion(leaves[i], i, n, proof, _flip(r, pos))
        assert not merkle.verify_inclusion(leaves[i], i, n, [*proof, r], r)
        for other in {i - 1, i + 1, i ^ 1, i ^ 2}:
            if 0 <= other < n and leaves[other] != leaves[i]:
                assert not merkle.verify_inclusion(leaves[i], other, n, proof, r)
        for size in {n - 1, n + 1, 2 * n}:
            if size > i and size != n:
                # RFC 6962 roots do not commit to the tree size: a proof verifies for another size
                # exactly when the left/right pattern of its path is the same there (then it
                # recomputes the same root). The size must be authenticated separately.
                same = ref_path_sides(i, size) == ref_path_sides(i, n)
                assert merkle.verify_inclusion(leaves[i], i, size, proof, r) == same


def ref_path_sides(m: int, n: int) -> list[bool]:
    """For each node on PATH(m, D[n]), leaf side first: True when the sibling is on the right."""
    out: list[bool] = []
    while n > 1:
        k = _k(n)
        if m < k:
            out.append(True)
            n = k
        else:
            out.append(False)
            m -= k
            n -= k
    return out[::-1]


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_consistency_property(leaves: list[bytes], data: st.DataObject) -> None:
    n = len(leaves)
    m = data.draw(st.integers(1, n))
    old, new = merkle.root(leaves[:m]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, m)
    assert proof == ref_subproof(m, leaves, True)
    assert merkle.verify_consistency(m, n, old, new, proof)
    if m == n:
        return
    pos = data.draw(st.integers(0, 10_000))
    j = pos % len(proof)
    bad = list(proof)
    bad[j] = _flip(bad[j], pos // 5)
    assert not merkle.verify_consistency(m, n, old, new, bad)
    assert not merkle.verify_consistency(m, n, _flip(old, pos), new, proof)
    assert not merkle.verify_consistency(m, n, old, _flip(new, pos), proof)
    assert not merkle.verify_consistency(m, n, old, new, proof[:-1])
    assert not merkle.verify_consistency(m, n, old, new, [*proof, new])
    assert not merkle.verify_consistency(m, n, new, old, proof)
    # a tree that is not an extension of the old one is not consistent with it
    forked = [*leaves[: m - 1], leaves[m - 1] + b"!", *leaves[m:]]
    assert not merkle.verify_consistency(m, n, old, merkle.root(forked), proof)
    assert not merkle.verify_consistency(
        m, n, old, merkle.root(forked), merkle.consistency_proof(forked, m))


def test_all_small_trees_exhaustively() -> None:
    leaves = [bytes([i]) * (i % 5) for i in range(70)]
    roots = [merkle.root(leaves[:n]) for n in range(71)]
    for n in range(1, 71):
        for i in range(n):
            assert merkle.verify_inclusion(leaves[i], i, n, merkle.inclusion_proof(leaves[:n], i),
                                           roots[n])
        for m in range(0, n + 1):
            p = merkle.consistency_proof(leaves[:n], m)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], p), (m, n)
