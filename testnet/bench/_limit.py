"""``limit_tps``: the minimal CPU time one node spends on one transaction, measured in process
(no networking, JSON or consensus), and the limit it implies on this machine."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chainfin.consensus.quorum import quorum
from chainfin.execution import BlockContext, execute_block, genesis_state
from chainfin.genesis import Genesis
from chainfin.smt import EMPTY, SparseMerkleTree, StoreNodes, put_nodes, reachable_records
from chainfin.store import SMT_NODES, PlyvelStore, state_db_key
from chainfin.types import Block, BlockHeader, CommitCertificate, Transaction, ValidatorSet, Vote
from contracts import CONTRACTS
from node.ledger import (
    DIGEST_LEAVES,
    PRUNE_SMT,
    SMT_FLUSH_BLOCKS,
    Tip,
    header_roots,
    write_commit,
)

from ._host import cpu_count

LIMIT_SAMPLE = 4000  # load transactions the limit loop runs over (at most)


@dataclass
class LimitResult:
    """The in-process per-transaction CPU cost of one node and the limit it implies."""

    nodes: int
    cpus: int
    txs: int
    block_txs: int
    committed_share: float  # of the measured txs, how many the execution committed
    breakdown_us: dict[str, float]  # per tx, by stage
    #: the cost of every pass this figure is the cheapest of (us per tx per node)
    pass_costs_us: tuple[float, ...] = ()

    @property
    def cost_us(self) -> float:
        return sum(self.breakdown_us.values())

    @property
    def limit_tps(self) -> float:
        return self.cpus / (self.nodes * self.cost_us * 1e-6)

    def to_json(self) -> dict[str, Any]:
        return {"limit_tps": round(self.limit_tps, 1), "cost_per_tx_us": round(self.cost_us, 2),
                "cpus": self.cpus, "nodes": self.nodes, "txs": self.txs,
                "block_txs": self.block_txs, "committed_share": round(self.committed_share, 4),
                "breakdown_us": {k: round(v, 2) for k, v in self.breakdown_us.items()},
                "pass_costs_us": [round(c, 2) for c in self.pass_costs_us]}


def cheapest(*limits: LimitResult | None) -> LimitResult | None:
    """The cheapest of several limit measurements (None for none), listing all their passes."""
    got = [x for x in limits if x is not None]
    if not got:
        return None
    best = min(got, key=lambda x: x.cost_us)
    costs = tuple(c for x in got for c in (x.pass_costs_us or (x.cost_us,)))
    return replace(best, pass_costs_us=costs)


class _StoreState:
    """Committed state read from LevelDB, as the node reads it (:func:`chainfin.store.state_db_key`)."""

    __slots__ = ("_get",)

    def __init__(self, store: Any) -> None:
        self._get = store.get

    def get_raw(self, key: bytes) -> bytes | None:
        v: bytes | None = self._get(state_db_key(key))
        return v


class _StoreValues:
    """Committed values by state key, for the tree's digest leaves (as the ledger's)."""

    __slots__ = ("_get",)

    def __init__(self, store: Any) -> None:
        self._get = store.get

    def get(self, key: bytes) -> bytes | None:
        v: bytes | None = self._get(state_db_key(key))
        return v


class _PendingNodes:
    """SMT records not written yet (the ledger keeps them between flushes), then LevelDB's."""

    __slots__ = ("_pending", "_on_disk")

    def __init__(self, pending: dict[bytes, bytes], on_disk: StoreNodes) -> None:
        self._pending = pending
        self._on_disk = on_disk

    def get(self, key: bytes) -> bytes | None:
        v = self._pending.get(key)
        return v if v is not None else self._on_disk.get(key)


@contextlib.contextmanager
def temp_store(prefix: str, directory: str | os.PathLike[str] | None = None
               ) -> Iterator[PlyvelStore]:
    """A fresh LevelDB store in a temporary directory (under ``directory`` or ``TMPDIR``),
    closed and deleted afterwards: where the limit loop and ``testnet.micro`` time storage."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=directory) as tmp:
        store = PlyvelStore(os.path.join(tmp, "db"))
        try:
            yield store
        finally:
            store.close()


def store_tree(store: Any, pending: dict[bytes, bytes] | None = None) -> SparseMerkleTree:
    """The state SMT as a node reads it: records in ``pending`` (not flushed yet), then the
    ones in ``store`` under :data:`chainfin.store.SMT_NODES`."""
    return SparseMerkleTree(_PendingNodes({} if pending is None else pending,
                                          StoreNodes(store)),
                            _StoreValues(store) if DIGEST_LEAVES else None)


def _final(genesis: Genesis, vs: ValidatorSet, height: int, prev_hash: bytes,
           txs: Sequence[Transaction], troot: bytes, state_root: bytes, ts: int,
           rroot: bytes | None = None) -> tuple[Block, CommitCertificate, Tip]:
    """What consensus hands the ledger's commit for a block of ``txs``: the block, a
    certificate of a quorum of the genesis validators (signatures zeroed: a commit writes
    them, it does not check them) and the new tip."""
    header = BlockHeader(
        chain_id=genesis.chain_id, height=height, view=0, prev_hash=prev_hash, tx_root=troot,
        state_root=state_root, validators_hash=vs.hash(), next_validators_hash=vs.hash(),
        timestamp_ms=ts, proposer=vs.primary(0), tx_count=len(txs), receipts_root=rroot)
    block = Block(header, tuple(txs))
    bh = block.hash()
    votes = tuple(Vote(k, bytes(64)) for k in sorted(vs.members)[:quorum(vs.n)])
    cert = CommitCertificate(genesis.chain_id, height, 0, bh, votes)
    return block, cert, Tip(height, bh, state_root, ts, vs)


#: the limit loop runs this many times, each on a fresh store, before the nodes start and as
#: many again after they stop, and keeps the cheapest: the *minimal* cost, and a figure that
#: varies less from run to run. One pass varies by ~±6 % within a minute, and this virtual
#: machine's speed drifts by up to ~40 % over minutes (the host's other tenants; the same
#: Ed25519 check took 57 and 85 us in passes 10 minutes apart), so one window can miss a fast
#: period that the load phase enjoyed, which would overstate ratio_to_limit
LIMIT_REPEATS = 3


def measure_limit(genesis: Genesis, funding: Sequence[Transaction], txs: Sequence[Transaction],
                  *, nodes: int, block_txs: int | None = None, cpus: int | None = None,
                  directory: str | os.PathLike[str] | None = None,
                  repeats: int = LIMIT_REPEATS) -> LimitResult:
    """The cheapest of ``repeats`` passes of :func:`measure_limit_once` (same arguments)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    runs = [measure_limit_once(genesis, funding, txs, nodes=nodes, block_txs=block_txs,
                               cpus=cpus, directory=directory) for _ in range(repeats)]
    best = cheapest(*runs)
    assert best is not None
    return best


def measure_limit_once(genesis: Genesis, funding: Sequence[Transaction],
                       txs: Sequence[Transaction], *, nodes: int, block_txs: int | None = None,
                       cpus: int | None = None,
                       directory: str | os.PathLike[str] | None = None) -> LimitResult:
    """Time one node's minimal work on ``txs`` in a tight in-process loop (CPU time of this
    process, LevelDB's threads included), after genesis and ``funding`` were applied untimed.

    Stages per transaction: ``decode`` (``Transaction.decode`` of its wire bytes, which hashes
    its id), ``verify`` (Ed25519), ``execute`` (``execute_block`` per block of ``block_txs``,
    state from LevelDB), ``tx_root`` (the block's RFC 6962 root), ``smt`` (state SMT update),
    ``store`` (the ledger's own commit write, :func:`node.ledger.write_commit`: the block record
    with its certificate and receipts, the indexes, the state changes and the tip in one
    unsynced LevelDB batch; then the SMT records held in memory, written every
    ``SMT_FLUSH_BLOCKS`` blocks as the ledger does).
    """
    if not txs:
        raise ValueError("no transactions to measure")
    bsize = block_txs or genesis.params.max_block_txs
    clock = time.process_time
    with temp_store("chainfin-limit-", directory) as store:
        pending: dict[bytes, bytes] = {}  # SMT records not written yet, as the ledger keeps
        smt = store_tree(store, pending)
        state = _StoreState(store)

        flushed = [EMPTY]  # the root whose records are all in the store

        def flush(root_: bytes) -> None:  # the ledger's flush_smt: the live records, and the
            live = reachable_records(root_, pending)  # stale ones of the last flush deleted
            stale = (smt.stale_records(flushed[0], root_)
                     if PRUNE_SMT and flushed[0] != EMPTY else set())
            with store.write_batch(sync=False) as b:
                for h_ in stale:
                    b.delete(SMT_NODES + h_)
                put_nodes(b, live)
            pending.clear()
            flushed[0] = root_

        # untimed: genesis and funding
        salted = genesis.params.salted_leaves
        vs = genesis.validator_set()
        prev = bytes(32)
        g = genesis_state(genesis)
        new0: dict[bytes, bytes] = {}
        root = smt.update(EMPTY, dict(g), new0)
        with store.write_batch() as b:
            for k, v in g.items():
                b.put(state_db_key(k), v)
            put_nodes(b, new0)
        ts = genesis.genesis_time_ms
        height = 0
        for i in range(0, len(funding), bsize):
            height += 1
            block = list(funding[i:i + bsize])
            ctx = BlockContext.from_genesis(genesis, height, ts + height)
            res = execute_block(state, block, ctx, CONTRACTS)
            new: dict[bytes, bytes] = {}
            root = smt.update(root, res.changes, new)
            troot, rroot = header_roots(block, res, salted)
            final, cert, tip = _final(genesis, vs, height, prev, block, troot, root,
                                      ts + height, rroot)
            write_commit(store, final, tip.block_hash, cert, res, tip, None)
            pending.update(new)
            prev = tip.block_hash
        flush(root)

        flushed[0] = root  # funding wrote every record: its root is complete in the store
        wires = [t.encode() for t in txs]
        spent = dict.fromkeys(("decode", "verify", "execute", "tx_root", "smt", "store"), 0.0)
        c0 = clock()
        decoded = [Transaction.decode(w) for w in wires]
        c1 = clock()
        for t in decoded:
            t.verify_signature()
        c2 = clock()
        spent["decode"] += c1 - c0
        spent["verify"] += c2 - c1
        committed = 0
        for i in range(0, len(decoded), bsize):
            height += 1
            block = decoded[i:i + bsize]
            ctx = BlockContext.from_genesis(genesis, height, ts + height)
            c0 = clock()
            res = execute_block(state, block, ctx, CONTRACTS)
            c1 = clock()
            troot, rroot = header_roots(block, res, salted)  # as the ledger (format 3 salted)
            c2 = clock()
            new = {}
            root = smt.update(root, res.changes, new)
            c3 = clock()
            # untimed: the header, hash and certificate come from consensus, not the commit
            final, cert, tip = _final(genesis, vs, height, prev, block, troot, root, ts + height,
                                      rroot)
            c4 = clock()
            write_commit(store, final, tip.block_hash, cert, res, tip, None)
            pending.update(new)
            if height % SMT_FLUSH_BLOCKS == 0 or i + bsize >= len(decoded):
                flush(root)
            c5 = clock()
            prev = tip.block_hash
            spent["execute"] += c1 - c0
            spent["tx_root"] += c2 - c1
            spent["smt"] += c3 - c2
            spent["store"] += c5 - c4
            committed += sum(1 for r in res.receipts if r.ok)
    n = len(txs)
    return LimitResult(nodes, cpus or cpu_count(), n, bsize, committed / n,
                       {k: v / n * 1e6 for k, v in spent.items()})
