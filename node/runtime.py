"""The node: a thin asyncio shell around the pure PBFT engine and the ledger.

One task owns the engine and the ledger (``_run``): it takes events from one queue, calls
``engine.step`` and executes the returned actions in order. Peer handlers, REST handlers and the
ticker only enqueue. Persist actions are written (synced) as one batch before the next Send
leaves, so a restarted replica never contradicts what it signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from time import thread_time
from typing import Any

import aiohttp
from yarl import URL

from chainfin import codec, execution
from chainfin.client import signed_headers
from chainfin.consensus import api
from chainfin.consensus.driver import Driver
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import MessageCodec
from chainfin.crypto import Identity
from chainfin.errors import ChainfinError, CodecError, InvalidMessage, InvalidTransaction
from chainfin.genesis import Genesis
from chainfin.store import DamagedStore, KVStore
from chainfin.types import Block, CommitCertificate, Transaction
from contracts import CONTRACTS, credit_sharing
from node.ledger import P_WAL, Ledger, flush_phase_for
from node.mempool import Mempool, TxGossip
from node.metrics import NodeMetrics
from node.transport import Transport

log = logging.getLogger("chainfin.node")

DISK_CHECK_S = 0.2  # how often the free space of the data directory is checked
K_CONSENSUS = "c"
K_TXS = "txs"
K_FETCH = "fetch"
K_STATUS = "status"

TICK_S = 0.005
BATCH_MIN = 32  # pending txs that make a block worth proposing at once
BATCH_DELAY_S = 0.003  # otherwise the longest a new tx waits before the engine hears of it
FETCH_BATCH = 64
#: gossip frames leave this long after their first transaction (decision 33) ...
GOSSIP_DELAY_S = 0.005
#: ... or this long while the mempool holds at least GOSSIP_BUSY_PENDING transactions: under
#: load each frame's fixed cost at every peer matters more than the wait, which queues dwarf
GOSSIP_DELAY_BUSY_S = 0.015
GOSSIP_BUSY_PENDING = 128
WAIT_TIMEOUT_S = 30.0
#: when no block has committed for this long while transactions are pending, the node checks
#: its oldest pending ones (admitted at least this long ago, none in a proposal) against the
#: committed state again and drops those it no longer admits (decision 35): shorter than the
#: view-change timeout (1 s by default), so such a transaction cannot start view changes
SWEEP_IDLE_S = 0.3
SWEEP_MAX = 256  # pending transactions checked per sweep, oldest first
#: the node refuses new client transactions (``503 overloaded``) while the transactions of the
#: last block it committed waited longer than this from admission to commit (their median) and
#: at least a block's worth is pending (decision 36): past that, accepting more only makes every
#: transaction wait longer, so the client hears it at once instead of after a long wait
OVERLOAD_LAG_S = 5.0


def _records(raw: bytes) -> list[bytes]:
    out = codec.decode(raw)
    if not isinstance(out, list) or not all(isinstance(r, bytes) for r in out):
        raise InvalidMessage("a block batch is a list of encoded records")
    return out


def _error_json(rc: execution.Receipt) -> dict[str, str] | None:
    if rc.error_code is None:
        return None
    return {"code": rc.error_code, "message": rc.error_message or ""}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class TxOutcome:
    tx_id: str
    status: str
    height: int | None = None
    index: int | None = None
    error: dict[str, str] | None = None
    result: Any = None
    finality_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"tx_id": self.tx_id, "status": self.status, "height": self.height,
                             "index": self.index}
        if self.finality_ms is not None:
            d["finality_ms"] = round(self.finality_ms, 3)
        if self.error is not None:
            d["error"] = self.error
        if self.result is not None:
            d["result"] = self.result
        return d


WAL_MARK = "walmark"


def check_wal_mark(store: KVStore, tip_height: int, wal_keys: list[bytes]) -> None:
    """A store whose consensus WAL ends before the last record this node synced (its side
    mark says so) lost votes it may have sent: starting on it could sign something else.

    Raises:
        DamagedStore: the WAL is shorter than its mark.
    """
    read = getattr(store, "read_mark", None)
    mark = read(WAL_MARK) if read is not None else None
    if not mark or int.from_bytes(mark[:8], "big") <= tip_height:
        return  # nothing marked, or only records that a checkpoint may have pruned since
    if not wal_keys or max(wal_keys) < mark:
        raise DamagedStore(f"its consensus WAL is truncated: it ends before sequence "
                           f"{int.from_bytes(mark[:8], 'big')}, which this node had signed")


class Node:
    """One chainfin validator (or observer) process's state and tasks."""

    def __init__(self, identity: Identity, genesis: Genesis, store: KVStore,
                 p2p_host: str, p2p_port: int, peers: dict[bytes, str],
                 node_id: str = "node", bank: Identity | None = None,
                 sync_urls: Iterable[str] = (), server_ssl: ssl.SSLContext | None = None,
                 client_ssl: ssl.SSLContext | None = None,
                 sync_identity: Identity | None = None,
                 sync_ssl: ssl.SSLContext | None = None, min_free_bytes: int = 0) -> None:
        self.identity = identity
        # trusts the consortium CA for https:// sync URLs (None: the system's trust store)
        self.sync_ssl = sync_ssl
        # signs this node's REST reads of /v1/sync/blocks while it is an observer (blocks are
        # for validators, regulators and auditors); default: the node key
        self.sync_identity = sync_identity or identity
        # below this much free space in the data directory the node pauses (0: never checks)
        self.min_free_bytes = min_free_bytes
        self.disk_full = False
        self._disk_checked = 0.0
        self.bank = bank  # the bank this node acts for (automatic credit-record delivery)
        self.sync_urls = [u.rstrip("/") for u in sync_urls]  # REST sources while an observer
        self.node_id = node_id
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.store = store
        self.metrics = NodeMetrics()
        self.ledger = Ledger(store, genesis, registry=CONTRACTS,
                             flush_phase=flush_phase_for(identity.public_key, genesis))
        self.mempool = Mempool()
        self.params = genesis.params
        self.peers_cfg = peers
        self.transport = Transport(identity, self.chain_id, p2p_host, p2p_port,
                                   self._peer_addresses(), self._on_frame,
                                   server_ssl=server_ssl, client_ssl=client_ssl)
        self.transport.set_request_handler(K_FETCH, self._serve_fetch)
        self.transport.set_request_handler(K_STATUS, self._serve_status)
        self.gossip = TxGossip(self.transport.broadcast, K_TXS, delay=GOSSIP_DELAY_S)
        self.engine = self._make_engine()
        self.events: asyncio.Queue[api.Event] = asyncio.Queue()
        self.waiters: dict[bytes, list[asyncio.Future[TxOutcome]]] = {}
        self.admitted_at: dict[bytes, float] = {}
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.in_flight: set[bytes] = set()  # tx ids in speculative blocks
        self.view = self.ledger.tip.view
        self.primary = self.ledger.tip.validators.primary(self.view)
        self.stats: dict[str, int] = {"gossip_txs_in": 0, "gossip_txs_bad": 0,
                                      "frames_unknown_kind": 0, "fetch_served": 0,
                                      "blocks_fetched": 0, "fetch_failed": 0,
                                      "auto_deliveries": 0, "auto_delivery_failed": 0,
                                      "pending_dropped_inadmissible": 0,
                                      "disk_full_pauses": 0,
                                      "events_dropped_disk_full": 0}
        self._last_commit = self._last_sweep = time.perf_counter()
        self.commit_lag_s = 0.0  # median admission-to-commit time of the last committed block
        self._tasks: list[asyncio.Task[Any]] = []
        self._fetching = False
        self._pending_timer: asyncio.TimerHandle | None = None
        self._wal_pending: list[api.Persist] = []  # written (fsync) at the end of the turn
        self._outbox: list[tuple[bytes | None, bytes]] = []  # sent after that write
        io = _EngineIO(self)
        self._driver = Driver(self._engine_step, io, io)
        self._write_mark = getattr(store, "write_mark", None)
        self._wal_mark = b""
        self.failed = asyncio.Event()  # set when the engine task died: the process must exit
        self.failure: BaseException | None = None
        self.metrics.export_dict("chainfin_consensus", "Consensus engine counters",
                                 lambda: dict(self.engine.stats))
        self.metrics.export_dict("chainfin_transport", "Peer transport counters",
                                 lambda: dict(self.transport.stats))
        self.metrics.export_dict("chainfin_node", "Node counters", lambda: self.stats)

    # ------------------------------------------------------------------ setup

    def _wal_records(self) -> list[tuple[bytes, Any]]:
        try:
            records = [(k[len(P_WAL):], codec.decode(v))
                       for k, v in self.store.iterate(prefix=P_WAL)]
        except CodecError as e:
            raise DamagedStore(f"a consensus WAL record does not decode ({e})") from e
        check_wal_mark(self.store, self.ledger.tip.height, [k for k, _ in records])
        return records

    def _make_engine(self) -> PbftEngine:
        tip = self.ledger.tip
        cfg = PbftConfig(
            chain_id=self.chain_id,
            window=self.params.window,
            checkpoint_interval=self.params.checkpoint_interval,
            view_timeout_ms=self.params.view_timeout_ms,
            max_block_txs=self.params.max_block_txs,
            block_interval_ms=self.params.block_interval_ms,
        )
        return PbftEngine(cfg, self.identity, tip.validators, tip.height, tip.block_hash,
                          restored=self._wal_records(), view=tip.view,
                          last_certificate=self._tip_certificate(),
                          codec=MessageCodec(self.chain_id, known_tx=self.mempool.by_wire))

    def _tip_certificate(self) -> CommitCertificate | None:
        rec = self.ledger.block_record(self.ledger.tip.height)
        return None if rec is None else CommitCertificate.from_wire(rec["cert"])

    async def start(self) -> None:
        start_background = getattr(self.store, "start_background", None)
        if start_background is not None:  # LevelDB: its compaction thread at a lower priority
            start_background()
        await self.transport.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name="engine"),
                       loop.create_task(self._ticker(), name="ticker"),
                       loop.create_task(self._sync_watch(), name="sync-watch")]
        self.metrics.height.set(self.ledger.tip.height)
        log.info("node %s started at height %d view %d (%s)", self.node_id,
                 self.ledger.tip.height, self.view,
                 "validator" if self.is_validator else "observer")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.transport.stop()
        with contextlib.suppress(ChainfinError):
            self.ledger.flush_smt()  # (a restart would rebuild them: quicker not to need it)
        for futs in self.waiters.values():
            for f in futs:
                if not f.done():
                    f.cancel()

    @property
    def is_validator(self) -> bool:
        return self.identity.public_key in self.ledger.tip.validators

    # ------------------------------------------------------------------ inputs

    def _on_frame(self, sender: bytes, kind: str, payload: bytes) -> None:
        if kind == K_CONSENSUS:
            self.events.put_nowait(api.Received(sender, payload))
        elif kind == K_TXS:
            t0 = thread_time()
            self._on_gossip(payload)
            self.metrics.cpu["gossip_in"] += thread_time() - t0
        else:
            self.stats["frames_unknown_kind"] += 1
            self.metrics.peer_frames_dropped.labels("unknown_kind").inc()

    def _on_gossip(self, payload: bytes) -> None:
        try:
            items = codec.decode(payload)
            if not isinstance(items, list):
                raise CodecError("gossip is a list of transactions")
        except CodecError:
            self.stats["gossip_txs_bad"] += 1
            self.metrics.peer_frames_dropped.labels("malformed_gossip").inc()
            return
        added = 0
        for raw in items:
            try:
                if type(raw) is bytes:  # wire bytes (decision 25): a known one is not decoded
                    known = Transaction.wire_id(raw)
                    if known is not None and self.mempool.seen(known):
                        continue
                    tx = Transaction.decode(raw)
                else:
                    tx = Transaction.from_wire(raw)
                if self.mempool.seen(tx.tx_id):
                    continue
                self._admit(tx, gossip=False)
                added += 1
            except ChainfinError:
                self.stats["gossip_txs_bad"] += 1
        self.stats["gossip_txs_in"] += added
        if added:
            self._pending_changed()

    def admit(self, tx: Transaction) -> None:
        """REST entry: verify once, check admission, add to the mempool, gossip.

        Raises:
            InvalidTransaction: with a code the REST layer maps to a 4xx.
        """
        t0 = thread_time()
        try:
            if tx.chain_id != self.chain_id:
                raise InvalidTransaction("transaction is for another chain", "wrong_chain")
            if self.disk_full:
                raise InvalidTransaction(
                    "this node's data directory is full: it accepts no transactions until "
                    "space is freed; send to another node", "disk_full")
            if self.overloaded():
                raise InvalidTransaction(
                    f"the network is overloaded: transactions take {self.commit_lag_s:.1f} s "
                    "from admission to commit here; retry later", "overloaded")
            if self.ledger.tx_location(tx.tx_id) is not None:
                raise InvalidTransaction("transaction already committed", "duplicate")
            self._admit(tx, gossip=True)
            self._pending_changed()
        finally:
            self.metrics.cpu["admit"] += thread_time() - t0

    def overloaded(self) -> bool:
        """True while the last committed block's transactions waited more than OVERLOAD_LAG_S
        (median) and at least a block's worth is pending (a short queue always drains)."""
        return (self.commit_lag_s > OVERLOAD_LAG_S
                and len(self.mempool) >= self.params.max_block_txs)

    def _admit(self, tx: Transaction, gossip: bool) -> None:
        tx.verify_signature()
        execution.check_tx_static(tx, self.ledger.committed_state(),
                                  registry=self.ledger.registry)
        self.mempool.add(tx)
        self.admitted_at.setdefault(tx.tx_id, time.perf_counter())
        if gossip:
            self.gossip.delay = (GOSSIP_DELAY_BUSY_S if len(self.mempool) >= GOSSIP_BUSY_PENDING
                                 else GOSSIP_DELAY_S)
            self.gossip.add(tx)

    def _pending_changed(self) -> None:
        """Tell the engine about new transactions, batching them: at once when a block's worth
        (BATCH_MIN) is waiting or nothing is in flight (an idle network answers in one round),
        otherwise after at most BATCH_DELAY_S, so a busy primary cuts fewer, bigger blocks
        (per-block work dominates a node's CPU at small blocks; docs/performance.md)."""
        self.metrics.mempool.set(len(self.mempool))
        waiting = len(self.mempool) - len(self.in_flight)
        if waiting >= BATCH_MIN or not self.ledger.spec:
            self._notify_pending()
        elif self._pending_timer is None:
            self._pending_timer = asyncio.get_running_loop().call_later(
                BATCH_DELAY_S, self._notify_pending)

    def _notify_pending(self) -> None:
        if self._pending_timer is not None:
            self._pending_timer.cancel()
            self._pending_timer = None
        self.events.put_nowait(api.TxsPending(len(self.mempool)))

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time()
        while True:
            await asyncio.sleep(TICK_S)
            t = loop.time()
            self.metrics.loop_lag.set(max(0.0, t - expected - TICK_S))
            expected = t
            self.events.put_nowait(api.Tick(now_ms()))
            if self.mempool:
                now = time.perf_counter()
                if now - max(self._last_commit, self._last_sweep) >= SWEEP_IDLE_S:
                    self._last_sweep = now
                    self.drop_inadmissible(now - SWEEP_IDLE_S)

    def drop_inadmissible(self, admitted_before: float) -> int:
        """Check the oldest pending transactions admitted before ``admitted_before``
        (``time.perf_counter()`` seconds; at most SWEEP_MAX, none in a proposal) against the
        committed state again and drop those it no longer admits, failing their waiters with
        the reason. Returns how many were dropped.

        A transaction is admitted against the committed state, but a block committed after
        that can make it inadmissible for good (its sender's role changed, the identity was
        removed): the primary then leaves it out of every block, and without this it would
        stay pending on every node for good, and keep the replicas' view-change timers
        running on an otherwise idle network (a view change every 1, 2, 4, ... s)."""
        state = self.ledger.committed_state()
        dropped: list[tuple[bytes, InvalidTransaction]] = []
        for tx_id, t in list(itertools.islice(self.admitted_at.items(), SWEEP_MAX)):
            if t >= admitted_before:
                break
            tx = self.mempool.get(tx_id)
            if tx is None:  # no longer pending: a stale entry, not worth a slot next time
                self.admitted_at.pop(tx_id, None)
                continue
            if tx_id in self.in_flight:
                continue
            try:
                execution.check_tx_static(tx, state, registry=self.ledger.registry)
            except InvalidTransaction as e:
                dropped.append((tx_id, e))
        if not dropped:
            return 0
        # not remembered as seen: a resubmission once the state admits it again (the role
        # restored) must not be refused as a duplicate; late gossip of it fails admission
        self._drop_pending([(tx_id, InvalidTransaction(
            f"no longer admissible, dropped from the mempool: {e}", e.code))
            for tx_id, e in dropped], seen=False)
        self.stats["pending_dropped_inadmissible"] += len(dropped)
        log.info("dropped %d pending transaction(s) the committed state no longer admits (%s)",
                 len(dropped), ", ".join(sorted({e.code for _, e in dropped})))
        self._pending_changed()
        return len(dropped)

    def _drop_pending(self, drops: list[tuple[bytes, InvalidTransaction]], *, seen: bool) -> None:
        """Take pending transactions that can never commit out of the mempool (``seen``: also
        remember their ids, so late gossip is not decoded again) and fail their waiters."""
        ids = [tx_id for tx_id, _ in drops]
        self.mempool.remove(ids, committed=seen)
        self.in_flight.difference_update(ids)
        for tx_id, err in drops:
            self.admitted_at.pop(tx_id, None)
            for f in self.waiters.pop(tx_id, ()):
                if not f.done():
                    f.set_exception(err)

    # ------------------------------------------------------------------ the engine loop

    async def _run(self) -> None:
        """The engine task. A failure here (a broken invariant, a storage error) is fatal: the
        node stops and exits non-zero rather than serve REST with a dead consensus loop; its
        data dir is consistent (every commit is one atomic batch), so a restart recovers."""
        try:
            await self._run_loop()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            log.critical("consensus loop failed, stopping the node: %r", e, exc_info=True)
            self.failure = e
            self.failed.set()

    async def _run_loop(self) -> None:
        """Step the engine over every queued event, then make the turn's votes durable with ONE
        synced WAL write, then let the turn's messages leave. Sends are held until the end of
        the turn, so none leaves before the records persisted in the same turn (STYLE §3, TRAPS
        #4), and a busy node pays one fsync per turn instead of one per vote."""
        while True:
            ev = await self.events.get()
            if self.min_free_bytes and self._space_low():
                await self._wait_for_space()
                continue
            batch = [ev]
            while not self.events.empty() and len(batch) < 256:
                batch.append(self.events.get_nowait())
            # coalesce Ticks and pending-counts to the newest: the primary then sees the whole
            # burst of arrivals at once and cuts one bigger block instead of many tiny ones
            last_tick = last_pending = None
            for e in batch:
                if isinstance(e, api.Tick):
                    last_tick = e
                elif isinstance(e, api.TxsPending):
                    last_pending = e
                else:
                    self._step(e)
            if last_pending is not None:
                self._step(api.TxsPending(len(self.mempool)))
            if last_tick is not None:
                self._step(last_tick)
            self._end_turn()

    def _space_low(self) -> bool:
        """Free space in the data directory below ``min_free_bytes`` (checked at most every
        DISK_CHECK_S)."""
        now = time.monotonic()
        if now - self._disk_checked < DISK_CHECK_S:
            return self.disk_full
        self._disk_checked = now
        free = getattr(self.store, "free_bytes", lambda: None)()
        return free is not None and free < self.min_free_bytes

    async def _wait_for_space(self) -> None:
        """The data directory is (nearly) full: pause consensus *between* turns, so nothing is
        half written, and state transfer, refuse transactions (``disk_full``), and drop what
        peers send meanwhile (counted; once 1.25 times the reserve is free the node catches up
        by state transfer like any laggard).
        LevelDB can leave a database unwritable after a failed write, so the node stops short
        of ENOSPC instead of meeting it."""
        self.disk_full = True
        self.metrics.disk_full.set(1)
        self.stats["disk_full_pauses"] += 1
        log.error("the data directory has less than %d bytes free: consensus paused and "
                  "transactions refused until space is freed", self.min_free_bytes)
        while True:
            while not self.events.empty():
                self.events.get_nowait()
                self.stats["events_dropped_disk_full"] += 1
            await asyncio.sleep(DISK_CHECK_S)
            self._disk_checked = 0.0
            free = getattr(self.store, "free_bytes", lambda: None)()
            if free is None or free >= self.min_free_bytes * 5 // 4:  # hysteresis
                break
        self.disk_full = False
        self.metrics.disk_full.set(0)
        log.warning("free space is back: consensus resumes")
        self._start_fetch(self.ledger.tip.height + 1, self.transport.connected())

    def _end_turn(self) -> None:
        if self._wal_pending:
            t0 = thread_time()
            records, self._wal_pending = self._wal_pending, []
            with self.store.write_batch(sync=True) as b:
                for r in records:
                    b.put(P_WAL + r.key, codec.encode(r.record))
            top = max(r.key for r in records)
            if top > self._wal_mark and self._write_mark is not None:
                # what the synced WAL reaches: a WAL found shorter at start was truncated
                self._wal_mark = top
                self._write_mark(WAL_MARK, top)
            self.metrics.cpu["wal"] += thread_time() - t0
        if self._outbox:
            sends, self._outbox = self._outbox, []
            for to, payload in sends:
                if to is None:
                    self.transport.broadcast(K_CONSENSUS, payload)
                else:
                    self.transport.send(to, K_CONSENSUS, payload)

    def _step(self, ev: api.Event) -> None:
        self._driver.step(ev)

    def _engine_step(self, ev: api.Event) -> list[api.Action]:
        t0 = thread_time()
        try:
            return self.engine.step(ev)
        except ChainfinError as e:  # a bad message slipped through: count it, keep serving
            log.warning("engine refused an event: %s", e)
            return []
        finally:
            self.metrics.cpu["consensus"] += thread_time() - t0

    def _prune_wal(self, below: bytes) -> None:
        self._wal_pending = [r for r in self._wal_pending if r.key >= below]
        keys = [k for k, _ in self.store.iterate(prefix=P_WAL, stop=P_WAL + below)]
        if keys:
            with self.store.write_batch(sync=False) as b:
                for k in keys:
                    b.delete(k)

    def _build(self, a: api.BuildBlock) -> api.Event:
        candidates = self.mempool.take_batch(a.max_txs * 2 + 16, exclude=self.in_flight)
        try:
            block = self.ledger.build(a.height, a.view, a.prev_hash, a.timestamp_ms,
                                      self.identity.public_key, candidates, a.max_txs)
        except InvalidMessage as e:  # parent discarded by a view change meanwhile
            log.warning("cannot build block %d: %s", a.height, e)
            block = None
        if block is None:
            return api.BlockExecuted(b"", False, "build failed")
        self.in_flight.update(t.tx_id for t in block.txs)
        return api.BlockBuilt(block)

    def _execute_block(self, block: Block) -> api.Event:
        bh = block.hash()
        try:
            for tx in block.txs:
                # checked once per node: a pending transaction's signature was checked when it
                # arrived. The id does not cover the signature, so "pending" means these exact
                # bytes, signature included: a primary could otherwise swap in a bad signature
                pending = self.mempool.get(tx.tx_id)
                if pending is None or pending.signature != tx.signature:
                    tx.verify_signature()
            self.ledger.execute(block, now_ms(), self.params.max_clock_skew_ms)
        except (InvalidMessage, InvalidTransaction) as e:
            log.warning("proposal %d %s is invalid: %s", block.height, bh.hex()[:12], e)
            return api.BlockExecuted(bh, False, str(e))
        self.in_flight.update(t.tx_id for t in block.txs)
        return api.BlockExecuted(bh, True)

    def _commit(self, block: Block, cert: CommitCertificate) -> list[api.Event]:
        t0 = time.perf_counter()
        if block.height <= self.ledger.tip.height:
            # catch-up applied this height already (a certified block from a peer)
            have = self.ledger.block_record(block.height)
            if have is None or Block.from_wire(have["block"]).hash() != block.hash():
                raise AssertionError(f"two different blocks final at height {block.height}")
            return []
        if block.hash() not in self.ledger.spec:
            self._execute_block(block)
        old_vs = self.ledger.tip.validators
        spec = self.ledger.commit(block, cert)
        self.metrics.commit_write.observe(time.perf_counter() - t0)
        self._after_commit(block, spec.result)
        out: list[api.Event] = []
        if spec.validators_after != old_vs:
            self._validators_changed()
            out.append(api.ValidatorSetChanged(block.height, spec.validators_after))
        return out

    def _after_commit(self, block: Block, result: execution.BlockResult) -> None:
        self._last_commit = time.perf_counter()
        ids = [t.tx_id for t in block.txs]
        self.mempool.remove(ids)
        stale = self.mempool.conflicting(block.txs)
        if stale:  # pending transactions whose nonce this block used: they can never commit
            err = InvalidTransaction(f"another transaction of this sender with this nonce "
                                     f"was committed in block {block.height}", "nonce_reused")
            self._drop_pending([(tx_id, err) for tx_id in stale], seen=True)
        self.in_flight.difference_update(ids)
        self.metrics.height.set(block.height)
        self.metrics.blocks.inc()
        self.metrics.mempool.set(len(self.mempool))
        now = time.perf_counter()
        rejected = 0
        fins: list[float] = []
        for i, (tx, rc) in enumerate(zip(block.txs, result.receipts, strict=True)):
            started = self.admitted_at.pop(tx.tx_id, None)
            fin = None if started is None else (now - started) * 1000.0
            if fin is not None:
                self.metrics.finality.observe(fin / 1000.0)
                fins.append(fin)
            if rc.status != "committed":
                rejected += 1
            futs = self.waiters.pop(tx.tx_id, None)
            if futs:
                outcome = TxOutcome(tx.tx_id.hex(), rc.status, block.height, i,
                                    _error_json(rc), rc.result, fin)
                for f in futs:
                    if not f.done():
                        f.set_result(outcome)
        if fins:  # (a block none of whose transactions passed here says nothing of our queue)
            fins.sort()
            self.commit_lag_s = fins[len(fins) // 2] / 1000.0
            self.metrics.commit_lag.set(self.commit_lag_s)
        self.metrics.txs_committed.inc(len(block.txs) - rejected)
        self.metrics.txs_rejected.inc(rejected)
        if self.subscribers:
            ev = {"type": "block", "height": block.height, "hash": block.hash().hex(),
                  "txs": len(block.txs),
                  "events": [e.to_json() for e in result.events]}
            for q in list(self.subscribers):
                if q.qsize() < 1000:
                    q.put_nowait(ev)
        if self.bank is not None:
            self._auto_deliver(result)
        if len(self.mempool):
            self._pending_changed()

    def _auto_deliver(self, result: execution.BlockResult) -> None:
        """Answer access requests for records our bank published (credit_sharing.deliver)."""
        assert self.bank is not None
        me = self.bank.public_key.hex()
        for ev in result.events:
            if (ev.contract != "credit_sharing" or ev.name != "access_requested"
                    or ev.data.get("publisher") != me):
                continue
            try:
                view = execution.Overlay(self.ledger.committed_state())
                args = credit_sharing.answer_request(self.bank, view, ev.data["request_id"])
                if args is None:
                    continue
                nonce = max(self.next_nonce(self.bank.public_key), time.time_ns() // 1000)
                tx = Transaction.create(self.bank, self.chain_id, nonce, "credit_sharing",
                                        "deliver", args)
                self._admit(tx, gossip=True)
                self.stats["auto_deliveries"] += 1
            except ChainfinError as e:  # never let one request stop the node
                self.stats["auto_delivery_failed"] += 1
                log.warning("automatic delivery of request %s failed: %s",
                            ev.data.get("request_id"), e)

    def _recompute_in_flight(self) -> None:
        self.in_flight = {t.tx_id for s in self.ledger.spec.values() for t in s.block.txs}

    def _validators_changed(self) -> None:
        """The set changed: link to every member we can address, drop the removed ones."""
        vs = self.ledger.tip.validators
        log.info("validator set changed at height %d: n=%d, this node is %s",
                 self.ledger.tip.height, vs.n, "a validator" if self.is_validator
                 else "an observer")
        self.transport.set_peers(self._peer_addresses())

    def _peer_addresses(self) -> dict[bytes, str]:
        """Addresses of the current validators: from the config, else from the on-chain
        ``governance/validator_info/<key>`` record written when the validator was added."""
        view = execution.Overlay(self.ledger.committed_state())
        out: dict[bytes, str] = {}
        for k in self.ledger.tip.validators.members:
            if k == self.identity.public_key:
                continue
            addr = self.peers_cfg.get(k)
            if addr is None:
                info = view.get("governance", "validator_info/" + k.hex()) or {}
                addr = info.get("address")
            if addr:
                out[k] = addr
        return out

    # ------------------------------------------------------------------ catch-up

    def _start_fetch(self, from_height: int, hint: Iterable[bytes]) -> None:
        if self._fetching or self.disk_full:
            return
        self._fetching = True
        asyncio.get_running_loop().create_task(self._fetch(list(hint)), name="fetch")

    async def _fetch(self, hint: list[bytes]) -> None:
        try:
            progressed = await self._catch_up(hint)
            if not progressed and self.sync_urls:
                progressed = await self._catch_up_rest()
            if progressed:
                self._notify_synced()
        finally:
            self._fetching = False

    def _notify_synced(self) -> None:
        tip = self.ledger.tip
        self.events.put_nowait(api.Synced(tip.height, tip.block_hash, tip.validators,
                                          self._tip_certificate()))

    async def _catch_up(self, hint: list[bytes]) -> bool:
        """Fetch certified blocks above our tip from validator peers over p2p."""
        peers = [p for p in hint if p in self.transport.connected()] or self.transport.connected()
        progressed = False
        for peer in peers:

            async def from_peer(start: int, peer: bytes = peer) -> list[bytes]:
                raw = await self.transport.request(
                    peer, K_FETCH, codec.encode({"from": start, "max": FETCH_BATCH}), 5.0)
                return _records(raw)

            progressed |= await self._pull(from_peer, peer.hex()[:12])
        return progressed

    async def _catch_up_rest(self) -> bool:
        """Observers (not yet validators: peers do not link to them) follow over REST."""
        progressed = False
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10),
                connector=aiohttp.TCPConnector(ssl=self.sync_ssl or True)) as session:
            for url in self.sync_urls:

                async def from_url(start: int, url: str = url) -> list[bytes]:
                    # signed with the node key: block records are for validators (and this
                    # node's key is a registered identity before it becomes one)
                    target = f"{url}/v1/sync/blocks?from={start}&max={FETCH_BATCH}"
                    async with session.get(URL(target, encoded=True), headers=signed_headers(
                            self.sync_identity, "GET", target)) as r:
                        if r.status != 200:
                            raise InvalidMessage(f"HTTP {r.status}")
                        return _records(await r.read())

                progressed |= await self._pull(from_url, url)
        return progressed

    async def _pull(self, source: Any, name: str) -> bool:
        """Apply certified blocks from ``source(start) -> [raw records]`` until it has no more.
        Each certificate is checked against the set this node derived itself (TRAPS #12)."""
        progressed = False
        while True:
            start = self.ledger.tip.height + 1
            try:
                records = await source(start)
            except (TimeoutError, ChainfinError, ConnectionError, OSError) as e:
                self.stats["fetch_failed"] += 1
                log.info("fetch from %s failed: %s", name, e)
                return progressed
            except Exception as e:  # aiohttp client errors and the like: never kill the node
                self.stats["fetch_failed"] += 1
                log.info("fetch from %s failed: %s", name, e)
                return progressed
            if not records:
                return progressed
            if self.disk_full or (self.min_free_bytes and self._space_low()):
                return progressed  # state transfer writes too: it waits for space like consensus
            for raw in records:
                try:
                    rec = codec.decode(raw)
                    block = Block.from_wire(rec["block"])
                    cert = CommitCertificate.from_wire(rec["cert"])
                    if block.height <= self.ledger.tip.height:
                        continue
                    old_vs = self.ledger.tip.validators
                    spec = self.ledger.apply_certified(block, cert)
                except (ChainfinError, KeyError, TypeError) as e:
                    self.stats["fetch_failed"] += 1
                    log.warning("%s sent a bad certified block: %s", name, e)
                    return progressed
                progressed = True
                self.stats["blocks_fetched"] += 1
                self._after_commit(block, spec.result)
                if spec.validators_after != old_vs:
                    self._validators_changed()
                await asyncio.sleep(0)  # never hold the loop for a whole batch
            if len(records) < FETCH_BATCH:
                return progressed

    def sync_records(self, start: int, n: int) -> list[bytes]:
        """Raw certified block records from ``start`` (served to catching-up nodes)."""
        out = []
        for h in range(max(1, start), start + min(n, FETCH_BATCH)):
            raw = self.ledger.block_raw(h)
            if raw is None:
                break
            out.append(raw)
        return out

    async def _serve_fetch(self, peer: bytes, payload: bytes) -> bytes:
        try:
            req = codec.decode(payload)
            start, n = int(req["from"]), int(req["max"])
        except (ChainfinError, KeyError, TypeError, ValueError):
            return codec.encode([])
        self.stats["fetch_served"] += 1
        return codec.encode(self.sync_records(start, n))

    async def _serve_status(self, peer: bytes, payload: bytes) -> bytes:
        return codec.encode({"height": self.ledger.tip.height, "view": self.view})

    async def _sync_watch(self) -> None:
        """Catch up when we are behind: observers poll their sync URLs every 200 ms; validators
        check every second whether a peer is ahead while we have not moved (restart,
        partition)."""
        last_height = -1
        while True:
            observer = not self.is_validator
            await asyncio.sleep(0.2 if observer else 1.0)
            if self._fetching:
                continue
            if observer and self.sync_urls:
                self._fetching = True
                await self._fetch([])
                continue
            h = self.ledger.tip.height
            if h != last_height:
                last_height = h
                continue
            best, best_peer = h, None
            for peer in self.transport.connected():
                try:
                    st = codec.decode(await self.transport.request(peer, K_STATUS, b"", 2.0))
                    if int(st["height"]) > best:
                        best, best_peer = int(st["height"]), peer
                except (TimeoutError, ChainfinError, ConnectionError, OSError, KeyError, TypeError, ValueError):
                    continue
            if best_peer is not None and not self._fetching:
                self._fetching = True
                await self._fetch([best_peer])

    # ------------------------------------------------------------------ queries for REST

    def wait_for(self, tx_id: bytes) -> asyncio.Future[TxOutcome]:
        fut: asyncio.Future[TxOutcome] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(tx_id, []).append(fut)
        return fut

    def next_nonce(self, sender: bytes) -> int:
        """One more than the highest nonce the sender used (committed or in the mempool)."""
        used = self.ledger.used_nonces(sender)
        used += [t.nonce for t in self.mempool.by_sender(sender)]
        nxt = max(used, default=0) + 1
        if nxt < 2**63:
            return nxt
        taken = set(used)  # the top is used up: hand out the smallest free one instead
        return next(n for n in range(1, len(taken) + 2) if n not in taken)

    def tx_outcome(self, tx_id: bytes) -> TxOutcome | None:
        loc = self.ledger.tx_location(tx_id)
        if loc is None:
            if tx_id in self.mempool:
                return TxOutcome(tx_id.hex(), "pending")
            return None
        h, i = loc
        rec = self.ledger.block_record(h)
        assert rec is not None
        rc = rec["receipts"][i]
        return TxOutcome(tx_id.hex(), rc["status"], h, i, rc.get("error"), rc.get("result"))


class _EngineIO:
    """The node as the consensus driver's App and Network (``chainfin.consensus.driver``).
    Votes and sends are only queued here: ``Node._end_turn`` syncs the queued votes, then lets
    the queued sends leave."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def send(self, to: bytes | None, payload: bytes) -> list[api.Event]:
        if to == self.node.identity.public_key:
            return [api.Received(to, payload)]
        self.node._outbox.append((to, payload))
        return []

    def persist(self, key: bytes, record: Any) -> None:
        self.node._wal_pending.append(api.Persist(key, record))

    def build(self, req: api.BuildBlock) -> list[api.Event]:
        t0 = thread_time()
        answer = self.node._build(req)
        self.node.metrics.cpu["build"] += thread_time() - t0
        return [answer]

    def execute(self, block: Block) -> list[api.Event]:
        t0 = thread_time()
        answer = self.node._execute_block(block)
        self.node.metrics.cpu["execute"] += thread_time() - t0
        return [answer]

    def commit(self, block: Block, certificate: CommitCertificate) -> list[api.Event]:
        t0 = thread_time()
        answers = self.node._commit(block, certificate)
        self.node.metrics.cpu["commit"] += thread_time() - t0
        return answers

    def discard(self, height: int) -> None:
        self.node.ledger.discard_above(height)
        self.node._recompute_in_flight()

    def fetch(self, from_height: int, hint_peers: tuple[bytes, ...]) -> list[api.Event]:
        self.node._start_fetch(from_height, hint_peers)
        return []

    def prune(self, below_key: bytes) -> None:
        self.node._prune_wal(below_key)

    def view_changed(self, view: int, primary: bytes) -> None:
        node = self.node
        node.view, node.primary = view, primary
        node.metrics.view.set(view)
        node.ledger.set_view(view)
        log.info("view %d, primary %s", view, primary.hex()[:12])
