"""The node: a thin asyncio shell around the pure PBFT engine and the ledger.

One task owns the engine and the ledger (``_run``): it takes events from one queue, calls
``engine.step`` and executes the returned actions in order (through ``node.engine_io``). Peer
handlers, REST handlers and the ticker only enqueue. Persist actions are written (synced) as one
batch before the next Send leaves, so a restarted replica never contradicts what it signed.

The policies live beside it: ``node.admission`` (what enters the mempool and when the engine
hears of it), ``node.catchup`` (state transfer), ``node.delivery`` (the credit-sharing
delivery agent) and ``node.engine_io`` (blocks built, executed and committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import ssl
import time
from collections.abc import Iterable
from time import thread_time
from typing import Any

from chainfin import codec, compiled, execution
from chainfin.consensus import api
from chainfin.consensus.config import DEFAULT_LINK_GRACE_MS, DEFAULT_REQUEST_TIMEOUT_MS
from chainfin.consensus.driver import Driver
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import MessageCodec
from chainfin.crypto import Identity
from chainfin.errors import ChainfinError, CodecError, InvalidTransaction
from chainfin.genesis import Genesis
from chainfin.store import DamagedStore, KVStore
from chainfin.types import CommitCertificate, Transaction
from contracts import CONTRACTS
from node.access import ReadLog
from node.admission import GOSSIP_DELAY_S, PRIMARY_GOSSIP_DELAY_S, Admission, next_free_nonce
from node.anchor import DEFAULT_INTERVAL_S as DEFAULT_ANCHOR_S
from node.anchor import ReadLogAnchor
from node.catchup import K_FETCH, K_STATUS, CatchUp
from node.delivery import DeliveryAgent
from node.engine_io import EngineIO, TxOutcome
from node.ledger import P_WAL, Ledger, flush_phase_for
from node.mempool import Mempool, TxGossip
from node.metrics import NodeMetrics
from node.reach import NO_QUORUM_EARLY_S
from node.statesync import StateSync
from node.transport import Transport

__all__ = ["K_CONSENSUS", "K_TXS", "WAIT_TIMEOUT_S", "WAL_MARK", "Node", "TxOutcome",
           "check_wal_mark", "engine_ms", "now_ms"]

log = logging.getLogger("chainfin.node")

DISK_CHECK_S = 0.2  # how often the free space of the data directory is checked
K_CONSENSUS = "c"
K_TXS = "txs"
#: the engine learns the time at least this often while anything happens (a turn that starts
#: this long after the last Tick steps one first) ...
TICK_MS = 5
#: ... and its timers fire at ``next_deadline()`` (a timer armed after every turn); this slow
#: ticker is only the safety net (and the idle mempool sweep, the loop-lag gauge): an idle
#: node no longer wakes 200 times a second (decision 91)
TICK_S = 0.05
WAIT_TIMEOUT_S = 30.0
#: a stopping primary's hand-over (decision 173) waits at most this long for its VIEW-CHANGE to
#: leave on every live link before the links close
HANDOVER_FLUSH_S = 0.5
# each step of a stop (the node's tasks ending, the links closing, the fetch session closing)
# gets at most this long: a step that overruns is logged with its stack and left behind, so
# a stop always ends (a hang once seen in CI, docs/reliability.md)
STOP_STEP_S = 10.0


def now_ms() -> int:
    """The node's wall clock in ms: what the primary stamps a block with (``EngineIO._build``)
    and what a replica checks a proposal's timestamp against."""
    return time.time_ns() // 1_000_000


def engine_ms() -> int:
    """The engine's clock in ms, monotonic: its Ticks, timers and pacing. It was the wall
    clock, and the engine ignores a Tick older than the last (its time never goes back), so a
    clock stepped back by D froze every timer and the primary's pacing for D: the network
    committed nothing for D (red-team round 4)."""
    return time.monotonic_ns() // 1_000_000


WAL_MARK = "walmark"
#: pending transactions sent again to a peer whose link came back (Node._resend_pending)
RESEND_ON_RECONNECT_MAX = 5_000
#: the node's own counters (``/metrics`` chainfin_node_*, ``Node.stats``)
NODE_COUNTERS = ("gossip_txs_in", "gossip_txs_bad", "gossip_deferred_out",
                 "gossip_resent_on_reconnect", "gossip_relayed_to_primary", "frames_unknown_kind",
                 "fetch_served", "blocks_fetched", "fetch_failed", "auto_deliveries",
                 "auto_delivery_failed", "auto_closes",
                 "pending_dropped_inadmissible", "disk_full_pauses", "events_dropped_disk_full",
                 "chunks_served", "chunks_installed", "statesync_failed",
                 "read_log_anchors", "read_log_anchor_failed", "gossip_frames_over_budget",
                 "request_resent_to_primary", "execution_disagreements")


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


def fail_stop(node: Node, what: str, e: BaseException) -> None:
    """A task the node cannot live without died: log it and make the process exit (non-zero)
    rather than serve with it dead; the data dir is consistent, so a restart recovers."""
    log.critical("%s failed, stopping the node: %r", what, e, exc_info=True)
    node.failure = e
    node.failed.set()


class Node:
    """One chainfin validator (or observer) process: the wiring of its parts, the engine task,
    the ticker, the end-of-turn WAL write and sends, and the queries the REST API makes."""

    def __init__(self, identity: Identity, genesis: Genesis, store: KVStore,
                 p2p_host: str, p2p_port: int, peers: dict[bytes, str],
                 node_id: str = "node", bank: Identity | None = None,
                 sync_urls: Iterable[str] = (), server_ssl: ssl.SSLContext | None = None,
                 client_ssl: ssl.SSLContext | None = None,
                 sync_identity: Identity | None = None,
                 sync_ssl: ssl.SSLContext | None = None, min_free_bytes: int = 0,
                 state_sync: bool = False,
                 read_log_anchor_s: float = DEFAULT_ANCHOR_S,
                 request_timeout_ms: int | None = None,
                 link_grace_ms: int | None = None,
                 no_quorum_answer_s: float = NO_QUORUM_EARLY_S) -> None:
        self.identity = identity
        # the request timer (docs/consensus.md): None keeps the engine's default (10 s), 0 is off
        self.request_timeout_ms = (DEFAULT_REQUEST_TIMEOUT_MS if request_timeout_ms is None
                                   else request_timeout_ms)
        # decisions 198/199: how long a lost link to the primary is waited for before this
        # replica gives up on its view (None: the engine's default, 300 ms; 0: off)
        self.link_grace_ms = DEFAULT_LINK_GRACE_MS if link_grace_ms is None else link_grace_ms
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
        # a node executes contracts: a genesis that commits to a fingerprint key it was not
        # loaded with fails here, not at the first document (ConfigError)
        genesis.fingerprint_key_bytes()
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.store = store
        self.metrics = NodeMetrics()
        self.ledger = Ledger(store, genesis, registry=CONTRACTS,
                             flush_phase=flush_phase_for(identity.public_key, genesis))
        self.mempool = Mempool()
        self.params = genesis.params
        self.peers_cfg = peers
        self.catchup = CatchUp(self)
        self.transport = Transport(identity, self.chain_id, p2p_host, p2p_port,
                                   self._peer_addresses(), self._on_frame,
                                   server_ssl=server_ssl, client_ssl=client_ssl,
                                   cpu=self.metrics.cpu)
        self.transport.set_request_handler(K_FETCH, self.catchup.serve_fetch)
        self.transport.set_request_handler(K_STATUS, self.catchup.serve_status)
        self.transport.set_reconnect_handler(self._resend_pending)
        self.transport.set_link_state_handler(
            lambda key, up: self.events.put_nowait(api.LinkChanged(key, up)))
        self.statesync = StateSync(self, state_sync)  # also serves snapshots to peers
        self.gossip = TxGossip(self.transport.broadcast, K_TXS, delay=GOSSIP_DELAY_S)
        self.to_primary = TxGossip(self._send_to_primary, K_TXS, delay=PRIMARY_GOSSIP_DELAY_S)
        self.engine = self._make_engine()
        self.events: asyncio.Queue[api.Event] = asyncio.Queue()
        self._tick_ms = 0  # the time of the last Tick the engine was stepped with
        self._armed_ms: int | None = None  # the deadline a Tick is scheduled for
        self._deadline_handle: asyncio.TimerHandle | None = None
        self.waiters: dict[bytes, list[asyncio.Future[TxOutcome]]] = {}
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.view = self.ledger.tip.view
        self.primary = self.ledger.tip.validators.primary(self.view)
        self.stats: dict[str, int] = dict.fromkeys(NODE_COUNTERS, 0)
        self.admission = Admission(
            chain_id=self.chain_id, params=self.params, ledger=self.ledger,
            mempool=self.mempool, gossip=self.gossip, metrics=self.metrics, stats=self.stats,
            waiters=self.waiters, events=self.events, disk_full=lambda: self.disk_full,
            to_primary=self.to_primary, validating=lambda: self.is_validator,
            primary_here=lambda: self.primary == self.identity.public_key,
            request_timeout_ms=self.request_timeout_ms)
        self.admission.quorum_watch.early_s = no_quorum_answer_s
        self.delivery = None if bank is None else DeliveryAgent(
            bank, self.chain_id, state=self.ledger.committed_state, next_nonce=self.next_nonce,
            submit=lambda tx: self.admission.admit_checked(tx, gossip=True), stats=self.stats)
        # the REST read log (what the API appends to) and the agent anchoring its head on chain
        self.read_log = ReadLog(store)
        self.anchor = ReadLogAnchor(
            identity, self.chain_id, self.read_log, interval_s=read_log_anchor_s,
            next_nonce=self.next_nonce,
            submit=lambda tx: self.admission.admit_checked(tx, gossip=True), stats=self.stats)
        self._tasks: list[asyncio.Task[Any]] = []
        self._wal_pending: list[api.Persist] = []  # written (fsync) at the end of the turn
        self._outbox: list[tuple[bytes | None, bytes]] = []  # sent after that write
        # the clock is looked up at each call, so a test can move this module's ``now_ms``
        self.io = EngineIO(self, clock=lambda: now_ms())
        self._driver = Driver(self._engine_step, self.io, self.io)
        self._write_mark = getattr(store, "write_mark", None)
        self._wal_mark = b""
        self.syncing_state = False  # a snapshot is being installed: the state is partial
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
            request_timeout_ms=self.request_timeout_ms,
            link_grace_ms=self.link_grace_ms,
        )
        return PbftEngine(cfg, self.identity, tip.validators, tip.height, tip.block_hash,
                          restored=self._wal_records(), view=tip.view,
                          last_certificate=self.tip_certificate(),
                          codec=MessageCodec(self.chain_id, known_tx=self.mempool.by_wire))

    def tip_certificate(self) -> CommitCertificate | None:
        rec = self.ledger.block_record(self.ledger.tip.height)
        return None if rec is None else CommitCertificate.from_wire(rec["cert"])

    async def start(self) -> None:
        start_background = getattr(self.store, "start_background", None)
        if start_background is not None:  # LevelDB: its compaction thread at a lower priority
            start_background()
        await self.catchup.open()
        await self.transport.start()
        if not self.statesync.start_first(self._start_tasks):  # else: the engine waits for it
            self._start_tasks()

    def _start_tasks(self) -> None:
        """Start the engine, its ticker and the catch-up watch on the ledger's tip (after a
        snapshot was installed: on the snapshot's tip)."""
        if self.engine.committed != self.ledger.tip.height:  # a snapshot moved the tip
            self.engine = self._make_engine()
            self._driver = Driver(self._engine_step, self.io, self.io)
            self.view = self.ledger.tip.view
            self.primary = self.ledger.tip.validators.primary(self.view)
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self._run(), name="engine"),
                        loop.create_task(self._ticker(), name="ticker"),
                        loop.create_task(self.catchup.watch(), name="sync-watch")]
        self.metrics.height.set(self.ledger.tip.height)
        built = compiled.status()
        self.metrics.compiled.set(1 if built["compiled"] else 0)
        log.info("node %s started at height %d view %d (%s; %s)", self.node_id,
                 self.ledger.tip.height, self.view,
                 "validator" if self.is_validator else "observer",
                 ("compiled codec and trees" if built["compiled"] else
                  "Python codec and trees" + (f": {built['reason']}" if built["reason"] else ""))
                 + ("; tree update in C" if built["c_tree_update"] else
                    f"; tree update not in C: {built['c_tree_update_reason']}"))

    async def stop(self) -> None:
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
        started = bool(self._tasks)
        for t in self._tasks:
            t.cancel()
        await _bounded("the node's tasks", self._tasks)
        await _bounded("a state-sync write", [self.statesync.drain()])  # (in a thread)
        if started and self._hand_over():
            await self._flush_links(HANDOVER_FLUSH_S)
        await _bounded("closing the peer links", [self.transport.stop()])
        await _bounded("closing the fetch session", [self.catchup.close()])
        with contextlib.suppress(ChainfinError):
            if not self.syncing_state:
                self.ledger.flush_smt()  # (a restart would rebuild them: quicker not to need it)
        for futs in self.waiters.values():
            for f in futs:
                if not f.done():
                    f.cancel()

    def _hand_over(self) -> bool:
        """A graceful stop (decision 173): the engine, as the primary, asks for the next view
        itself; its VIEW-CHANGE is made durable and queued like any turn's (the engine task is
        stopped, between two turns). True when something is to be sent. Nothing on a failed
        consensus loop, a node installing a snapshot, or a full disk: it stops as before."""
        if (self.failure is not None or self.syncing_state or not self.is_validator
                or (self.min_free_bytes and self.space_low())):
            return False
        try:
            self._driver.step(api.Stopping())
            sends = bool(self._outbox)
            self._end_turn()
        except Exception as e:  # (the store may be what is failing): stop without it
            log.warning("no hand-over at stop: %r", e)
            return False
        if sends:
            log.info("stopping as the primary of view %d: asked for view %d",
                     self.view, self.engine.view)
        return sends

    async def _flush_links(self, timeout: float) -> None:
        """Let what :meth:`_end_turn` queued leave on every live link (at most ``timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            live = set(self.transport.connected())
            if not any(n for k, n in self.transport.queue_sizes().items() if k in live):
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)  # the writers' last envelopes onto their sockets

    @property
    def is_validator(self) -> bool:
        return self.identity.public_key in self.ledger.tip.validators

    # ------------------------------------------------------------------ inputs

    def _on_frame(self, sender: bytes, kind: str, payload: bytes) -> None:
        if kind == K_CONSENSUS:
            self.events.put_nowait(api.Received(sender, payload))
        elif kind == K_TXS:
            t0 = thread_time()
            self.admission.on_gossip(payload, sender)
            self.metrics.cpu["gossip_in"] += thread_time() - t0
        else:
            self.stats["frames_unknown_kind"] += 1
            self.metrics.peer_frames_dropped.labels("unknown_kind").inc()

    def admit(self, tx: Transaction) -> None:
        """REST entry (see :meth:`Admission.admit`).

        Raises:
            InvalidTransaction: with a code the REST layer maps to a 4xx.
        """
        if self.syncing_state:
            raise InvalidTransaction("this node is installing a state snapshot; send to "
                                     "another node or retry later", "state_sync")
        self.admission.admit(tx)

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time()
        while True:
            await asyncio.sleep(TICK_S)
            t = loop.time()
            self.metrics.loop_lag.set(max(0.0, t - expected - TICK_S))
            expected = t
            self.events.put_nowait(api.Tick(engine_ms()))
            self.admission.sweep_if_idle()
            if self.is_validator:  # (an observer's anchor would be refused: not yet a bank
                self.anchor.tick()  # node of the set; it anchors once voted in)
            if self.admission.deferred or self.admission.relay:
                self.admission.gossip_overdue()
            if self.admission.request_tick():  # the oldest proposable transaction changed
                self.events.put_nowait(self.admission.pending_event())

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
            fail_stop(self, "consensus loop", e)

    async def _run_loop(self) -> None:
        """Step the engine over every queued event, then make the turn's votes durable with ONE
        synced WAL write, then let the turn's messages leave. Sends are held until the end of
        the turn, so none leaves before the records persisted in the same turn (STYLE §3, TRAPS
        #4), and a busy node pays one fsync per turn instead of one per vote."""
        while True:
            ev = await self.events.get()
            if self.min_free_bytes and self.space_low():
                await self._wait_for_space()
                continue
            batch = [ev]
            while not self.events.empty() and len(batch) < 256:
                batch.append(self.events.get_nowait())
            if engine_ms() - self._tick_ms >= TICK_MS:  # what a 5 ms ticker would have told it
                self._step_tick()
            # coalesce Ticks and pending-counts to the newest: the primary then sees the whole
            # burst of arrivals at once and cuts one bigger block instead of many tiny ones
            ticked = last_pending = None
            for e in batch:
                if isinstance(e, api.Tick):
                    ticked = e
                elif isinstance(e, api.TxsPending):
                    last_pending = e
                else:
                    self._driver.step(e)
            if last_pending is not None:
                self._driver.step(self.admission.pending_event())
            if ticked is not None:
                self._step_tick()
            self._end_turn()
            self._arm_deadline()

    def _step_tick(self) -> None:
        self._tick_ms = engine_ms()
        self._driver.step(api.Tick(self._tick_ms))

    def _arm_deadline(self) -> None:
        """Wake the engine with a Tick at its next deadline (pacing, retransmission, view
        change, fetch) instead of polling it every few ms (decision 91)."""
        nd = self.engine.next_deadline()
        if nd is None or nd == self._armed_ms:
            return
        if self._deadline_handle is not None:
            self._deadline_handle.cancel()
        self._armed_ms = nd
        delay = max(0.0, (nd - engine_ms() + 1) / 1000)
        self._deadline_handle = asyncio.get_running_loop().call_later(delay, self._deadline_due)

    def _deadline_due(self) -> None:
        self._armed_ms = None
        self._deadline_handle = None
        self.events.put_nowait(api.Tick(engine_ms()))

    def space_low(self) -> bool:
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
        self.catchup.start_fetch(self.ledger.tip.height + 1, self.transport.connected())

    def _resend_pending(self, peer: bytes) -> None:
        """The link to ``peer`` came back: what was in flight when it died is lost (the socket's
        buffer, bytes on the wire), and a transaction is sent once (to the primary, then in one
        deferred broadcast), so one this node took from a client behind a link that
        black-holed stayed in its mempool alone, for good (red-team round 6: a replica whose
        outbound links were cut one way). The pending transactions no proposal holds go to
        that peer again, oldest first, at most RESEND_ON_RECONNECT_MAX; the peer skips those
        it holds by their wire id."""
        if not len(self.mempool):
            return
        out = TxGossip(lambda kind, payload: self.transport.send(peer, kind, payload), K_TXS,
                       delay=GOSSIP_DELAY_S)
        n = 0
        for tx in self.mempool:
            if tx.tx_id in self.admission.in_flight:
                continue
            out.add(tx)
            n += 1
            if n >= RESEND_ON_RECONNECT_MAX:
                break
        out.flush()
        self.stats["gossip_resent_on_reconnect"] += n

    def _send_to_primary(self, kind: str, payload: bytes) -> None:
        """The primary's copy of a replica's transactions (decision 97); nothing on the primary."""
        if self.primary != self.identity.public_key:
            self.transport.send(self.primary, kind, payload)

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
            if len(self.gossip) and any(to is None for to, _ in sends):
                # the transactions waiting for their gossip frame leave now, in the envelope
                # this broadcast takes to every peer anyway: a gossip frame of its own costs
                # each link an envelope (a TLS record, a socket write, a wake-up and a MAC at
                # the peer) and most of them went alone (decision 88)
                self.gossip.flush()
            for to, payload in sends:
                if to is None:
                    self.transport.broadcast(K_CONSENSUS, payload)
                else:
                    self.transport.send(to, K_CONSENSUS, payload)

    def _engine_step(self, ev: api.Event) -> list[api.Action]:
        t0 = thread_time()
        try:
            return self.engine.step(ev)
        except ChainfinError as e:  # a bad message slipped through: count it, keep serving
            log.warning("engine refused an event: %s", e)
            return []
        finally:
            self.metrics.cpu["consensus"] += thread_time() - t0

    def validators_changed(self) -> None:
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

    # ------------------------------------------------------------------ queries for REST

    def wait_for(self, tx_id: bytes) -> asyncio.Future[TxOutcome]:
        fut: asyncio.Future[TxOutcome] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(tx_id, []).append(fut)
        return fut

    def next_nonce(self, sender: bytes) -> int:
        """One more than the highest nonce the sender used (committed or in the mempool): one
        seek, however many the sender used; past 2**63 - 1 the smallest unused one
        (:func:`node.admission.next_free_nonce`, which reads them all)."""
        pending = [t.nonce for t in self.mempool.by_sender(sender)]
        top = max(self.ledger.max_nonce(sender) or 0, *pending, 0)
        if top + 1 < 2**63:
            return top + 1
        return next_free_nonce(self.ledger.used_nonces(sender) + pending)

    def sync_records(self, start: int, n: int) -> list[bytes]:
        return self.catchup.sync_records(start, n)

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


async def _bounded(what: str, steps: Iterable[Any], timeout: float | None = None) -> None:
    """Await ``steps`` (tasks or coroutines) for at most ``timeout`` seconds, their errors and
    cancellations swallowed (the node is stopping). One still running then is logged with its
    stack and left behind, not awaited again: ``asyncio.wait_for`` would await the
    cancellation of a task that ignores it, which is how a stop could wait for ever."""
    tasks = [asyncio.ensure_future(s) for s in steps]
    if not tasks:
        return
    timeout = STOP_STEP_S if timeout is None else timeout
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in done:
        if not t.cancelled():
            t.exception()  # retrieved: a failing step must not stop the stop
    for t in pending:
        out = io.StringIO()
        t.print_stack(file=out)
        log.warning("stop: %s did not end within %.0f s; left behind:\n%s", what, timeout,
                    out.getvalue())
        t.cancel()
