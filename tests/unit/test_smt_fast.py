"""The state tree's update in C (chainfin/_smt_fast.c) against the code it stands in for
(:func:`chainfin.smt_update.run_update`, compiled or not): the same new root, the same records to
write and the same reads, on random and crafted trees; None (the Python code then runs and raises
its StorageError) on a missing or damaged record; no leaks. Which of them runs:
:func:`chainfin.compiled.c_tree_update`."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import compiled
from chainfin.errors import StorageError
from chainfin.smt import EMPTY, SparseMerkleTree
from chainfin.smt_update import run_update

try:
    from chainfin import _smt_fast as fast
except ImportError as e:  # no C compiler at install, CHAINFIN_PURE at install, no libcrypto
    pytest.skip(f"the C tree update (chainfin._smt_fast) is not built here ({e}): nothing to "
                "compare (python setup.py build_ext --inplace, or pip install -e .)",
                allow_module_level=True)

Entries = list[tuple[int, bytes, bytes | None]]


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


class Reader:
    """A node reader with a Python get() (like the ledger's), logging the hashes read."""

    def __init__(self, records: dict[bytes, Any] | None = None) -> None:
        self.records: dict[bytes, Any] = {} if records is None else records
        self.reads: list[bytes] = []

    def get(self, key: bytes) -> Any:
        self.reads.append(key)
        return self.records.get(key)


class LayeredReader(Reader):
    """A reader like the ledger's ``_NodeCache``: dicts looked in first (``fast_layers``),
    get() for the rest. ``records`` (what get() answers) holds everything, so reads through
    get() and through the layers find the same record."""

    def __init__(self, records: dict[bytes, Any], layers: tuple[dict[bytes, Any], ...]) -> None:
        super().__init__(records)
        self.fast_layers = layers


def entries_of(changes: dict[bytes, bytes | None]) -> Entries:
    out = []
    for k, v in changes.items():
        kh = H(k)
        out.append((int.from_bytes(kh, "big"), kh, v))
    return sorted(out)


def same(reader: Reader, tree: SparseMerkleTree, root: bytes, entries: Entries,
         changes: dict[bytes, bytes | None] | None = None) -> tuple[bytes, dict[bytes, bytes]]:
    """Python and C on one update: the same result and the same reads, in the same order."""
    reader.reads.clear()
    want = run_update(tree, root, entries)
    py_reads = list(reader.reads)
    reader.reads.clear()
    got = fast.run_update(tree, root, entries)
    assert got is not None, "the C update declined a well-formed tree"
    assert got[0] == want[0] and got[1] == want[1]
    assert reader.reads == py_reads
    if changes is not None:
        reader.reads.clear()
        assert fast.update(tree, root, changes) == want
        assert reader.reads == py_reads
    return want


def step(reader: Reader, tree: SparseMerkleTree, root: bytes,
         changes: dict[bytes, bytes | None]) -> bytes:
    new_root, out = same(reader, tree, root, entries_of(changes), changes)
    reader.records.update(out)
    return new_root


@pytest.mark.parametrize("digest", [False, True])
def test_empty_tree_single_key_and_back(digest: bool) -> None:
    r = Reader()
    t = SparseMerkleTree(r, {} if digest else None)
    assert step(r, t, EMPTY, {b"gone": None}) == EMPTY  # deleting from the empty tree
    one = step(r, t, EMPTY, {b"a": b"1"})
    assert step(r, t, one, {b"a": b"1"}) == one  # the same value: nothing written
    assert fast.update(t, one, {b"a": b"1"}) == (one, {})
    assert step(r, t, one, {b"zz": None}) == one  # an absent key
    two = step(r, t, one, {b"a": b"2"})
    both = step(r, t, two, {b"b": b"3"})
    assert step(r, t, both, {b"b": None}) == two  # the lone leaf moves back up to the root
    assert step(r, t, two, {b"a": None}) == EMPTY
    many = step(r, t, EMPTY, {b"k%d" % i: b"v%d" % i for i in range(300)})
    assert step(r, t, many, {b"k%d" % i: None for i in range(300)}) == EMPTY
    assert step(r, t, many, {b"k%d" % i: None for i in range(299)}) == step(
        r, t, EMPTY, {b"k299": b"v299"})


@pytest.mark.parametrize("seed,n0,batch,digest", [
    (1, 0, 1, False), (2, 50, 3, True), (3, 400, 40, False), (4, 3000, 90, True),
    (5, 3000, 600, False), (6, 1, 2, False)])
def test_random_sequences(seed: int, n0: int, batch: int, digest: bool) -> None:
    """Inserts, overwrites (some with the same value), deletes (some of absent keys), single
    changes and mass deletes that collapse whole pages, on one tree."""
    rng = random.Random(seed)
    r = Reader()
    t = SparseMerkleTree(r, {} if digest else None)
    live: dict[bytes, bytes] = {b"k%d" % i: rng.randbytes(rng.randint(0, 90)) for i in range(n0)}
    root = step(r, t, EMPTY, dict(live)) if live else EMPTY
    nxt = n0
    for _ in range(40):
        ch: dict[bytes, bytes | None] = {}
        mode = rng.random()
        if mode < 0.15 and live:
            prefix = rng.randrange(4)  # most keys of a quarter of the tree
            ch.update({k: None for k in live if H(k)[0] >> 6 == prefix and rng.random() < 0.95})
        size = 1 if mode > 0.85 else rng.randint(1, batch)
        while len(ch) < size:
            x = rng.random()
            if x < 0.3 or not live:
                ch[b"k%d" % nxt] = rng.randbytes(rng.randint(0, 200))
                nxt += 1
            elif x < 0.45:
                ch[rng.choice(list(live))] = None
            elif x < 0.5:
                ch[b"absent%d" % rng.randrange(10**9)] = None
            elif x < 0.6:
                k = rng.choice(list(live))
                ch[k] = live[k]
            else:
                ch[rng.choice(list(live))] = rng.randbytes(rng.randint(0, 200))
        root = step(r, t, root, ch)
        for k, v in ch.items():
            if v is None:
                live.pop(k, None)
            else:
                live[k] = v
    assert root == (step(r, SparseMerkleTree(Reader(), {} if digest else None), EMPTY,
                         dict(live)) if live else EMPTY)


def crafted(rng: random.Random, n: int, min_depth: int) -> list[bytes]:
    """n key hashes sharing long prefixes: each differs from a base first at a bit between
    ``min_depth`` and 255, so the tree's paths run down to depth 256."""
    base = rng.getrandbits(256)
    out = {base, base ^ 1}  # two keys that differ in the last bit only: leaves at depth 256
    while len(out) < n:
        d = rng.randint(min_depth, 255)
        out.add(base ^ (1 << (255 - d)) ^ (rng.getrandbits(255 - d) if d < 255 else 0))
    return [x.to_bytes(32, "big") for x in out]


@pytest.mark.parametrize("seed,min_depth,digest", [
    (1, 200, False), (2, 240, True), (3, 250, False), (4, 1, True), (5, 100, False)])
def test_deep_paths_from_crafted_key_hashes(seed: int, min_depth: int, digest: bool) -> None:
    rng = random.Random(seed)
    khs = crafted(rng, 60, min_depth)
    r = Reader()
    t = SparseMerkleTree(r, {} if digest else None)
    root = EMPTY
    for _ in range(60):
        picked = rng.sample(khs, rng.choice([1, 1, 2, 3, 8, 30]))
        entries: Entries = sorted(
            (int.from_bytes(kh, "big"), kh,
             None if rng.random() < 0.35 else rng.randbytes(rng.randint(0, 40)))
            for kh in picked)
        root, out = same(r, t, root, entries)
        r.records.update(out)


key_ids = st.integers(0, 23)
batches = st.lists(st.dictionaries(key_ids, st.one_of(st.none(), st.binary(max_size=8)),
                                   min_size=1, max_size=12), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(batches=batches, digest=st.booleans(), deep=st.booleans())
def test_any_batches(batches: list[dict[int, bytes | None]], digest: bool, deep: bool) -> None:
    """Any sequence of batches over 24 keys (deep: key hashes sharing 230+ bits)."""
    khs = crafted(random.Random(9), 24, 230) if deep else [H(b"%d" % i) for i in range(24)]
    r = Reader()
    t = SparseMerkleTree(r, {} if digest else None)
    root = EMPTY
    for b in batches:
        entries: Entries = sorted((int.from_bytes(khs[i], "big"), khs[i], v) for i, v in b.items())
        root, out = same(r, t, root, entries)
        r.records.update(out)


# --------------------------------------------------------------------------- what it declines


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", call())
    except Exception as e:  # noqa: BLE001 - what the Python code raises, to compare
        return (type(e), str(e))


def damaged_trees() -> list[tuple[str, dict[bytes, Any], bytes, dict[bytes, bytes | None]]]:
    """(why, records, root, changes): stores with a bad record on the changed paths."""
    nodes: dict[bytes, bytes] = {}
    t = SparseMerkleTree(nodes)
    root = t.update(EMPTY, {b"k%d" % i: b"v%d" % i for i in range(400)}, nodes)
    key = b"k7"
    path = [root]  # the records on k7's path: pages, then its leaf
    kh = H(key)
    rec, depth, s = nodes[root], 0, 1
    while True:  # (a small page walker: slot s's child on kh's path)
        kinds = int.from_bytes(rec[1:9], "little")
        c = 2 * s + ((kh[depth // 8] >> (7 - depth % 8)) & 1)
        code = (kinds >> (2 * c - 4)) & 3
        idx = sum(1 for x in range(2, c) if (kinds >> (2 * x - 4)) & 3 >= 2)
        h = rec[9 + 32 * idx:41 + 32 * idx]
        depth += 1
        if code == 2:
            path.append(h)
            break
        if c >= 16:
            path.append(h)
            rec, s = nodes[h], 1
        else:
            s = c
    page, leaf = path[len(path) - 2], path[-1]
    good = nodes[page]
    out: list[tuple[str, dict[bytes, Any], bytes, dict[bytes, bytes | None]]] = []
    for at, why in ((root, "root"), (page, "a page below")):
        for what, bad in (("missing", None), ("empty", b""), ("truncated", good[:-1]),
                          ("one byte more", good + b"\0"), ("old layout", b"\x03" + good[1:]),
                          ("padding bits", good[:8] + bytes([good[8] | 0x10]) + good[9:]),
                          ("a leaf record", nodes[leaf]), ("bytearray", bytearray(good)),
                          ("two empty children", b"\x04" + (5).to_bytes(8, "little"))):
            recs: dict[bytes, Any] = {**nodes, at: bad}
            if bad is None:
                del recs[at]
            out.append((f"{why}: {what}", recs, root, {key: b"new", b"other": b"x"}))
            out.append((f"{why}: {what} (one key)", recs, root, {key: b"new"}))
    for what, bad in (("missing", None), ("a page", good), ("short", nodes[leaf][:20]),
                      ("digest leaf too long", b"\x05" + nodes[leaf][1:] + b"\0" * 40),
                      ("bytes subclass", type("B", (bytes,), {})(nodes[leaf]))):
        recs = {**nodes, leaf: bad}
        if bad is None:
            del recs[leaf]
        many: list[dict[bytes, bytes | None]] = [
            {key: b"new"}, {key: None}, {key: b"new", b"k8": b"x", b"k9": None}]
        for changes in many:
            out.append((f"leaf: {what}", recs, root, changes))
    return out


@pytest.mark.parametrize("why,records,root,changes", damaged_trees(),
                         ids=[c[0] for c in damaged_trees()])
def test_a_damaged_store_is_left_to_the_python_code(
        why: str, records: dict[bytes, Any], root: bytes,
        changes: dict[bytes, bytes | None]) -> None:
    t = SparseMerkleTree(Reader(records))
    entries = entries_of(changes)
    want = outcome(lambda: run_update(t, root, entries))
    got = fast.update(t, root, changes)
    if got is None:  # declined: SparseMerkleTree.update runs the Python code
        assert outcome(lambda: fast.run_update(t, root, entries)) == ("ok", None)
        out: dict[bytes, bytes] = {}
        assert outcome(lambda: (t.update(root, changes, out), out)) == want
    else:  # a record the Python code reads as well (a bytes subclass, a page it never reads)
        assert want == ("ok", got)
    if "missing" in why or "old layout" in why or "truncated" in why:
        assert want[0] is StorageError


@settings(max_examples=200, deadline=None)
@given(garbage=st.one_of(st.binary(max_size=120),
                         st.builds(lambda k, n: b"\x04" + k + H(b"x") * n,
                                   st.binary(min_size=8, max_size=8), st.integers(0, 31))),
       target=st.integers(0, 10**6), changes=st.dictionaries(
           st.binary(max_size=2), st.one_of(st.none(), st.binary(max_size=4)), min_size=1,
           max_size=6))
def test_garbage_records_never_crash(garbage: bytes, target: int,
                                     changes: dict[bytes, bytes | None]) -> None:
    nodes: dict[bytes, bytes] = {}
    root = SparseMerkleTree(nodes).update(EMPTY, {bytes([i]): b"v" for i in range(60)}, nodes)
    at = sorted(nodes)[target % len(nodes)]
    t = SparseMerkleTree({**nodes, at: garbage})
    want = outcome(lambda: run_update(t, root, entries_of(changes)))
    got = outcome(lambda: fast.update(t, root, changes))
    assert got == ("ok", None) or got == want
    if want[0] != "ok":
        assert want[0] is StorageError


def test_the_readers_own_errors_propagate() -> None:
    nodes: dict[bytes, bytes] = {}
    root = SparseMerkleTree(nodes).update(EMPTY, {b"a": b"1", b"b": b"2"}, nodes)

    class Failing:
        def get(self, key: bytes) -> bytes:
            raise OSError("disk on fire")

    t = SparseMerkleTree(Failing())
    for call in (lambda: fast.update(t, root, {b"a": b"3"}),
                 lambda: t.update(root, {b"a": b"3"}, {})):
        with pytest.raises(OSError, match="disk on fire"):
            call()


def test_input_not_in_updates_form_is_declined() -> None:
    t = SparseMerkleTree({})
    changes: Any
    for root, changes in ((EMPTY, {"k": b"v"}), (EMPTY, {b"k": "v"}), (EMPTY, {b"k": 1}),
                          (EMPTY, {}), (b"short", {b"k": b"v"}), (EMPTY, [(b"k", b"v")])):
        assert fast.update(t, root, changes) is None
    with pytest.raises(TypeError):
        t.update(EMPTY, {b"k": bytearray(b"v")}, {})  # type: ignore[dict-item]
    kh = H(b"k")
    entries: Any
    for entries in ([], [(0, kh[:31], b"v")], [(0, kh, b"v"), (0, kh, b"w")],
                    [(0, H(b"b"), None), (0, H(b"a"), None)][:: 1 if H(b"b") > H(b"a") else -1],
                    [(0, kh, bytearray(b"v"))]):
        assert fast.run_update(t, EMPTY, entries) is None


# --------------------------------------------------------------------------- resources


def test_no_leaks() -> None:
    """Memory and references: the same update many times, over a Python reader and a dict,
    through every path (writes, a reshaped page, a collapse, a declined damaged store)."""
    nodes: dict[bytes, bytes] = {}
    t0 = SparseMerkleTree(nodes)
    root = t0.update(EMPTY, {b"k%d" % i: b"v%d" % i for i in range(2000)}, nodes)
    value = b"a value of its own" * 3
    changes: dict[bytes, bytes | None] = {b"k%d" % i: None for i in range(0, 2000, 3)}
    changes.update({b"new%d" % i: value for i in range(50)})
    broken = dict(nodes)
    del broken[next(h for h, rec in nodes.items() if rec[0] == 0x02)]
    reader = Reader(nodes)
    layered = LayeredReader(nodes, ({}, nodes))  # records found in a fast layer (decision 105)
    trees = [SparseMerkleTree(nodes), SparseMerkleTree(reader), SparseMerkleTree(broken, {}),
             SparseMerkleTree(layered)]

    def run(n: int) -> None:
        for _ in range(n):
            for t in trees:
                fast.update(t, root, changes)
                fast.update(t, root, {b"k1": b"x"})

    run(20)
    gc.collect()
    refs = (sys.getrefcount(value), sys.getrefcount(root), sys.getrefcount(nodes))
    tracemalloc.start()
    try:
        run(20)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        run(200)
        reader.reads.clear()
        layered.reads.clear()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes more after 200 rounds"
    assert (sys.getrefcount(value), sys.getrefcount(root), sys.getrefcount(nodes)) == refs


# --------------------------------------------------------------------------- which code runs


def test_status_says_which_update_runs() -> None:
    st_ = compiled.status()
    assert st_["c_tree_update"] is (compiled.c_tree_update() is not None)
    if not compiled.pure_requested(os.environ) and os.environ.get("CHAINFIN_C_UPDATE") != "0":
        assert st_["c_tree_update"], st_["c_tree_update_reason"]
    assert compiled._load_c_update({"CHAINFIN_PURE": "1"}) == (None, "CHAINFIN_PURE is set")
    assert compiled._load_c_update({"CHAINFIN_C_UPDATE": "0"}) == (None, "CHAINFIN_C_UPDATE=0")
    assert compiled._load_c_update({"CHAINFIN_C_UPDATE": "1"}) == (fast.update, None)


def test_a_stale_extension_is_not_used(tmp_path: Path) -> None:
    """The C source edited after the build: its extension would run the old code."""
    (tmp_path / "chainfin").mkdir()
    src = tmp_path / "chainfin" / "_smt_fast.c"
    src.write_text("/* built */\n")
    record = tmp_path / "chainfin" / compiled.RECORD
    record.write_text(json.dumps({"sources": {compiled.C_UPDATE: compiled.c_source_digest(
        tmp_path)}}))
    assert compiled._load_c_update({}, tmp_path) == (fast.update, None)
    src.write_text("/* edited */\n")
    with pytest.warns(RuntimeWarning, match="_smt_fast.c"):
        update, reason = compiled._load_c_update({}, tmp_path)
    assert update is None and reason is not None and "reinstall" in reason
    src.unlink()  # an install without the source (a wheel): nothing to compare
    assert compiled._load_c_update({}, tmp_path) == (fast.update, None)


def test_records_in_the_fast_layers_are_read_without_calling_get() -> None:
    """Decision 105: the C update looks a record up in ``tree.nodes.fast_layers`` itself and
    calls get() only for the rest; the result is the Python update's."""
    rng = random.Random(7)
    plain = Reader()
    t = SparseMerkleTree(plain, None)
    root = step(plain, t, EMPTY, {b"k%d" % i: rng.randbytes(20) for i in range(2000)})
    recs = dict(plain.records)
    half = dict(list(recs.items())[: len(recs) // 2])
    rest = {h: v for h, v in recs.items() if h not in half}
    # a None in an earlier layer does not hide the record of a later one
    shadow = {h: None for h in list(rest)[:50]}
    layered = LayeredReader(recs, (half, shadow, rest))
    lt = SparseMerkleTree(layered, None)
    for _ in range(10):
        changes: dict[bytes, bytes | None] = {
            b"k%d" % rng.randrange(3000): rng.randbytes(20) for _ in range(40)}
        plain.reads.clear()
        want = run_update(t, root, entries_of(changes))
        assert plain.reads, "the update read records"
        layered.reads.clear()
        assert fast.update(lt, root, changes) == want
        assert layered.reads == []  # every record it read was in a layer
        root = want[0]
        plain.records.update(want[1])
        recs.update(want[1])
        rest.update(want[1])
    empty_layers = LayeredReader(recs, ())  # no layer: every read through get(), in order
    et = SparseMerkleTree(empty_layers, None)
    changes = {b"k1": b"x", b"new": b"y"}
    plain.reads.clear()
    want = run_update(t, root, entries_of(changes))
    assert fast.update(et, root, changes) == want
    assert empty_layers.reads == plain.reads


def test_a_record_missing_from_the_layers_is_read_through_get() -> None:
    plain = Reader()
    t = SparseMerkleTree(plain, None)
    root = step(plain, t, EMPTY, {b"k%d" % i: b"v%d" % i for i in range(500)})
    recs = dict(plain.records)
    layered = LayeredReader(recs, ({h: v for h, v in recs.items() if h != root},))
    changes = {b"k3": b"changed"}
    want = run_update(t, root, entries_of(changes))
    assert fast.update(SparseMerkleTree(layered, None), root, changes) == want
    assert layered.reads == [root]


def test_a_damaged_record_in_a_layer_is_left_to_the_python_code() -> None:
    plain = Reader()
    t = SparseMerkleTree(plain, None)
    root = step(plain, t, EMPTY, {b"k%d" % i: b"v%d" % i for i in range(500)})
    recs = dict(plain.records)
    damaged = dict(recs)
    damaged[root] = b"\x04" + b"\x00" * 7  # a page too short
    layered = LayeredReader(damaged, (damaged,))
    assert fast.update(SparseMerkleTree(layered, None), root, {b"k3": b"x"}) is None
    with pytest.raises(StorageError):
        SparseMerkleTree(layered, None).update(root, {b"k3": b"x"}, {})


@pytest.mark.parametrize("layers", [[{}], ({}, [1]), "no", ({}, None)])
def test_fast_layers_of_another_form_are_refused(layers: Any) -> None:
    plain = Reader()
    t = SparseMerkleTree(plain, None)
    root = step(plain, t, EMPTY, {b"a": b"1", b"b": b"2"})
    bad = LayeredReader(dict(plain.records), layers)
    with pytest.raises(TypeError, match="fast_layers"):
        fast.update(SparseMerkleTree(bad, None), root, {b"a": b"3"})


def test_the_ledgers_node_reader_offers_its_layers_in_get_order() -> None:
    from chainfin.store import MemoryStore
    from node.ledger import _NodeCache, _ReadCache

    cache = _ReadCache(MemoryStore(), b"m/")
    cache.update({b"c": b"3", b"gone": None})
    a, b = {b"a": b"1"}, {b"b": b"2", b"a": b"shadowed"}
    nc = _NodeCache(cache, [a, b])
    assert nc.fast_layers == (a, b, cache.data)
    for k in (b"a", b"b", b"c"):  # the first non-None value in the layers is get()'s answer
        assert next(d[k] for d in nc.fast_layers if d.get(k) is not None) == nc.get(k)
