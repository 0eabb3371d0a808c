"""A hand-driven cluster of real PbftEngines for unit tests: no randomness, no clock.

Messages go into ``cluster.wire`` (a FIFO of (src, dst, payload)); a test delivers them all, some,
or drops/rewrites them. Driver actions (build, execute, commit, discard, fetch) are answered at
once by the toy ledger (:class:`chainfin.testing.toyapp.ToyApp`) through the same
:class:`chainfin.consensus.driver.Driver` the node runtime uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from chainfin.consensus import api
from chainfin.consensus.api import Event, Received, Send, Tick, TxsPending
from chainfin.consensus.driver import Driver
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import CachingCodec, Message
from chainfin.crypto import Identity
from chainfin.testing.toyapp import SimClock, ToyApp
from chainfin.types import Transaction, ValidatorSet

CHAIN = "unit"
GENESIS = hashlib.sha256(b"unit genesis").digest()
CLIENT = Identity.from_seed_text("unit-client")


def make_txs(n: int, start: int = 0, sender: Identity = CLIENT) -> list[Transaction]:
    return [Transaction.create(sender, CHAIN, start + i, "bank", "pay", {"i": start + i})
            for i in range(n)]


def pending_event(count: int, oldest_ms: int | None) -> TxsPending:
    """``TxsPending`` with the age of the oldest pending transaction (the request timer's
    input); an engine without the field (the code before it) gets the count alone."""
    if "oldest_ms" in {f.name for f in dataclasses.fields(TxsPending)}:
        return TxsPending(count, oldest_ms=oldest_ms)
    return TxsPending(count)


def identities(n: int) -> list[Identity]:
    return [Identity.from_seed_text(f"unit-validator-{i}") for i in range(n)]


class Node:
    """One replica of the cluster: engine, toy ledger, and the driver between them; its
    Network puts what it sends on the cluster's wire."""

    def __init__(self, cluster: Cluster, idx: int, identity: Identity,
                 engine: PbftEngine) -> None:
        self.cluster = cluster
        self.idx = idx
        self.identity = identity
        self.engine = engine
        self.app = ToyApp(CHAIN, GENESIS, GENESIS, cluster.validators, self.key, cluster.clock,
                          fetcher=cluster._fetch)
        self.log: list[Any] = []  # every action, in order
        self.down = False
        #: senders whose transactions this replica, as the primary, never proposes (a censor)
        self.censor: frozenset[bytes] = frozenset()
        #: at most this many transactions in each block this replica proposes (a starving
        #: primary: one small block at a time while the rest waits); None: as many as fit
        self.block_txs: int | None = None
        #: when each transaction reached this replica (clock ms): the request timer's ages
        self.arrived: dict[bytes, int] = {}
        self.driver = Driver(self._engine_step, self.app, self)
        honest_build = self.app.build

        def build(req: Any) -> list[Event]:
            if self.block_txs is not None:
                req = dataclasses.replace(req, max_txs=min(req.max_txs, self.block_txs))
            if not self.censor:
                return honest_build(req)
            full = self.app.mempool
            self.app.mempool = {k: t for k, t in full.items() if t.sender not in self.censor}
            try:
                return honest_build(req)
            finally:
                self.app.mempool = full

        self.app.build = build  # type: ignore[method-assign]
        honest_commit = self.app.commit

        def commit(block: Any, certificate: Any) -> list[Event]:
            out = honest_commit(block, certificate)
            if not self.cluster.ages:
                return out
            now = self.cluster.clock.now_ms  # the count after a commit, with the oldest age
            return [pending_event(e.count, self.oldest_pending_ms(now))
                    if type(e) is TxsPending else e for e in out]

        self.app.commit = commit  # type: ignore[method-assign]

    def oldest_pending_ms(self, now: int) -> int | None:
        """How long the oldest transaction this replica holds, in no proposal it accepted,
        has waited (what the node reports in ``TxsPending.oldest_ms``), or None."""
        app = self.app
        busy = {t for sp in app.specs.values() if sp.height > app.height for t in sp.txids}
        ages = [now - self.arrived.get(k, now) for k in app.mempool if k not in busy]
        return max(ages) if ages else None

    def report_pending(self) -> list[Any]:
        """Tell the engine the count and the oldest age, as the node's ticker does."""
        now = self.cluster.clock.now_ms
        return self.cluster.step(self.idx, pending_event(len(self.app.mempool),
                                                         self.oldest_pending_ms(now)))

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    @property
    def records(self) -> list[tuple[bytes, Any]]:
        """The persisted records (the WAL a restart reads back), in key order."""
        return sorted(self.app.wal.items())

    def _engine_step(self, event: Event) -> list[Any]:
        out = self.engine.step(event)
        self.log.extend(out)
        return out

    def send(self, to: bytes | None, payload: bytes) -> Sequence[Event]:
        for other in self.cluster.nodes:
            if other is not self and (to is None or other.key == to):
                self.cluster.wire.append((self.idx, other.idx, payload))
        return ()


class Cluster:
    def __init__(self, n: int = 4, *, observers: int = 0, codec_: CachingCodec | None = None,
                 **cfg: Any) -> None:
        cfg.setdefault("view_timeout_ms", 1000)
        cfg.setdefault("checkpoint_interval", 4)
        cfg.setdefault("window", 4)
        #: ``ages``: every advance() first reports each replica's oldest pending age (the
        #: request timer's input; off: the engines hear counts only, as before)
        self.ages = bool(cfg.pop("ages", False))
        known = {f.name for f in dataclasses.fields(PbftConfig)}
        self.cfg = PbftConfig(chain_id=CHAIN, **{k: v for k, v in cfg.items() if k in known})
        self.codec = codec_ or CachingCodec(CHAIN)
        self.clock = SimClock()
        ids = identities(n + observers)
        self.validators = ValidatorSet(tuple(i.public_key for i in ids[:n]))
        self.nodes = [Node(self, i, ident, PbftEngine(self.cfg, ident, self.validators, 0,
                                                      GENESIS, codec=self.codec))
                      for i, ident in enumerate(ids)]
        self.by_key = {nd.key: nd for nd in self.nodes}
        self.wire: deque[tuple[int, int, bytes]] = deque()
        #: links that are down (both directions, as a TCP/TLS link: what is sent on one is lost)
        self.cut: set[frozenset[int]] = set()
        for nd in self.nodes:  # a fresh engine's first step persists its initial state record
            self.step(nd.idx, Tick(0))

    @property
    def now(self) -> int:
        return self.clock.now_ms

    # ------------------------------------------------------------------ access
    def node_of(self, key: bytes) -> Node:
        return self.by_key[key]

    @property
    def primary(self) -> Node:
        e = self.nodes[0].engine
        return self.by_key[self.validators.primary(e.view)]

    def decode(self, payload: bytes) -> Message:
        return self.codec.decode(payload)

    # ------------------------------------------------------------------ driving
    def step(self, i: int, event: Any) -> list[Any]:
        nd = self.nodes[i]
        if nd.down:
            return []
        out = nd._engine_step(event)
        nd.driver.run(out)
        return out

    def _fetch(self, app: ToyApp, from_height: int) -> Sequence[Event]:
        """State transfer at once from the most advanced live replica (no answer if none is
        ahead): every certificate checked against the set this replica derived itself."""
        src = max((o for o in self.nodes if o.app is not app and not o.down),
                  key=lambda o: o.app.height)
        if src.app.height <= app.height:
            return ()
        for h in range(app.height + 1, src.app.height + 1):
            b, c = src.app.certified(h)
            ok, why = app.check(b, certified=True)
            assert ok, why
            app.apply(b, c)
        return (app.synced(),)

    def submit(self, txs: list[Transaction], nodes: list[int] | None = None) -> None:
        for i in nodes if nodes is not None else range(len(self.nodes)):
            nd = self.nodes[i]
            for t in txs:
                nd.arrived.setdefault(t.tx_id, self.now)
            count = nd.app.add(txs)
            self.step(i, pending_event(count, nd.oldest_pending_ms(self.now)) if self.ages
                      else TxsPending(count))

    def link(self, i: int, j: int, up: bool) -> None:
        """The link between replicas ``i`` and ``j`` drops (the peer's process died, RST/EOF) or
        comes back: each live end's driver reports it (``LinkChanged``, decisions 198/199; an
        engine without the event, the code before it, hears nothing), and while it is down what
        either sends the other is lost."""
        pair = frozenset((i, j))
        if up:
            self.cut.discard(pair)
        else:
            self.cut.add(pair)
        event = getattr(api, "LinkChanged", None)
        if event is not None:
            self.step(i, event(self.nodes[j].key, up))
            self.step(j, event(self.nodes[i].key, up))

    def kill(self, i: int) -> None:
        """SIGKILL replica ``i``: it stops, and every other replica's link to it drops at once."""
        self.nodes[i].down = True
        for nd in self.nodes:
            if nd.idx != i:
                self.link(i, nd.idx, False)

    def deliver(self, keep: Callable[[int, int, Message], bool] | None = None,
                limit: int = 1_000_000) -> int:
        """Deliver queued messages FIFO (including those sent meanwhile) until none is left;
        ``keep(src, dst, msg)`` False drops a message. Returns how many were delivered."""
        n = 0
        while self.wire and n < limit:
            src, dst, payload = self.wire.popleft()
            if self.cut and frozenset((src, dst)) in self.cut:
                continue
            if keep is not None and not keep(src, dst, self.decode(payload)):
                continue
            self.step(dst, Received(self.nodes[src].key, payload))
            n += 1
        return n

    def advance(self, ms: int) -> None:
        now = self.clock.advance_ms(ms)
        for nd in self.nodes:
            if self.ages:  # (the node's run loop too steps a Tick before the report)
                self.step(nd.idx, Tick(now))
                nd.report_pending()
            self.step(nd.idx, Tick(now))

    def heights(self) -> list[int]:
        return [nd.app.height for nd in self.nodes]

    def sent(self, i: int, kind: str) -> list[Message]:
        return [self.decode(a.payload) for a in self.nodes[i].log
                if type(a) is Send and self.decode(a.payload).kind == kind]
