"""A hand-driven cluster of real PbftEngines for unit tests: no randomness, no clock.

Messages go into ``cluster.wire`` (a FIFO of (src, dst, payload)); a test delivers them all, some,
or drops/rewrites them. Driver actions (build, execute, commit, discard, fetch) are answered at
once by a toy app, in action order, like the node runtime does.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chainfin import codec, merkle
from chainfin.consensus.api import (
    BlockBuilt,
    BlockExecuted,
    BuildBlock,
    Commit,
    DiscardSpeculative,
    ExecuteBlock,
    FetchBlocks,
    Persist,
    PruneLog,
    Received,
    Send,
    Synced,
    Tick,
    TxsPending,
    ViewChanged,
)
from chainfin.consensus.engine import PbftConfig, PbftEngine
from chainfin.consensus.messages import CachingCodec, Message
from chainfin.crypto import Identity
from chainfin.types import Block, BlockHeader, CommitCertificate, Transaction, ValidatorSet

CHAIN = "unit"
GENESIS = hashlib.sha256(b"unit genesis").digest()
CLIENT = Identity.from_seed_text("unit-client")


def make_txs(n: int, start: int = 0) -> list[Transaction]:
    return [Transaction.create(CLIENT, CHAIN, start + i, "bank", "pay", {"i": start + i})
            for i in range(n)]


def identities(n: int) -> list[Identity]:
    return [Identity.from_seed_text(f"unit-validator-{i}") for i in range(n)]


class ToyApp:
    """Execute-before-agree toy: state root = SHA-256(parent root, tx ids)."""

    def __init__(self) -> None:
        self.states: dict[bytes, tuple[int, bytes, int]] = {GENESIS: (0, GENESIS, 0)}
        self.mempool: list[Transaction] = []
        self.chain: list[tuple[Block, CommitCertificate]] = []
        self.reject: set[bytes] = set()  # block hashes to answer ok=False for
        self.executed: list[bytes] = []

    @property
    def height(self) -> int:
        return len(self.chain)

    def root(self, parent_root: bytes, txs: tuple[Transaction, ...]) -> bytes:
        h = hashlib.sha256(parent_root)
        for t in txs:
            h.update(t.tx_id)
        return h.digest()

    def build(self, req: BuildBlock, proposer: bytes, vs: ValidatorSet) -> BlockBuilt:
        _, proot, _ = self.states[req.prev_hash]
        used = {t.tx_id for b, _ in self.chain for t in b.txs}
        txs = tuple(t for t in self.mempool if t.tx_id not in used)[:req.max_txs]
        header = BlockHeader(CHAIN, req.height, req.view, req.prev_hash,
                             merkle.root([t.tx_id for t in txs]), self.root(proot, txs),
                             vs.hash(), vs.hash(), req.timestamp_ms, proposer)
        b = Block(header, txs)
        self.states[b.hash()] = (req.height, header.state_root, req.timestamp_ms)
        return BlockBuilt(b)

    def execute(self, block: Block, certified: bool = False) -> BlockExecuted:
        d = block.hash()
        self.executed.append(d)
        parent = self.states.get(block.header.prev_hash)
        if (d in self.reject and not certified) or parent is None:
            return BlockExecuted(d, False, "rejected")
        if block.header.state_root != self.root(parent[1], block.txs):
            return BlockExecuted(d, False, "state root mismatch")
        self.states[d] = (block.height, block.header.state_root, block.header.timestamp_ms)
        return BlockExecuted(d, True)


@dataclass
class Node:
    idx: int
    identity: Identity
    engine: PbftEngine
    app: ToyApp = field(default_factory=ToyApp)
    records: list[tuple[bytes, Any]] = field(default_factory=list)
    log: list[Any] = field(default_factory=list)  # every action, in order
    down: bool = False

    @property
    def key(self) -> bytes:
        return self.identity.public_key


class Cluster:
    def __init__(self, n: int = 4, *, observers: int = 0, codec_: CachingCodec | None = None,
                 **cfg: Any) -> None:
        cfg.setdefault("view_timeout_ms", 1000)
        cfg.setdefault("checkpoint_interval", 4)
        cfg.setdefault("window", 4)
        self.cfg = PbftConfig(chain_id=CHAIN, **cfg)
        self.codec = codec_ or CachingCodec(CHAIN)
        ids = identities(n + observers)
        self.validators = ValidatorSet(tuple(i.public_key for i in ids[:n]))
        self.nodes = [Node(i, ident, PbftEngine(self.cfg, ident, self.validators, 0, GENESIS,
                                                codec=self.codec))
                      for i, ident in enumerate(ids)]
        self.by_key = {nd.key: nd for nd in self.nodes}
        self.wire: deque[tuple[int, int, bytes]] = deque()
        self.now = 0
        for nd in self.nodes:  # a fresh engine's first step persists its initial state record
            self.step(nd.idx, Tick(0))

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
        out = nd.engine.step(event)
        self._run(nd, out)
        return out

    def _run(self, nd: Node, actions: list[Any]) -> None:
        todo = deque([actions])
        while todo:
            for a in todo.popleft():
                nd.log.append(a)
                t = type(a)
                if t is Send:
                    for other in self.nodes:
                        if other is nd or (a.to is not None and other.key != a.to):
                            continue
                        self.wire.append((nd.idx, other.idx, a.payload))
                elif t is Persist:
                    nd.records.append((a.key, codec.decode(codec.encode(a.record))))
                elif t is PruneLog:
                    nd.records = [(k, r) for k, r in nd.records if k >= a.below_key]
                elif t is BuildBlock:
                    todo.append(nd.engine.step(nd.app.build(a, nd.key,
                                                            nd.engine.validators)))
                elif t is ExecuteBlock:
                    todo.append(nd.engine.step(nd.app.execute(a.block)))
                elif t is Commit:
                    assert a.block.height == nd.app.height + 1
                    a.certificate.verify(nd.engine._set_at(a.block.height), CHAIN)
                    nd.app.chain.append((a.block, a.certificate))
                    used = {t.tx_id for t in a.block.txs}
                    nd.app.mempool = [t for t in nd.app.mempool if t.tx_id not in used]
                    todo.append(nd.engine.step(TxsPending(len(nd.app.mempool))))
                elif t is FetchBlocks:
                    sync = self._fetch(nd, a.from_height)
                    if sync is not None:  # applied and reported in one go, like a driver
                        todo.append(nd.engine.step(sync))
                elif t in (DiscardSpeculative, ViewChanged):
                    pass

    def _fetch(self, nd: Node, from_height: int) -> Synced | None:
        src = max((o for o in self.nodes if o is not nd and not o.down),
                  key=lambda o: o.app.height)
        if src.app.height <= nd.app.height:
            return None
        for b, c in src.app.chain[nd.app.height:]:
            c.verify(nd.engine._set_at(b.height), CHAIN)
            r = nd.app.execute(b, certified=True)
            assert r.ok
            nd.app.chain.append((b, c))
        b, c = nd.app.chain[-1]
        return Synced(b.height, b.hash(), nd.engine.validators, c)

    def submit(self, txs: list[Transaction], nodes: list[int] | None = None) -> None:
        for i in nodes if nodes is not None else range(len(self.nodes)):
            self.nodes[i].app.mempool.extend(txs)
            self.step(i, TxsPending(len(self.nodes[i].app.mempool)))

    def deliver(self, keep: Callable[[int, int, Message], bool] | None = None,
                limit: int = 1_000_000) -> int:
        """Deliver queued messages FIFO (including those sent meanwhile) until none is left;
        ``keep(src, dst, msg)`` False drops a message. Returns how many were delivered."""
        n = 0
        while self.wire and n < limit:
            src, dst, payload = self.wire.popleft()
            if keep is not None and not keep(src, dst, self.decode(payload)):
                continue
            self.step(dst, Received(self.nodes[src].key, payload))
            n += 1
        return n

    def advance(self, ms: int) -> None:
        self.now += ms
        for nd in self.nodes:
            self.step(nd.idx, Tick(self.now))

    def heights(self) -> list[int]:
        return [nd.app.height for nd in self.nodes]

    def sent(self, i: int, kind: str) -> list[Message]:
        return [self.decode(a.payload) for a in self.nodes[i].log
                if type(a) is Send and self.decode(a.payload).kind == kind]
