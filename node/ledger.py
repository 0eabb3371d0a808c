"""The node's ledger: committed chain and state in LevelDB, speculative blocks in memory.

Execute-before-agree: a proposal is executed on top of its parent's speculative state before the
replica votes; the state root after execution is in the header. Speculative results are kept per
block hash (a stack of overlays over the committed state); committing block h writes the block,
its certificate, its receipts, its state changes, its SMT nodes and its indexes in ONE atomic
LevelDB batch. A view change drops every speculative block above the last committed one.

Key spaces (see docs/storage.md): ``b/`` block record by height, ``h/`` height by block hash,
``t/`` tx location by tx id, ``y/`` committed state by key hash and storage key (decision 92),
``m/`` SMT nodes, ``v/`` validator set in force from a height, ``n/`` the nonces each sender
used, ``meta/`` tip, ``w/`` consensus WAL.

A node that joined by state sync (``node.statesync``) holds no blocks below its snapshot height
(``Ledger.base_height``) other than those that changed the validator set.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import struct
import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chainfin import codec, execution, merkle, proofs
from chainfin.errors import CodecError, InvalidMessage, InvalidTransaction, StorageError
from chainfin.genesis import Genesis
from chainfin.smt import EMPTY, SparseMerkleTree, put_nodes, reachable_records
from chainfin.snapshot_tree import RegionRoot
from chainfin.store import (
    BLOCK_HEIGHT,
    BLOCKS,
    KEY_INDEX,
    LEGACY_STATE,
    META,
    NONCE_INDEX,
    NONCE_WORD_INDEX,
    SMT_NODES,
    STATE,
    STATE_HASH_BYTES,
    TX_INDEX,
    VALIDATOR_SETS,
    WAL,
    DamagedStore,
    KVStore,
    StorePin,
    nonce_key,
    nonce_key_of_receipt,
    nonce_word_index_key,
    state_db_key,
    state_key_of,
)
from chainfin.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Transaction,
    ValidatorSet,
    tx_leaf,
)

log = logging.getLogger("chainfin.ledger")

# the key spaces are defined once, in chainfin.store; these are the ledger's names for them
P_BLOCK = BLOCKS
P_HASH = BLOCK_HEIGHT
P_TX = TX_INDEX
P_STATE = STATE
P_SMT = SMT_NODES
P_VSET = VALIDATOR_SETS
P_WAL = WAL
P_NONCE = NONCE_INDEX
P_NONCE_WORD = NONCE_WORD_INDEX
K_TIP = META + b"tip"
K_GENESIS = META + b"genesis"
K_BASE = META + b"base"  # the snapshot height a node that joined by state sync started from
K_KEY_INDEX = META + b"keyindex"  # before decision 92: present once k/ held every state key


def _h(height: int) -> bytes:
    return struct.pack(">Q", height)


#: a stored block record that starts with this byte is zlib-compressed (msgpack maps start with
#: 0x8N or 0xde/0xdf, never 0x78); older records are plain msgpack and are read as they are
_ZLIB_MARK = 0x78
#: zlib level of stored block records: level 1 takes the records to a third (hex strings and
#: repeated field names in the receipts) for ~8 us of CPU per transaction at 13-tx blocks
BLOCK_RECORD_ZLIB_LEVEL = 1
#: delete stale SMT records at each flush (decision 81): the disk holds one version of the
#: state tree, not every version. On by default since a state-sync snapshot is served from a
#: LevelDB snapshot pinned at a flush (decision 90), which pruning cannot touch
PRUNE_SMT = True
#: keep values out of the tree's leaves (digest leaves, decision 81): -230 B per transaction.
#: On by default since state-sync chunks are read from the state key space (decisions 92, 93)
DIGEST_LEAVES = True
#: a pinned snapshot that a joining node read within this many seconds is kept when a newer
#: one is pinned (its sync is still going); idle ones are released
PIN_IDLE_S = 300.0
#: the most snapshots a node holds pinned at once (the newest and the most recently read)
MAX_PINS = 4
#: state entries moved per batch when a data dir of the layout before decision 92 is opened
MIGRATE_BATCH = 50_000
#: a fresh proposal's timestamp may lag a replica's clock by at most this (or the genesis'
#: ``max_clock_skew_ms`` if larger): the lower bound TRAPS #13 left out. A minute: far above
#: an honest block's age when it is executed (milliseconds; seconds after a lost message); it is
#: how far a primary can hold block time behind the replicas' clocks, unbounded before (red-team
#: round 4)
MAX_TIMESTAMP_LAG_MS = 60_000
#: a tree rebuilt at open is built by key-hash regions of this many bits (4,096 regions)
REBUILD_DEPTH = 12


def pack_block_record(record: Mapping[str, Any]) -> bytes:
    """A block record (block, certificate, receipts) as stored under ``b/``: msgpack, zlib'd."""
    return zlib.compress(codec.encode_local(record), BLOCK_RECORD_ZLIB_LEVEL)


def unpack_block_record(raw: bytes) -> bytes:
    """The msgpack bytes of a stored block record (compressed or not).

    Raises:
        DamagedStore: a compressed record that does not decompress.
    """
    if raw[:1] != bytes((_ZLIB_MARK,)):
        return raw
    try:
        return zlib.decompress(raw)
    except zlib.error as e:
        raise DamagedStore(f"a block record does not decompress ({e})") from e


def tx_root(txs: Sequence[Transaction], salted: bool = False) -> bytes:
    """RFC 6962 root over the block's tx ids (the leaf data is the 32-byte tx id); ``salted``
    (ledger format 3, decision 129): over their :meth:`Transaction.leaf` instead."""
    return merkle.root(tx_leaves(txs, salted))


def tx_leaves(txs: Sequence[Transaction], salted: bool) -> list[bytes]:
    """The leaf data of a block's tx tree: the tx ids, or in format 3 the salted leaves."""
    return [t.leaf() for t in txs] if salted else [t.tx_id for t in txs]


def header_roots(txs: Sequence[Transaction], result: execution.BlockResult, salted: bool
                 ) -> tuple[bytes, bytes | None]:
    """A block's ``tx_root`` and ``receipts_root`` (each salted leaf hashed once)."""
    leaves = tx_leaves(txs, salted)
    return merkle.root(leaves), execution.header_receipts_root(
        result, leaves if salted else None)


@dataclass
class _Pin:
    """A store pinned at a flush, and when a sync last read it (monotonic seconds)."""

    view: StorePin
    used: float


@dataclass
class Spec:
    """A block executed speculatively, not yet committed."""

    block: Block
    result: execution.BlockResult
    state_root: bytes
    smt_nodes: dict[bytes, bytes]
    validators_after: ValidatorSet

    @property
    def height(self) -> int:
        return self.block.header.height


class _ReadCache:
    """One key space's committed values (state or SMT nodes), recently read or written, in front
    of LevelDB. Keys are without the key space's prefix.

    Only ``Ledger.commit`` writes state and SMT nodes, and it updates these caches in the same
    step, so a cache never serves a stale value. SMT nodes are content-addressed (immutable).
    Bounded: emptied when it grows past ``limit`` entries (cheap, and hot keys come back)."""

    __slots__ = ("_get", "_prefix", "_data", "limit", "hits", "misses")

    def __init__(self, store: KVStore, prefix: bytes | None, limit: int = 200_000) -> None:
        """``prefix`` None: the state key space (:func:`chainfin.store.state_db_key`)."""
        self._get = store.get
        self._prefix = prefix
        self._data: dict[bytes, bytes | None] = {}
        self.limit = limit
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> bytes | None:
        try:
            v = self._data[key]
            self.hits += 1
            return v
        except KeyError:
            pass
        self.misses += 1
        v = self._get(state_db_key(key) if self._prefix is None else self._prefix + key)
        if len(self._data) >= self.limit:
            self._data.clear()
        self._data[key] = v
        return v

    def update(self, items: dict[bytes, bytes] | dict[bytes, bytes | None]) -> None:
        if len(self._data) + len(items) > self.limit:
            self._data.clear()
        self._data.update(items)

    def drop(self, keys: Iterable[bytes]) -> None:
        """Forget ``keys`` (records pruned from the store: reads of them must fail there too)."""
        for k in keys:
            self._data.pop(k, None)

    @property
    def data(self) -> dict[bytes, bytes | None]:
        """What :meth:`get` answers without reading the store (None: known absent). Read only:
        the C tree update looks records up in it itself (:attr:`_NodeCache.fast_layers`),
        so its hits are not counted in ``hits``."""
        return self._data


class _ChainState:
    """RawState over committed state plus the speculative ancestors' changes (newest first)."""

    __slots__ = ("_cache", "_layers")

    def __init__(self, cache: _ReadCache, layers: list[dict[bytes, bytes | None]]) -> None:
        self._cache = cache
        self._layers = layers

    def get_raw(self, key: bytes) -> bytes | None:
        for layer in self._layers:
            if key in layer:
                return layer[key]
        return self._cache.get(key)


class _NodeCache:
    """SMT node reads: speculative nodes first, then the committed ones."""

    __slots__ = ("_cache", "_layers")

    def __init__(self, cache: _ReadCache, layers: list[dict[bytes, bytes]]) -> None:
        self._cache = cache
        self._layers = layers

    def get(self, key: bytes) -> bytes | None:
        for layer in self._layers:
            v = layer.get(key)
            if v is not None:
                return v
        return self._cache.get(key)

    @property
    def fast_layers(self) -> tuple[dict[bytes, bytes] | dict[bytes, bytes | None], ...]:
        """The dicts :meth:`get` looks in before the store, in its order; a value other than
        None found in one is what it returns. The C tree update (``chainfin/_smt_fast.c``)
        looks there itself and calls :meth:`get` only for the rest, not a call into Python per
        record read (~1 of ~10 us per changed key in ``testnet.smt_bench``; decision 105)."""
        return (*self._layers, self._cache.data)


@dataclass
class Tip:
    height: int
    block_hash: bytes
    state_root: bytes
    timestamp_ms: int
    validators: ValidatorSet
    view: int = 0


def tip_bytes(t: Tip) -> bytes:
    """The ``meta/tip`` record."""
    return codec.encode({
        "height": t.height, "hash": t.block_hash, "state_root": t.state_root,
        "timestamp_ms": t.timestamp_ms, "validators": list(t.validators.members),
        "view": t.view,
    })


def write_commit(store: KVStore, block: Block, block_hash: bytes, cert: CommitCertificate,
                 result: execution.BlockResult, tip: Tip,
                 new_validators: ValidatorSet | None) -> None:
    """Write a final block in ONE unsynced LevelDB batch: its record (block, certificate,
    receipts), its hash index, the tx index, the state changes, the validator set in force
    after it when it changed one (``new_validators``), the nonces its transactions used
    (``n/``; in ledger format 2 the nonce words they are in, ``o/``), and the new ``tip``. The SMT nodes are not in it: the ledger holds them and writes
    the live ones every ``SMT_FLUSH_BLOCKS``.

    The one writer of a commit: :meth:`Ledger.commit` and the benchmark's limit loop
    (``testnet/bench/_limit.py``), so the loop times what a node writes."""
    h = block.height
    receipts = result.receipts_json
    if receipts is None:
        receipts = [r.to_json() for r in result.receipts]
    record = {"block": block.to_wire(), "cert": cert.to_wire(), "receipts": receipts}
    with store.write_batch(sync=False) as b:
        b.put(P_BLOCK + _h(h), pack_block_record(record))  # local: not hashed; compressed
        b.put(P_HASH + block_hash, _h(h))
        words = result.receipts_json is not None  # ledger format 2: the state has nonce words
        for i, tx in enumerate(block.txs):
            b.put(P_TX + tx.tx_id, codec.encode_local([h, i]))
            if not words:
                b.put(nonce_key(tx.sender, tx.nonce), b"")
        if words:
            for sender, word in sorted({(tx.sender, tx.nonce >> 8) for tx in block.txs}):
                b.put(nonce_word_index_key(sender, word), b"")
        for k, v in result.changes.items():
            if v is None:
                b.delete(state_db_key(k))
            else:
                b.put(state_db_key(k), v)
        if new_validators is not None:
            b.put(P_VSET + _h(h + 1), codec.encode(list(new_validators.members)))
        b.put(K_TIP, tip_bytes(tip))


@dataclass
class CommitInfo:
    height: int
    block_hash: bytes
    receipts: list[Any] = field(default_factory=list)


#: committed blocks whose new SMT pages stay in memory before the ledger writes the ones still
#: live (decision 24): the pages near the root, rewritten by every block, reach LevelDB once per
#: this many blocks instead of every block (-70 % bytes, -42 % records at 38 keys per block;
#: ~5 MB of pages held at 500 tx/s)
SMT_FLUSH_BLOCKS = 64


def flush_phase_for(public_key: bytes, genesis: Genesis) -> int:
    """This node's ``Ledger`` flush phase: the genesis validators spread evenly over
    ``SMT_FLUSH_BLOCKS`` by their position in the sorted genesis set (4 validators flush 16
    blocks apart); any other node by a hash of its key."""
    keys = sorted(bytes.fromhex(v.public_key) for v in genesis.validators)
    if public_key in keys:
        return keys.index(public_key) * SMT_FLUSH_BLOCKS // len(keys)
    return hashlib.sha256(public_key).digest()[0] % SMT_FLUSH_BLOCKS


class Ledger:
    """Committed chain + speculative overlays. Not thread-safe: one asyncio task drives it.

    Durability: a commit writes the block, its state changes and the tip in one batch; the SMT
    pages of the last < SMT_FLUSH_BLOCKS committed blocks are in memory only (``unflushed``).
    After a crash the tip's root page is missing and ``_open`` rebuilds the tree from the
    committed state, checking that it hashes to the tip's state root."""

    def __init__(self, store: KVStore, genesis: Genesis, *,
                 registry: Mapping[str, execution.Contract], flush_phase: int = 0,
                 prune_smt: bool = PRUNE_SMT, digest_leaves: bool = DIGEST_LEAVES) -> None:
        """``flush_phase``: the SMT pages are written after committing each height h with
        ``(h + flush_phase) % SMT_FLUSH_BLOCKS == 0``. Nodes take different phases
        (:func:`flush_phase_for`) so that they do not all pause for the flush at the same
        block (decision 32); it is local storage timing, invisible to consensus.

        ``prune_smt``: each flush also deletes the records of the previously flushed root that
        the new one no longer reaches (:meth:`flush_smt`), so the disk holds one state tree, not
        every version of it. Only the committed tip's state is ever proven; the state served
        to joining nodes is read from a store pin taken at a flush (:meth:`snapshot_reader`).

        ``digest_leaves``: the tree's leaves hold value hashes, the values being in the state
        key space (decision 81); snapshots are served from the state key space (decision 92)."""
        self.store = store
        self.registry = registry  # the contracts this network runs
        self.flush_phase = flush_phase % SMT_FLUSH_BLOCKS
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.spec: dict[bytes, Spec] = {}
        self.cache = _ReadCache(store, None)  # committed state values
        self.node_cache = _ReadCache(store, P_SMT, limit=100_000)  # committed SMT nodes
        self.unflushed: dict[bytes, bytes] = {}  # SMT records of committed blocks, not yet written
        self._roots: dict[int, bytes] = {}  # state_root_at's memo
        self.prune_smt = prune_smt
        self.digest_leaves = digest_leaves
        self.pruned_records = 0  # SMT records deleted as stale since this ledger was opened
        #: height -> the store pinned right after that height's flush
        self._pins: dict[int, _Pin] = {}
        self.tip = self._open()
        self._tip_proof: tuple[int, BlockHeader, CommitCertificate] | None = None
        #: the root whose records are all on disk (the last flush's); the next flush deletes
        #: what it reaches and the tip does not
        self.flushed_root = self.tip.state_root
        base = store.get(K_BASE)
        #: no blocks below this height (but the set changes): the node joined by state sync
        self.base_height = 0 if base is None else struct.unpack(">Q", base)[0]
        #: the latest height whose state tree is stored whole (its SMT pages written): the
        #: snapshot this node serves
        self.snapshot_height = self.tip.height
        self._pin_flushed()

    def reload(self) -> None:
        """Open the store afresh (after a state sync wrote a new tip and state under it)."""
        self.spec = {}
        self.cache = _ReadCache(self.store, None)
        self.node_cache = _ReadCache(self.store, P_SMT, limit=100_000)
        self.unflushed = {}
        self._roots = {}
        self.tip = self._open()
        self._tip_proof = None
        self.flushed_root = self.tip.state_root
        base = self.store.get(K_BASE)
        self.base_height = 0 if base is None else struct.unpack(">Q", base)[0]
        self.snapshot_height = self.tip.height
        self._pins = {}
        self._pin_flushed()

    def _migrate_state(self) -> None:
        """Move a data dir of the layout before decision 92 to the current one: state values
        from ``s/<key>`` to ``y/<key hash 8B><key>``, the used nonces into ``n/``, the key index
        ``k/`` dropped. Batches of ``MIGRATE_BATCH`` entries, each moving its entries in one
        atomic batch, so a crash mid-way resumes where it stopped and loses nothing."""
        t0 = time.perf_counter()

        def move(b: Any, k: bytes, v: bytes) -> None:
            key = k[len(LEGACY_STATE):]
            b.put(state_db_key(key), v)
            nk = nonce_key_of_receipt(key)
            if nk is not None:
                b.put(nk, b"")
            b.delete(k)

        moved = self._in_batches(LEGACY_STATE, move, "state entries moved")
        dropped = self._in_batches(KEY_INDEX, lambda b, k, _: b.delete(k), "key-index entries dropped")
        if self.store.get(K_KEY_INDEX) is not None:
            self.store.delete(K_KEY_INDEX, sync=True)
        if moved or dropped:
            log.info("moved %d state entries to the layout ordered by key hash and dropped %d "
                     "key-index entries in %.2f s", moved, dropped, time.perf_counter() - t0)

    def _in_batches(self, prefix: bytes, step: Any, what: str) -> int:
        """Apply ``step(batch, key, value)`` to every entry under ``prefix``, MIGRATE_BATCH
        entries per synced batch (each step must remove its entry from ``prefix``). Returns
        how many entries it stepped."""
        n = 0
        start = None  # after the last key stepped: not over the deleted ones again (tombstones)
        while True:
            chunk = list(itertools.islice(self.store.iterate(prefix=prefix, start=start),
                                          MIGRATE_BATCH))
            if not chunk:
                return n
            start = chunk[-1][0] + b"\x00"
            with self.store.write_batch(sync=True) as b:
                for k, v in chunk:
                    step(b, k, v)
            n += len(chunk)
            log.info("state layout (decision 92): %d %s", n, what)

    # ------------------------------------------------------------------ open / genesis

    def _open(self) -> Tip:
        ghash = self.genesis.hash()
        stored = self.store.get(K_GENESIS)
        if stored is not None and stored != ghash:
            raise StorageError("the data dir belongs to a different genesis")
        self._migrate_state()  # (a data dir of another chain is refused before it is touched)
        raw = self.store.get(K_TIP)
        if raw is None:
            return self._init_genesis(ghash)
        try:
            t = codec.decode(raw)
            tip = Tip(t["height"], t["hash"], t["state_root"], t["timestamp_ms"],
                      ValidatorSet(tuple(t["validators"])), t.get("view", 0))
        except (CodecError, KeyError, TypeError, ValueError) as e:
            raise DamagedStore(f"its tip record does not decode ({e})") from e
        self._check_tip(tip, stored)
        if tip.state_root != EMPTY and self.store.get(P_SMT + tip.state_root) is None:
            self._rebuild_smt(tip)
        return tip

    def _check_tip(self, tip: Tip, genesis_hash: bytes | None) -> None:
        """The tip's block is there, decodes and hashes to the tip (a store that lost its last
        records, or whose records were altered, must not be served from)."""
        if genesis_hash is None:
            raise DamagedStore("it has a tip but no genesis record")
        if tip.height == 0:
            return
        raw = self.store.get(P_BLOCK + _h(tip.height))
        if raw is None:
            raise DamagedStore(f"its tip is block {tip.height}, which is missing")
        try:
            block = Block.from_wire(codec.decode(unpack_block_record(raw))["block"])
        except (CodecError, InvalidMessage, KeyError, TypeError) as e:
            raise DamagedStore(f"block {tip.height} does not decode ({e})") from e
        if block.hash() != tip.block_hash:
            raise DamagedStore(f"block {tip.height} does not hash to the tip's hash")

    def _rebuild_smt(self, tip: Tip) -> None:
        """The process stopped before the SMT pages of its last blocks were written: build the
        tree of the committed state again and check it against the tip's state root.

        One pass over the state key space, which is ordered by key hash (decision 92), a region
        of ``REBUILD_DEPTH`` bits at a time with the state-sync joiner's builder
        (``chainfin.snapshot_tree``), the regions' records written as they are made and the
        pages above them at the end: memory holds one region, not the whole tree (a 10 M-key
        state took 13 GB that way).

        Raises:
            DamagedStore: the state does not hash to the tip's state root, or an entry is not
                where its key's hash puts it.
        """
        t0 = time.perf_counter()
        sha = hashlib.sha256
        pending: dict[bytes, bytes] = {}
        written = 0

        def records(recs: dict[bytes, bytes]) -> None:
            nonlocal written
            pending.update(recs)
            if len(pending) >= 100_000:
                with self.store.write_batch() as b:
                    put_nodes(b, pending)
                written += len(pending)
                pending.clear()

        tree = RegionRoot(tip.height, REBUILD_DEPTH, self.digest_leaves, records)
        try:
            for k, v in self.store.iterate(prefix=P_STATE):
                key = state_key_of(k)
                kh = sha(key).digest()
                if k[len(P_STATE):len(P_STATE) + STATE_HASH_BYTES] != kh[:STATE_HASH_BYTES]:
                    raise DamagedStore(f"state key {key[:80]!r} is filed under another key hash")
                tree.add(kh, key, v)
            root, top = tree.finish()
        except InvalidMessage as e:
            raise DamagedStore(f"its state key space is out of order ({e})") from e
        if root != tip.state_root:
            raise DamagedStore(f"the committed state does not hash to the state root of block "
                               f"{tip.height}")
        with self.store.write_batch(sync=True) as b:
            put_nodes(b, pending)
            put_nodes(b, top)
        written += len(pending) + len(top)
        log.info("rebuilt the state tree of height %d (%d keys, %d records) in %.2f s",
                 tip.height, tree.keys, written, time.perf_counter() - t0)

    def _init_genesis(self, ghash: bytes) -> Tip:
        changes = execution.genesis_state(self.genesis)
        smt = self._tree(_NodeCache(self.node_cache, []))
        nodes: dict[bytes, bytes] = {}
        root = smt.update(smt.empty_root, changes, nodes)
        vs = self.genesis.validator_set()
        tip = Tip(0, ghash, root, self.genesis.genesis_time_ms, vs)
        with self.store.write_batch(sync=True) as b:
            for k, v in changes.items():
                if v is not None:
                    b.put(state_db_key(k), v)
            put_nodes(b, nodes)
            b.put(P_VSET + _h(1), codec.encode(list(vs.members)))
            b.put(K_GENESIS, ghash)
            b.put(K_TIP, tip_bytes(tip))
        return tip

    # ------------------------------------------------------------------ speculative execution

    def _ancestry(self, parent_hash: bytes) -> list[Spec]:
        """Speculative ancestors from ``parent_hash`` down to the committed tip (newest first)."""
        chain: list[Spec] = []
        h = parent_hash
        while h != self.tip.block_hash:
            s = self.spec.get(h)
            if s is None:
                raise InvalidMessage("parent block is unknown")
            chain.append(s)
            h = s.block.header.prev_hash
        return chain

    def _parent_info(self, chain: list[Spec]) -> tuple[int, bytes, int, ValidatorSet]:
        if chain:
            p = chain[0]
            return p.height, p.state_root, p.block.header.timestamp_ms, p.validators_after
        return self.tip.height, self.tip.state_root, self.tip.timestamp_ms, self.tip.validators

    def replay_rule(self, parent: execution.RawState) -> tuple[bool, bool]:
        """``(nonce_words, legacy_receipts)`` of the block built on the state ``parent``
        (:func:`chainfin.execution.replay_rule`)."""
        return execution.replay_rule(self.genesis.params.ledger_format, parent)

    def state_at(self, parent_hash: bytes) -> _ChainState:
        chain = self._ancestry(parent_hash)
        return _ChainState(self.cache, [s.result.changes for s in chain])

    def _execute(self, chain: list[Spec], header_fields: dict[str, Any],
                 txs: Sequence[Transaction]) -> tuple[execution.BlockResult, bytes,
                                                      dict[bytes, bytes], ValidatorSet]:
        parent_height, parent_root, _, vs = self._parent_info(chain)
        state = _ChainState(self.cache, [s.result.changes for s in chain])
        ctx = execution.BlockContext.from_genesis(
            self.genesis, parent_height + 1, header_fields["timestamp_ms"],
            header_fields["proposer"], state)
        result = execution.execute_block(state, txs, ctx, self.registry)
        nodes: dict[bytes, bytes] = {}
        smt = self._tree(_NodeCache(self.node_cache,
                                    [s.smt_nodes for s in chain] + [self.unflushed]))
        root = smt.update(parent_root, result.changes, nodes)
        after = vs
        if result.validator_set_change is not None:
            after = ValidatorSet(tuple(result.validator_set_change))
        return result, root, nodes, after

    def build(self, height: int, view: int, prev_hash: bytes, timestamp_ms: int,
              proposer: bytes, candidates: Iterable[Transaction], max_txs: int,
              max_ahead_ms: int | None = None) -> Block:
        """Primary: pick valid candidates, execute them, return the proposal (kept as Spec).

        Candidates that are no longer admissible on top of ``prev_hash`` (nonce used in an
        ancestor, sender unknown, ...) are left out rather than put in the block. With
        ``max_ahead_ms`` (the node's ``max_clock_skew_ms``), a parent stamped more than that
        ahead of ``timestamp_ms`` (this node's clock) is refused: the block would carry the
        parent's time and replicas with clocks like ours would refuse it at once, one view
        change after another (a clock stepped back); the view-change timer decides instead.

        Raises:
            InvalidMessage: the parent is not at ``height - 1`` or is too far ahead in time.
        """
        chain = self._ancestry(prev_hash)
        parent_height, _, parent_ts, vs = self._parent_info(chain)
        if height != parent_height + 1:
            raise InvalidMessage(f"cannot build height {height} on parent {parent_height}")
        if max_ahead_ms is not None and parent_ts > timestamp_ms + max_ahead_ms:
            raise InvalidMessage(f"the parent's timestamp is {parent_ts - timestamp_ms} ms "
                                 "ahead of this node's clock")
        ts = max(timestamp_ms, parent_ts)
        state = _ChainState(self.cache, [s.result.changes for s in chain])
        chosen: list[Transaction] = []
        seen_pairs: set[tuple[bytes, int]] = set()
        words, legacy = self.replay_rule(state)
        for tx in candidates:
            if len(chosen) >= max_txs:
                break
            pair = (tx.sender, tx.nonce)
            if pair in seen_pairs:
                continue
            try:
                execution.check_tx_static(tx, state, registry=self.registry,
                                          nonce_words=words, legacy_receipts=legacy)
            except InvalidTransaction:
                continue
            seen_pairs.add(pair)
            chosen.append(tx)
        fields = {"timestamp_ms": ts, "proposer": proposer}
        result, root, nodes, after = self._execute(chain, fields, chosen)
        troot, rroot = header_roots(chosen, result, self.genesis.params.salted_leaves)
        header = BlockHeader(
            chain_id=self.chain_id, height=height, view=view, prev_hash=prev_hash,
            tx_root=troot, state_root=root, validators_hash=vs.hash(),
            next_validators_hash=after.hash(), timestamp_ms=ts, proposer=proposer,
            tx_count=len(chosen), receipts_root=rroot,
        )
        block = Block(header, tuple(chosen))
        self.spec[block.hash()] = Spec(block, result, root, nodes, after)
        return block

    def execute(self, block: Block, now_ms: int | None, max_skew_ms: int,
                max_lag_ms: int | None = None) -> None:
        """Replica: execute a proposal on its parent and check its header.

        ``now_ms`` is this replica's wall clock (None: a certified block, no clock check). The
        timestamp may run at most ``max_skew_ms`` ahead of it and, with ``max_lag_ms``, at most
        that far behind it: a fresh proposal of the current view is stamped when it is built,
        so a primary cannot hold block time back (expiries, maturities, windows) for as long as
        it stays primary (red-team round 4). A re-proposal from an earlier view is checked
        without the lag bound (``max_lag_ms`` None): a quorum accepted its time when it was new.

        Raises:
            InvalidMessage: with the reason the proposal is invalid.
        """
        bh = block.hash()
        if bh in self.spec:
            return
        h = block.header
        if h.chain_id != self.chain_id:
            raise InvalidMessage("wrong chain id")
        chain = self._ancestry(h.prev_hash)
        parent_height, _, parent_ts, vs = self._parent_info(chain)
        if h.height != parent_height + 1:
            raise InvalidMessage("height does not follow the parent")
        if h.timestamp_ms < parent_ts:
            raise InvalidMessage("timestamp goes backwards")
        if now_ms is not None and h.timestamp_ms > now_ms + max_skew_ms:
            raise InvalidMessage("timestamp too far in the future")
        if now_ms is not None and max_lag_ms is not None and h.timestamp_ms < now_ms - max_lag_ms:
            raise InvalidMessage("timestamp too far in the past")
        if h.validators_hash != vs.hash():
            raise InvalidMessage("validators hash does not match")
        salted = self.genesis.params.salted_leaves
        leaves = tx_leaves(block.txs, salted)
        if h.tx_count != len(block.txs) or h.tx_root != merkle.root(leaves):
            raise InvalidMessage("tx root does not match")
        pairs = {(t.sender, t.nonce) for t in block.txs}
        if len(pairs) != len(block.txs):
            raise InvalidMessage("block repeats a (sender, nonce)")
        fields = {"timestamp_ms": h.timestamp_ms, "proposer": h.proposer}
        result, root, nodes, after = self._execute(chain, fields, block.txs)
        if root != h.state_root:
            raise InvalidMessage("state root does not match")
        if h.receipts_root != execution.header_receipts_root(result,
                                                            leaves if salted else None):
            raise InvalidMessage("receipts root does not match" if result.receipts_json else
                                 "a receipts root in a block of ledger format 1")
        if after.hash() != h.next_validators_hash:
            raise InvalidMessage("next validators hash does not match")
        self.spec[bh] = Spec(block, result, root, nodes, after)

    def discard_above(self, height: int) -> None:
        self.spec = {k: s for k, s in self.spec.items() if s.height <= height}

    # ------------------------------------------------------------------ commit

    def commit(self, block: Block, cert: CommitCertificate) -> Spec:
        """Write a final block atomically. The block must have been executed (``execute``)."""
        bh = block.hash()
        spec = self.spec.get(bh)
        if spec is None:
            raise StorageError("commit of a block that was not executed")
        if block.header.prev_hash != self.tip.block_hash or block.height != self.tip.height + 1:
            raise StorageError("commit out of order")
        h = block.height
        result = spec.result
        new_tip = Tip(h, bh, spec.state_root, block.header.timestamp_ms, spec.validators_after,
                      self.tip.view)
        changed = spec.validators_after != self.tip.validators
        write_commit(self.store, block, bh, cert, result, new_tip,
                     spec.validators_after if changed else None)
        self.cache.update(result.changes)
        # (not into node_cache too: every reader looks in unflushed first, and most of a block's
        # pages are superseded within a few blocks; the flush caches the live ones)
        self.unflushed.update(spec.smt_nodes)
        self.tip = new_tip
        self._tip_proof = (h, block.header, cert)
        if (h + self.flush_phase) % SMT_FLUSH_BLOCKS == 0:  # at most SMT_FLUSH_BLOCKS held
            self.flush_smt()
        del self.spec[bh]
        # siblings at this height (other forks) can never commit now
        self.spec = {k: s for k, s in self.spec.items()
                     if s.height > h and self._descends(s, bh)}
        return spec

    def flush_smt(self) -> int:
        """Write the in-memory SMT records that the committed root still reaches; drop the rest
        (superseded by later blocks). With ``prune_smt``, delete in the same batch the records
        of the previously flushed root that the committed root does not reach: they belong to
        no state a node serves or builds on (proofs are of the tip; speculative blocks descend
        from it). A state proof asked of such an old root fails with "missing ... pruned".
        Returns how many records were written."""
        root = self.tip.state_root
        live = reachable_records(root, self.unflushed)
        stale: set[bytes] = set()
        if self.prune_smt and root != self.flushed_root:
            stale = self.committed_tree().stale_records(self.flushed_root, root)
        if live or stale:
            with self.store.write_batch(sync=False) as b:
                for h in stale:
                    b.delete(P_SMT + h)
                put_nodes(b, live)
        self.node_cache.drop(stale)
        self.node_cache.update(live)  # read from unflushed until now, from here on from the cache
        self.pruned_records += len(stale)
        self.flushed_root = root
        self.unflushed = {}
        self.snapshot_height = self.tip.height
        self._pin_flushed()
        return len(live)

    def _pin_flushed(self) -> None:
        """A node pins the store right after a flush (the tip's tree whole on disk, the state
        key space at the same state): the snapshot it serves from now on. Older pins are
        released unless a sync read them within PIN_IDLE_S (decisions 90, 92)."""
        pin = getattr(self.store, "pin", None)
        if pin is None:
            return
        root = self.tip.state_root
        if root == EMPTY or self.store.get(P_SMT + root) is None:
            return  # nothing to serve yet, or the tree is being rebuilt
        now = time.monotonic()
        kept = {h: p for h, p in self._pins.items() if now - p.used < PIN_IDLE_S}
        # and at most MAX_PINS - 1 of them, the most recently read: a reader touching every
        # pinned height kept them all, one more per flush, and pruning reclaimed nothing
        # (red-team round 3); a sync that loses its pin moves to the newer snapshot
        self._pins = dict(sorted(kept.items(), key=lambda hp: hp[1].used)[-(MAX_PINS - 1):])
        self._pins[self.tip.height] = _Pin(pin(), now - PIN_IDLE_S)

    def snapshot_reader(self, height: int) -> KVStore | StorePin | None:
        """Where the state of ``height`` is read to serve it as a snapshot: the pin taken at
        that height's flush (None when it holds none there; the values are read from the state
        key space, which only a pin holds as of an older height). Marks the pin as in use."""
        p = self._pins.get(height)
        if p is None:
            return None
        p.used = time.monotonic()
        return p.view

    def pinned_heights(self) -> list[int]:
        """The heights whose state this node can serve (ascending)."""
        return sorted(self._pins)

    def committed_tree(self) -> SparseMerkleTree:
        """The state tree of committed blocks (proofs): stored pages and the unflushed ones.
        With ``digest_leaves`` its leaves hold value hashes and values come from the committed
        state (``y/``), so a value can be read and proven at the tip's root only."""
        return self._tree(_NodeCache(self.node_cache, [self.unflushed]))

    def _tree(self, nodes: _NodeCache) -> SparseMerkleTree:
        """The state tree over ``nodes``. It reads digest leaves whoever wrote them (a data dir
        written with ``digest_leaves`` on, as decision 81's first default did, stays readable:
        their values come from the committed state) and writes them only with
        ``digest_leaves``."""
        tree = SparseMerkleTree(nodes, self.cache)
        tree.digest_leaves = self.digest_leaves
        return tree

    def _descends(self, s: Spec, ancestor: bytes) -> bool:
        cur = s
        while True:
            p = cur.block.header.prev_hash
            if p == ancestor:
                return True
            nxt = self.spec.get(p)
            if nxt is None:
                return False
            cur = nxt

    def apply_certified(self, block: Block, cert: CommitCertificate, *,
                        signatures_verified: bool = False) -> Spec:
        """Catch-up: verify the certificate against the set derived locally, every transaction's
        signature, execute, commit. ``signatures_verified``: this very ``block`` came out of
        ``node.replay.decode_verified``, which checked the signatures in a worker process.

        Raises:
            InvalidMessage: the certificate or the block does not check out.
            InvalidTransaction: a transaction's signature does not verify.
        """
        if block.height != self.tip.height + 1:
            raise InvalidMessage("certified block does not follow the tip")
        if cert.block_hash != block.hash() or cert.height != block.height:
            raise InvalidMessage("certificate is for another block")
        cert.verify(self.tip.validators, self.chain_id)
        if not signatures_verified:
            for tx in block.txs:
                tx.verify_signature()
        self.execute(block, None, 0)
        return self.commit(block, cert)

    # ------------------------------------------------------------------ reads

    def block_record(self, height: int) -> dict[str, Any] | None:
        raw = self.store.get(P_BLOCK + _h(height))
        return None if raw is None else codec.decode(unpack_block_record(raw))

    def tx_proof(self, height: int, index: int,
                 vset_chain: Iterable[proofs.SetChange]) -> dict[str, Any] | None:
        """The proof document of the transaction at ``index`` of committed block ``height``
        (None: no such block). Only that transaction is decoded; the others' ids come from
        their stored wire bytes (``Transaction.wire_id``; a stored transaction in another
        layout is decoded), and the builder checks them against the header's tx root."""
        rec = self.block_record(height)
        if rec is None:
            return None
        wires = rec["block"]["txs"]
        salted = self.genesis.params.salted_leaves
        ids = []
        for w in wires:
            if salted:  # format 3: the leaf is the stored envelope's hash (decision 129)
                ids.append(tx_leaf(w if type(w) is bytes else Transaction.from_wire(w).encode()))
                continue
            tid = Transaction.wire_id(w)
            ids.append(Transaction.decode(w).tx_id if tid is None else tid)
        return proofs.build_tx_proof_from_ids(
            BlockHeader.from_wire(rec["block"]["header"]), CommitCertificate.from_wire(rec["cert"]),
            Transaction.decode(wires[index]), ids, index, vset_chain, rec["receipts"], salted)

    def tx_at(self, height: int, index: int) -> tuple[Transaction, int] | None:
        """The committed transaction at ``index`` of block ``height`` and the block's timestamp
        (ms) (None: no such one); only that transaction is decoded."""
        rec = self.block_record(height)
        if rec is None or not 0 <= index < len(rec["block"]["txs"]):
            return None
        header = BlockHeader.from_wire(rec["block"]["header"])
        return Transaction.decode(rec["block"]["txs"][index]), header.timestamp_ms

    def tip_header(self) -> tuple[BlockHeader, CommitCertificate] | None:
        """The committed tip's header and certificate (what a state proof is made against), kept
        from its commit: reading them from the block record would decode every transaction and
        receipt of the block (tens of ms for a 1,000-tx block). None at genesis."""
        if self.tip.height == 0:
            return None
        if self._tip_proof is None or self._tip_proof[0] != self.tip.height:
            rec = self.block_record(self.tip.height)
            assert rec is not None
            self._tip_proof = (self.tip.height, BlockHeader.from_wire(rec["block"]["header"]),
                               CommitCertificate.from_wire(rec["cert"]))
        return self._tip_proof[1], self._tip_proof[2]

    def block_raw(self, height: int) -> bytes | None:
        """The block record's msgpack bytes (as peers and observers are sent them)."""
        raw = self.store.get(P_BLOCK + _h(height))
        return None if raw is None else unpack_block_record(raw)

    def state_root_at(self, height: int) -> bytes | None:
        """The state root in the header of committed block ``height`` (None: no such block).
        Remembered for a few heights: every chunk of a snapshot asks for the same one, and a
        block record is worth decoding once. Safe from a worker thread (reads the store)."""
        root = self._roots.get(height)
        if root is None:
            raw = self.store.get(P_BLOCK + _h(height))
            if raw is None:
                return None
            root = BlockHeader.from_wire(
                codec.decode(unpack_block_record(raw))["block"]["header"]).state_root
            if len(self._roots) >= 16:
                self._roots.clear()
            self._roots[height] = root
        return root

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self.store.get(P_HASH + block_hash)
        return None if raw is None else struct.unpack(">Q", raw)[0]

    def committed_at(self, height: int, block_hash: bytes) -> bool:
        """Is ``block_hash`` the block committed at ``height`` here (one index read)?"""
        return self.height_of(block_hash) == height

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        raw = self.store.get(P_TX + tx_id)
        if raw is None:
            return None
        h, i = codec.decode(raw)
        return h, i

    def state_value(self, contract: str, key: str) -> Any | None:
        raw = self.store.get(state_db_key(execution.storage_key(contract, key)))
        return None if raw is None else codec.decode(raw)

    def max_nonce(self, sender: bytes) -> int | None:
        """The highest nonce ``sender`` used in a committed block, or None: one reverse seek of
        ``n/`` (blocks of ledger format 1) and one of ``o/`` plus a read of that nonce word
        (format 2)."""
        best: int | None = None
        prefix = P_NONCE + sender
        for k, _ in self.store.iterate(prefix=prefix, reverse=True):
            best = int.from_bytes(k[len(prefix):], "big")
            break
        prefix = P_NONCE_WORD + sender
        for k, _ in self.store.iterate(prefix=prefix, reverse=True):
            used = self._word_nonces(sender, int.from_bytes(k[len(prefix):], "big"))
            if used and (best is None or used[-1] > best):
                best = used[-1]
            break
        return best

    def used_nonces(self, sender: bytes) -> list[int]:
        """Every nonce ``sender`` used in a committed block, ascending."""
        prefix = P_NONCE + sender
        out = [int.from_bytes(k[len(prefix):], "big")
               for k, _ in self.store.iterate(prefix=prefix)]
        prefix = P_NONCE_WORD + sender
        for k, _ in self.store.iterate(prefix=prefix):
            out += self._word_nonces(sender, int.from_bytes(k[len(prefix):], "big"))
        return sorted(out)

    def _word_nonces(self, sender: bytes, word: int) -> list[int]:
        raw = self.store.get(state_db_key(execution.nonce_word_key(sender, word << 8)))
        return [] if raw is None else execution.word_nonces(word, raw)

    def committed_state(self) -> _ChainState:
        return _ChainState(self.cache, [])

    def validator_sets(self) -> list[tuple[int, ValidatorSet]]:
        """Every (from_height, set) change, from genesis."""
        out = []
        for k, v in self.store.iterate(prefix=P_VSET):
            out.append((struct.unpack(">Q", k[len(P_VSET):])[0], ValidatorSet(tuple(codec.decode(v)))))
        return out

    def set_view(self, view: int) -> None:
        if view != self.tip.view:
            self.tip.view = view
            self.store.put(K_TIP, tip_bytes(self.tip))
