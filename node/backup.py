"""Backups of a node's data directory: made online or offline, verified with the genesis alone,
restored as a node's data directory (docs/operations.md "Backup and restore").

A backup is a directory of two files:

- ``data.cfb``: ``MAGIC``, then every entry of the node's database in key order as
  ``u32 key length | u32 value length | key | value`` (big-endian), except the state tree's
  records (``m/``: derived from the state, rebuilt and checked by the restore) and the
  consensus WAL (``w/``: what *this* node signed, which must never be replayed into another
  node or an older self);
- ``manifest.json``: what it holds (chain id, genesis hash, height, block hash, state root and
  the commit certificate of that block, key and byte counts, the SHA-256 of ``data.cfb``, the
  tool's version), written canonically (sorted keys, two-space indent) with a SHA-256 of its
  own fields, so that any byte changed in either file is detected.

**Consistency.** A commit writes a block, its state changes, its indexes and the new tip in one
LevelDB batch (node/ledger.py ``write_commit``), and a LevelDB snapshot sees a batch whole or not
at all. The backup reads one snapshot (``store.pin()``), taken on the event loop between two
steps of the engine, so it holds exactly the committed chain up to the tip it names; the copy
runs in a worker thread from the snapshot while the node goes on committing.

Online, the node streams the snapshot to the operator's client (``POST /v1/admin/backup``,
node/api_admin.py), which writes the files: the node writes nothing and the request names no
path. Offline (a stopped node), the client opens the database itself.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from chainfin import __version__, codec, proofs
from chainfin.errors import ChainfinError, CodecError, InvalidMessage, StorageError
from chainfin.genesis import Genesis, load_genesis
from chainfin.snapshot_tree import RegionRoot
from chainfin.store import (
    BLOCKS,
    SMT_NODES,
    STATE,
    STATE_HASH_BYTES,
    VALIDATOR_SETS,
    WAL,
    PlyvelStore,
    StorePin,
    prefix_end,
    state_key_of,
)
from chainfin.types import BlockHeader, CommitCertificate, ValidatorSet
from node.ledger import K_BASE, K_GENESIS, K_TIP, REBUILD_DEPTH, unpack_block_record
from node.statesync import K_PROGRESS as K_STATESYNC

log = logging.getLogger("chainfin.backup")

__all__ = ["BackupError", "MANIFEST", "DATA", "describe", "dump", "verify_backup",
           "restore_backup", "write_backup", "cli_backup", "cli_verify", "cli_restore"]

FORMAT = "chainfin/node-backup"
FORMAT_VERSION = 1
MAGIC = b"CHFNBKP1"
DATA = "data.cfb"
MANIFEST = "manifest.json"
#: key spaces a backup leaves out: the state tree's records (derived data, rebuilt from the
#: state by the restore and checked against the certified root) and the consensus WAL (what
#: this node signed: restoring it into another node, or into this one after it signed more,
#: would hand a replica votes it did not cast or forget that it cast them)
EXCLUDED = (SMT_NODES, WAL)
#: bytes handed to the sink at a time
CHUNK_BYTES = 1 << 20
#: the stream of ``POST /v1/admin/backup``: frames of ``kind (1 byte) | length (u32) | payload``
STREAM_TYPE = "application/x-chainfin-backup"
F_HEAD, F_DATA, F_TAIL, F_ERROR = b"H", b"D", b"T", b"E"
#: free space a backup must leave beyond its own size (on any disk)
HEADROOM_BYTES = 64 << 20
#: the client syncs the data file and checks the free space every this many bytes
SYNC_EVERY_BYTES = 16 << 20
#: the restore writes this many entries per LevelDB batch
RESTORE_BATCH = 20_000
_LEN = struct.Struct(">II")
_FRAME = struct.Struct(">cI")


class BackupError(ChainfinError):
    """A backup cannot be made, is not what its manifest says, or cannot be restored; the
    message says why."""


class Cancelled(Exception):
    """The reader of a backup stream went away."""


# --------------------------------------------------------------------------- making a backup


def describe(reader: StorePin, genesis: Genesis | None = None) -> dict[str, Any]:
    """The head of a backup of ``reader``: chain, height, block hash, state root and the
    certificate of the tip block, as the snapshot holds them.

    Raises:
        BackupError: nothing to back up (height 0), a state snapshot half installed, or a
            record that does not decode (a damaged store).
    """
    if reader.get(K_STATESYNC) is not None:
        raise BackupError("this node is installing a state snapshot: its state is partial; "
                          "back it up once the sync is done")
    raw_tip = reader.get(K_TIP)
    ghash = reader.get(K_GENESIS)
    if raw_tip is None or ghash is None:
        raise BackupError("the data directory holds no chain yet")
    try:
        height = int(codec.decode(raw_tip)["height"])
    except (CodecError, KeyError, TypeError, ValueError) as e:
        raise BackupError(f"the tip record does not decode ({e})") from e
    if height == 0:
        raise BackupError("the node is at height 0: there is nothing to back up but the "
                          "genesis (a node starts from it)")
    try:
        rec = _block_record(reader.get(BLOCKS + height.to_bytes(8, "big")))
        if rec is None:
            raise BackupError(f"the tip's block {height} is missing: the store is damaged")
        header = BlockHeader.from_wire(rec["block"]["header"])
        cert = CommitCertificate.from_wire(rec["cert"])
    except (ChainfinError, CodecError, KeyError, TypeError, ValueError) as e:
        if isinstance(e, BackupError):
            raise
        raise BackupError(f"the tip's block {height} does not decode ({e})") from e
    if genesis is not None and ghash != genesis.hash():
        raise BackupError("the data directory belongs to another genesis")
    base = reader.get(K_BASE)
    return {
        "chain_id": header.chain_id, "genesis_hash": ghash.hex(), "height": height,
        "block_hash": header.hash().hex(), "state_root": header.state_root.hex(),
        "timestamp_ms": header.timestamp_ms, "certificate": cert.to_json(),
        "base_height": 0 if base is None else int.from_bytes(base, "big"),
    }


def _block_record(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    rec: dict[str, Any] = codec.decode(unpack_block_record(raw))
    return rec


def _ranges() -> list[tuple[bytes | None, bytes | None]]:
    """The key ranges a backup copies: everything but :data:`EXCLUDED`."""
    out: list[tuple[bytes | None, bytes | None]] = []
    start: bytes | None = None
    for p in sorted(EXCLUDED):
        out.append((start, p))
        start = prefix_end(p)
    out.append((start, None))
    return out


@dataclass
class Summary:
    keys: int = 0
    bytes: int = len(MAGIC)  # of the data file
    sha256: Any = field(default_factory=lambda: hashlib.sha256(MAGIC))

    def to_json(self) -> dict[str, Any]:
        return {"key_count": self.keys, "byte_count": self.bytes,
                "sha256": self.sha256.hexdigest()}


def dump(reader: StorePin, sink: Callable[[bytes], None],
         stop: threading.Event | None = None,
         progress: Callable[[Summary], None] | None = None) -> Summary:
    """Write the data file's bytes of ``reader`` (a store pin) to ``sink``, about
    ``CHUNK_BYTES`` at a time; return the counts and the SHA-256. Runs in a worker thread: it
    holds the GIL per chunk only as long as packing a MiB takes, so the event loop keeps its
    turns (TRAPS #15).

    Raises:
        Cancelled: ``stop`` was set.
        StorageError: the store failed.
    """
    s = Summary()
    sink(MAGIC)
    buf = bytearray()
    pack = _LEN.pack

    def out() -> None:
        chunk = bytes(buf)
        s.sha256.update(chunk)
        s.bytes += len(chunk)
        sink(chunk)
        buf.clear()
        if progress is not None:
            progress(s)

    for start, stop_key in _ranges():
        for k, v in reader.iterate(start=start, stop=stop_key):
            buf += pack(len(k), len(v))
            buf += k
            buf += v
            s.keys += 1
            if len(buf) >= CHUNK_BYTES:
                if stop is not None and stop.is_set():
                    raise Cancelled()
                out()
    out()
    return s


def db_bytes(path: str | os.PathLike[str] | None) -> int | None:
    """The size of a LevelDB directory's files (an estimate of a backup's size: a backup holds
    its live entries less the tree and the WAL, so it is usually smaller)."""
    if path is None:
        return None
    try:
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    except OSError:
        return None


def frame(kind: bytes, payload: bytes) -> bytes:
    return _FRAME.pack(kind, len(payload)) + payload


def _canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def _self_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


def make_manifest(head: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    doc = {
        "format": FORMAT, "version": FORMAT_VERSION, "tool": f"chainfin {__version__}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "excluded": [p.decode() for p in EXCLUDED],
        **{k: head[k] for k in ("chain_id", "genesis_hash", "height", "block_hash",
                                "state_root", "timestamp_ms", "certificate", "base_height")},
        "source": {k: head.get(k) for k in ("node_id", "public_key")},
        "key_count": summary["key_count"], "byte_count": summary["byte_count"],
        "sha256": summary["sha256"],
    }
    doc["manifest_sha256"] = _self_hash(doc)
    return doc


class BackupWriter:
    """Writes a backup's files into ``<parent>/<name>.partial`` and renames it to
    ``<parent>/<name>`` once whole (a backup cut short never looks like one).

    ``reserve_dev``/``reserve_bytes``: on that device (the node's data directory's), keep that
    many bytes free: the backup stops with an error rather than eat the node's disk reserve
    (node/runtime.py pauses consensus below ``min_free_mb``)."""

    def __init__(self, parent: Path, reserve_dev: int | None = None,
                 reserve_bytes: int = 0) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        self.parent = parent
        self.reserve = reserve_bytes if reserve_dev == os.stat(parent).st_dev else 0
        self.dir: Path | None = None
        self._f: BinaryIO | None = None
        self._since_check = 0

    def need(self, estimate: int | None) -> None:
        """Refuse to start when the estimate does not fit.

        Raises:
            BackupError: not enough free space (the message gives the figures).
        """
        free = shutil.disk_usage(self.parent).free
        want = (estimate or 0) + HEADROOM_BYTES + self.reserve
        if free < want:
            raise BackupError(
                f"not enough free space in {self.parent}: the backup needs about "
                f"{_mb(estimate or 0)} (the node's database is that size), {_mb(free)} is free"
                + (f", and the node's data directory on the same disk keeps its reserve of "
                   f"{_mb(self.reserve)}" if self.reserve else "")
                + "; choose another backup_dir (--out) or free space")

    def open(self, head: dict[str, Any]) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{head['chain_id']}-h{head['height']}-{stamp}"
        self.final = self.parent / name
        self.dir = self.parent / (name + ".partial")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(mode=0o700)
        fd = os.open(self.dir / DATA, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._f = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        assert self._f is not None
        self._f.write(chunk)
        self._since_check += len(chunk)
        if self._since_check >= SYNC_EVERY_BYTES:
            self._since_check = 0
            # written back now, a little at a time: left to the kernel, a backup's dirty pages
            # go out in bursts that stall the synced writes of a node on the same disk
            os.fdatasync(self._f.fileno())
            free = shutil.disk_usage(self.parent).free
            if free < self.reserve + HEADROOM_BYTES // 2:
                raise BackupError(f"{self.parent} is running out of space ({_mb(free)} left; "
                                  f"the node's reserve is {_mb(self.reserve)}): backup stopped")

    def finish(self, manifest: dict[str, Any]) -> Path:
        assert self._f is not None and self.dir is not None
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        mpath = self.dir / MANIFEST
        with open(os.open(mpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(_canonical(manifest))
            f.flush()
            os.fsync(f.fileno())
        os.rename(self.dir, self.final)
        return self.final

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        if self.dir is not None and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


class _Progress:
    """A progress line on stderr at most every ``every_s``."""

    def __init__(self, what: str, total: int | None, every_s: float = 2.0) -> None:
        self.what, self.total, self.every = what, total, every_s
        self.t0 = self.last = time.monotonic()

    def __call__(self, keys: int, nbytes: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        pct = f" ({100 * nbytes / self.total:.0f} % of {_mb(self.total)})" if self.total else ""
        n = f"{keys:,} entries, " if keys >= 0 else ""
        print(f"{self.what}: {n}{_mb(nbytes)}{pct}, {now - self.t0:.1f} s",
              file=sys.stderr, flush=True)


def write_backup(reader: StorePin, writer: BackupWriter, head: dict[str, Any],
                 estimate: int | None) -> tuple[Path, dict[str, Any]]:
    """Offline: copy ``reader`` into a backup through ``writer``; returns its directory and
    manifest."""
    writer.need(estimate)
    writer.open(head)
    show = _Progress("backup", estimate)
    try:
        s = dump(reader, writer.write, progress=lambda s: show(s.keys, s.bytes))
        show(s.keys, s.bytes, force=True)
        manifest = make_manifest(head, s.to_json())
        return writer.finish(manifest), manifest
    except BaseException:
        writer.abort()
        raise


# --------------------------------------------------------------------------- reading a backup


def _backups_in(directory: Path) -> str:
    """A hint for a directory the backups were written under (``--out``, ``backup_dir``) given
    in place of one backup: the backups it holds, the newest (by its manifest's time on disk)
    last; else nothing."""
    try:
        names = [d.name for _, d in sorted(
            ((d / MANIFEST).stat().st_mtime_ns, d) for d in directory.iterdir()
            if (d / MANIFEST).is_file())]
    except OSError:
        return ""
    if not names:
        return ""
    shown = ", ".join(names[-3:]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"; it holds {len(names)} backup(s) ({shown}): pass one, e.g. "
            f"{directory / names[-1]}")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, checked to be the canonical text of itself with a matching self-hash.

    Raises:
        BackupError: missing, not JSON, not canonical, or its own hash does not match.
    """
    p = directory / MANIFEST
    try:
        text = p.read_text()
        doc = json.loads(text)
    except FileNotFoundError:
        raise BackupError(f"{p} not found: not a backup directory{_backups_in(directory)}") \
            from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BackupError(f"the manifest {p} is not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f"{p} is not a chainfin backup manifest")
    if doc.get("version") != FORMAT_VERSION:
        raise BackupError(f"backup format version {doc.get('version')!r}; this tool reads "
                          f"{FORMAT_VERSION}")
    if _canonical(doc) != text:
        raise BackupError("the manifest was altered: it is not in the form the backup wrote")
    if doc.get("manifest_sha256") != _self_hash(doc):
        raise BackupError("the manifest was altered: its manifest_sha256 does not match its "
                          "fields")
    return doc


def read_entries(path: Path, hasher: Any) -> Iterator[tuple[bytes, bytes]]:
    """The entries of a data file, in order, each key greater than the last; every byte read is
    fed to ``hasher`` (the magic included).

    Raises:
        BackupError: bad magic, a truncated record, or keys out of order.
    """
    with open(path, "rb", buffering=CHUNK_BYTES) as f:
        magic = f.read(len(MAGIC))
        hasher.update(magic)
        if magic != MAGIC:
            raise BackupError(f"{path} is not a backup data file (bad magic)")
        last = b""
        unpack = _LEN.unpack
        while True:
            hdr = f.read(8)
            if not hdr:
                return
            if len(hdr) < 8:
                raise BackupError(f"{path} is truncated")
            kl, vl = unpack(hdr)
            body = f.read(kl + vl)
            if len(body) < kl + vl:
                raise BackupError(f"{path} is truncated")
            hasher.update(hdr)
            hasher.update(body)
            k = body[:kl]
            if k <= last:
                raise BackupError(f"{path}: entries out of order at key {k[:40]!r}")
            last = k
            yield k, body[kl:]


class _StateRoot:
    """The state root of the state entries fed in key order (``y/``: ordered by key hash),
    built a region at a time as the ledger rebuilds its tree at open
    (:class:`chainfin.snapshot_tree.RegionRoot`)."""

    def __init__(self, height: int) -> None:
        self.tree = RegionRoot(height, REBUILD_DEPTH, True)

    @property
    def keys(self) -> int:
        return self.tree.keys

    def add(self, db_key: bytes, value: bytes) -> None:
        key = state_key_of(db_key)
        kh = hashlib.sha256(key).digest()
        if db_key[len(STATE):len(STATE) + STATE_HASH_BYTES] != kh[:STATE_HASH_BYTES]:
            raise BackupError(f"state key {key[:80]!r} is filed under another key hash")
        self.tree.add(kh, key, value)

    def root(self) -> bytes:
        try:
            root, _ = self.tree.finish()
        except InvalidMessage as e:
            raise BackupError(f"the state is out of order ({e})") from e
        return root


@dataclass
class _Chain:
    """What the walk over the block records keeps: the tip's record, the set-change records, and
    the link to the previous block."""

    genesis: Genesis
    ghash: bytes
    prev: tuple[int, bytes, bytes] | None = None  # height, hash, next_validators_hash
    first: int | None = None  # the lowest height of the contiguous run that ends at the tip
    blocks: int = 0
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    headers: dict[int, tuple[BlockHeader, CommitCertificate]] = field(default_factory=dict)

    def add(self, height: int, raw: bytes) -> None:
        try:
            rec = _block_record(raw)
            assert rec is not None
            header = BlockHeader.from_wire(rec["block"]["header"])
            cert = CommitCertificate.from_wire(rec["cert"])
        except (ChainfinError, CodecError, KeyError, TypeError, ValueError) as e:
            raise BackupError(f"block {height} does not decode ({e})") from e
        if header.height != height:
            raise BackupError(f"the record of block {height} holds block {header.height}")
        if header.chain_id != self.genesis.chain_id:
            raise BackupError(f"block {height} is of chain {header.chain_id!r}")
        bh = header.hash()
        if cert.block_hash != bh or cert.height != height:
            raise BackupError(f"the certificate stored with block {height} is for another block")
        if height == 1:
            if header.prev_hash != self.ghash:
                raise BackupError("block 1 does not follow the genesis")
            if header.validators_hash != self.genesis.validator_set().hash():
                raise BackupError("block 1 is not of the genesis's validator set")
        if self.prev is not None and self.prev[0] == height - 1:
            if header.prev_hash != self.prev[1]:
                raise BackupError(f"block {height} does not follow block {height - 1} (its "
                                  "prev_hash is another block's hash)")
            if header.validators_hash != self.prev[2]:
                raise BackupError(f"block {height}'s validator set is not the one block "
                                  f"{height - 1} named")
        else:
            self.first = height  # a gap: below a state-sync snapshot, only set changes are kept
        if header.next_validators_hash != header.validators_hash:
            self.changes[height] = rec
        self.headers = {height: (header, cert)}  # the last one read: the tip at the end
        self.prev = (height, bh, header.next_validators_hash)
        self.blocks += 1


@dataclass
class Verified:
    directory: Path
    manifest: dict[str, Any]
    height: int
    block_hash: bytes
    state_root: bytes
    keys: int
    bytes: int
    blocks: int
    first_block: int
    set_changes: int
    state_keys: int
    seconds: float

    def lines(self) -> list[str]:
        return [
            f"backup {self.directory}: OK",
            f"  chain {self.manifest['chain_id']}, genesis {self.manifest['genesis_hash']}",
            f"  height {self.height}, block {self.block_hash.hex()}",
            f"  state root {self.state_root.hex()} recomputed from {self.state_keys:,} state "
            "entries: equal to the certified header's",
            f"  certificate: a quorum of the validator set derived from the genesis through "
            f"{self.set_changes} certified set change(s)",
            f"  blocks {self.first_block}..{self.height} hash up to that header "
            f"({self.blocks:,} block records)",
            f"  {self.keys:,} entries, {self.bytes:,} bytes, SHA-256 {self.manifest['sha256']}",
            f"  checked in {self.seconds:.1f} s",
        ]


def verify_backup(directory: str | os.PathLike[str], genesis: Genesis,
                  sink: Callable[[bytes, bytes], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Verified:
    """Check a backup with nothing but the genesis: the manifest and the data file's SHA-256;
    the certificate of the block at the backup's height against the validator set derived from
    the genesis through the certified set changes in the backup; the block records hashing up
    to that header; the state recomputed into the header's state root; the tip, genesis and
    base records agreeing. ``sink(key, value)`` receives every entry (the restore writes them).

    Raises:
        BackupError: the first check that fails, saying which.
    """
    t0 = time.monotonic()
    d = Path(directory)
    m = read_manifest(d)
    if m["chain_id"] != genesis.chain_id:
        raise BackupError(f"the backup is of chain {m['chain_id']!r}, the genesis of "
                          f"{genesis.chain_id!r}")
    ghash = genesis.hash()
    if m["genesis_hash"] != ghash.hex():
        raise BackupError("the backup is of another genesis (genesis_hash differs)")
    height = m["height"]
    hasher = hashlib.sha256()
    chain = _Chain(genesis, ghash)
    state = _StateRoot(height)
    meta: dict[bytes, bytes] = {}
    vsets: list[tuple[int, ValidatorSet]] = []
    keys = nbytes = 0
    excluded = tuple(EXCLUDED)
    for k, v in read_entries(d / DATA, hasher):
        keys += 1
        nbytes += 8 + len(k) + len(v)
        if k.startswith(excluded):
            raise BackupError(f"the data file holds a key of an excluded key space ({k[:2]!r})")
        if k.startswith(BLOCKS):
            chain.add(int.from_bytes(k[len(BLOCKS):], "big"), v)
        elif k.startswith(STATE):
            state.add(k, v)
        elif k.startswith(VALIDATOR_SETS):
            try:
                vsets.append((int.from_bytes(k[len(VALIDATOR_SETS):], "big"),
                              ValidatorSet(tuple(codec.decode(v)))))
            except (ChainfinError, TypeError, ValueError) as e:
                raise BackupError(f"a validator set record does not decode ({e})") from e
        elif k in (K_TIP, K_GENESIS, K_BASE):
            meta[k] = v
        if sink is not None:
            sink(k, v)
        if progress is not None and keys % 50_000 == 0:
            progress(keys, nbytes)
    if hasher.hexdigest() != m["sha256"]:
        raise BackupError(f"the data file's SHA-256 is {hasher.hexdigest()}, the manifest says "
                          f"{m['sha256']}: the data file was altered or damaged")
    if keys != m["key_count"] or len(MAGIC) + nbytes != m["byte_count"]:
        raise BackupError(f"the data file holds {keys} entries of {len(MAGIC) + nbytes} bytes, "
                          f"the manifest says {m['key_count']} of {m['byte_count']}")
    if meta.get(K_GENESIS) != ghash:
        raise BackupError("the data's genesis record is not this genesis")
    if height not in chain.headers:
        raise BackupError(f"the last block record is not block {height}, the backup's height")
    header, cert = chain.headers[height]
    if header.hash().hex() != m["block_hash"] or header.state_root.hex() != m["state_root"]:
        raise BackupError("the manifest's block hash or state root is not the block's")
    if cert.to_json() != m["certificate"]:
        raise BackupError("the manifest's certificate is not the one stored with the block")
    try:
        tip = codec.decode(meta[K_TIP])
        tip_ok = (tip["height"] == height and tip["hash"] == header.hash()
                  and tip["state_root"] == header.state_root)
    except (KeyError, CodecError, TypeError) as e:
        raise BackupError(f"the tip record does not decode ({e})") from e
    if not tip_ok:
        raise BackupError("the data's tip record is not the backup's block")
    base = int.from_bytes(meta.get(K_BASE, b"\0" * 8), "big")
    if base != m["base_height"]:
        raise BackupError("the manifest's base_height is not the data's")
    if chain.first is None or chain.first > (base if base else 1):
        raise BackupError(f"the block records from {base or 1} to {height} are not all there "
                          f"(a run starts at {chain.first})")

    # the validator set in force at the tip, from the genesis through the certified changes
    # (TRAPS #12: derived here, never taken from the backup); the ledger's certificate check
    try:
        changes = proofs.set_changes_from(vsets, chain.changes.get)
    except (ValueError, ChainfinError) as e:
        raise BackupError(f"the validator set changes do not check out: {e}") from e
    vs = genesis.validator_set()
    for ch in changes:
        if ch.height >= height:
            break
        _check_cert(ch.header, ch.cert, vs, genesis.chain_id, f"set change at height {ch.height}")
        vs = ch.validators
    _check_cert(header, cert, vs, genesis.chain_id, f"block {height}")
    if [h for h in chain.changes if h < height] != [c.height for c in changes
                                                     if c.height < height]:
        raise BackupError("a block changing the validator set has no validator set record")

    root = state.root()
    if root != header.state_root:
        raise BackupError(f"the state recomputed from the backup hashes to {root.hex()}, not to "
                          f"the certified state root {header.state_root.hex()} of block {height}")
    return Verified(d, m, height, header.hash(), root, keys, len(MAGIC) + nbytes, chain.blocks,
                    chain.first or 1, len([c for c in changes if c.height < height]),
                    state.keys, time.monotonic() - t0)


def _check_cert(header: BlockHeader, cert: CommitCertificate, vs: ValidatorSet, chain_id: str,
                what: str) -> None:
    if header.validators_hash != vs.hash():
        raise BackupError(f"{what}: its header's validators_hash is not the set derived from "
                          "the genesis")
    try:
        cert.verify(vs, chain_id)
    except InvalidMessage as e:
        raise BackupError(f"{what}: the certificate does not verify against the validator set "
                          f"derived from the genesis: {e}") from e


# --------------------------------------------------------------------------- restore


def _non_empty(d: Path) -> bool:
    return d.exists() and any(d.iterdir())


def restore_backup(backup: str | os.PathLike[str], data_dir: Path, genesis: Genesis, *,
                   force: bool = False) -> tuple[Verified, Path | None]:
    """Verify ``backup`` while writing it into a fresh LevelDB beside ``data_dir``, open it as
    the node does (which rebuilds the state tree and checks it against the tip's state root),
    then install it as ``data_dir/db``. A non-empty ``data_dir`` is refused unless ``force``,
    and then moved aside (returned), never deleted.

    Raises:
        BackupError: the backup does not verify, the target is not empty (without ``force``),
            a node is running on it, or the disk is too small.
    """
    from contracts import CONTRACTS
    from node.ledger import Ledger

    src = Path(backup)
    m = read_manifest(src)
    if _non_empty(data_dir):
        if not force:
            raise BackupError(f"the data directory {data_dir} is not empty; pass --force to "
                              "move it aside and restore into its place")
        db = data_dir / "db"
        if db.exists():
            try:
                PlyvelStore(db, create_if_missing=False).close()
            except StorageError as e:
                if "locked" in str(e):
                    raise BackupError(f"a node is running on {data_dir}: stop it first") from e
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(data_dir.parent).free
    if free < m["byte_count"] * 2 + HEADROOM_BYTES:  # the entries, and the tree rebuilt
        raise BackupError(f"not enough free space in {data_dir.parent}: the restore needs about "
                          f"{_mb(m['byte_count'] * 2)}, {_mb(free)} is free")
    tmp = data_dir.with_name(data_dir.name + ".restoring")
    if tmp.exists():
        shutil.rmtree(tmp)  # a restore cut short
    tmp.mkdir(mode=0o700)
    store = PlyvelStore(tmp / "db")
    pending: list[tuple[bytes, bytes]] = []

    def sink(k: bytes, v: bytes) -> None:
        pending.append((k, v))
        if len(pending) >= RESTORE_BATCH:
            flush()

    def flush() -> None:
        with store.write_batch() as b:
            for k, v in pending:
                b.put(k, v)
        pending.clear()

    show = _Progress("restore", m["byte_count"])
    try:
        try:
            verified = verify_backup(src, genesis, sink, lambda k, b: show(k, b))
            flush()
            with store.write_batch(sync=True):
                pass
            Ledger(store, genesis, registry=CONTRACTS)  # rebuilds the tree, checks the root
        finally:
            store.close()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    aside = None
    if data_dir.exists():
        if _non_empty(data_dir):
            aside = data_dir.with_name(f"{data_dir.name}.replaced-"
                                       f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            data_dir.rename(aside)
        else:
            data_dir.rmdir()
    tmp.rename(data_dir)
    return verified, aside


# --------------------------------------------------------------------------- commands


def _operator_target(args: argparse.Namespace) -> tuple[Any, Path, int | None, int]:
    """(node config or None, backup parent directory, reserve device, reserve bytes)."""
    from node.config import load_config

    cfg = load_config(args.config) if args.config else None
    out = Path(args.out) if args.out else None
    if out is None and cfg is not None:
        out = cfg.backup_dir or cfg.data_dir.parent / "backups"
    if out is None:
        raise ChainfinError("say where the backup goes: --out DIR (or --config F, whose "
                            "backup_dir is used)")
    dev = reserve = None
    if cfg is not None and cfg.data_dir.exists():
        dev = os.stat(cfg.data_dir).st_dev
        reserve = (cfg.min_free_mb << 20) * 5 // 4  # what the node needs to resume
    return cfg, out, dev, reserve or 0


def cli_backup(args: argparse.Namespace) -> int:
    """``chainfin node backup (--config F | --node URL --key K) [--out DIR] [--offline]``."""
    cfg, out, dev, reserve = _operator_target(args)
    writer = BackupWriter(out, dev, reserve)
    if args.offline:
        if cfg is None:
            raise ChainfinError("--offline needs --config (the data directory and genesis)")
        db = cfg.data_dir / "db"
        if not db.exists():
            raise ChainfinError(f"no database at {db}")
        try:
            store = PlyvelStore(db, create_if_missing=False)
        except StorageError as e:
            if "locked" in str(e):
                raise ChainfinError(f"the node is running on {cfg.data_dir} (its database is "
                                    "locked): back it up online, without --offline") from e
            raise
        try:
            pin = store.pin()
            head = describe(pin, load_genesis(cfg.genesis))
            from chainfin.crypto import load_identity

            head.update(node_id=cfg.node_id,
                        public_key=load_identity(cfg.key_file).public_key.hex())
            path, manifest = write_backup(pin, writer, head, db_bytes(db))
        finally:
            store.close()
    else:
        path, manifest = _fetch(args, cfg, writer)
    print(f"backup of {manifest['chain_id']} at height {manifest['height']} (block "
          f"{manifest['block_hash'][:16]}…): {path} — {manifest['key_count']:,} entries, "
          f"{manifest['byte_count']:,} bytes", flush=True)
    return 0


def _fetch(args: argparse.Namespace, cfg: Any, writer: BackupWriter
           ) -> tuple[Path, dict[str, Any]]:
    """Online: ask the node for a stream of its snapshot, signed with the node's key."""
    import asyncio

    import aiohttp
    from yarl import URL

    from chainfin.client import ca_context, signed_headers
    from chainfin.crypto import load_identity

    if args.node:
        url, key, ca = args.node.rstrip("/"), args.key, args.ca
    elif cfg is not None:
        host = "127.0.0.1" if cfg.rest_host in ("0.0.0.0", "::") else cfg.rest_host
        url = f"{'https' if cfg.rest_tls else 'http'}://{host}:{cfg.rest_port}"
        key, ca = args.key or cfg.key_file, args.ca or cfg.tls_ca
    else:
        raise ChainfinError("say which node: --config F, or --node URL --key K")
    if not key:
        raise ChainfinError("--key: the node's own key file signs the request")
    identity = load_identity(key)
    target = url + "/v1/admin/backup"

    async def run() -> tuple[Path, dict[str, Any]]:
        ssl: Any = ca_context(ca) if ca else None
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_read=120),
                connector=aiohttp.TCPConnector(ssl=ssl if ssl is not None else True)) as s:
            async with s.post(URL(target, encoded=True),
                              headers=signed_headers(identity, "POST", target)) as r:
                if r.status != 200:
                    try:
                        err = (await r.json())["error"]
                        msg = f"{err['code']}: {err['message']}"
                    except (ValueError, KeyError, TypeError, aiohttp.ContentTypeError):
                        msg = (await r.text())[:200]
                    if r.status == 404:
                        msg += (" (the route answers only this node's own key: --key must be "
                                "the node's key file)")
                    raise BackupError(f"the node refused the backup (HTTP {r.status}): {msg}")
                return await _receive(r.content, writer, args.max_mb_s)

    try:
        return asyncio.run(run())
    except aiohttp.ClientConnectionError as e:
        raise ChainfinError(f"cannot reach the node at {url} ({e}); a stopped node is backed "
                            "up with --offline") from e


async def _receive(stream: Any, writer: BackupWriter, max_mb_s: float = 0.0
                   ) -> tuple[Path, dict[str, Any]]:
    """Read a backup stream into ``writer``. ``max_mb_s``: read at most this fast; the node's
    worker then waits on its bounded queue (TCP back-pressure), so a backup written on the
    node's own disk does not compete with its synced writes at full speed."""
    import asyncio

    head: dict[str, Any] | None = None
    t0 = time.monotonic()
    hasher = hashlib.sha256()
    nbytes = 0
    show: _Progress | None = None
    try:
        while True:
            hdr = await stream.readexactly(_FRAME.size)
            kind, n = _FRAME.unpack(hdr)
            payload = await stream.readexactly(n)
            if kind == F_HEAD:
                head = json.loads(payload)
                writer.need(head.get("estimate_bytes"))
                writer.open(head)
                show = _Progress("backup", head.get("estimate_bytes"))
            elif kind == F_DATA and head is not None and show is not None:
                writer.write(payload)
                hasher.update(payload)
                nbytes += len(payload)
                show(-1, nbytes)
                if max_mb_s > 0:
                    ahead = nbytes / (max_mb_s * 1e6) - (time.monotonic() - t0)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            elif kind == F_TAIL and head is not None:
                tail = json.loads(payload)
                if tail["sha256"] != hasher.hexdigest() or tail["byte_count"] != nbytes:
                    raise BackupError("the stream was damaged in transit (SHA-256 differs)")
                if show is not None:
                    show(tail["key_count"], nbytes, force=True)
                manifest = make_manifest(head, tail)
                return writer.finish(manifest), manifest
            elif kind == F_ERROR:
                raise BackupError(f"the node stopped the backup: {payload.decode()}")
            else:
                raise BackupError(f"unexpected frame {kind!r} in the backup stream")
    except BaseException:
        writer.abort()
        raise


def cli_verify(args: argparse.Namespace) -> int:
    """``chainfin node backup verify --dir BACKUP --genesis genesis.json``: exit 0 and a summary
    when the backup is whole and certified, 1 and the reason otherwise."""
    genesis = load_genesis(args.genesis)
    show = _Progress("verify", None)
    try:
        v = verify_backup(args.dir, genesis, progress=lambda k, b: show(k, b))
    except BackupError as e:
        print(f"backup {args.dir}: INVALID: {e}", flush=True)
        return 1
    print("\n".join(v.lines()), flush=True)
    return 0


def cli_restore(args: argparse.Namespace) -> int:
    """``chainfin node restore --backup DIR (--config F | --data-dir D --genesis G) [--force]``."""
    if args.config:
        from node.config import load_config

        cfg = load_config(args.config)
        data_dir, genesis = cfg.data_dir, load_genesis(cfg.genesis)
    elif args.data_dir and args.genesis:
        data_dir, genesis = Path(args.data_dir), load_genesis(args.genesis)
    else:
        raise ChainfinError("say where to restore: --config F, or --data-dir D --genesis G")
    v, aside = restore_backup(args.backup, data_dir.resolve(), genesis, force=args.force)
    if aside is not None:
        print(f"moved the old data directory to {aside}", flush=True)
    print(f"restored height {v.height} (block {v.block_hash.hex()[:16]}…, {v.keys:,} entries) "
          f"into {data_dir}; start the node: it catches up from its peers, verifying every "
          "certificate", flush=True)
    return 0


def stream_chunks(pin: StorePin, put: Callable[[bytes, bytes], None],
                  stop: threading.Event) -> None:
    """The worker thread of ``POST /v1/admin/backup``: data frames, then the tail (or an
    error frame); ``put(kind, payload)`` blocks while the reader is behind."""
    try:
        s = dump(pin, lambda c: put(F_DATA, c), stop)
        put(F_TAIL, json.dumps(s.to_json()).encode())
    except Cancelled:
        pass
    except (StorageError, OSError) as e:
        with contextlib.suppress(Cancelled):
            put(F_ERROR, str(e).encode())
