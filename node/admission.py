"""Admission: which transactions a node takes into its mempool, and when the engine hears of them.

Checks a transaction (chain, signature, the committed state's static rules), refuses new client
transactions while the node is overloaded or its disk is full, batches "transactions pending"
notices for the engine, sweeps pending transactions the committed state no longer admits, and
tracks which pending transactions are in a proposal (``in_flight``). No sockets: the engine
queue, the gossip buffer and the ledger are handed in.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from time import thread_time
from typing import Any

from chainfin import codec, execution
from chainfin.consensus import api
from chainfin.errors import ChainfinError, CodecError, InvalidTransaction
from chainfin.genesis import GenesisParams
from chainfin.types import Transaction
from node.ledger import Ledger
from node.mempool import Mempool, TxGossip
from node.metrics import NodeMetrics
from node.pacing import RatePacer
from node.reach import QuorumWatch

log = logging.getLogger("chainfin.node")

BATCH_MIN = 32  # pending txs that make a block worth proposing at once
BATCH_DELAY_S = 0.003  # otherwise the longest a new tx waits before the engine hears of it
#: gossip frames leave this long after their first transaction ...
GOSSIP_DELAY_S = 0.005
#: ... or this long while the mempool holds at least GOSSIP_BUSY_PENDING transactions: under
#: load each frame's fixed cost at every peer matters more than the wait, which queues dwarf
GOSSIP_DELAY_BUSY_S = 0.015
GOSSIP_BUSY_PENDING = 128
#: transactions with bad signatures a peer's gossip may bring between two commits (on_gossip)
GOSSIP_BAD_SIGNATURES = 64
#: a replica's transactions reach the primary in frames of their own this soon (decision 97):
#: 0 is the next loop turn, so the frame leaves without the node sleeping for it (a 1 ms timer
#: cost a wake-up per frame: decision 102); what arrived in the same turn shares the frame
PRIMARY_GOSSIP_DELAY_S = 0.0
#: a transaction admitted here goes to the other validators only when it is still in no
#: proposal this long after (decision 99): the primary has it at once and the replicas get it
#: in the PRE-PREPARE; the broadcast is the fallback for a primary that crashed, was replaced
#: or lost it. Half the default view-change timeout (1 s), so a silent primary is still
#: noticed by every replica within 1.5 s; long enough that a healthy network (a block every
#: <= 50 ms) rarely needs it, even with a few blocks queued
DEFERRED_GOSSIP_S = 0.5
#: ... but while blocks keep committing, a transaction still waiting after that is queued, not
#: lost: the wait stretches to DEFERRED_LAG_FACTOR times the commit lag (the median
#: admission-to-commit time of the last block with our transactions), up to DEFERRED_GOSSIP_MAX_S.
#: Otherwise a queue longer than 0.5 s (a network near its capacity) sends every transaction to
#: every replica as well, each checks its signature, and the extra work lengthens the queue
#: (decision 103). A primary that stops committing is noticed as before: with no commit for
#: DEFERRED_GOSSIP_S, the wait is DEFERRED_GOSSIP_S again.
DEFERRED_LAG_FACTOR = 2.0
DEFERRED_GOSSIP_MAX_S = 2.0
#: when no block has committed for this long while transactions are pending, the node checks
#: its oldest pending ones (admitted at least this long ago, none in a proposal) against the
#: committed state again and drops those it no longer admits: shorter than the view-change
#: timeout (1 s by default), so such a transaction cannot start view changes
SWEEP_IDLE_S = 0.3
SWEEP_MAX = 256  # pending transactions checked per sweep, oldest first
#: the node refuses new client transactions (``503 overloaded``) while the transactions of the
#: last block it committed waited longer than this from admission to commit (their median) and
#: at least a block's worth is pending: past that, accepting more only makes every transaction
#: wait longer, so the client hears it at once instead of after a long wait
OVERLOAD_LAG_S = 5.0

#: the request timer (docs/consensus.md, "The request timer"): the engine hears of a pending
#: transaction's age once it passes this fraction of the request timeout (younger ones cannot
#: fire it, and skipping them keeps the scan empty on a healthy network) ...
REQUEST_REPORT_FRACTION = 0.5
#: ... the node passes such a transaction to the primary again every quarter timeout (the
#: primary may have refused it while its mempool or the sender's share was full), at most
#: REQUEST_RESEND_MAX per pass, oldest first; and the scan reads at most REQUEST_SCAN_MAX
#: entries per tick
REQUEST_RESEND_MAX = 256
REQUEST_SCAN_MAX = 4096

#: the futures of clients waiting for a transaction's outcome, by tx id (owned by the node)
Waiters = dict[bytes, list[asyncio.Future[Any]]]


def next_free_nonce(used: Sequence[int]) -> int:
    """One more than the highest nonce in ``used``; once that reaches 2**63 (the wire's limit),
    the smallest unused one instead. Nonces are unique per sender, not ordered."""
    nxt = max(used, default=0) + 1
    if nxt < 2**63:
        return nxt
    taken = set(used)
    return next(n for n in range(1, len(taken) + 2) if n not in taken)


class Admission:
    """The node's admission policy and pending-transaction bookkeeping. Driven from the
    node's event loop only (not thread-safe)."""

    def __init__(self, *, chain_id: str, params: GenesisParams, ledger: Ledger, mempool: Mempool,
                 gossip: TxGossip, metrics: NodeMetrics, stats: dict[str, int],
                 waiters: Waiters, events: asyncio.Queue[api.Event],
                 disk_full: Callable[[], bool],
                 to_primary: TxGossip | None = None,
                 validating: Callable[[], bool] = lambda: True,
                 primary_here: Callable[[], bool] = lambda: False,
                 request_timeout_ms: int = 0) -> None:
        self.chain_id = chain_id
        self.params = params
        self.ledger = ledger
        self.mempool = mempool
        self.gossip = gossip
        #: the transactions admitted here also go to the primary at once (decision 97): the
        #: broadcast above waits up to a block interval's quarter, which a transaction that
        #: entered at a replica otherwise adds to its finality
        self.to_primary = to_primary
        #: whether this node is a validator now: an observer broadcasts what it admits at once
        #: (it takes no part in the views, so it may not know the current primary)
        self.validating = validating
        #: whether this node is the primary now (it relays nothing: see ``relay``)
        self.primary_here = primary_here
        #: (admitted at, tx id) of what this node admitted from its clients, oldest first: the
        #: ones still in no proposal after DEFERRED_GOSSIP_S are broadcast (decision 99)
        self.deferred: collections.deque[tuple[float, bytes]] = collections.deque()
        #: (heard at, tx id) of what this node heard by gossip (another node's deferred
        #: broadcast, or a replica's copy for the primary): one still in no proposal after the
        #: same wait goes to the primary, once. A node that cannot reach the primary (a
        #: non-transitive partition: it reaches the others) thus reaches it through them; its
        #: clients' transactions otherwise waited for as long as the cut lasted while the
        #: rest committed (red-team round 6)
        self.relay: collections.deque[tuple[float, bytes]] = collections.deque()
        self.metrics = metrics
        self.stats = stats
        self.waiters = waiters
        self.events = events
        self.disk_full = disk_full
        #: when each pending transaction was admitted here (``time.perf_counter()``), oldest
        #: first: the sweep's order and the finality measurement
        self.admitted_at: dict[bytes, float] = {}
        #: bad signatures each peer's gossip brought since the last commit (on_gossip)
        self._gossip_bad: dict[bytes, int] = {}
        self.in_flight: set[bytes] = set()  # tx ids in speculative blocks
        #: the request timer's base timeout (0: off, the engine hears no ages)
        self.request_timeout_s = request_timeout_ms / 1000.0
        #: when each pending transaction's request clock started (``time.perf_counter()``):
        #: a client's at admission (it leaves for the primary at once), one heard by gossip
        #: when this node passed it to the primary (``gossip_overdue``'s relay). A transaction
        #: without an entry does not count yet (it has not had its chance to reach the primary)
        self.request_start: dict[bytes, float] = {}
        #: the start of the oldest transaction the engine was last told of (None: none)
        self.oldest_start: float | None = None
        self._request_resent = 0.0  # when starving transactions last went to the primary again
        self.commit_lag_s = 0.0  # median admission-to-commit time of the last committed block
        self.last_commit = self._last_sweep = time.perf_counter()
        #: since when this node has reached fewer validators than a quorum, and the waiting
        #: requests to answer once that lasts (node.reach; sampled by the REST server)
        self.quorum_watch = QuorumWatch()
        self._pending_timer: asyncio.TimerHandle | None = None
        # rate-driven pacing (node/pacing.py): None when the genesis fixes the interval
        self.pacer = (RatePacer(params.block_interval_ms, params.block_interval_max_ms,
                                params.pacing_knee_tps)
                      if params.block_interval_max_ms > params.block_interval_ms else None)

    # ------------------------------------------------------------------ admission

    def admit(self, tx: Transaction) -> None:
        """REST entry: verify once, check admission, add to the mempool, gossip.

        Raises:
            InvalidTransaction: wrong_chain, disk_full, overloaded, duplicate, or any code of
                ``execution.check_tx_static`` and ``Mempool.add``.
        """
        t0 = thread_time()
        try:
            if tx.chain_id != self.chain_id:
                raise InvalidTransaction("transaction is for another chain", "wrong_chain")
            if self.disk_full():
                raise InvalidTransaction(
                    "this node's data directory is full: it accepts no transactions until "
                    "space is freed; send to another node", "disk_full")
            if self.overloaded():
                raise InvalidTransaction(
                    f"the network is overloaded: transactions take {self.commit_lag_s:.1f} s "
                    "from admission to commit here; retry later", "overloaded")
            if self.ledger.tx_location(tx.tx_id) is not None:
                raise InvalidTransaction("transaction already committed", "duplicate")
            self.admit_checked(tx, gossip=True)
            self.pending_changed()
        finally:
            self.metrics.cpu["admit"] += thread_time() - t0

    def overloaded(self) -> bool:
        """True while the last committed block's transactions waited more than OVERLOAD_LAG_S
        (median) and at least a block's worth is pending (a short queue always drains)."""
        return (self.commit_lag_s > OVERLOAD_LAG_S
                and len(self.mempool) >= self.params.max_block_txs)

    def admit_checked(self, tx: Transaction, gossip: bool) -> None:
        """Check a transaction against the committed state and take it into the mempool
        (``gossip``: and pass it on to the peers).

        Raises:
            InvalidTransaction: a bad signature, a rule of ``execution.check_tx_static``, or
                the mempool's refusal.
        """
        tx.verify_signature()
        state = self.ledger.committed_state()
        words, legacy = self.ledger.replay_rule(state)
        execution.check_tx_static(tx, state, registry=self.ledger.registry,
                                  nonce_words=words, legacy_receipts=legacy)
        self.mempool.add(tx)
        now = time.perf_counter()
        self.admitted_at.setdefault(tx.tx_id, now)
        if self.pacer is not None:
            self.pacer.note(1, now)
        if not gossip:
            if (self.to_primary is not None and self.validating()
                    and not self.primary_here()):
                self.relay.append((now, tx.tx_id))  # its request clock starts when relayed
            else:
                self.request_start.setdefault(tx.tx_id, now)
        else:
            self.request_start.setdefault(tx.tx_id, now)
            self.gossip.delay = self._gossip_delay(now)
            if self.to_primary is None or not self.validating():
                self.gossip.add(tx)
            else:  # the other validators only if the primary does not propose it (decision 99)
                self.to_primary.add(tx)
                self.deferred.append((now, tx.tx_id))

    def gossip_overdue(self, now: float | None = None) -> int:
        """Broadcast what this node admitted DEFERRED_GOSSIP_S ago or earlier and still sees in
        no proposal (the primary crashed, was replaced, or never got it); one in a proposal now
        is checked again a period later (its block may be discarded by a view change). Called
        every tick; returns how many were broadcast."""
        if now is None:
            now = time.perf_counter()
        due = now - self.deferred_wait_s(now)
        d, n = self.deferred, 0
        while d and d[0][0] <= due:
            _, tx_id = d.popleft()
            tx = self.mempool.get(tx_id)
            if tx is None:  # committed, or dropped
                continue
            if tx_id in self.in_flight:
                d.append((now, tx_id))
                continue
            self.gossip.add(tx)
            n += 1
        if n:
            self.stats["gossip_deferred_out"] += n
        r, relayed = self.relay, 0
        while r and r[0][0] <= due:
            _, tx_id = r.popleft()
            tx = self.mempool.get(tx_id)
            if tx is not None:  # the primary has (or had) its chance from here on
                self.request_start.setdefault(tx_id, now)
            if (tx is None or tx_id in self.in_flight or self.to_primary is None
                    or self.primary_here()):
                continue  # committed, dropped, proposed, or we are the primary now
            self.to_primary.add(tx)
            relayed += 1
        if relayed:
            self.stats["gossip_relayed_to_primary"] += relayed
        return n

    def deferred_wait_s(self, now: float) -> float:
        """How long a transaction admitted here waits for a proposal before it is broadcast:
        DEFERRED_GOSSIP_S, stretched with the commit lag while blocks keep committing."""
        if now - self.last_commit >= DEFERRED_GOSSIP_S:
            return DEFERRED_GOSSIP_S
        return min(DEFERRED_GOSSIP_MAX_S,
                   max(DEFERRED_GOSSIP_S, DEFERRED_LAG_FACTOR * self.commit_lag_s))

    def primary_changed(self) -> None:
        """A new view: what this node's clients submitted and no proposal holds goes to the new
        primary at once (the old one may have had it alone)."""
        if self.to_primary is None:
            return
        for _, tx_id in self.deferred:
            tx = self.mempool.get(tx_id)
            if tx is not None and tx_id not in self.in_flight:
                self.to_primary.add(tx)

    def _gossip_delay(self, now: float) -> float:
        """How long a gossip frame collects transactions: GOSSIP_DELAY_S, or
        GOSSIP_DELAY_BUSY_S while the mempool is long; with rate pacing, the base grows with the
        rate like the block interval does (500 tx/s: ~7 ms), so a frame carries a few
        transactions instead of one (each frame costs every link a TLS record, a MAC and a
        wake-up of the receiver)."""
        if len(self.mempool) >= GOSSIP_BUSY_PENDING:
            return GOSSIP_DELAY_BUSY_S
        if self.pacer is None:
            return GOSSIP_DELAY_S
        return self.pacer.scaled(GOSSIP_DELAY_S, GOSSIP_DELAY_BUSY_S, now)

    def on_gossip(self, payload: bytes, link: bytes = b"") -> None:
        """A peer's gossip frame: admit each transaction not seen before (bad ones counted).
        ``link``: the peer it came from. A link gets GOSSIP_BAD_SIGNATURES transactions with
        bad signatures between two commits (an honest node passes on only what it verified);
        past that the rest of its frames are dropped unchecked until the next commit (a linked
        validator made every node check forged signatures without end: red-team round 3)."""
        if link and self._gossip_bad.get(link, 0) >= GOSSIP_BAD_SIGNATURES:
            self.stats["gossip_frames_over_budget"] += 1
            return
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
                if type(raw) is bytes:  # wire bytes: a known one is not decoded again
                    known = Transaction.wire_id(raw)
                    if known is not None and self.mempool.seen(known):
                        continue
                    tx = Transaction.decode(raw)
                else:
                    tx = Transaction.from_wire(raw)
                if self.mempool.seen(tx.tx_id):
                    continue
                self.admit_checked(tx, gossip=False)
                added += 1
            except ChainfinError as e:
                self.stats["gossip_txs_bad"] += 1
                if link and getattr(e, "code", None) == "bad_signature":
                    bad = self._gossip_bad[link] = self._gossip_bad.get(link, 0) + 1
                    if bad >= GOSSIP_BAD_SIGNATURES:
                        self.stats["gossip_frames_over_budget"] += 1
                        break
        self.stats["gossip_txs_in"] += added
        if added:
            self.pending_changed()

    # ------------------------------------------------------------------ telling the engine

    def pending_changed(self) -> None:
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
        self.events.put_nowait(self.pending_event())

    def pending_event(self) -> api.TxsPending:
        """What the engine is told of the mempool now: the count, the pacing interval, the age
        of the oldest proposable transaction (``oldest_start``, kept by ``request_tick``)."""
        start = self.oldest_start
        age = None if start is None else max(0, round((time.perf_counter() - start) * 1000))
        return api.TxsPending(len(self.mempool), self.block_interval_ms(), age)

    # ------------------------------------------------------------------ the request timer

    def request_tick(self, now: float | None = None) -> bool:
        """Called every tick: find the oldest pending transaction an honest primary would
        propose that has waited past REQUEST_REPORT_FRACTION of the request timeout
        (``oldest_start``), and pass the starving ones to the primary again every quarter
        timeout. Returns True when the engine must hear of a change (``pending_event``).

        What counts (anything else a client could keep pending for ever with an honest
        primary would start view changes): a transaction still in the mempool, in no proposal
        this node accepted (``in_flight``), whose request clock started (``request_start``:
        it had its chance to reach the primary), and that the committed state still admits;
        the oldest ones it no longer admits are dropped here, as the idle sweep drops them
        (an expired role, a used nonce: under load the sweep never runs). Nonces are unique
        per sender, not ordered, so no transaction waits for a gap to fill."""
        if self.request_timeout_s <= 0:
            return False
        if now is None:
            now = time.perf_counter()
        threshold = now - self.request_timeout_s * REQUEST_REPORT_FRACTION
        best: float | None = None
        starving: list[bytes] = []
        resend = (self.to_primary is not None and self.validating()
                  and not self.primary_here()
                  and now - self._request_resent >= self.request_timeout_s / 4)
        stale: list[bytes] = []
        dropped: list[tuple[bytes, InvalidTransaction]] = []
        state = words = legacy = None
        for tx_id, t in itertools.islice(self.admitted_at.items(), REQUEST_SCAN_MAX):
            if t > threshold:
                break  # (the request clock never starts before admission)
            tx = self.mempool.get(tx_id)
            if tx is None:
                stale.append(tx_id)
                continue
            start = self.request_start.get(tx_id)
            if tx_id in self.in_flight or start is None or start > threshold:
                continue
            if best is None:
                if state is None:
                    state = self.ledger.committed_state()
                    words, legacy = self.ledger.replay_rule(state)
                try:
                    execution.check_tx_static(tx, state, registry=self.ledger.registry,
                                              nonce_words=bool(words),
                                              legacy_receipts=bool(legacy))
                except InvalidTransaction as e:
                    dropped.append((tx_id, e))
                    if len(dropped) >= SWEEP_MAX:
                        break
                    continue
                best = start
            if not resend or len(starving) >= REQUEST_RESEND_MAX:
                break
            starving.append(tx_id)
        for tx_id in stale:
            self.admitted_at.pop(tx_id, None)
            self.request_start.pop(tx_id, None)
        if dropped:
            self.drop_pending([(tx_id, InvalidTransaction(
                f"no longer admissible, dropped from the mempool: {e}", e.code))
                for tx_id, e in dropped], seen=False)
            self.stats["pending_dropped_inadmissible"] += len(dropped)
            log.info("dropped %d pending transaction(s) the committed state no longer admits "
                     "(%s)", len(dropped), ", ".join(sorted({e.code for _, e in dropped})))
        if starving and self.to_primary is not None:
            self._request_resent = now
            for tx_id in starving:
                tx = self.mempool.get(tx_id)
                if tx is not None:
                    self.to_primary.add(tx)
            self.stats["request_resent_to_primary"] += len(starving)
        changed = best != self.oldest_start or bool(dropped)
        self.oldest_start = best
        return changed

    def block_interval_ms(self) -> int | None:
        """The pacing interval for the engine now (None: the genesis' fixed one)."""
        return None if self.pacer is None else self.pacer.interval_ms(time.perf_counter())

    # ------------------------------------------------------------------ proposals and commits

    def proposed(self, txs: Sequence[Transaction]) -> None:
        """These transactions are in a speculative block: the next block leaves them out."""
        self.in_flight.update(t.tx_id for t in txs)

    def recompute_in_flight(self) -> None:
        """Speculative blocks were discarded: in flight is what the remaining ones hold."""
        self.in_flight = {t.tx_id for s in self.ledger.spec.values() for t in s.block.txs}

    def committed(self, height: int, txs: Sequence[Transaction]) -> list[float | None]:
        """A block committed: take its transactions out of the mempool, fail the pending ones
        whose nonce it used, and measure the commit lag. Returns each transaction's
        admission-to-commit time here in ms (None: not admitted here)."""
        self.last_commit = time.perf_counter()
        self._gossip_bad.clear()  # each link's budget of bad signatures starts again
        ids = [t.tx_id for t in txs]
        self.mempool.remove(ids)
        stale = self.mempool.conflicting(txs)
        if stale:  # pending transactions whose nonce this block used: they can never commit
            err = InvalidTransaction(f"another transaction of this sender with this nonce "
                                     f"was committed in block {height}", "nonce_reused")
            self.drop_pending([(tx_id, err) for tx_id in stale], seen=True)
        self.in_flight.difference_update(ids)
        now = time.perf_counter()
        out: list[float | None] = []
        for tx_id in ids:
            self.request_start.pop(tx_id, None)
            started = self.admitted_at.pop(tx_id, None)
            out.append(None if started is None else (now - started) * 1000.0)
        fins = sorted(f for f in out if f is not None)
        if fins:  # (a block none of whose transactions passed here says nothing of our queue)
            self.commit_lag_s = fins[len(fins) // 2] / 1000.0
            self.metrics.commit_lag.set(self.commit_lag_s)
        return out

    # ------------------------------------------------------------------ the sweep

    def sweep_if_idle(self) -> None:
        """Called every tick: once no block has committed for SWEEP_IDLE_S while transactions
        are pending, drop the pending ones the committed state no longer admits."""
        if not self.mempool:
            return
        now = time.perf_counter()
        if now - max(self.last_commit, self._last_sweep) >= SWEEP_IDLE_S:
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
        words, legacy = self.ledger.replay_rule(state)
        dropped: list[tuple[bytes, InvalidTransaction]] = []
        for tx_id, t in list(itertools.islice(self.admitted_at.items(), SWEEP_MAX)):
            if t >= admitted_before:
                break
            tx = self.mempool.get(tx_id)
            if tx is None:  # no longer pending: a stale entry, not worth a slot next time
                self.admitted_at.pop(tx_id, None)
                self.request_start.pop(tx_id, None)
                continue
            if tx_id in self.in_flight:
                continue
            try:
                execution.check_tx_static(tx, state, registry=self.ledger.registry,
                                          nonce_words=words, legacy_receipts=legacy)
            except InvalidTransaction as e:
                dropped.append((tx_id, e))
        if not dropped:
            return 0
        # not remembered as seen: a resubmission once the state admits it again (the role
        # restored) must not be refused as a duplicate; late gossip of it fails admission
        self.drop_pending([(tx_id, InvalidTransaction(
            f"no longer admissible, dropped from the mempool: {e}", e.code))
            for tx_id, e in dropped], seen=False)
        self.stats["pending_dropped_inadmissible"] += len(dropped)
        log.info("dropped %d pending transaction(s) the committed state no longer admits (%s)",
                 len(dropped), ", ".join(sorted({e.code for _, e in dropped})))
        self.pending_changed()
        return len(dropped)

    def drop_pending(self, drops: list[tuple[bytes, InvalidTransaction]], *, seen: bool) -> None:
        """Take pending transactions that can never commit out of the mempool (``seen``: also
        remember their ids, so late gossip is not decoded again) and fail their waiters."""
        ids = [tx_id for tx_id, _ in drops]
        self.mempool.remove(ids, committed=seen)
        self.in_flight.difference_update(ids)
        for tx_id, err in drops:
            self.admitted_at.pop(tx_id, None)
            self.request_start.pop(tx_id, None)
            for f in self.waiters.pop(tx_id, ()):
                if not f.done():
                    f.set_exception(err)
