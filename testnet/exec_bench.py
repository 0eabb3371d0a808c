"""The execute stage alone: CPU per transaction of :func:`chainfin.execution.execute_block` on
the bench's workload, and a digest of everything it produced, so a faster execution can be
shown to give byte-identical results. ``python -m testnet.exec_bench [--json] [--quick]``.

The workload is the one ``chainfin bench --rate 500`` sends (``testnet.bench._workload``: the
funding, then transfers, invoices, customs declarations, attestations and financings; with
``--risk`` the regulator's limits and watch list first), signed with deterministic keys on a
fixed genesis shaped like ``init_testnet``'s (4 validators, the demo clients, the traders), so
two runs of any code version build the same transactions. Each pass starts from a fresh LevelDB
store holding genesis and the funding, then executes the load in blocks of ``--block``
transactions, reading committed state from LevelDB as the node does (``_limit._StoreState``)
and writing each block's changes back (untimed). Only ``execute_block`` is timed
(``time.process_time``: robust to other load on the machine); the figure is the median of the
passes, reported with their spread. ``--cached`` puts an in-memory read cache in front of
LevelDB, as the node's ledger has (``node.ledger._ReadCache``): closer to a live node, where
reads rarely reach LevelDB.

The digest is SHA-256 over, per block, every change (key and encoded value, deletes too) in
key order, every receipt (status, error code, result, events) and the validator-set change,
then the state root of the final state (the SMT over every key). Equal digests mean identical
writes, receipts, events and roots.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.execution import BlockContext, BlockResult, execute_block, genesis_state
from chainfin.genesis import Genesis
from chainfin.smt import EMPTY, SparseMerkleTree
from chainfin.store import state_db_key
from chainfin.types import Transaction
from contracts import CONTRACTS
from testnet.bench._limit import _StoreState, temp_store
from testnet.bench._workload import (
    TRADE_GAP,
    TRADE_GAP_S,
    build_workload,
    risk_setup,
    sender_count,
)
from testnet.launch import testnet_clients, testnet_genesis

__all__ = ["Bench", "Workload", "build", "run_pass", "measure", "main"]

CHAIN_ID = "chainfin-execbench-00000000"
GENESIS_TIME_MS = 1_790_000_000_000
FINGERPRINT_KEY = hashlib.sha256(b"chainfin exec bench fingerprint key").hexdigest()
RATE = 500  # tx/s the workload is shaped for (senders, trade gap), as the issue-14 bench
NODES = 4


def _ident(name: str) -> Identity:
    return Identity.from_seed_text("chainfin-exec-bench/" + name, name)


def bench_genesis(traders: int, ledger_format: int = 2) -> tuple[Genesis, dict[str, Identity]]:
    """A genesis shaped like ``init_testnet(nodes=4, extra_clients=traders)``'s, with
    deterministic keys, chain id, time and fingerprint key (and ``ledger_format``: decision
    95)."""
    nodes = [_ident(f"node{i}") for i in range(NODES)]
    clients = testnet_clients(NODES, traders)
    ids = {name: _ident(name) for name, *_ in clients}
    genesis = testnet_genesis(CHAIN_ID, GENESIS_TIME_MS, nodes, clients, ids, FINGERPRINT_KEY,
                              {"ledger_format": ledger_format})
    return genesis, ids


@dataclass
class Workload:
    """What one configuration executes: genesis, the untimed setup, the timed load."""

    genesis: Genesis
    setup: list[Transaction]
    load: list[Transaction]


def build(count: int, risk: bool, ledger_format: int = 2) -> Workload:
    """The bench's transactions at :data:`RATE` tx/s: ``count`` load transactions after the
    funding (and, with ``risk``, the regulator's limits and 10,000 watch-list entries)."""
    traders = sender_count(RATE)
    genesis, ids = bench_genesis(traders, ledger_format)
    senders = [ids[f"trader{i}"] for i in range(traders)]
    banks = [ids[f"bank{i}"] for i in range(NODES)]
    work = build_workload(CHAIN_ID, ids["usd_issuer"], senders, count, banks=banks,
                          customs=ids["customs"],
                          trade_gap=max(TRADE_GAP, int(RATE * TRADE_GAP_S)))
    setup = list(work.funding)
    if risk:
        setup += risk_setup(CHAIN_ID, ids["regulator"], [*senders, *banks],
                            bytes.fromhex(FINGERPRINT_KEY))
    # what a node executes: transactions decoded from their wire bytes
    return Workload(genesis, [Transaction.decode(t.encode()) for t in setup],
                    [Transaction.decode(t.encode()) for t in work.txs])


def _receipt_bytes(res: BlockResult) -> bytes:
    return codec.encode([[r.tx_id, r.sender, r.nonce, r.index, r.status, r.error_code,
                          r.error_message, r.result,
                          [[e.tx_id, e.contract, e.name, e.data] for e in r.events]]
                         for r in res.receipts])


def _block_digest(res: BlockResult) -> bytes:
    h = hashlib.sha256()
    for k in sorted(res.changes):
        v = res.changes[k]
        h.update(len(k).to_bytes(4, "big") + k)
        h.update(b"\xff" if v is None else len(v).to_bytes(4, "big") + v)
    h.update(_receipt_bytes(res))
    h.update(codec.encode([list(res.validator_set_change)]
                          if res.validator_set_change is not None else None))
    return h.digest()


class _CachedState:
    """Committed state as the node reads it (``node.ledger._ReadCache``): values recently read
    or written held in memory in front of LevelDB, the same bytes objects on every hit, and
    updated at each commit."""

    __slots__ = ("_store", "_data")

    def __init__(self, store: Any) -> None:
        self._store = _StoreState(store)
        self._data: dict[bytes, bytes | None] = {}

    def get_raw(self, key: bytes) -> bytes | None:
        try:
            return self._data[key]
        except KeyError:
            v = self._data[key] = self._store.get_raw(key)
            return v

    def commit(self, changes: dict[bytes, bytes | None]) -> None:
        self._data.update(changes)


@dataclass
class Pass:
    us_per_tx: float
    digest: str
    committed: int


def run_pass(work: Workload, block_txs: int, profile: cProfile.Profile | None = None,
             cached: bool = False) -> Pass:
    """Execute the load once on a fresh LevelDB state; time only ``execute_block``. With
    ``cached``, reads go through an in-memory read cache as the node's do."""
    g = work.genesis
    final: dict[bytes, bytes] = genesis_state(g)
    digest = hashlib.sha256()
    spent = 0.0
    committed = 0
    with temp_store("chainfin-execbench-") as store:
        state: Any = _CachedState(store) if cached else _StoreState(store)
        with store.write_batch() as b:
            for k, v in final.items():
                b.put(state_db_key(k), v)
        height = 0
        for timed, txs in ((False, work.setup), (True, work.load)):
            for i in range(0, len(txs), block_txs):
                height += 1
                block = txs[i:i + block_txs]
                ctx = BlockContext.from_genesis(g, height, g.genesis_time_ms + 1000 * height)
                if profile is not None and timed:
                    profile.enable()
                c0 = time.process_time()
                res = execute_block(state, block, ctx, CONTRACTS)
                c1 = time.process_time()
                if profile is not None and timed:
                    profile.disable()
                if timed:
                    spent += c1 - c0
                    committed += sum(1 for r in res.receipts if r.ok)
                digest.update(_block_digest(res))
                if cached:
                    state.commit(res.changes)
                with store.write_batch() as b:
                    for k, nv in res.changes.items():
                        if nv is None:
                            b.delete(state_db_key(k))
                            final.pop(k, None)
                        else:
                            b.put(state_db_key(k), nv)
                            final[k] = nv
    nodes: dict[bytes, bytes] = {}
    root = SparseMerkleTree(nodes).update(EMPTY, final, nodes)
    digest.update(root)
    return Pass(spent / len(work.load) * 1e6, digest.hexdigest(), committed)


@dataclass
class Bench:
    """One configuration's figures: median and spread of µs per tx, the digest."""

    risk: bool
    block_txs: int
    txs: int
    committed: int
    median_us: float
    min_us: float
    max_us: float
    passes_us: list[float]
    digest: str
    cached: bool = False


def measure(work: Workload, risk: bool, block_txs: int, passes: int,
            cached: bool = False) -> Bench:
    """``passes`` passes of :func:`run_pass`. Every pass must give the same digest."""
    runs = [run_pass(work, block_txs, cached=cached) for _ in range(passes)]
    digests = {r.digest for r in runs}
    if len(digests) != 1:
        raise AssertionError(f"passes disagree: {sorted(digests)}")
    us = [r.us_per_tx for r in runs]
    return Bench(risk, block_txs, len(work.load), runs[0].committed, statistics.median(us),
                 min(us), max(us), us, runs[0].digest, cached)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testnet.exec_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=6000, help="load transactions (default 6000)")
    ap.add_argument("--passes", type=int, default=5, help="timed passes per configuration")
    ap.add_argument("--block", default="21,500", help="block sizes, comma-separated")
    ap.add_argument("--risk", choices=("on", "off", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="300 txs, 1 pass: a smoke test")
    ap.add_argument("--profile", metavar="FILE",
                    help="also profile one pass per configuration (cProfile stats to FILE.<cfg>)")
    ap.add_argument("--cached", action="store_true",
                    help="reads through an in-memory cache in front of LevelDB, as the node's")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    count, passes = (300, 1) if a.quick else (a.count, a.passes)
    if count < 1 or passes < 1:
        ap.error("--count and --passes must be positive")
    sizes = [int(s) for s in a.block.split(",")]
    risks = {"on": [True], "off": [False], "both": [False, True]}[a.risk]
    out: list[Bench] = []
    for risk in risks:
        work = build(count, risk)
        for size in sizes:
            b = measure(work, risk, size, passes, a.cached)
            out.append(b)
            if a.profile:
                prof = cProfile.Profile()
                run_pass(work, size, prof, a.cached)
                fname = f"{a.profile}.risk{'on' if risk else 'off'}.b{size}"
                prof.dump_stats(fname)
                pstats.Stats(fname, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            if not a.json:
                print(f"{'cached ' if a.cached else ''}risk {'on ' if risk else 'off'} "
                      f"block {size:4d}: {b.median_us:7.1f} us/tx "
                      f"(min {b.min_us:.1f} max {b.max_us:.1f}, {passes} passes, "
                      f"{b.committed}/{b.txs} committed) digest {b.digest}", flush=True)
    if a.json:
        print(json.dumps([asdict(b) for b in out], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
