"""The stored tree built straight from verified chunks (chainfin/snapshot_tree.py) and the
chunk preparation that runs in a worker process (node/statesync_work.py): the records are byte
for byte those ``SparseMerkleTree.update`` writes for the same state, whatever the regions'
depths; a chunk changed anywhere is refused, in a worker process too; the same bytes come out of
the worker and of this process."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from chainfin import codec
from chainfin.errors import InvalidMessage
from chainfin.smt import SparseMerkleTree
from chainfin.snapshot import encode_chunk, region_end
from chainfin.snapshot_tree import Region, assemble_top, build_region, verify_build_region
from chainfin.store import KEY_INDEX, SMT_NODES, STATE, state_db_key
from node.statesync_work import P_REGION, decode_region, encode_region, prepare_chunk
from tests.unit.test_snapshot import _chunk, _tampered, _tree


def _regions(depths: list[int]) -> list[tuple[int, int]]:
    """(prefix, depth) of regions tiling the key space, in order, the i-th of depth depths[i]
    while they last (then of the last depth): like a sync whose regions were halved midway."""
    out = []
    pos = 0
    i = 0
    while pos < 1 << 256:
        d = depths[min(i, len(depths) - 1)]
        while pos % (1 << (256 - d)):
            d += 1  # (never happens for non-decreasing depths, kept for safety)
        out.append((pos >> (256 - d), d))
        pos = region_end(pos >> (256 - d), d)
        i += 1
    return out


def _built_from_chunks(n: int, seed: int, depths: list[int]
                       ) -> tuple[bytes, bytes, dict[bytes, bytes], dict[bytes, bytes]]:
    """(the tree's root, the root assembled from the chunks, records built from the chunks,
    records update() wrote from scratch)."""
    tree, root, kv = _tree(n, seed)
    want = dict(tree.nodes)  # type: ignore[call-overload]
    records: dict[bytes, bytes] = {}
    regions: list[Region] = []
    for prefix, depth in _regions(depths):
        rb = verify_build_region(root, _chunk(tree, root, kv, prefix, depth))
        records.update(rb.records)
        regions.append(rb.region)
    top_root, top = assemble_top(regions)
    records.update(top)
    return root, top_root, records, want


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 600, 3000])
@pytest.mark.parametrize("depths", [[0], [1], [3], [4], [5], [8], [2, 3, 3, 5, 6, 7, 9]])
def test_the_records_are_those_update_writes(n: int, depths: list[int]) -> None:
    root, built_root, got, want = _built_from_chunks(n, n * 7 + len(depths) + depths[0], depths)
    assert built_root == root
    assert got == want  # the same records, byte for byte, and nothing else
    tree = SparseMerkleTree(got)
    assert sum(1 for _ in tree.items(root)) == sum(1 for r in want.values() if r[0] == 2)


def test_a_single_leaf_region_next_to_empty_ones_moves_up() -> None:
    for seed in range(20):
        root, built_root, got, want = _built_from_chunks(2, seed, [6])
        assert built_root == root and got == want


def test_regions_that_do_not_tile_the_key_space_are_refused() -> None:
    tree, root, kv = _tree(50, 3)
    regions = [verify_build_region(root, _chunk(tree, root, kv, p, 2)).region for p in range(4)]
    with pytest.raises(InvalidMessage):
        assemble_top(regions[:3])  # the last quarter missing
    with pytest.raises(InvalidMessage):
        assemble_top([regions[0], regions[2], regions[3]])  # a gap
    with pytest.raises(InvalidMessage):
        assemble_top([*regions, regions[1]])  # one twice
    assert assemble_top(list(reversed(regions)))[0] == root  # order does not matter


@pytest.mark.parametrize("n", [1, 5, 200])
def test_a_chunk_changed_anywhere_is_refused_before_anything_is_built(n: int) -> None:
    tree, root, kv = _tree(n, n)
    for prefix in range(4):
        c = _chunk(tree, root, kv, prefix, 2)
        verify_build_region(root, c)
        for bad in _tampered(c):
            with pytest.raises(InvalidMessage):
                verify_build_region(root, bad)


def _raws(n: int, depth: int) -> tuple[bytes, list[tuple[int, bytes]]]:
    tree, root, kv = _tree(n, 11)
    return root, [(p << (256 - depth), encode_chunk(_chunk(tree, root, kv, p, depth)))
                  for p in range(1 << depth)]


def test_prepare_lays_out_the_state_by_key_hash_and_the_records() -> None:
    root, raws = _raws(300, 3)
    store: dict[bytes, bytes] = {}
    regions = []
    for start, raw in raws:
        prep = prepare_chunk(root, 7, 3, start, raw)
        assert prep.start == start and prep.depth == 3
        store.update(zip(prep.puts[::2], prep.puts[1::2], strict=True))
    for k, v in list(store.items()):
        if k.startswith(P_REGION):
            regions.append(decode_region(k, v))
    top_root, top = assemble_top(regions)
    assert top_root == root
    tree, _, kv = _tree(300, 11)
    assert {k: v for k, v in store.items() if k.startswith(STATE)} == {
        state_db_key(k): v for k, v in kv.items()}  # ordered by key hash (decision 92)
    assert not [k for k in store if k.startswith(KEY_INDEX)]  # no key index any more
    smt = {k[len(SMT_NODES):]: v for k, v in store.items() if k.startswith(SMT_NODES)}
    assert smt | top == dict(tree.nodes)  # type: ignore[call-overload]


def test_prepare_refuses_a_chunk_other_than_the_one_asked_for() -> None:
    root, raws = _raws(100, 2)
    start, raw = raws[1]
    with pytest.raises(InvalidMessage):
        prepare_chunk(root, 8, 2, start, raw)  # another height
    with pytest.raises(InvalidMessage):
        prepare_chunk(root, 7, 3, start, raw)  # another depth
    with pytest.raises(InvalidMessage):
        prepare_chunk(root, 7, 2, raws[2][0], raw)  # another region
    with pytest.raises(InvalidMessage):
        prepare_chunk(b"\1" * 32, 7, 2, start, raw)  # another root


def test_the_worker_process_gives_the_same_bytes_and_refuses_a_tampered_chunk() -> None:
    root, raws = _raws(400, 2)
    start, raw = next((s, r) for s, r in raws if len(r) > 200)
    c = codec.decode(raw)
    value = c["entries"][len(c["entries"]) // 2][1]
    bad = raw.replace(value, value[:-1] + bytes([value[-1] ^ 1]), 1) if value else raw
    assert bad != raw
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for s, r in raws:
            assert pool.submit(prepare_chunk, root, 7, 2, s, r).result() == \
                prepare_chunk(root, 7, 2, s, r)
        with pytest.raises(InvalidMessage):
            pool.submit(prepare_chunk, root, 7, 2, start, bad).result()


def test_a_region_summary_survives_its_encoding() -> None:
    tree, root, kv = _tree(500, 5)
    for p in range(8):
        r = build_region(_chunk(tree, root, kv, p, 3)).region  # depth 3: upper nodes kept
        key = P_REGION + r.start.to_bytes(32, "big")
        assert decode_region(key, encode_region(r)) == r


def test_encode_chunk_is_the_canonical_encoding() -> None:
    tree, root, kv = _tree(200, 9)
    for p in range(4):
        c = _chunk(tree, root, kv, p, 2)
        assert encode_chunk(c) == codec.encode(
            {"height": c.height, "prefix": c.prefix, "depth": c.depth,
             "siblings": [[k] if k == 0 else [k, a, b] if k == 1 else [k, a]
                          for k, a, b in c.siblings],
             "entries": [[k, v] for k, v in c.entries]})


def test_a_progress_record_of_the_previous_layout_restarts_from_the_first_region() -> None:
    from node.statesync import Progress

    old = codec.encode({"manifest": b"m", "cursor": (5 << 250).to_bytes(33, "big"), "depth": 6,
                        "partial_root": b"\1" * 32, "chunks": 9})  # no summaries behind it
    p = Progress.decode(old)
    assert (p.manifest, p.cursor, p.depth, p.chunks) == (b"m", 0, 0, 0)
    now = Progress(b"m", 5 << 250, 6, b"\0" * 32, 9)
    assert Progress.decode(now.encode()) == now  # the current layout resumes where it was


def test_digest_leaves_build_the_same_tree_with_value_hashes() -> None:
    """A joiner with digest leaves (the ledger's default, decision 93) stores 0x05 leaf records
    (key hash, value hash) under the same hashes: the same region, the same root."""
    import hashlib

    root, raws = _raws(200, 2)
    for start, raw in raws:
        full = prepare_chunk(root, 7, 2, start, raw)
        dig = prepare_chunk(root, 7, 2, start, raw, digest_leaves=True)
        fr = dict(zip(full.puts[::2], full.puts[1::2], strict=True))
        dr = dict(zip(dig.puts[::2], dig.puts[1::2], strict=True))
        assert fr.keys() == dr.keys()
        leaves = [k for k, v in fr.items() if k.startswith(SMT_NODES) and v[0] == 2]
        assert leaves
        for k in leaves:
            assert dr[k] == b"\x05" + fr[k][1:33] + hashlib.sha256(fr[k][33:]).digest()
