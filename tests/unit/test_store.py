"""KVStore semantics on both backends, atomic batches, crash safety under SIGKILL, the LevelDB lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chainfin import store as st
from chainfin.errors import StorageError
from chainfin.store import MemoryStore, Overlay, PlyvelStore, Prefixed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "plyvel"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[st.KVStore]:
    s: st.KVStore = MemoryStore() if request.param == "memory" else PlyvelStore(tmp_path / "db")
    yield s
    s.close()


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


# --------------------------------------------------------------------------- basic semantics


def test_get_put_delete(kv: st.KVStore) -> None:
    assert kv.get(b"a") is None
    kv.put(b"a", b"1")
    kv.put(b"b", b"", sync=True)
    assert kv.get(b"a") == b"1"
    assert kv.get(b"b") == b""  # empty value is a value, not a missing key
    kv.put(b"a", b"2")
    assert kv.get(b"a") == b"2"
    kv.delete(b"a")
    kv.delete(b"never-there")
    assert kv.get(b"a") is None


def test_rejects_non_bytes(kv: st.KVStore) -> None:
    with pytest.raises(TypeError):
        kv.put("a", b"1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kv.put(b"a", "1")  # type: ignore[arg-type]


def test_iterate_prefix_order_start_stop_reverse(kv: st.KVStore) -> None:
    for h in (0, 1, 2, 255, 256, 65_536, 2**40):
        kv.put(st.BLOCKS + st.height_key(h), str(h).encode())
    kv.put(b"a/x", b"-")
    kv.put(b"c/x", b"-")
    kv.put(b"b", b"-")  # shares the first byte but not the prefix
    heights = [st.parse_height(k[2:]) for k, _ in kv.iterate(st.BLOCKS)]
    assert heights == [0, 1, 2, 255, 256, 65_536, 2**40]  # key order is height order
    rev = [st.parse_height(k[2:]) for k, _ in kv.iterate(st.BLOCKS, reverse=True)]
    assert rev == heights[::-1]
    ranged = [
        st.parse_height(k[2:])
        for k, _ in kv.iterate(st.BLOCKS, start=st.BLOCKS + st.height_key(2),
                               stop=st.BLOCKS + st.height_key(65_536))
    ]
    assert ranged == [2, 255, 256]
    ranged_rev = [
        st.parse_height(k[2:])
        for k, _ in kv.iterate(st.BLOCKS, start=st.BLOCKS + st.height_key(2),
                               stop=st.BLOCKS + st.height_key(65_536), reverse=True)
    ]
    assert ranged_rev == [256, 255, 2]
    assert list(kv.iterate(b"zz/")) == []
    assert list(kv.iterate(st.BLOCKS, start=b"c", stop=b"d")) == []  # disjoint from the prefix
    assert len(list(kv.iterate())) == 10


def test_iterate_is_a_snapshot(kv: st.KVStore) -> None:
    for i in range(5):
        kv.put(b"k/" + bytes([i]), b"v")
    it = kv.iterate(b"k/")
    first = next(it)
    kv.put(b"k/\x09", b"late")
    kv.delete(b"k/\x03")
    rest = list(it)
    assert [first[0], *(k for k, _ in rest)] == [b"k/" + bytes([i]) for i in range(5)]


def test_iterate_prefix_ending_in_ff(kv: st.KVStore) -> None:
    kv.put(b"\xff\xff\x01", b"1")
    kv.put(b"\xff\xff", b"0")
    kv.put(b"\xfe", b"x")
    assert [k for k, _ in kv.iterate(b"\xff\xff")] == [b"\xff\xff", b"\xff\xff\x01"]
    assert st.prefix_end(b"\xff\xff") is None
    assert st.prefix_end(b"a\xff") == b"b"


def test_batch_applies_atomically_in_order(kv: st.KVStore) -> None:
    kv.put(b"gone", b"x")
    with kv.write_batch(sync=True) as b:
        b.put(b"a", b"1")
        b.put(b"a", b"2")  # last write wins
        b.delete(b"gone")
        b.put(b"c", b"3")
        b.delete(b"c")
        assert kv.get(b"a") is None  # nothing visible before the batch ends
    assert kv.get(b"a") == b"2"
    assert kv.get(b"gone") is None
    assert kv.get(b"c") is None


def test_exception_in_batch_writes_nothing(kv: st.KVStore) -> None:
    kv.put(b"keep", b"old")
    with pytest.raises(RuntimeError, match="boom"), kv.write_batch(sync=True) as b:
        b.put(b"keep", b"new")
        b.put(b"x", b"1")
        raise RuntimeError("boom")
    assert kv.get(b"keep") == b"old"
    assert kv.get(b"x") is None
    with pytest.raises(StorageError):
        b.put(b"y", b"1")  # a dead batch cannot be reused


def test_batch_dead_after_commit(kv: st.KVStore) -> None:
    with kv.write_batch() as b:
        b.put(b"a", b"1")
    with pytest.raises(StorageError):
        b.put(b"b", b"2")
    assert kv.get(b"b") is None


def test_closed_store_raises_storage_error(kv: st.KVStore) -> None:
    kv.put(b"a", b"1")
    kv.close()
    assert kv.closed
    with pytest.raises(StorageError):
        kv.get(b"a")
    with pytest.raises(StorageError):
        kv.put(b"a", b"2")
    with pytest.raises(StorageError), kv.write_batch() as b:
        b.put(b"a", b"2")


def test_height_key() -> None:
    assert st.height_key(0) == b"\0" * 8
    assert st.height_key(258) == b"\0" * 6 + b"\x01\x02"
    assert st.parse_height(st.height_key(2**64 - 1)) == 2**64 - 1
    for bad in (-1, 2**64, 1.0, "1", True):
        with pytest.raises(ValueError):
            st.height_key(bad)  # type: ignore[arg-type]
    with pytest.raises(StorageError):
        st.parse_height(b"\0" * 7)
    keys = [st.height_key(h) for h in (5, 300, 1, 2**33, 70_000)]
    assert sorted(keys) == [st.height_key(h) for h in (1, 5, 300, 70_000, 2**33)]


def test_prefixes_are_disjoint() -> None:
    ps = list(st.PREFIXES.values())
    assert len(set(ps)) == len(ps)
    for a in ps:
        for b in ps:
            assert a == b or not b.startswith(a), (a, b)


def test_prefixed_and_keyspace(kv: st.KVStore) -> None:
    ks = st.keyspace(kv)
    ks.blocks.put(st.height_key(7), b"block7")
    ks.blocks.put(st.height_key(3), b"block3")
    ks.meta.put(b"tip", b"t")
    ks.state.put(b"tip", b"not-meta")
    assert kv.get(b"b/" + st.height_key(7)) == b"block7"
    assert ks.meta.get(b"tip") == b"t"
    assert list(ks.blocks.iterate()) == [(st.height_key(3), b"block3"), (st.height_key(7), b"block7")]
    assert list(ks.blocks.iterate(start=st.height_key(4))) == [(st.height_key(7), b"block7")]
    assert ks.blocks.last() == (st.height_key(7), b"block7")
    assert ks.checkpoints.last() is None
    with kv.write_batch(sync=True) as b:
        ks.tx_index.writer(b).put(b"\x01" * 32, b"loc")
        ks.blocks.writer(b).delete(st.height_key(3))
    assert kv.get(b"t/" + b"\x01" * 32) == b"loc"
    assert ks.blocks.get(st.height_key(3)) is None
    with pytest.raises(ValueError):
        Prefixed(kv, b"")


def test_overlay(kv: st.KVStore) -> None:
    kv.put(b"s/a", b"1")
    kv.put(b"s/b", b"2")
    o1 = Overlay(kv)
    o1.put(b"s/c", b"3")
    o1.delete(b"s/a")
    o2 = Overlay(o1)  # block h+1 on top of block h's uncommitted writes
    o2.put(b"s/a", b"again")
    assert o1.get(b"s/a") is None and o1.get(b"s/c") == b"3"
    assert o2.get(b"s/a") == b"again" and o2.get(b"s/b") == b"2"
    assert list(o1.iterate(b"s/")) == [(b"s/b", b"2"), (b"s/c", b"3")]
    assert [k for k, _ in o2.iterate(b"s/", reverse=True)] == [b"s/c", b"s/b", b"s/a"]
    assert kv.get(b"s/c") is None  # nothing on disk yet
    with kv.write_batch(sync=True) as b:
        o1.write_to(b)
    assert kv.get(b"s/a") is None and kv.get(b"s/c") == b"3"


def test_reopen_after_close(tmp_path: Path) -> None:
    path = tmp_path / "db"
    s = PlyvelStore(path)
    with s.write_batch(sync=True) as b:
        for i in range(100):
            b.put(st.BLOCKS + st.height_key(i), b"x" * i)
    s.close()
    s.close()  # idempotent
    with PlyvelStore.open(path) as s2:
        assert s2.get(st.BLOCKS + st.height_key(99)) == b"x" * 99
        assert len(list(s2.iterate(st.BLOCKS))) == 100


def test_open_missing_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open"):
        PlyvelStore(tmp_path / "nope", create_if_missing=False)


def test_same_process_double_open_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with PlyvelStore(path), pytest.raises(StorageError, match="locked") as ei:
        PlyvelStore(path)
    assert str(path) in str(ei.value)


# --------------------------------------------------------------------------- across processes

_HOLDER = """
import sys
from chainfin.store import PlyvelStore
s = PlyvelStore(sys.argv[1])
s.put(b"holder", b"yes", sync=True)
print("ready", flush=True)
sys.stdin.readline()          # hold the lock until the parent says so (or kills us)
s.close()
"""


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "db"
    child = _child(_HOLDER, str(path))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with pytest.raises(StorageError, match="locked by another process") as ei:
            PlyvelStore(path)
        assert str(path) in str(ei.value)
        t0 = time.monotonic()
        with pytest.raises(StorageError, match="still locked after waiting"):
            PlyvelStore.open(path, wait_s=0.3)
        assert time.monotonic() - t0 >= 0.3
        # the holder is SIGKILLed (a crashed node); the restarted one waits for the lock and opens
        os.kill(child.pid, signal.SIGKILL)
        with PlyvelStore.open(path, wait_s=10) as s:
            assert s.get(b"holder") == b"yes"
    finally:
        child.kill()
        child.wait()


def test_open_waits_until_the_lock_is_released(tmp_path: Path) -> None:
    path = tmp_path / "db"
    child = _child(_HOLDER, str(path))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert child.stdin is not None
        release_at = time.monotonic() + 0.5

        # release shortly after we start waiting (the child closes its DB when stdin gets a line)
        import threading

        def release() -> None:
            time.sleep(max(0.0, release_at - time.monotonic()))
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()

        threading.Thread(target=release, daemon=True).start()
        with PlyvelStore.open(path, wait_s=10, poll_s=0.02) as s:
            assert time.monotonic() >= release_at
            assert s.get(b"holder") == b"yes"
    finally:
        child.kill()
        child.wait()


_WRITER = """
import sys
from chainfin.store import PlyvelStore
s = PlyvelStore(sys.argv[1])
per = int(sys.argv[2])
i = 0
while True:
    with s.write_batch(sync=True) as b:
        for j in range(per):
            b.put(b"k/%08d/%04d" % (i, j), b"batch %d entry %d " % (i, j) + b"x" * 200)
        b.put(b"meta/last", b"%d" % i)
    print(i, flush=True)   # reported only after the synced batch returned
    i += 1
"""


def test_synced_batches_survive_sigkill_whole(tmp_path: Path) -> None:
    path = tmp_path / "db"
    per = 50
    child = _child(_WRITER, str(path), str(per))
    reported = -1
    try:
        assert child.stdout is not None
        # let it write for a while, then kill it in the middle of whatever it is doing
        while reported < 40:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "writer died"
            reported = int(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        # anything it printed before dying also counts as reported
        for line in child.stdout.read().split():
            reported = max(reported, int(line))
    finally:
        child.kill()
        child.wait()

    with PlyvelStore.open(path, wait_s=10) as s:
        counts: dict[int, int] = {}
        for k, v in s.iterate(b"k/"):
            i, j = int(k[2:10]), int(k[11:15])
            assert v == b"batch %d entry %d " % (i, j) + b"x" * 200  # no torn values
            counts[i] = counts.get(i, 0) + 1
        # every batch reported as written is present and whole
        for i in range(reported + 1):
            assert counts.get(i) == per, f"reported batch {i} has {counts.get(i)} of {per} entries"
        # batches beyond the last report (written but not yet printed) are whole or absent
        assert all(c == per for c in counts.values()), counts
        assert sorted(counts) == list(range(len(counts)))  # no gaps: batches land in order
        last = s.get(b"meta/last")
        assert last is not None and int(last) == max(counts)


# --------------------------------------------------------------------------- testnet.micro
# (lives here because it mostly measures storage; the brief limits which test files exist)


def test_micro_benchmark_quick_prints_every_operation() -> None:
    import json

    from testnet.micro import OPERATIONS

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "testnet.micro", "--quick", "--json"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    doc = json.loads(out.stdout)
    assert doc["quick"] is True
    names = [r["name"] for r in doc["results"]]
    assert names == list(OPERATIONS)
    assert all(r["median_us"] > 0 and r["ops_per_s"] > 0 for r in doc["results"])
    table = subprocess.run([sys.executable, "-m", "testnet.micro"], capture_output=True,
                           text=True, timeout=60, check=True,
                           env=dict(env, CHAINFIN_MICRO_QUICK="1")).stdout
    for name in OPERATIONS:
        assert name in table


def test_native_background_threads_get_a_lower_priority(tmp_path):
    import threading

    from chainfin.store import deprioritize_native_threads

    if not sys.platform.startswith("linux") or os.getpriority(os.PRIO_PROCESS, 0) >= 10:
        pytest.skip("needs Linux and a process that is not niced already")
    store = PlyvelStore(tmp_path / "db")
    try:
        for i in range(60_000):  # enough to fill a memtable: LevelDB starts its own thread
            store.put(b"k%08d" % i, os.urandom(2000))
        python_threads = {t.native_id for t in threading.enumerate()}
        native = [int(t) for t in os.listdir("/proc/self/task") if int(t) not in python_threads]
        assert native, "LevelDB's background thread should exist by now"
        deprioritize_native_threads(10)  # (another test may have lowered it already)
        assert all(os.getpriority(os.PRIO_PROCESS, t) >= 10 for t in native)
        for t in python_threads:  # the event loop's thread keeps its priority
            assert os.getpriority(os.PRIO_PROCESS, t) < 10
        assert deprioritize_native_threads(10) == 0  # idempotent
    finally:
        store.close()


def test_start_background_starts_the_compaction_thread_at_a_lower_priority(tmp_path):
    import threading

    if not sys.platform.startswith("linux") or os.getpriority(os.PRIO_PROCESS, 0) >= 10:
        pytest.skip("needs Linux and a process that is not niced already")
    store = PlyvelStore(tmp_path / "db")
    try:
        store.put(b"k", b"v")
        store.start_background(nice=10)
        python_threads = {t.native_id for t in threading.enumerate()}
        native = [int(t) for t in os.listdir("/proc/self/task") if int(t) not in python_threads]
        assert native and all(os.getpriority(os.PRIO_PROCESS, t) >= 10 for t in native)
        assert store.get(b"k") == b"v"  # the empty-range compaction touched no data
    finally:
        store.close()
