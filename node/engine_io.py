"""The node as the consensus driver's App and Network (``chainfin.consensus.driver``).

Builds, executes and commits blocks on the node's ledger, and fans a commit out: the mempool
and admission bookkeeping, the clients waiting for an outcome, the block subscribers, the
metrics and the delivery agent. Votes and sends are only queued here: ``Node._end_turn`` syncs
the queued votes, then lets the queued sends leave.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from time import thread_time
from typing import TYPE_CHECKING, Any

from chainfin import execution
from chainfin.consensus import api
from chainfin.consensus.quorum import max_faulty
from chainfin.errors import InvalidMessage, InvalidTransaction
from chainfin.types import Block, CommitCertificate
from node.ledger import MAX_TIMESTAMP_LAG_MS, P_WAL
from node.metrics import BLOCK_PHASES
from node.risk_metrics import BankRiskMetrics, wall_ms

if TYPE_CHECKING:
    from node.runtime import Node

log = logging.getLogger("chainfin.node")

#: heights whose phase marks are kept at most (a view change can leave some never committed)
PHASE_MARKS_MAX = 64
#: why a proposal can be refused here although it is well formed and its transactions valid:
#: executing them here gave another result than the primary's header says. From more than f
#: primaries since the last commit, the fault is this node's or the network's (decision 189)
EXECUTION_MISMATCHES = ("state root does not match", "receipts root does not match")


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


def _error_json(rc: execution.Receipt) -> dict[str, str] | None:
    if rc.error_code is None:
        return None
    return {"code": rc.error_code, "message": rc.error_message or ""}


class EngineIO:
    """Executes the engine's actions on the node. ``clock`` gives the wall-clock ms a replica
    checks a proposal's timestamp against."""

    __slots__ = ("node", "clock", "_marks", "_phase", "_disagreed", "_disagreement_logged",
                 "risk")

    def __init__(self, node: Node, clock: Callable[[], int]) -> None:
        self.node = node
        self.clock = clock
        #: per height in flight: when the proposal was known here (build or execute started),
        #: when our vote was queued (the PRE-PREPARE on the primary, the PREPARE on a replica),
        #: when we were prepared (our COMMIT queued); ``time.perf_counter()`` (decision 98)
        self._marks: dict[int, list[float | None]] = {}
        self._phase = {p: node.metrics.phase.labels(p) for p in BLOCK_PHASES}
        #: the proposers whose proposals this node executed to another state or receipts root
        #: since its last commit, and the height it last logged a disagreement at (decision 189)
        self._disagreed: set[bytes] = set()
        self._disagreement_logged = -1
        #: the node's bank's refusals and alerts (decisions 273-276): the bank it acts for, else
        #: its own identity (validators are their banks' admin identities)
        self.risk = BankRiskMetrics((node.bank or node.identity).public_key,
                                    node.ledger.state_value, wall_ms)
        node.metrics.risk_registry.register(self.risk)

    def _mark(self, height: int, i: int) -> None:
        m = self._marks.get(height)
        if m is None:
            if len(self._marks) >= PHASE_MARKS_MAX:
                self._marks.pop(next(iter(self._marks)))
            m = self._marks[height] = [None, None, None]
        if m[i] is None:
            m[i] = time.perf_counter()

    # ------------------------------------------------------------------ Network

    def send(self, to: bytes | None, payload: bytes) -> list[api.Event]:
        if to == self.node.identity.public_key:
            return [api.Received(to, payload)]
        self.node._outbox.append((to, payload))
        return []

    def persist(self, key: bytes, record: Any) -> None:
        self.node._wal_pending.append(api.Persist(key, record))
        kind = record.get("k") if isinstance(record, dict) else None
        if kind in ("pp", "p"):
            self._mark(record["s"], 1)
        elif kind == "c":
            self._mark(record["s"], 2)

    # ------------------------------------------------------------------ App

    def build(self, req: api.BuildBlock) -> list[api.Event]:
        self._mark(req.height, 0)
        t0 = thread_time()
        answer = self._build(req)
        self.node.metrics.cpu["build"] += thread_time() - t0
        return [answer]

    def execute(self, block: Block) -> list[api.Event]:
        self._mark(block.height, 0)
        t0 = thread_time()
        answer = self._execute_block(block)
        self.node.metrics.cpu["execute"] += thread_time() - t0
        return [answer]

    def commit(self, block: Block, certificate: CommitCertificate) -> list[api.Event]:
        t0 = thread_time()
        answers = self._commit(block, certificate)
        self.node.metrics.cpu["commit"] += thread_time() - t0
        return answers

    def discard(self, height: int) -> None:
        for h in [h for h in self._marks if h > height]:
            del self._marks[h]
        self.node.ledger.discard_above(height)
        self.node.admission.recompute_in_flight()

    def fetch(self, from_height: int, hint_peers: tuple[bytes, ...]) -> list[api.Event]:
        self.node.catchup.start_fetch(from_height, hint_peers)
        return []

    def prune(self, below_key: bytes) -> None:
        node = self.node
        node._wal_pending = [r for r in node._wal_pending if r.key >= below_key]
        keys = [k for k, _ in node.store.iterate(prefix=P_WAL, stop=P_WAL + below_key)]
        if keys:
            with node.store.write_batch(sync=False) as b:
                for k in keys:
                    b.delete(k)

    def view_changed(self, view: int, primary: bytes) -> None:
        node = self.node
        node.view, node.primary = view, primary
        node.metrics.view.set(view)
        node.ledger.set_view(view)
        node.admission.primary_changed()
        log.info("view %d, primary %s", view, primary.hex()[:12])

    # ------------------------------------------------------------------ blocks

    def _build(self, a: api.BuildBlock) -> api.Event:
        node = self.node
        candidates = node.mempool.take_batch(a.max_txs * 2 + 16,
                                             exclude=node.admission.in_flight)
        try:
            # stamped with the wall clock now (the ledger keeps it at or above the parent's):
            # the engine's own clock is monotonic, for its timers (Node._step_tick), so a
            # clock stepped back by NTP freezes no timer (red-team round 4)
            block = node.ledger.build(a.height, a.view, a.prev_hash, self.clock(),
                                      node.identity.public_key, candidates, a.max_txs,
                                      node.params.max_clock_skew_ms)
        except InvalidMessage as e:  # parent discarded by a view change, or ahead of our clock
            log.warning("cannot build block %d: %s", a.height, e)
            block = None
        if block is None:
            return api.BlockExecuted(b"", False, "build failed")
        m = self._marks.get(a.height)
        if m is not None and m[0] is not None:
            admitted_at, queue = node.admission.admitted_at, self._phase["queue"]
            for tx in block.txs:
                t = admitted_at.get(tx.tx_id)
                if t is not None:
                    queue.observe(max(0.0, m[0] - t))
        node.admission.proposed(block.txs)
        return api.BlockBuilt(block)

    def _execute_block(self, block: Block, certified: bool = False) -> api.Event:
        """Execute a proposal (BlockExecuted says whether it is valid); ``certified``: a block a
        quorum committed, whose timestamp no clock of ours may refuse (as for catch-up)."""
        node = self.node
        bh = block.hash()
        if block.height <= node.ledger.tip.height:
            # catch-up committed this height while the engine still waits for its Synced (a
            # node back from a restart or a full disk meets a NEW-VIEW's re-proposals): the
            # proposal is valid exactly when it is the block committed there. Executing it
            # would find no speculative parent and blame the primary for our own gap.
            if node.ledger.committed_at(block.height, bh):
                return api.BlockExecuted(bh, True)
            why = f"another block is committed at height {block.height}"
            log.warning("proposal %d %s is invalid: %s", block.height, bh.hex()[:12], why)
            return api.BlockExecuted(bh, False, why)
        try:
            for tx in block.txs:
                # checked once per node: a pending transaction's signature was checked when it
                # arrived. The id does not cover the signature, so "pending" means these exact
                # bytes, signature included: a primary could otherwise swap in a bad signature
                pending = node.mempool.get(tx.tx_id)
                if pending is None or pending.signature != tx.signature:
                    tx.verify_signature()
            skew = node.params.max_clock_skew_ms
            # a proposal of the engine's view was stamped when built: bound its lag too. A
            # NEW-VIEW's re-proposal keeps the header of its older view: a quorum judged it
            lag = (max(MAX_TIMESTAMP_LAG_MS, skew) if block.header.view >= node.engine.view
                   else None)
            node.ledger.execute(block, None if certified else self.clock(), skew, lag)
        except (InvalidMessage, InvalidTransaction) as e:
            log.warning("proposal %d %s is invalid: %s", block.height, bh.hex()[:12], e)
            if str(e) in EXECUTION_MISMATCHES:
                self._note_disagreement(block, str(e))
            return api.BlockExecuted(bh, False, str(e))
        node.admission.proposed(block.txs)
        return api.BlockExecuted(bh, True)

    def _note_disagreement(self, block: Block, why: str) -> None:
        """A proposal whose execution here gave another root than its header's. Once more than
        f distinct primaries have proposed such blocks since the last commit, at least one of
        them is honest: this node's code or state differs from theirs, or a contract is not
        deterministic. Said once per height, in one ERROR line, and counted
        (``chainfin_node_total{what="execution_disagreements"}``); the engine meanwhile changes
        the view at its timers' pace (decision 189)."""
        node = self.node
        self._disagreed.add(block.header.proposer)
        f = max_faulty(node.ledger.tip.validators.n)
        if len(self._disagreed) <= f or self._disagreement_logged == block.height:
            return
        self._disagreement_logged = block.height
        node.stats["execution_disagreements"] += 1
        log.error("this node's execution disagrees with %d primaries at height %d (%s): its "
                  "contract code or state may differ from theirs (a coordinated upgrade not "
                  "done on every node, or a non-deterministic contract); nothing commits until "
                  "a quorum executes alike", len(self._disagreed), block.height, why)

    def _commit(self, block: Block, cert: CommitCertificate) -> list[api.Event]:
        node = self.node
        t0 = time.perf_counter()
        if block.height <= node.ledger.tip.height:
            # catch-up applied this height already (a certified block from a peer)
            if not node.ledger.committed_at(block.height, block.hash()):
                raise AssertionError(f"two different blocks final at height {block.height}")
            return []
        if block.hash() not in node.ledger.spec:
            self._execute_block(block, certified=True)
        old_vs = node.ledger.tip.validators
        spec = node.ledger.commit(block, cert)
        node.metrics.commit_write.observe(time.perf_counter() - t0)
        self.after_commit(block, spec.result)
        self._observe_phases(block.height, t0)
        out: list[api.Event] = []
        if spec.validators_after != old_vs:
            node.validators_changed()
            out.append(api.ValidatorSetChanged(block.height, spec.validators_after))
        return out

    def _observe_phases(self, height: int, committed_at: float) -> None:
        """The block's phases on this node, once it is written and its clients answered. A
        height missing a mark (committed by a certificate alone, or known before a restart) has
        its apply time only."""
        ph = self._phase
        m = self._marks.pop(height, None)
        for h in [h for h in self._marks if h < height]:
            del self._marks[h]
        if m is not None and m[0] is not None and m[1] is not None and m[2] is not None:
            ph["execute"].observe(max(0.0, m[1] - m[0]))
            ph["prepare"].observe(max(0.0, m[2] - m[1]))
            ph["commit"].observe(max(0.0, committed_at - m[2]))
        ph["apply"].observe(time.perf_counter() - committed_at)

    def after_commit(self, block: Block, result: execution.BlockResult, *,
                     live: bool = True) -> None:
        """A block is final here (by consensus, ``live``, or catch-up): settle its transactions'
        waiters, tell subscribers, answer access requests for our bank, and tell the engine how
        many transactions are still pending. Only a block committed live sets
        ``chainfin_block_time_offset_seconds``: a fetched block's age is not this clock's error
        (a node catching up showed hours, and kept them on a chain with no new blocks)."""
        node = self.node
        self._disagreed.clear()
        fins = node.admission.committed(block.height, block.txs)
        metrics = node.metrics
        metrics.height.set(block.height)
        if live:
            metrics.block_time_offset.set((self.clock() - block.header.timestamp_ms) / 1000.0)
        metrics.blocks.inc()
        metrics.mempool.set(len(node.mempool))
        rejected = 0
        risk = self.risk
        for i, (tx, rc, fin) in enumerate(zip(block.txs, result.receipts, fins, strict=True)):
            if fin is not None:
                metrics.finality.observe(fin / 1000.0)
            if rc.status != "committed":
                rejected += 1
                risk.rejected(rc)
            futs = node.waiters.pop(tx.tx_id, None)
            if futs:
                outcome = TxOutcome(tx.tx_id.hex(), rc.status, block.height, i,
                                    _error_json(rc), rc.result, fin)
                for f in futs:
                    if not f.done():
                        f.set_result(outcome)
        metrics.txs_committed.inc(len(block.txs) - rejected)
        metrics.txs_rejected.inc(rejected)
        try:  # the bank's risk figures never stop a commit (a read failing in them: logged)
            risk.on_block(block.height, result)
        except Exception:
            log.exception("risk metrics of block %d not counted", block.height)
        if node.subscribers:
            ev = {"type": "block", "height": block.height, "hash": block.hash().hex(),
                  "txs": len(block.txs),
                  "events": [e.to_json() for e in result.events]}
            for q in list(node.subscribers):
                if q.qsize() < 1000:
                    q.put_nowait(ev)
        if node.delivery is not None:
            # the block's time, not the wall clock: two nodes of one bank derive the same
            # answers (a request past its record's end is closed, not delivered)
            node.delivery.on_commit(result, block.header.timestamp_ms, block.height,
                                    pending=node.mempool.by_sender)
        # the engine's count of pending transactions, also when the block emptied the mempool:
        # a count left at 1 kept its view-change timer running on an idle network (a view
        # change after 1, 2, 4, 8 ... s; the next transaction waited for the new view)
        node.admission.pending_changed()
