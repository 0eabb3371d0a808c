"""Key-value storage: the ``KVStore`` protocol, an in-memory store for tests and LevelDB (plyvel).

This is the only module that imports plyvel.

Semantics every backend gives (``tests/unit/test_store.py`` runs the same tests on both):

- keys and values are ``bytes``; ``get`` of a missing key is ``None``;
- ``iterate(prefix, start=, stop=, reverse=)`` yields ``(key, value)`` in byte order of the key
  (reversed with ``reverse=True``), restricted to keys that start with ``prefix``, with ``start``
  inclusive and ``stop`` exclusive (both full keys). It reads a snapshot taken when iteration starts:
  writes made while iterating are not seen;
- ``with store.write_batch(sync=...) as b:`` collects ``b.put``/``b.delete`` and applies them all
  atomically when the block exits normally; if the block raises, nothing is written. After the
  block the batch is dead (using it raises ``StorageError``);
- ``sync=True`` (on a batch or a single put/delete) returns only once the write is on stable
  storage (LevelDB ``WriteOptions.sync``: the log is fsync'd). Anything consensus safety depends on
  (the ``w/`` WAL of what this node signed, the commit of a block) is written with ``sync=True``
  before the message that depends on it leaves the node. A process crash (even SIGKILL) loses no
  completed write either way; ``sync`` is what survives a power loss or kernel crash;
- every backend error is a :class:`StorageError` (fatal: the node stops).

Key spaces (DESIGN.md "Storage"; see docs/storage.md): one database per node, each kind of record
under its own prefix. Heights are 8-byte big-endian so that key order is height order.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from chainfin.errors import StorageError

__all__ = [
    "BLOCKS",
    "BLOCK_HEIGHT",
    "TX_INDEX",
    "STATE",
    "LEGACY_STATE",
    "NONCE_INDEX",
    "STATE_HASH_BYTES",
    "state_db_key",
    "state_key_of",
    "state_region",
    "nonce_key",
    "nonce_key_of_receipt",
    "nonce_keys_of_state",
    "nonce_word_index_key",
    "NONCE_WORD_INDEX",
    "SMT_NODES",
    "WAL",
    "CHECKPOINTS",
    "VALIDATOR_SETS",
    "META",
    "KEY_INDEX",
    "PREFIXES",
    "height_key",
    "parse_height",
    "prefix_end",
    "KVReader",
    "KVWriter",
    "KVStore",
    "MemoryStore",
    "PlyvelStore",
    "DamagedStore",
    "Prefixed",
    "PrefixedWriter",
    "StorePin",
    "Keyspace",
    "keyspace",
    "Overlay",
]

# --------------------------------------------------------------------------- key spaces

BLOCKS = b"b/"  # b/<height 8B>        -> block record (block + certificate)
BLOCK_HEIGHT = b"h/"  # h/<block hash>  -> height 8B
TX_INDEX = b"t/"  # t/<tx id>           -> tx location (height, index)
# y/<first 8 bytes of SHA-256(state key)><state key> -> current committed value: ordered by key
# hash like the state tree, so a state-sync region is one sequential scan (decision 92)
STATE = b"y/"
LEGACY_STATE = b"s/"  # s/<state key>: the state's layout before decision 92 (migrated on open)
SMT_NODES = b"m/"  # m/<node hash>      -> encoded SMT node (chainfin.smt)
# the WAL key after w/ is chainfin.consensus.engine.record_key: sequence first, so the records
# below a height (PruneLog) are a key range
WAL = b"w/"  # w/<seq 8B><view 8B><tag> -> what this node signed (synced before it is sent)
CHECKPOINTS = b"c/"  # c/<height 8B>    -> checkpoint record
VALIDATOR_SETS = b"v/"  # v/<height 8B> -> validator set in force from that height
META = b"meta/"  # meta/<name>          -> tip, genesis hash, schema version, ...
KEY_INDEX = b"k/"  # k/<key hash> -> state key: before decision 92 (deleted on open)
NONCE_INDEX = b"n/"  # n/<sender 32B><nonce 8B> -> b"": the nonces a sender used (/v1/nonce)
# o/<sender 32B><word 8B> -> b"": the nonce words a sender has (blocks of ledger format 2, whose
# state says which of a word's 256 nonces are used; decision 95)
NONCE_WORD_INDEX = b"o/"

PREFIXES: Mapping[str, bytes] = {
    "blocks": BLOCKS,
    "block_height": BLOCK_HEIGHT,
    "tx_index": TX_INDEX,
    "state": STATE,
    "smt_nodes": SMT_NODES,
    "wal": WAL,
    "checkpoints": CHECKPOINTS,
    "validator_sets": VALIDATOR_SETS,
    "meta": META,
    "legacy_state": LEGACY_STATE,
    "key_index": KEY_INDEX,
    "nonce_index": NONCE_INDEX,
    "nonce_word_index": NONCE_WORD_INDEX,
}

#: bytes of the key hash that order the state key space (a state-sync region is at most
#: ``chainfin.snapshot.MAX_CHUNK_DEPTH`` <= 64 bits deep, so it is a range of this prefix)
STATE_HASH_BYTES = 8


def state_db_key(key: bytes) -> bytes:
    """Where state key ``key``'s value is stored: ``y/`` + the first 8 bytes of its SHA-256 +
    the key (decision 92)."""
    return STATE + hashlib.sha256(key).digest()[:STATE_HASH_BYTES] + key


def state_key_of(db_key: bytes) -> bytes:
    """The state key of a stored state entry's database key (:func:`state_db_key` undone)."""
    return db_key[len(STATE) + STATE_HASH_BYTES:]


def nonce_key(sender: bytes, nonce: int) -> bytes:
    """The ``n/`` entry saying ``sender`` used ``nonce`` (a node-local index: ``/v1/nonce``
    answers from it, since the state is ordered by key hash, not by sender)."""
    return NONCE_INDEX + sender + nonce.to_bytes(8, "big")


def nonce_word_index_key(sender: bytes, word: int) -> bytes:
    """The ``o/`` entry saying ``sender`` has the nonce word ``word`` (nonces ``word * 256`` to
    ``word * 256 + 255``) in the state."""
    return NONCE_WORD_INDEX + sender + word.to_bytes(8, "big")


def nonce_key_of_receipt(state_key: bytes) -> bytes | None:
    """The ``n/`` entry of a receipt's state key (``_tx/<sender hex>/<nonce>``, the format of
    ``chainfin.execution.receipt_key``), or None for any other state key."""
    if not state_key.startswith(b"_tx/"):
        return None
    sender, _, nonce = state_key[4:].partition(b"/")
    try:
        return nonce_key(bytes.fromhex(sender.decode()), int(nonce))
    except (ValueError, UnicodeDecodeError, OverflowError):
        return None


def nonce_keys_of_state(state_key: bytes) -> list[bytes]:
    """The node-local index entries a state entry calls for: an ``n/`` entry for a receipt
    (ledger format 1, :func:`nonce_key_of_receipt`), an ``o/`` entry for a nonce word (format 2,
    ``_nonce/<sender hex>/<word>``, the format of ``chainfin.execution.nonce_word_key``), none
    for any other key (or a malformed one)."""
    if state_key[:4] == b"_tx/":
        nk = nonce_key_of_receipt(state_key)
        return [] if nk is None else [nk]
    if state_key[:7] != b"_nonce/":
        return []
    sender, _, word = state_key[7:].partition(b"/")
    try:
        who, w = bytes.fromhex(sender.decode()), int(word)
    except (ValueError, UnicodeDecodeError):
        return []
    if len(who) != 32 or not 0 <= w < 1 << 56:
        return []
    return [nonce_word_index_key(who, w)]


def state_region(prefix: int, depth: int) -> tuple[bytes, bytes | None]:
    """(start, stop) database keys of the state entries whose key hash starts with the
    ``depth``-bit ``prefix`` (0 <= depth <= 64); stop None: to the end of the key space."""
    if not 0 <= depth <= 8 * STATE_HASH_BYTES or not 0 <= prefix < 1 << depth:
        raise ValueError(f"no state region {prefix}/{depth}")
    bits = 8 * STATE_HASH_BYTES
    lo = prefix << (bits - depth)
    hi = (prefix + 1) << (bits - depth)
    stop = STATE + hi.to_bytes(STATE_HASH_BYTES, "big") if hi < 1 << bits else prefix_end(STATE)
    return STATE + lo.to_bytes(STATE_HASH_BYTES, "big"), stop

_U64 = 1 << 64


def height_key(height: int) -> bytes:
    """8-byte big-endian encoding: byte order of the keys is numeric order of the heights.

    Raises:
        ValueError: ``height`` is not an int in [0, 2**64).
    """
    if type(height) is not int or not 0 <= height < _U64:
        raise ValueError(f"height must be an integer in [0, 2**64), got {height!r}")
    return height.to_bytes(8, "big")


def parse_height(key: bytes) -> int:
    """Inverse of :func:`height_key` (takes exactly 8 bytes).

    Raises:
        StorageError: not 8 bytes (a corrupt key).
    """
    if len(key) != 8:
        raise StorageError(f"a height key is 8 bytes, got {len(key)}")
    return int.from_bytes(key, "big")


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with ``prefix`` (None: no bound)."""
    p = bytearray(prefix)
    while p:
        if p[-1] != 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return None


def _range(prefix: bytes, start: bytes | None, stop: bytes | None) -> tuple[bytes, bytes | None]:
    """Intersect the prefix range with [start, stop)."""
    lo = prefix if start is None or start < prefix else start
    hi = prefix_end(prefix)
    if stop is not None and (hi is None or stop < hi):
        hi = stop
    return lo, hi


def _check_bytes(*items: object) -> None:
    for x in items:
        if type(x) is not bytes:
            raise TypeError(f"keys and values must be bytes, not {type(x).__name__}")


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class KVReader(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


@runtime_checkable
class KVWriter(Protocol):
    """What a write batch offers (and what SMT/ledger code writes into)."""

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class StorePin(Protocol):
    """A read-only view of a store at one moment (:meth:`PlyvelStore.pin`); what a store reads
    with too."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]: ...

    def close(self) -> None: ...


class KVStore(StorePin, Protocol):
    """A store: a pin's reads, and writes."""

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None: ...

    def delete(self, key: bytes, *, sync: bool = False) -> None: ...

    def write_batch(self, *, sync: bool = False) -> AbstractContextManager[KVWriter]: ...

    @property
    def closed(self) -> bool: ...


# --------------------------------------------------------------------------- batches


class _Batch:
    """Buffered put/delete operations; the store applies them on a clean exit of the ``with``."""

    __slots__ = ("_ops", "_live")

    def __init__(self) -> None:
        self._ops: dict[bytes, bytes | None] = {}  # last write per key wins, as in LevelDB
        self._live = True

    def _check(self) -> None:
        if not self._live:
            raise StorageError("write batch used after its `with` block ended")

    def put(self, key: bytes, value: bytes) -> None:
        self._check()
        _check_bytes(key, value)
        self._ops[key] = value

    def delete(self, key: bytes) -> None:
        self._check()
        _check_bytes(key)
        self._ops[key] = None

    def __len__(self) -> int:
        return len(self._ops)


# --------------------------------------------------------------------------- memory


def _dict_range(data: dict[bytes, bytes], prefix: bytes, start: bytes | None,
                stop: bytes | None, reverse: bool) -> Iterator[tuple[bytes, bytes]]:
    """A dict's entries in the key range of ``KVStore.iterate``, sorted (a copy: the dict may
    change while the caller iterates)."""
    lo, hi = _range(prefix, start, stop)
    snap = sorted((k, v) for k, v in data.items() if k >= lo and (hi is None or k < hi))
    if reverse:
        snap.reverse()
    return iter(snap)


class MemoryStore:
    """Dict-backed KVStore with the same semantics as PlyvelStore (no durability)."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise StorageError("store is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def get(self, key: bytes) -> bytes | None:
        self._check()
        return self._data.get(key)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self._check()
        _check_bytes(key, value)
        self._data[key] = value

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self._check()
        _check_bytes(key)
        self._data.pop(key, None)

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check()
        return _dict_range(self._data, prefix, start, stop, reverse)

    @contextmanager
    def _batch(self, sync: bool) -> Iterator[KVWriter]:
        self._check()
        b = _Batch()
        try:
            yield b
        except BaseException:
            b._live = False
            raise
        b._live = False
        self._check()
        for k, v in b._ops.items():
            if v is None:
                self._data.pop(k, None)
            else:
                self._data[k] = v

    def write_batch(self, *, sync: bool = False) -> AbstractContextManager[KVWriter]:
        return self._batch(sync)

    def pin(self) -> StorePin:
        """A read-only view of the store as it is now (see :meth:`PlyvelStore.pin`); here a
        copy of the dict (tests only)."""
        self._check()
        return _MemoryPin(dict(self._data))

    def close(self) -> None:
        self._closed = True

    def __len__(self) -> int:
        return len(self._data)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- LevelDB


def _is_lock_error(e: BaseException) -> bool:
    msg = e.args[0] if e.args else b""
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return "lock" in str(msg).lower() and "LOCK" in str(msg)


def _msg(e: BaseException) -> str:
    m = e.args[0] if e.args else ""
    return m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m)


# LevelDB tuning (docs/storage.md "LevelDB options"): most keys a node writes are hashes (SMT
# pages, tx ids), random and incompressible, so compression only costs CPU; a 64 MiB memtable
# and 32 MiB tables mean few, large flushes instead of a compaction every second (with the 4 MiB
# default, L1->L2 compactions of 10+ tables ran back to back under load and finality degraded
# within 15 s); bloom filters make misses (receipt and tx-index lookups of new transactions)
# cost no table read.
LEVELDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 64 << 20,
    "max_file_size": 32 << 20,
    "lru_cache_size": 64 << 20,
    "bloom_filter_bits": 10,
    "compression": None,
    # refuse to open a database whose log or tables fail their checksums instead of silently
    # dropping the damaged records (they may be votes this node signed)
    "paranoid_checks": True,
}


def deprioritize_native_threads(nice: int = 10) -> int:
    """Give this process's native background threads (LevelDB's compaction thread) a lower CPU
    priority than the threads Python knows (the event loop, libuv's workers), so a busy node
    spends its CPU on consensus and REST first and compacts in what is left (docs/storage.md,
    decision 22). Linux only (``/proc/self/task``); elsewhere, or for threads already done,
    nothing happens. Raising niceness needs no privilege. Returns how many threads it changed.
    """
    import threading

    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    known = {t.native_id for t in threading.enumerate()}
    changed = 0
    for tid in tids:
        if tid in known:
            continue
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().startswith("libuv"):
                    continue
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                changed += 1
        except OSError:  # the thread ended meanwhile
            continue
    return changed


_MARK_SIZE = 128


class DamagedStore(StorageError):
    """The data directory is damaged (checksums, missing records): the node must not start on it.
    The repair is ``chainfin node resync --config F`` (docs/reliability.md)."""


class PlyvelStore:
    """LevelDB via plyvel. One process at a time may open a database (LevelDB's LOCK file).

    Raises (constructor):
        StorageError: the database is locked by another process or handle (the message names the
            path), or cannot be opened/created.
    """

    def __init__(self, path: str | os.PathLike[str], *, create_if_missing: bool = True) -> None:
        import plyvel  # the only plyvel import in chainfin

        self.path = os.fspath(path)
        self._plyvel: Any = plyvel
        self._marks: dict[str, int] = {}
        try:
            self._db: Any = plyvel.DB(self.path, create_if_missing=create_if_missing,
                                      **LEVELDB_OPTIONS)
        except plyvel.CorruptionError as e:
            raise DamagedStore(f"the LevelDB at {self.path} is damaged: {_msg(e)}") from e
        except plyvel.IOError as e:
            if _is_lock_error(e):
                raise StorageError(
                    f"LevelDB at {self.path} is locked by another process "
                    f"(another node using this data dir?): {_msg(e)}"
                ) from e
            raise StorageError(f"cannot open LevelDB at {self.path}: {_msg(e)}") from e
        except (plyvel.Error, OSError) as e:
            raise StorageError(f"cannot open LevelDB at {self.path}: {_msg(e)}") from e

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        wait_s: float = 0.0,
        poll_s: float = 0.05,
        create_if_missing: bool = True,
    ) -> PlyvelStore:
        """Open, retrying for up to ``wait_s`` seconds while another process holds the lock.

        A restarted node uses this to wait for its killed predecessor's lock to go (TRAPS #16).

        Raises:
            StorageError: still locked after ``wait_s``, or any other open failure (at once).
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return cls(path, create_if_missing=create_if_missing)
            except StorageError as e:
                cause = e.__cause__
                locked = cause is not None and _is_lock_error(cause)
                if not locked or time.monotonic() >= deadline:
                    if locked and wait_s > 0:
                        raise StorageError(
                            f"LevelDB at {os.fspath(path)} still locked after waiting "
                            f"{wait_s:g}s (another process holds it)"
                        ) from e
                    raise
            time.sleep(poll_s)

    @property
    def closed(self) -> bool:
        return bool(self._db.closed)

    def write_mark(self, name: str, value: bytes) -> None:
        """Overwrite the small side file ``name`` in the database directory (not synced: written
        right after a synced write, it may lag after a power loss but never run ahead)."""
        fd = self._marks.get(name)
        if fd is None:
            fd = os.open(os.path.join(self.path, f"CHAINFIN-{name}"), os.O_WRONLY | os.O_CREAT,
                         0o600)
            self._marks[name] = fd
        os.pwrite(fd, value.hex().encode().ljust(_MARK_SIZE), 0)

    def read_mark(self, name: str) -> bytes | None:
        try:
            with open(os.path.join(self.path, f"CHAINFIN-{name}"), "rb") as f:
                return bytes.fromhex(f.read(_MARK_SIZE).decode().strip())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise DamagedStore(f"the side file {name} in {self.path} is unreadable: {e}") from e

    def free_bytes(self) -> int | None:
        """Bytes an unprivileged writer may still use on the database's filesystem."""
        try:
            st = os.statvfs(self.path)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def _fail(self, op: str, e: BaseException) -> StorageError:
        if self._db.closed:
            return StorageError(f"LevelDB at {self.path} is closed ({op})")
        return StorageError(f"LevelDB {op} failed at {self.path}: {_msg(e)}")

    def get(self, key: bytes) -> bytes | None:
        try:
            v = self._db.get(key)
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("get", e) from e
        return None if v is None else bytes(v)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        _check_bytes(key, value)
        try:
            self._db.put(key, value, sync=sync)
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("put", e) from e

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        _check_bytes(key)
        try:
            self._db.delete(key, sync=sync)
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("delete", e) from e

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._range_iter(self._db, "iterate", prefix, start, stop, reverse)

    def _range_iter(self, source: Any, op: str, prefix: bytes, start: bytes | None,
                    stop: bytes | None, reverse: bool) -> Iterator[tuple[bytes, bytes]]:
        """``source`` (the database or a snapshot of it) over ``iterate``'s key range."""
        lo, hi = _range(prefix, start, stop)
        if hi is not None and hi <= lo:
            return iter(())
        try:
            it = source.iterator(start=lo, stop=hi, reverse=reverse, include_start=True,
                                 include_stop=False)
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail(op, e) from e
        return self._drain(it)

    def _drain(self, it: Any) -> Iterator[tuple[bytes, bytes]]:
        try:
            with it:
                yield from it
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("iterate", e) from e

    @contextmanager
    def _batch(self, sync: bool) -> Iterator[KVWriter]:
        if self._db.closed:
            raise StorageError(f"LevelDB at {self.path} is closed (write_batch)")
        b = _PlyvelBatch(self._db.write_batch(sync=sync))
        try:
            yield b
        except BaseException:
            b._live = False
            b._wb.clear()
            raise
        b._live = False
        try:
            b._wb.write()
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("batch write", e) from e

    def write_batch(self, *, sync: bool = False) -> AbstractContextManager[KVWriter]:
        return self._batch(sync)

    def start_background(self, nice: int = 10) -> None:
        """Start LevelDB's background (flush/compaction) thread now and lower its priority
        (:func:`deprioritize_native_threads`). LevelDB starts that thread at its first flush, which
        would otherwise run at full priority in the middle of a busy node's work. The compaction
        of an empty key range does it: it flushes the memtable (what the log replay put there)
        and touches no table."""
        try:
            self._db.compact_range(start=b"\xff\xff\xff", stop=b"\xff\xff\xff\x00")
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("compact_range", e) from e
        deprioritize_native_threads(nice)

    def pin(self) -> StorePin:
        """A read-only view of the database as it is now, whatever is written or deleted after:
        a LevelDB snapshot (LevelDB keeps the entries it sees until it is released; it costs
        no copy). The ledger pins the state it serves as a state-sync snapshot, so that pruning
        can delete stale tree records meanwhile (decision 90). Reads from any thread; released
        when the last reference to it goes (or by :meth:`StorePin.close`).

        Raises:
            StorageError: the database is closed.
        """
        try:
            return _PlyvelPin(self, self._db.snapshot())
        except (self._plyvel.Error, RuntimeError) as e:
            raise self._fail("snapshot", e) from e

    def close(self) -> None:
        for fd in self._marks.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._marks.clear()
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> PlyvelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PlyvelStore({self.path!r}{', closed' if self.closed else ''})"


class _PlyvelBatch:
    """A LevelDB WriteBatch that only the ``with`` block of PlyvelStore.write_batch can use."""

    __slots__ = ("_wb", "_live")

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._live = True

    # (plyvel itself raises TypeError for anything but bytes: no second check here)
    def put(self, key: bytes, value: bytes) -> None:
        if not self._live:
            raise StorageError("write batch used after its `with` block ended")
        self._wb.put(key, value)

    def delete(self, key: bytes) -> None:
        if not self._live:
            raise StorageError("write batch used after its `with` block ended")
        self._wb.delete(key)


# --------------------------------------------------------------------------- prefixed views


class _MemoryPin:
    __slots__ = ("_data",)

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self._data: dict[bytes, bytes] | None = data

    def _live(self) -> dict[bytes, bytes]:
        if self._data is None:
            raise StorageError("this store pin was released")
        return self._data

    def get(self, key: bytes) -> bytes | None:
        return self._live().get(key)

    def iterate(self, prefix: bytes = b"", *, start: bytes | None = None,
                stop: bytes | None = None, reverse: bool = False
                ) -> Iterator[tuple[bytes, bytes]]:
        return _dict_range(self._live(), prefix, start, stop, reverse)

    def close(self) -> None:
        self._data = None


class _PlyvelPin:
    __slots__ = ("_store", "_snap")

    def __init__(self, store: PlyvelStore, snap: Any) -> None:
        self._store = store
        self._snap: Any = snap

    def get(self, key: bytes) -> bytes | None:
        snap = self._snap
        if snap is None:
            raise StorageError("this store pin was released")
        try:
            v: bytes | None = snap.get(key)
        except (self._store._plyvel.Error, RuntimeError) as e:
            raise self._store._fail("get (pinned)", e) from e
        return v

    def iterate(self, prefix: bytes = b"", *, start: bytes | None = None,
                stop: bytes | None = None, reverse: bool = False
                ) -> Iterator[tuple[bytes, bytes]]:
        snap = self._snap
        if snap is None:
            raise StorageError("this store pin was released")
        return self._store._range_iter(snap, "iterate (pinned)", prefix, start, stop, reverse)

    def close(self) -> None:
        """Release the LevelDB snapshot now (a read still running in another thread keeps its
        own reference: call this only when no reader is left, else drop the reference)."""
        snap, self._snap = self._snap, None
        if snap is not None and not self._store.closed:
            with contextlib.suppress(self._store._plyvel.Error, RuntimeError):
                snap.close()


class PrefixedWriter:
    """Writes into a batch (or any KVWriter) under a prefix."""

    __slots__ = ("_w", "prefix")

    def __init__(self, writer: KVWriter, prefix: bytes) -> None:
        self._w = writer
        self.prefix = prefix

    def put(self, key: bytes, value: bytes) -> None:
        self._w.put(self.prefix + key, value)

    def delete(self, key: bytes) -> None:
        self._w.delete(self.prefix + key)


class Prefixed:
    """One key space of a store: keys are given and returned without the prefix."""

    __slots__ = ("store", "prefix")

    def __init__(self, store: KVStore, prefix: bytes) -> None:
        if not prefix:
            raise ValueError("a key space needs a non-empty prefix")
        self.store = store
        self.prefix = prefix

    def key(self, suffix: bytes) -> bytes:
        return self.prefix + suffix

    def get(self, key: bytes) -> bytes | None:
        return self.store.get(self.prefix + key)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self.store.put(self.prefix + key, value, sync=sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self.store.delete(self.prefix + key, sync=sync)

    def iterate(
        self,
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key without prefix, value) in key order; ``start``/``stop`` are without the prefix."""
        n = len(self.prefix)
        it = self.store.iterate(
            self.prefix,
            start=None if start is None else self.prefix + start,
            stop=None if stop is None else self.prefix + stop,
            reverse=reverse,
        )
        return ((k[n:], v) for k, v in it)

    def last(self) -> tuple[bytes, bytes] | None:
        """The entry with the greatest key (e.g. the highest block), or None when empty."""
        return next(self.iterate(reverse=True), None)

    def writer(self, batch: KVWriter) -> PrefixedWriter:
        """A view of ``batch`` that writes into this key space."""
        return PrefixedWriter(batch, self.prefix)


@dataclass(frozen=True)
class Keyspace:
    """The node's key spaces over one store (DESIGN.md "Storage")."""

    store: KVStore
    blocks: Prefixed  # height_key(h) -> block record
    block_height: Prefixed  # block hash -> height_key(h)
    tx_index: Prefixed  # tx id -> location
    state: Prefixed  # key hash (8 bytes) + state key -> value (state_db_key)
    smt_nodes: Prefixed  # node hash -> SMT node
    wal: Prefixed  # consensus WAL
    checkpoints: Prefixed  # height_key(h) -> checkpoint
    validator_sets: Prefixed  # height_key(h) -> validator set from h
    meta: Prefixed  # name -> value
    legacy_state: Prefixed  # state key -> value (before decision 92; migrated on open)
    key_index: Prefixed  # key hash -> state key (before decision 92; dropped on open)
    nonce_index: Prefixed  # sender + nonce -> b""
    nonce_word_index: Prefixed  # sender + nonce word -> b"" (ledger format 2)


def keyspace(store: KVStore) -> Keyspace:
    return Keyspace(store, **{name: Prefixed(store, p) for name, p in PREFIXES.items()})


# --------------------------------------------------------------------------- overlay


class Overlay:
    """Uncommitted writes layered over a reader: reads see them, disk sees nothing until
    :meth:`write_to` copies them into a write batch. Overlays stack (an overlay's base may be
    another overlay), which is how block h+1 runs on block h's uncommitted state."""

    __slots__ = ("base", "_ops")

    def __init__(self, base: KVReader) -> None:
        self.base = base
        self._ops: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self._ops:
            return self._ops[key]
        return self.base.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        _check_bytes(key, value)
        self._ops[key] = value

    def delete(self, key: bytes) -> None:
        _check_bytes(key)
        self._ops[key] = None

    def changes(self) -> dict[bytes, bytes | None]:
        """The buffered writes (None = delete)."""
        return dict(self._ops)

    def write_to(self, batch: KVWriter) -> None:
        """Copy the buffered writes into ``batch``, in key order."""
        for k in sorted(self._ops):
            v = self._ops[k]
            if v is None:
                batch.delete(k)
            else:
                batch.put(k, v)

    def iterate(
        self,
        prefix: bytes = b"",
        *,
        start: bytes | None = None,
        stop: bytes | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Merged view of the base's entries and the buffered writes (base must iterate)."""
        lo, hi = _range(prefix, start, stop)
        base_iter = getattr(self.base, "iterate", None)
        if base_iter is None:
            raise TypeError("the overlay's base cannot iterate")
        merged = dict(base_iter(prefix, start=start, stop=stop))
        for k, v in self._ops.items():
            if k >= lo and (hi is None or k < hi):
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
        return iter(sorted(merged.items(), reverse=reverse))

    def __len__(self) -> int:
        return len(self._ops)
