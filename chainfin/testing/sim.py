"""Deterministic PBFT simulator: the real engine, a seeded network, byzantine replicas.

``run(SimConfig(...)) -> SimResult``. Everything random comes from one ``random.Random(seed)``;
time is virtual (integer microseconds; engines see milliseconds); iteration is over lists and
insertion-ordered dicts only. The same seed therefore gives the same run byte for byte:
``SimResult.transcript`` is a SHA-256 over every delivered event and every sent payload.

What is simulated:

* **network** — per-message delay uniform in ``delay_ms * [1 - jitter, 1 + jitter]`` (so messages
  reorder), duplicates, drops and partitions (random two-way splits) until ``heal_ms``; after that
  the network is reliable (delays and reordering only). Broadcasts reach every other node,
  observers included.
* **nodes** — each runs :class:`~chainfin.consensus.engine.PbftEngine`, stepped through the one
  :class:`~chainfin.consensus.driver.Driver`, over the toy ledger
  :class:`~chainfin.testing.toyapp.ToyApp` (it answers at once).
* **crashes** — ``crash`` nodes stop at a random time before ``heal_ms`` (or at 0).
* **byzantine** nodes run the honest engine but rewrite what leaves them; behaviours:
  ``equivocate`` (different proposals for one height to different replicas), ``silent`` (never
  sends PRE-PREPARE or NEW-VIEW), ``bad_signature`` (every vote with a corrupted signature),
  ``replay`` (re-sends old messages it saw, to random nodes), ``invalid_block`` (proposals with a
  wrong state root, a forged tx signature or a timestamp far in the future), ``mixed``.
* **state transfer** — ``FetchBlocks`` is served after a round trip from the most advanced honest
  node the requester can reach; the requester verifies every certificate against the validator
  set it derived itself, executes and commits, then sends ``Synced``.
* **membership** — ``join_at_ms`` submits a governance tx that adds one extra node (running from
  the start as an observer) to the set; the app flags the change in the header
  (``next_validators_hash``) and reports ``ValidatorSetChanged`` when it commits.

Checked: **safety** — no two honest nodes ever commit different blocks at one height (checked at
every commit); **liveness** — every submitted transaction is committed by every honest node that
did not crash, before ``time_limit_ms``.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chainfin import codec
from chainfin.consensus.api import Event, Received, Send, Tick, TxsPending
from chainfin.consensus.driver import Driver
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import (
    CHECKPOINT,
    COMMIT,
    NEW_VIEW,
    PRE_PREPARE,
    PREPARE,
    VIEW_CHANGE,
    CachingCodec,
)
from chainfin.crypto import Identity
from chainfin.errors import InvalidMessage
from chainfin.testing.toyapp import SimClock, ToyApp
from chainfin.types import Block, BlockHeader, CommitCertificate, Transaction, ValidatorSet

__all__ = ["SimConfig", "SimResult", "Simulation", "run", "BEHAVIOURS"]

CHAIN = "chainfin-sim"
BEHAVIOURS = ("equivocate", "silent", "bad_signature", "replay", "invalid_block", "mixed")
GENESIS_HASH = hashlib.sha256(b"chainfin-sim genesis").digest()
GENESIS_ROOT = hashlib.sha256(b"chainfin-sim state 0").digest()

_DELIVER, _TICK, _TX, _FETCH, _CRASH, _RESTART = 0, 1, 2, 3, 4, 5


@dataclass
class SimConfig:
    nodes: int = 4
    byzantine: int = 0
    crash: int = 0
    delay_ms: int = 10
    txs: int = 100
    seed: int = 1
    jitter: float = 0.5  # delay uniform in delay * [1 - jitter, 1 + jitter]
    drop: float = 0.0  # before heal_ms
    duplicate: float = 0.0  # before heal_ms
    partitions: bool = False  # random splits before heal_ms
    heal_ms: int = 0
    behaviours: tuple[str, ...] = ()  # for byzantine nodes, cycled; () = all, by seed
    tx_spread_ms: int = 0  # submissions spread over this period; 0 = 20 * delay
    view_timeout_ms: int = 0  # 0 = max(100, 12 * delay)
    checkpoint_interval: int = 16
    window: int = 8
    max_block_txs: int = 100
    max_skew_ms: int = 2000
    time_limit_ms: int = 300_000
    primary_faulty: bool = False  # make the primary of view 0 the first faulty node
    join_at_ms: int | None = None  # add one extra validator with a governance tx at this time
    keep_wal: bool = False
    restart_ms: int | None = None  # crashed nodes restart from their WAL after up to this long
    check_every_commit: bool = True
    block_interval_ms: int = 0  # primary pacing (decision 21); 0 = cut whenever a slot is free


@dataclass
class SimResult:
    config: dict[str, Any]
    heights: dict[str, int]
    safety: bool
    liveness: bool
    views: int
    view_changes: int
    messages: int
    blocks: int
    messages_per_block: float
    finality_p50_ms: float
    finality_p99_ms: float
    sim_time_ms: int
    wall_s: float
    transcript: str
    violations: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.config["nodes"], "byzantine": self.config["byzantine"],
            "crash": self.config["crash"], "delay_ms": self.config["delay_ms"],
            "txs": self.config["txs"], "seed": self.config["seed"],
            "committed_blocks": self.heights, "safety": self.safety, "liveness": self.liveness,
            "views_changed": self.view_changes, "final_view": self.views,
            "messages_sent": self.messages, "blocks": self.blocks,
            "messages_per_block": round(self.messages_per_block, 1),
            "finality_p50_ms": round(self.finality_p50_ms, 1),
            "finality_p99_ms": round(self.finality_p99_ms, 1),
            "sim_time_ms": self.sim_time_ms, "wall_s": round(self.wall_s, 3),
            "transcript_sha256": self.transcript, "violations": self.violations,
            "engine_counters": self.dropped,
        }


class SimNode:
    """One simulated replica: its engine, its toy ledger, and the driver between them."""

    def __init__(self, sim: Simulation, idx: int, identity: Identity, engine: PbftEngine,
                 behaviour: str | None) -> None:
        self.sim = sim
        self.idx = idx
        self.identity = identity
        self.key = identity.public_key
        self.engine = engine
        self.behaviour = behaviour  # None: honest
        self.app = ToyApp(CHAIN, GENESIS_HASH, GENESIS_ROOT, sim.genesis_set, self.key,
                          sim.clock, max_skew_ms=sim.cfg.max_skew_ms, tx_valid=sim.tx_valid,
                          check_cert=sim.check_cert, fetcher=self._fetch_later,
                          on_commit=self._committed, keep_wal=sim.keep_wal,
                          corrupt_blocks=behaviour in ("invalid_block", "mixed"))
        self.driver = Driver(lambda ev: self.engine.step(ev), self.app, self)
        self.crashed = False
        self.crash_at: int | None = None
        self.restarted = False
        self.restart_at: int | None = None
        self.tick_at: int | None = None
        self.seen_payloads: list[bytes] = []

    @property
    def honest(self) -> bool:
        return self.behaviour is None

    # the driver's Network: messages leave through the simulated network (rewritten if byzantine)
    def send(self, to: bytes | None, payload: bytes) -> Sequence[Event]:
        if self.behaviour is None:
            self.sim._send(self, to, payload)
        else:
            self.sim._byz_send(self, to, payload)
        return ()

    def _fetch_later(self, app: ToyApp, from_height: int) -> Sequence[Event]:
        sim = self.sim
        rtt = 2 * sim.rng.randint(sim.delay_lo, sim.delay_hi)
        sim._push(sim.now + rtt, _FETCH, self.idx, from_height)
        return ()

    def _committed(self, height: int, block_hash: bytes) -> None:
        self.sim._record_commit(self, height, block_hash)


class Simulation:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.clock = SimClock()
        self._seq = 0
        self.queue: list[tuple[int, int, int, int, Any]] = []
        self.codec = CachingCodec(CHAIN)
        self.transcript = hashlib.sha256()
        self.messages = 0
        self.violations: list[str] = []
        self.committed_at: dict[int, bytes] = {}
        self._tx_ok: dict[bytes, bool] = {}
        self._certs_ok: set[bytes] = set()
        d = cfg.delay_ms
        self.delay_lo = max(1, int(d * 1000 * (1 - cfg.jitter)))
        self.delay_hi = max(self.delay_lo, int(d * 1000 * (1 + cfg.jitter)))
        self.heal_us = cfg.heal_ms * 1000
        self.keep_wal = cfg.keep_wal or cfg.restart_ms is not None
        timeout = cfg.view_timeout_ms or max(100, 12 * d)
        self.pcfg = PbftConfig(chain_id=CHAIN, window=cfg.window,
                               checkpoint_interval=cfg.checkpoint_interval,
                               view_timeout_ms=timeout, max_block_txs=cfg.max_block_txs,
                               fetch_retry_ms=max(50, 6 * d),
                               block_interval_ms=cfg.block_interval_ms)
        n = cfg.nodes
        total = n + (1 if cfg.join_at_ms is not None else 0)
        idents = [Identity.from_seed_text(f"chainfin-sim-validator-{i}") for i in range(total)]
        self.genesis_set = ValidatorSet(tuple(i.public_key for i in idents[:n]))
        faulty = self.rng.sample(range(n), min(n, cfg.byzantine + cfg.crash))
        if cfg.primary_faulty and faulty:
            p0 = next(i for i in range(n) if idents[i].public_key == self.genesis_set.primary(0))
            if p0 in faulty:
                faulty.remove(p0)
            else:
                faulty.pop()
            faulty.insert(0, p0)
        byz = faulty[:cfg.byzantine]
        crashed = faulty[cfg.byzantine:]
        behaviours = cfg.behaviours or tuple(self.rng.sample(BEHAVIOURS, len(BEHAVIOURS)))
        self.nodes: list[SimNode] = []
        for i in range(total):
            eng = PbftEngine(self.pcfg, idents[i], self.genesis_set, 0, GENESIS_HASH,
                             codec=self.codec)
            beh = behaviours[byz.index(i) % len(behaviours)] if i in byz else None
            self.nodes.append(SimNode(self, i, idents[i], eng, beh))
        self.by_key = {nd.key: nd for nd in self.nodes}
        crash_window = max(1, cfg.heal_ms or (cfg.tx_spread_ms or 20 * d))
        for i in crashed:
            at = self.rng.choice([0, self.rng.randrange(crash_window * 1000)])
            self.nodes[i].crash_at = at
            self._push(at, _CRASH, i, None)
            if cfg.restart_ms is not None:
                back = at + self.rng.randint(cfg.restart_ms * 500, cfg.restart_ms * 1000)
                self.nodes[i].restart_at = back
                self._push(back, _RESTART, i, None)
        # partitions: a few random splits before heal
        self.partitions: list[tuple[int, int, frozenset[int]]] = []
        if cfg.partitions and cfg.heal_ms > 0:
            t = 0
            while True:
                t += self.rng.randrange(max(1, cfg.heal_ms * 1000 // 4))
                if t >= self.heal_us:
                    break
                end = min(self.heal_us, t + self.rng.randrange(max(1, cfg.heal_ms * 1000 // 2)))
                side = frozenset(self.rng.sample(range(total), self.rng.randrange(1, total)))
                self.partitions.append((t, end, side))
                t = end
        # client transactions
        spread = (cfg.tx_spread_ms or 20 * d) * 1000
        clients = [Identity.from_seed_text(f"chainfin-sim-client-{c}") for c in range(4)]
        self.txs: list[Transaction] = []
        self.submitted: dict[bytes, tuple[int, int]] = {}  # tx id -> (time, entry node)
        entries = [nd.idx for nd in self.nodes[:n] if nd.honest and nd.crash_at is None]
        for k in range(cfg.txs):
            c = clients[k % len(clients)]
            tx = Transaction.create(c, CHAIN, k // len(clients), "bank", "pay",
                                    {"to": "x", "amount": k + 1})
            at = self.rng.randrange(spread) if spread else 0
            self._submit(tx, at, self.rng.choice(entries) if entries else 0)
        if cfg.join_at_ms is not None:
            admin = Identity.from_seed_text("chainfin-sim-admin")
            tx = Transaction.create(admin, CHAIN, 0, "governance", "add_validator",
                                    {"pubkey": idents[n].public_key.hex()})
            self._submit(tx, cfg.join_at_ms * 1000, entries[0] if entries else 0)

    # ------------------------------------------------------------------ plumbing

    @property
    def now(self) -> int:
        """Virtual time in microseconds."""
        return self.clock.now_us

    @now.setter
    def now(self, us: int) -> None:
        self.clock.now_us = us

    def _push(self, at: int, kind: int, node: int, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self.queue, (at, self._seq, kind, node, data))

    def _submit(self, tx: Transaction, at: int, entry: int) -> None:
        self.txs.append(tx)
        self.submitted[tx.tx_id] = (at, entry)
        for nd in self.nodes:
            delay = 0 if nd.idx == entry else self.rng.randint(self.delay_lo, self.delay_hi)
            self._push(at + delay, _TX, nd.idx, tx)

    def tx_valid(self, tx: Transaction) -> bool:
        r = self._tx_ok.get(tx.tx_id)
        if r is None:
            try:
                tx.verify_signature()
                r = tx.chain_id == CHAIN
            except Exception:
                r = False
            self._tx_ok[tx.tx_id] = r
        return r

    def check_cert(self, cert: CommitCertificate, vs: ValidatorSet) -> None:
        """CommitCertificate.verify's rules, with each vote's signature check memoised (nodes
        assemble different subsets of the same votes; n = 64 would otherwise spend its time
        re-verifying them)."""
        key = codec.hash_value(cert.to_wire()) + vs.hash()
        if key in self._certs_ok:
            return
        if cert.chain_id != CHAIN:
            raise InvalidMessage("certificate is for another chain")
        signers: set[bytes] = set()
        for v in cert.votes:
            if v.validator not in vs:
                raise InvalidMessage("certificate signer is not a validator")
            if v.validator in signers:
                continue
            if not self.codec.verify_vote(v.validator, COMMIT, cert.view, cert.height,
                                          cert.block_hash, v.signature):
                raise InvalidMessage("certificate holds a bad signature")
            signers.add(v.validator)
        if len(signers) < vs.quorum:
            raise InvalidMessage("certificate has too few distinct signers")
        self._certs_ok.add(key)

    def _cut(self, a: int, b: int, at: int) -> bool:
        for start, end, side in self.partitions:
            if start <= at < end and ((a in side) != (b in side)):
                return True
        return False

    def _send(self, src: SimNode, to: bytes | None, payload: bytes) -> None:
        if to is None:
            for nd in self.nodes:
                if nd is not src:
                    self._send_one(src, nd, payload)
        else:
            dst = self.by_key.get(to)
            if dst is not None:
                self._send_one(src, dst, payload)

    def _send_one(self, src: SimNode, dst: SimNode, payload: bytes) -> None:
        self.messages += 1
        self.transcript.update(payload)
        now = self.now
        rng = self.rng
        if now < self.heal_us:
            if self.cfg.drop and rng.random() < self.cfg.drop:
                return
            if self.partitions and self._cut(src.idx, dst.idx, now):
                return
            if self.cfg.duplicate and rng.random() < self.cfg.duplicate:
                self._push(now + rng.randint(self.delay_lo, self.delay_hi), _DELIVER, dst.idx,
                           payload)
        self._push(now + rng.randint(self.delay_lo, self.delay_hi), _DELIVER, dst.idx, payload)

    # ------------------------------------------------------------------ byzantine rewriting

    def _byz_send(self, node: SimNode, to: bytes | None, payload: bytes) -> None:
        beh = node.behaviour
        a = Send(to, payload)
        try:
            m = self.codec.decode(a.payload)
        except InvalidMessage:
            self._send(node, a.to, a.payload)
            return
        if beh in ("silent",) and m.kind in (PRE_PREPARE, NEW_VIEW):
            return
        if beh in ("bad_signature", "mixed") and m.kind in (PREPARE, COMMIT, CHECKPOINT,
                                                             VIEW_CHANGE):
            if beh == "bad_signature" or self.rng.random() < 0.5:
                sig = bytes([m.signature[0] ^ 1]) + m.signature[1:]
                body = m.body.to_wire() if m.body is not None else None
                att = [b.to_wire() for b in m.attachment] or None
                payload = self.codec.envelope(m.kind, m.view, m.seq, m.digest, m.sender, sig,
                                              body, att)
                self._send(node, a.to, payload)
                return
        if beh in ("equivocate", "mixed") and m.kind == PRE_PREPARE and a.to is None:
            b: Block = m.body
            h = b.header
            alt_h = BlockHeader(h.chain_id, h.height, h.view, h.prev_hash, h.tx_root,
                                h.state_root, h.validators_hash, h.next_validators_hash,
                                h.timestamp_ms + 1, h.proposer)
            alt = Block(alt_h, b.txs)
            d = alt.hash()
            sig = self.codec.sign(node.identity, PRE_PREPARE, m.view, m.seq, d)
            alt_payload = self.codec.envelope(PRE_PREPARE, m.view, m.seq, d, m.sender, sig,
                                              alt.to_wire())
            others = [nd for nd in self.nodes if nd is not node]
            for k, nd in enumerate(others):
                self._send_one(node, nd, a.payload if k % 2 == 0 else alt_payload)
            return
        self._send(node, a.to, a.payload)
        if beh in ("replay", "mixed") and node.seen_payloads:
            for _ in range(2):
                old = self.rng.choice(node.seen_payloads)
                dst = self.rng.choice(self.nodes)
                if dst is not node:
                    self._send_one(node, dst, old)

    # ------------------------------------------------------------------ driving engines

    def _step(self, node: SimNode, event: Event) -> None:
        if node.crashed:
            return
        now_ms = self.now // 1000
        eng = node.engine
        if eng.now < now_ms:
            node.driver.step(Tick(now_ms))
        node.driver.step(event)
        eng = node.engine
        dl = eng.next_deadline()
        if dl is not None:
            at = max(dl * 1000, self.now)
            if node.tick_at is None or at < node.tick_at or node.tick_at < self.now:
                node.tick_at = at
                self._push(at, _TICK, node.idx, None)

    def _record_commit(self, node: SimNode, height: int, digest: bytes) -> None:
        if not node.honest:
            return
        prev = self.committed_at.get(height)
        if prev is None:
            self.committed_at[height] = digest
        elif prev != digest:
            self.violations.append(
                f"height {height}: node {node.idx} committed {digest.hex()[:16]}, "
                f"another honest node {prev.hex()[:16]}")

    def _fetch(self, node: SimNode, from_height: int) -> None:
        app = node.app
        best: SimNode | None = None
        for nd in self.nodes:
            if (nd is node or not nd.honest or nd.crashed
                    or (self.now < self.heal_us and self._cut(nd.idx, node.idx, self.now))):
                continue
            if best is None or nd.app.height > best.app.height:
                best = nd
        if best is None:
            return  # nobody reachable: the engine asks again later
        if best.app.height <= app.height:  # nothing new: say so
            self._step(node, app.synced())
            return
        for h in range(app.height + 1, best.app.height + 1):
            block, cert = best.app.certified(h)
            vs = app.set_for(h)  # derived locally, never taken from the peer (TRAPS #12)
            self.check_cert(cert, vs)
            if cert.block_hash != block.hash() or block.header.prev_hash != app.hashes[-1]:
                self.violations.append(f"node {node.idx}: fetched block {h} does not check out")
                return
            ok, why = app.check(block, certified=True)
            if not ok:
                self.violations.append(f"node {node.idx}: certified block {h} invalid: {why}")
                return
            app.apply(block, cert)  # its on_commit hook checks safety
        self._step(node, app.synced())
        self._step(node, TxsPending(len(app.mempool)))

    def _restart(self, node: SimNode) -> None:
        """The process comes back: committed ledger and WAL survive, nothing else does."""
        app = node.app
        app.discard(app.height)
        last = app.chain[-1]
        node.engine = PbftEngine(self.pcfg, node.identity, app.set_for(app.height + 1),
                                 app.height, app.hashes[-1], restored=sorted(app.wal.items()),
                                 last_certificate=last[1] if last is not None else None,
                                 codec=self.codec)
        node.crashed = False
        node.restarted = True
        node.tick_at = None
        self._step(node, TxsPending(len(app.mempool)))

    # ------------------------------------------------------------------ run

    def _live_nodes(self) -> list[SimNode]:
        return [nd for nd in self.nodes
                if nd.honest and (nd.crash_at is None or nd.restart_at is not None)]

    def _done(self) -> bool:
        want = len(self.submitted)
        return all(len(nd.app.committed_txs) >= want for nd in self._live_nodes())

    def run(self) -> SimResult:
        t0 = time.perf_counter()
        limit = self.cfg.time_limit_ms * 1000
        last_submit = max((at for at, _ in self.submitted.values()), default=0)
        q = self.queue
        nodes = self.nodes
        check_at = 0
        while q:
            at, _, kind, idx, data = heapq.heappop(q)
            if at > limit:
                break
            self.now = at
            node = nodes[idx]
            self.transcript.update(b"%d/%d/%d" % (at, kind, idx))
            if kind == _DELIVER:
                if node.crashed:
                    continue
                if node.behaviour in ("replay", "mixed") and len(node.seen_payloads) < 500:
                    node.seen_payloads.append(data)
                self._step(node, Received(b"", data))
            elif kind == _TICK:
                if node.tick_at != at:
                    continue
                node.tick_at = None
                self._step(node, Tick(at // 1000))
            elif kind == _TX:
                if node.crashed or data.tx_id in node.app.committed_txs:
                    continue
                node.app.mempool[data.tx_id] = data
                self._step(node, TxsPending(len(node.app.mempool)))
            elif kind == _FETCH:
                if not node.crashed:
                    self._fetch(node, data)
            elif kind == _CRASH:
                node.crashed = True
            elif kind == _RESTART:
                self._restart(node)
            if at >= check_at and at >= last_submit:
                check_at = at + 1000 * self.cfg.delay_ms
                if self._done():
                    break
            if self.violations and self.cfg.check_every_commit:
                break
        return self._result(time.perf_counter() - t0)

    def _result(self, wall: float) -> SimResult:
        live = self._live_nodes()
        liveness = self._done()
        fin = []
        for tx_id, (at, entry) in self.submitted.items():
            ct = self.nodes[entry].app.commit_time.get(tx_id)
            if ct is not None:
                fin.append((ct - at) / 1000.0)
        fin.sort()

        def pct(p: float) -> float:
            if not fin:
                return 0.0
            return fin[min(len(fin) - 1, int(p * len(fin)))]

        honest = [nd for nd in self.nodes if nd.honest]
        blocks = max((nd.app.height for nd in honest), default=0)
        dropped: dict[str, int] = {}
        for nd in honest:
            for k, v in nd.engine.stats.items():
                if v:
                    dropped[k] = dropped.get(k, 0) + v
        views = max((nd.engine.view for nd in live), default=0)
        vc = max((nd.engine.stats["view_changes"] for nd in live), default=0)
        return SimResult(
            config=dict(vars(self.cfg)),
            heights={f"node{nd.idx}" + ("" if nd.honest else f"({nd.behaviour})")
                     + (" crashed" if nd.crash_at is not None else "")
                     + (" restarted" if nd.restarted else ""): nd.app.height
                     for nd in self.nodes},
            safety=not self.violations,
            liveness=liveness,
            views=views,
            view_changes=vc,
            messages=self.messages,
            blocks=blocks,
            messages_per_block=self.messages / blocks if blocks else 0.0,
            finality_p50_ms=pct(0.50),
            finality_p99_ms=pct(0.99),
            sim_time_ms=self.now // 1000,
            wall_s=wall,
            transcript=self.transcript.hexdigest(),
            violations=list(self.violations),
            dropped=dropped,
        )


def run(cfg: SimConfig) -> SimResult:
    """Run one simulation."""
    return Simulation(cfg).run()
