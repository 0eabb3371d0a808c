"""``chainfin bench``: an open-loop finality benchmark on a fresh local testnet of real processes.

::

    chainfin bench --nodes 4 --rate 500 --duration 30 [--json out.json] [--plot out.png]
    chainfin bench --nodes 4 --rate 200 --duration 30 --find-max [--confirm 2]

One run:

1. ``init_testnet`` in a temporary directory with ``S`` extra genesis identities (``trader*``, role
   exporter: they may transfer money and register trade documents), so no sender's per-sender
   limit ever binds and no setup transactions are needed to create them.
2. Pre-sign everything before the clock starts: one ``settlement.issue`` per sender (funding) and
   ``rate x duration`` load transactions, 70 % ``settlement.transfer`` between funded senders and
   30 % ``register`` work: trades (an invoice, then its customs declaration, the customs
   attestation and, for every other trade, a bank's financing of half of it, each step due
   ``TRADE_GAP_S`` seconds (at least ``TRADE_GAP`` load positions) after the one before, so it
   depends only on committed state); each one's JSON body is encoded once.
3. Measure ``limit_tps`` (below) while no node runs yet, so the machine is quiet.
4. Start the nodes, wait until they answer and are linked, fund the senders (``?wait=commit``).
5. Offer the load open-loop: transaction ``k`` is due at ``t0 + k / rate``, fixed in advance. A
   scheduler task sleeps until each due time and starts that submission as its own task, never
   waiting for earlier ones, so a slow system cannot slow the load down and hide its latency.
   Submissions go round-robin to the nodes as ``POST /v1/tx?wait=commit`` over one aiohttp
   session. A transaction's **finality** is the time from its *scheduled* send time to the
   response saying it committed: lag of the load generator itself counts against the result.
   Failed = a non-2xx answer, ``rejected``, the node's wait running out (``pending``), no answer
   within ``REQUEST_TIMEOUT_S``, or still open ``DRAIN_S`` after the last arrival.
6. Stop every node (also on Ctrl-C, SIGTERM or an error) and delete the directory
   (``CHAINFIN_BENCH_DIR=/path`` uses and keeps that directory instead, with the node logs).

``limit_tps`` is the physical limit on this machine: ``cores / (N x cost)``, where ``cost`` is the
minimal CPU time one node spends on one transaction: decode its wire bytes (and hash its id),
check its signature, execute it (``execute_block`` over blocks of ``max_block_txs`` on state read
from LevelDB), compute the block's transaction root, update the state SMT, and write block, tx
index, state and SMT nodes in one LevelDB batch. It is measured by a tight in-process loop over the
same pre-signed transactions, without networking, JSON or consensus. ``ratio_to_limit`` is
``throughput_tps / limit_tps``.

The load generator shares the machine with the nodes; its own CPU time and the nodes' (from
``/proc``) are reported with every run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import heapq
import json
import math
import os
import platform
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import IO, Any

from chainfin import codec, merkle
from chainfin.client import signed_headers
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.execution import BlockContext, execute_block, genesis_state
from chainfin.genesis import Genesis
from chainfin.smt import EMPTY, SparseMerkleTree, StoreNodes, put_nodes, reachable_records
from chainfin.types import Transaction
from contracts import CONTRACTS
from node.ledger import SMT_FLUSH_BLOCKS
from node.metrics import CPU_STAGES

__all__ = [
    "BenchResult",
    "LimitResult",
    "Outcome",
    "OpenLoopStats",
    "Workload",
    "arrival_times",
    "build_workload",
    "cli_bench",
    "finality_stats",
    "measure_limit",
    "open_loop",
    "percentile",
    "result_json",
    "run_bench",
    "JSON_KEYS",
]

#: The keys ``--json`` always writes (issue 7); more follow them.
JSON_KEYS = ("nodes", "offered_rate", "duration_s", "sent", "committed", "failed",
             "throughput_tps", "finality_ms", "limit_tps", "ratio_to_limit")

TRANSFER_SHARE = 0.7
TRADE_GAP = 250  # least load positions between the dependent steps of one trade
TRADE_GAP_S = 2.0  # ... and at least this long at the offered rate (p99 passes at <= 1 s)
DRAIN_S = 20.0  # after the last arrival, wait at most this long for outstanding answers
REQUEST_TIMEOUT_S = 20.0  # one submission's answer (the node's own wait=commit is 30 s)
READY_TIMEOUT_S = 60.0
FUND_TIMEOUT_S = 30.0
FUNDING_AMOUNT = 10**12  # minor units per sender: transfers never run out
MAX_STEPS = 10  # --find-max: rate steps at most
FIND_MAX_FACTOR = 1.5
#: --find-max's pass criterion (issue 7's sustained target)
MAX_P99_MS = 1000.0
#: issue 7's targets at 500 tx/s with 4 nodes on 2 cores
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
TARGET_RATIO = 0.5
LIMIT_SAMPLE = 4000  # load transactions the limit loop runs over (at most)

_JSON_HEADERS = {"Content-Type": "application/json"}


# ============================================================================ workload


@dataclass
class Workload:
    """Pre-signed transactions of one run: funding first, then the load (``bodies[k]`` is the
    JSON body of ``txs[k]``, ``kinds[k]`` its kind, ``transfer`` or ``register``)."""

    funding: list[Transaction]
    txs: list[Transaction]
    kinds: list[str]
    bodies: list[bytes] = field(default_factory=list)
    #: signs the run's reads (/metrics: any identity; RFC 9421)
    reader: Identity | None = None

    def encode_bodies(self) -> None:
        self.bodies = [json.dumps(tx.to_json(), separators=(",", ":")).encode()
                       for tx in self.txs]


def sender_count(rate: float) -> int:
    """How many distinct senders a run at ``rate`` tx/s uses: about one per 4 tx/s, 16..256."""
    return max(16, min(256, math.ceil(rate / 4)))


def build_workload(chain_id: str, issuer: Identity, senders: Sequence[Identity], count: int, *,
                   transfer_share: float = TRANSFER_SHARE, seed: int = 7,
                   currency: str = "USD", banks: Sequence[Identity] = (),
                   customs: Identity | None = None, trade_gap: int = TRADE_GAP) -> Workload:
    """Sign the funding (``issuer`` issues ``FUNDING_AMOUNT`` to each sender and bank) and
    ``count`` load transactions: transfers between senders and ``register`` work, in a shuffled
    mix with ``transfer_share`` transfers. Sender ``k % S`` signs load transaction ``k`` when it
    is a transfer or an invoice; every (sender, nonce) pair is unique (nonces are unique per
    sender, not ordered: a trade's later steps are signed with the invoice).

    Without ``banks`` and ``customs`` the register work is unique invoices. With them it is
    trades: an invoice opens one (its ``trade_id`` is known before it is sent), then at least
    ``trade_gap`` transactions later its customs declaration joins it, then customs attests it,
    then every other trade is financed at half its invoice by a bank (round robin) — each step
    signed in advance and due after the one it depends on has committed in a healthy run.
    Steps still waiting when the load ends are not sent (``count`` stays exact)."""
    if len(senders) < 2:
        raise ValueError("a workload needs at least two senders")
    rng = random.Random(seed)
    trading = bool(banks) and customs is not None
    funded = [*senders, *(banks if trading else ())]
    funding = [Transaction.create(issuer, chain_id, i + 1, "settlement", "issue",
                                  {"currency": currency, "to": s.public_key.hex(),
                                   "amount": FUNDING_AMOUNT})
               for i, s in enumerate(funded)]
    n_transfer = round(count * transfer_share)
    kinds = ["transfer"] * n_transfer + ["register"] * (count - n_transfer)
    rng.shuffle(kinds)
    hexes = [s.public_key.hex() for s in senders]
    nonces: dict[bytes, int] = {}
    txs: list[Transaction] = []
    #: (due position, seq, transaction) of signed trade steps waiting for their turn
    waiting: list[tuple[int, int, Transaction]] = []
    trades = 0

    def signed(who: Identity, contract: str, method: str, args: dict[str, Any]) -> Transaction:
        nonces[who.public_key] = nonces.get(who.public_key, 0) + 1
        return Transaction.create(who, chain_id, nonces[who.public_key], contract, method, args)

    for k, kind in enumerate(kinds):
        si = k % len(senders)
        if kind == "transfer":
            to = rng.randrange(len(senders) - 1)
            to += to >= si
            txs.append(signed(senders[si], "settlement", "transfer", {
                "to": hexes[to], "currency": currency, "amount": rng.randint(1, 1_000_000)}))
            continue
        if waiting and waiting[0][0] <= k:
            txs.append(heapq.heappop(waiting)[2])
            continue
        cents = rng.randint(10_000, 50_000_000)
        seller = senders[si].name or f"trader{si}"
        tx = signed(senders[si], "trade_documents", "register", {
            "doc_type": "invoice",
            "fields": {
                "seller": seller,
                "buyer": f"Importer {rng.randrange(50)} GmbH",
                "number": f"INV-{chain_id[-8:]}-{k:08d}",
                "issue_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "amount": f"{cents // 100:,}.{cents % 100:02d}",
                "currency": currency,
            },
            "content_hash": hashlib.sha256(f"{chain_id}/invoice/{k}".encode()).hexdigest(),
        })
        txs.append(tx)
        if trading:
            assert customs is not None
            trade_id = hashlib.sha256(tx.tx_id + (1).to_bytes(4, "big")).hexdigest()
            decl = signed(senders[si], "trade_documents", "register", {
                "doc_type": "customs_declaration", "trade_id": trade_id,
                "fields": {"declaration_number": f"CD-{chain_id[-8:]}-{k:08d}",
                           "exporter": seller, "amount": cents, "currency": currency},
                "content_hash": hashlib.sha256(f"{chain_id}/decl/{k}".encode()).hexdigest()})
            steps = [decl, signed(customs, "trade_documents", "attest", {
                "doc_id": decl.tx_id.hex(), "result": "match", "declared_amount": cents})]
            if trades % 2 == 0:
                steps.append(signed(banks[trades // 2 % len(banks)], "trade_documents",
                                    "request_financing", {
                                        "trade_id": trade_id, "amount": cents // 2,
                                        "currency": currency, "maturity_date": "2099-12-31"}))
            for i, step in enumerate(steps):
                heapq.heappush(waiting, (k + trade_gap * (i + 1), k * 4 + i, step))
            trades += 1
    return Workload(funding, txs, kinds)


#: With ``--risk``: watch-list entries the regulator adds before the load (none of them a party
#: of the load), in transactions of this many digests each.
RISK_WATCH_ENTRIES = 10_000
RISK_WATCH_PER_TX = 250
RISK_WINDOW_S = 24 * 3600


def risk_setup(chain_id: str, regulator: Identity, accounts: Sequence[Identity],
               fingerprint_key: bytes, *, currency: str = "USD",
               watch_entries: int = RISK_WATCH_ENTRIES) -> list[Transaction]:
    """The regulator's transactions that turn risk controls on for a run: every account gets a
    24 h cumulative-outflow limit and a velocity rule (both far above what the load sends, so
    every payment is checked and none refused), and ``watch_entries`` keyed hashes of names
    that no load transaction uses go on the watch list."""
    from contracts import risk

    calls: list[tuple[str, dict[str, Any]]] = []
    for who in accounts:
        for rule in ({"kind": "window_outflow", "currency": currency, "max": FUNDING_AMOUNT,
                      "window_s": RISK_WINDOW_S, "rule_id": "bench-outflow"},
                     {"kind": "velocity", "currency": currency, "max": 1_000_000,
                      "window_s": RISK_WINDOW_S, "rule_id": "bench-velocity"}):
            calls.append(("set_limit", {"subject": who.public_key.hex(), **rule}))
    key = risk.watch_key(fingerprint_key)
    digests = [risk.watch_digest(key, "name", f"bench watched party {i}")
               for i in range(watch_entries)]
    for i in range(0, len(digests), RISK_WATCH_PER_TX):
        calls.append(("add_watch", {"entries": digests[i:i + RISK_WATCH_PER_TX]}))
    txs = [Transaction.create(regulator, chain_id, k + 1, "risk", method, args)
           for k, (method, args) in enumerate(calls)]
    return txs


def arrival_times(count: int, rate: float) -> list[float]:
    """Open-loop arrival offsets in seconds: ``k / rate`` for k in 0..count-1, fixed in advance."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return [k / rate for k in range(count)]


# ============================================================================ the open loop


@dataclass
class OpenLoopStats:
    """What the scheduler did: ``tasks`` still running when it returned, and how late it started
    submissions compared to their due times (its own lag; it does not change finality, which is
    measured from the due time)."""

    tasks: set[asyncio.Task[None]]
    started: int
    max_lag_s: float
    lags_s: list[float]


async def open_loop(
    schedule: Sequence[float],
    submit: Callable[[int, float], Awaitable[None]],
    *,
    clock: Callable[[], float] | None = None,
    start: float | None = None,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
    batch: Callable[[list[int]], None] | None = None,
    tick: float = 0.0,
) -> OpenLoopStats:
    """Start ``submit(k, due)`` as its own task at ``due = start + schedule[k]`` for every k.

    Never awaits a submission: a slow answer cannot delay later arrivals. When the scheduler is
    late (the machine is busy), every submission already due starts at once, then it yields to
    the loop. ``clock`` defaults to ``time.perf_counter`` (uvloop's ``loop.time()`` has only
    millisecond resolution); ``start`` and ``due`` are on that clock; ``sleep`` (default
    ``asyncio.sleep``) waits on it.
    With ``batch``, each wake-up instead hands every index already due to ``batch(ks)`` in one
    call (no task per submission; ``submit`` is not used), and the scheduler sleeps at least
    ``tick`` seconds between wake-ups: a client that sends what is due every ``tick``.
    Returns the tasks still running (the caller drains or cancels them).
    """
    loop = asyncio.get_running_loop()
    now = clock or time.perf_counter
    nap = sleep or asyncio.sleep
    t0 = now() if start is None else start
    tasks: set[asyncio.Task[None]] = set()
    lags: list[float] = []
    n = len(schedule)
    k = 0
    while batch is not None and k < n:
        t = now()
        ks = []
        while k < n and t0 + schedule[k] <= t:
            lags.append(t - (t0 + schedule[k]))
            ks.append(k)
            k += 1
        if ks:
            batch(ks)
        if k < n:
            await nap(max(tick, t0 + schedule[k] - now()))
    while k < n:
        t = now()
        fired = 0
        while k < n and t0 + schedule[k] <= t:
            due = t0 + schedule[k]
            lags.append(t - due)
            task = loop.create_task(submit(k, due))  # type: ignore[arg-type]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
            fired += 1
            if fired >= 256:  # a long catch-up burst: let the loop breathe
                break
        if k < n:
            await nap(max(0.0, t0 + schedule[k] - now()))
    return OpenLoopStats(tasks, n, max(lags, default=0.0), lags)


# ============================================================================ statistics


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of already sorted values, linear interpolation between
    closest ranks (numpy's default); None for no values."""
    if not 0 <= p <= 100:
        raise ValueError("p is between 0 and 100")
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return float(sorted_values[0])
    pos = (n - 1) * p / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def finality_stats(values_ms: Sequence[float]) -> dict[str, float | None]:
    """min/p50/p95/p99/max/mean of finality samples in ms (None each when there are none)."""
    v = sorted(values_ms)

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "min": r(v[0]) if v else None,
        "p50": r(percentile(v, 50)),
        "p95": r(percentile(v, 95)),
        "p99": r(percentile(v, 99)),
        "max": r(v[-1]) if v else None,
        "mean": r(sum(v) / len(v)) if v else None,
    }


# ============================================================================ limit_tps


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


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _StoreState:
    """Committed state read from LevelDB, as the node reads it (``s/`` + storage key)."""

    __slots__ = ("_get",)

    def __init__(self, store: Any) -> None:
        self._get = store.get

    def get_raw(self, key: bytes) -> bytes | None:
        v: bytes | None = self._get(b"s/" + key)
        return v


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
    ``store`` (encode the block record and write it with the tx index, state changes and SMT
    nodes in one unsynced LevelDB batch, as the ledger's commit does).
    """
    from chainfin.store import PlyvelStore  # here: plyvel is only needed by this measurement

    if not txs:
        raise ValueError("no transactions to measure")
    bsize = block_txs or genesis.params.max_block_txs
    fkey = bytes.fromhex(genesis.fingerprint_key)
    clock = time.process_time
    with tempfile.TemporaryDirectory(prefix="chainfin-limit-", dir=directory) as tmp:
        store = PlyvelStore(os.path.join(tmp, "db"))
        try:
            on_disk = StoreNodes(store)
            pending: dict[bytes, bytes] = {}  # SMT records not written yet, as the ledger keeps

            class _Nodes:
                @staticmethod
                def get(key: bytes) -> bytes | None:
                    v = pending.get(key)
                    return v if v is not None else on_disk.get(key)

            smt = SparseMerkleTree(_Nodes())
            state = _StoreState(store)

            def flush(root_: bytes) -> None:  # the ledger's flush_smt: the live records only
                with store.write_batch(sync=False) as b:
                    put_nodes(b, reachable_records(root_, pending))
                pending.clear()

            def commit(height: int, block: Sequence[Transaction], result: Any,
                       nodes_: dict[bytes, bytes]) -> None:
                record = codec.encode({
                    "block": {"height": height, "txs": [t.encode() for t in block]},
                    "receipts": [r.to_json() for r in result.receipts],
                })
                with store.write_batch(sync=False) as b:
                    b.put(b"b/" + height.to_bytes(8, "big"), record)
                    for i, t in enumerate(block):
                        b.put(b"t/" + t.tx_id, codec.encode([height, i]))
                    for k, v in result.changes.items():
                        if v is None:
                            b.delete(b"s/" + k)
                        else:
                            b.put(b"s/" + k, v)
                    put_nodes(b, nodes_)

            # untimed: genesis and funding
            g = genesis_state(genesis)
            new0: dict[bytes, bytes] = {}
            root = smt.update(EMPTY, dict(g), new0)
            with store.write_batch() as b:
                for k, v in g.items():
                    b.put(b"s/" + k, v)
                put_nodes(b, new0)
            ts = genesis.genesis_time_ms
            height = 0
            for i in range(0, len(funding), bsize):
                height += 1
                block = list(funding[i:i + bsize])
                ctx = BlockContext(genesis.chain_id, height, ts + height, b"", fkey)
                res = execute_block(state, block, ctx, CONTRACTS)
                new: dict[bytes, bytes] = {}
                root = smt.update(root, res.changes, new)
                commit(height, block, res, new)

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
                ctx = BlockContext(genesis.chain_id, height, ts + height, b"", fkey)
                c0 = clock()
                res = execute_block(state, block, ctx, CONTRACTS)
                c1 = clock()
                merkle.root([t.tx_id for t in block])
                c2 = clock()
                new = {}
                root = smt.update(root, res.changes, new)
                c3 = clock()
                commit(height, block, res, {})
                pending.update(new)
                if height % SMT_FLUSH_BLOCKS == 0 or i + bsize >= len(decoded):
                    flush(root)
                c4 = clock()
                spent["execute"] += c1 - c0
                spent["tx_root"] += c2 - c1
                spent["smt"] += c3 - c2
                spent["store"] += c4 - c3
                committed += sum(1 for r in res.receipts if r.ok)
        finally:
            store.close()
    n = len(txs)
    return LimitResult(nodes, cpus or cpu_count(), n, bsize, committed / n,
                       {k: v / n * 1e6 for k, v in spent.items()})


# ============================================================================ one run


@dataclass
class Outcome:
    """One load transaction: offsets in seconds from the run's start (its first due time)."""

    due: float
    sent: float | None = None
    done: float | None = None
    status: str = ""  # committed | rejected | error | timeout ("" while in flight)
    code: str | None = None
    height: int | None = None

    @property
    def finality_ms(self) -> float | None:
        if self.status != "committed" or self.done is None:
            return None
        return (self.done - self.due) * 1000.0


@dataclass
class BenchResult:
    nodes: int
    offered_rate: float
    duration_s: float
    kinds: list[str]
    outcomes: list[Outcome]
    limit: LimitResult | None = None
    loadgen: dict[str, Any] = field(default_factory=dict)
    node_cpu: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    senders: int = 0
    api: str = "rest"  # how the load generator submits: REST requests or the WebSocket stream
    #: risk controls on: every sender under an outflow limit and a velocity rule, and
    #: RISK_WATCH_ENTRIES watch-list entries (:func:`risk_setup`)
    risk: bool = False
    #: the same measurement with blocks of the size the run actually had (its per-block costs
    #: show how far small blocks are from the minimal cost)
    limit_observed: LimitResult | None = None

    # -------------------------------------------------------------- derived figures

    def _select(self, kind: str | None) -> list[Outcome]:
        if kind is None:
            return self.outcomes
        return [o for o, k in zip(self.outcomes, self.kinds, strict=True) if k == kind]

    def sent(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.sent is not None)

    def committed(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.status == "committed")

    def failed(self, kind: str | None = None) -> int:
        return sum(1 for o in self._select(kind) if o.status != "committed")

    def finalities_ms(self, kind: str | None = None) -> list[float]:
        return [f for o in self._select(kind) if (f := o.finality_ms) is not None]

    def throughput_tps(self, kind: str | None = None) -> float:
        """Committed per second, from the first due time to the last commit (Caliper's way)."""
        sel = self._select(kind)
        done = [o.done for o in sel if o.status == "committed" and o.done is not None]
        if not done:
            return 0.0
        first = min(o.due for o in sel)
        span = max(done) - first
        return len(done) / span if span > 0 else 0.0

    def send_rate(self, kind: str | None = None) -> float:
        sent = [o.sent for o in self._select(kind) if o.sent is not None]
        if len(sent) < 2:
            return 0.0
        span = max(sent) - min(sent)
        return (len(sent) - 1) / span if span > 0 else 0.0

    def blocks(self) -> dict[str, Any]:
        """Blocks that held the load: how many, and their mean size (from the answers)."""
        heights = Counter(o.height for o in self.outcomes
                          if o.status == "committed" and o.height is not None)
        if not heights:
            return {"count": 0, "mean_txs": None, "max_txs": None}
        return {"count": len(heights), "mean_txs": round(sum(heights.values()) / len(heights), 2),
                "max_txs": max(heights.values())}

    def errors(self) -> dict[str, int]:
        c = Counter(f"{o.status}:{o.code}" if o.code else o.status
                    for o in self.outcomes if o.status != "committed")
        return dict(sorted(c.items()))

    def passed(self, max_p99_ms: float = MAX_P99_MS) -> bool:
        """The sustained target: nothing failed and p99 finality within ``max_p99_ms``."""
        p99 = finality_stats(self.finalities_ms())["p99"]
        return self.failed() == 0 and self.committed() > 0 and p99 is not None \
            and p99 <= max_p99_ms


def result_json(r: BenchResult) -> dict[str, Any]:
    """The ``--json`` document: :data:`JSON_KEYS` first, then details."""
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    limit = r.limit.limit_tps if r.limit is not None else None
    ratio = tput / limit if limit else None
    by_kind = {}
    for kind in sorted(set(r.kinds)):
        by_kind[kind] = {"sent": r.sent(kind), "committed": r.committed(kind),
                         "failed": r.failed(kind),
                         "throughput_tps": round(r.throughput_tps(kind), 2),
                         "finality_ms": finality_stats(r.finalities_ms(kind))}
    out: dict[str, Any] = {
        "nodes": r.nodes,
        "offered_rate": r.offered_rate,
        "duration_s": r.duration_s,
        "sent": r.sent(),
        "committed": r.committed(),
        "failed": r.failed(),
        "throughput_tps": round(tput, 2),
        "finality_ms": fin,
        "limit_tps": None if limit is None else round(limit, 1),
        "ratio_to_limit": None if ratio is None else round(ratio, 4),
        # details
        "rejected": sum(1 for o in r.outcomes if o.status == "rejected"),
        "blocks": r.blocks(),
        "errors": r.errors(),
        "send_rate_tps": round(r.send_rate(), 2),
        "by_kind": by_kind,
        "by_entry_node": by_entry_node(r),
        "senders": r.senders,
        "api": r.api,
        "risk": r.risk,
        "limit": None if r.limit is None else r.limit.to_json(),
        "limit_breakdown_us": None if r.limit is None else
        {k: round(v, 2) for k, v in r.limit.breakdown_us.items()},
        "limit_at_observed_block_size": None if r.limit_observed is None
        else r.limit_observed.to_json(),
        "targets": targets(r),
        "loadgen": r.loadgen,
        "node_cpu": r.node_cpu,
        "machine": r.machine,
    }
    return out


def by_entry_node(r: BenchResult) -> list[dict[str, Any]]:
    """Per node that received the submissions (round-robin: load tx k went to node k % N): a
    node that falls behind answers its own ``wait=commit`` requests late or not at all."""
    out = []
    for i in range(r.nodes):
        sel = r.outcomes[i::r.nodes]
        fin = sorted(f for o in sel if (f := o.finality_ms) is not None)
        out.append({"node": i, "sent": sum(1 for o in sel if o.sent is not None),
                    "committed": sum(1 for o in sel if o.status == "committed"),
                    "failed": sum(1 for o in sel if o.status != "committed"),
                    "p50_ms": _r(percentile(fin, 50)), "p99_ms": _r(percentile(fin, 99))})
    return out


def targets(r: BenchResult) -> dict[str, Any]:
    """Issue 7's targets, each with its measured value and whether it holds."""
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    ratio = tput / r.limit.limit_tps if r.limit is not None else None
    p50, p99 = fin["p50"], fin["p99"]
    return {
        "nothing_failed": r.failed() == 0,
        "p50_le_50ms": p50 is not None and p50 <= TARGET_P50_MS,
        "p99_le_250ms": p99 is not None and p99 <= TARGET_P99_MS,
        "p99_le_1s": p99 is not None and p99 <= MAX_P99_MS,
        "ratio_ge_0.5": ratio is not None and ratio >= TARGET_RATIO,
    }


# ============================================================================ process CPU


def _clk_tck() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _clk_tck()
    except (IndexError, ValueError):
        return None


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, None if unreadable."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    vals = [float(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)
    total = sum(vals[:8])
    return total - idle, total


def busy_share(seconds: float = 1.0) -> float | None:
    """How busy the whole machine is over ``seconds`` (0..1), None without /proc/stat."""
    a = machine_busy()
    time.sleep(seconds)
    b = machine_busy()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return round((b[0] - a[0]) / (b[1] - a[1]), 4)


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    loop = "asyncio"
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: F401

        loop = "uvloop"
    return {"cpus": cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "platform": platform.platform(), "client_loop": loop}


# ============================================================================ progress


class Progress:
    """A one-line bar on stderr while a run goes (a TTY), else a plain line every few seconds."""

    def __init__(self, label: str, total: int, duration: float, stream: IO[str] | None = None,
                 tty: bool | None = None, every_s: float = 5.0) -> None:
        self.label = label
        self.total = total
        self.duration = duration
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s if not self.tty else 0.25
        self._last_len = 0

    def line(self, elapsed: float, outcomes: Sequence[Outcome], width: int = 24) -> str:
        sent = committed = failed = 0
        recent: list[float] = []
        for o in outcomes:
            if o.sent is None:
                continue
            sent += 1
            if o.status == "committed":
                committed += 1
            elif o.status:
                failed += 1
        for o in outcomes[max(0, sent - 2000):sent]:
            f = o.finality_ms
            if f is not None:
                recent.append(f)
        recent.sort()
        p50, p99 = percentile(recent, 50), percentile(recent, 99)
        frac = min(1.0, elapsed / self.duration) if self.duration > 0 else 1.0
        fill = int(frac * width)
        bar = "#" * fill + "-" * (width - fill)
        lat = (f" p50 {p50:.0f}ms p99 {p99:.0f}ms" if p50 is not None and p99 is not None
               else "")
        return (f"{self.label} [{bar}] {elapsed:5.1f}/{self.duration:g}s sent {sent}/"
                f"{self.total} ok {committed} failed {failed} in-flight "
                f"{sent - committed - failed}{lat}")

    def show(self, elapsed: float, outcomes: Sequence[Outcome]) -> None:
        text = self.line(elapsed, outcomes)
        if self.tty:
            pad = max(0, self._last_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._last_len:
            self.stream.write("\n")
            self.stream.flush()
            self._last_len = 0


def _say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ============================================================================ a lean HTTP client


class HttpError(Exception):
    """The lean client's transport failure (connection refused/lost, malformed answer)."""


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, answer parsed in place."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        w = self.waiter
        if w is not None and not w.done():
            w.set_exception(HttpError(f"connection lost: {exc or 'closed by the node'}"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        w = self.waiter
        if w is None or w.done():
            return
        try:
            parsed = _parse_response(self.buf)
        except HttpError as e:
            w.set_exception(e)
            self.close()
            return
        if parsed is not None:
            status, body, keep = parsed
            self.keep_alive = keep
            self.buf.clear()
            w.set_result((status, body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _parse_response(buf: bytearray) -> tuple[int, bytes, bool] | None:
    """(status, body, keep-alive) of a complete HTTP/1.1 response in ``buf``, None while it is
    incomplete. Content-Length and chunked bodies.

    Raises:
        HttpError: not an HTTP/1.x response.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise HttpError("response header too large")
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HttpError(f"not an HTTP response: {head[0][:60]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise HttpError(f"bad status line {head[0][:60]!r}") from None
    length: int | None = None
    chunked = False
    keep = parts[0] == "HTTP/1.1"
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection":
            keep = value.lower() != "close"
    start = end + 4
    if chunked:
        body = bytearray()
        pos = start
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            if len(buf) < eol + 2 + size + 2:
                return None
            if size == 0:
                return status, bytes(body), keep
            body += buf[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    if length is None:
        raise HttpError("response without Content-Length")
    if len(buf) < start + length:
        return None
    return status, bytes(buf[start:start + length]), keep


class LeanClient:
    """Keep-alive HTTP/1.1 connections to a few ``host:port`` s for pre-built requests. About a
    quarter of aiohttp's client CPU per request: the load generator shares the cores with the
    nodes, so its cost is the measurement's. At most ``max_conns`` connections per address;
    more concurrent requests wait for one (and that wait counts against finality)."""

    def __init__(self, max_conns: int = 4096, ssl: Any = None) -> None:
        self.max_conns = max_conns
        self._ssl = ssl  # an ssl.SSLContext for https:// nodes (their CA), else plain TCP
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._open: dict[tuple[str, int], int] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._all: set[_Conn] = set()

    @staticmethod
    def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
        return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body

    async def request(self, host: str, port: int, raw: bytes, timeout: float
                      ) -> tuple[int, bytes]:
        """Send ``raw`` (a whole request) and return (status, body).

        Raises:
            TimeoutError: no complete answer within ``timeout`` s.
            HttpError / OSError: the connection failed.
        """
        addr = (host, port)
        slots = self._slots.get(addr)
        if slots is None:
            slots = self._slots[addr] = asyncio.Semaphore(self.max_conns)
        loop = asyncio.get_running_loop()
        async with slots:
            idle = self._idle.setdefault(addr, [])
            while True:
                conn = None
                while idle:
                    c = idle.pop()
                    if not c.closed:
                        conn = c
                        break
                fresh = conn is None
                if conn is None:
                    _, conn = await loop.create_connection(
                        _Conn, host, port, ssl=self._ssl,
                        server_hostname=host if self._ssl is not None else None)
                    self._all.add(conn)
                fut: asyncio.Future[tuple[int, bytes]] = loop.create_future()
                conn.waiter = fut
                assert conn.transport is not None
                conn.transport.write(raw)
                try:
                    status, body = await asyncio.wait_for(fut, timeout)
                except HttpError:
                    conn.close()
                    self._all.discard(conn)
                    if not fresh and not conn.buf:
                        continue  # a kept-alive connection the node had closed: retry once anew
                    raise
                except BaseException:
                    conn.close()
                    self._all.discard(conn)
                    raise
                break
            conn.waiter = None
            if conn.keep_alive and not conn.closed:
                idle.append(conn)
            else:
                conn.close()
                self._all.discard(conn)
            return status, body

    def close(self) -> None:
        for c in list(self._all):
            c.close()
        self._all.clear()
        self._idle.clear()


#: ``--api stream``: the load generator sends what is due every 5 ms, one message (a JSON array
#: of envelopes) per node, as a payment engine that batches its submissions would
STREAM_TICK_S = 0.005
#: at most this many envelopes per message (a node takes up to 1,000 and 1 MiB per message)
STREAM_MESSAGE_TXS = 500
#: how the load generator submits (``--api``): one ``POST /v1/tx?wait=commit`` per transaction
#: on keep-alive connections, or messages on one ``/v1/tx/stream`` WebSocket per node
APIS = ("rest", "stream")
API_NAMES = {"rest": "REST (POST /v1/tx?wait=commit)", "stream": "the /v1/tx/stream WebSocket"}


class StreamClient:
    """One WebSocket per node to ``/v1/tx/stream``. :meth:`send_many` writes envelopes on a
    node's socket as one message; the node's answers (JSON arrays, each answer with the
    ``seq`` of its envelope) go to ``on_answer(key, answer)`` as they arrive, and to
    ``on_lost(key)`` for every send still unanswered when a socket closes. No future, task or
    timer per transaction: the load generator shares the cores with the nodes."""

    def __init__(self, session: Any, urls: Sequence[str],
                 on_answer: Callable[[int, dict[str, Any]], None],
                 on_lost: Callable[[int], None]) -> None:
        self._session = session
        self._urls = list(urls)
        self._socks: list[Any] = []
        self._next = [0] * len(urls)
        self._waiting: list[dict[int, int]] = [{} for _ in urls]  # seq -> key
        self._readers: list[asyncio.Task[None]] = []
        import aiohttp

        self._text = aiohttp.WSMsgType.TEXT
        self._on_answer = on_answer
        self._on_lost = on_lost
        self.outstanding = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def open(self) -> None:
        for i, u in enumerate(self._urls):
            self._socks.append(await self._session.ws_connect(u + "/v1/tx/stream",
                                                              max_msg_size=0))
            self._readers.append(asyncio.get_running_loop().create_task(self._read(i)))

    def _settled(self, n: int) -> None:
        self.outstanding -= n
        if self.outstanding <= 0:
            self.idle.set()

    async def _read(self, i: int) -> None:
        ws, waiting = self._socks[i], self._waiting[i]
        try:
            async for msg in ws:
                if msg.type != self._text:
                    continue
                answered = 0
                for a in json.loads(msg.data):
                    key = waiting.pop(a.get("seq"), None)
                    if key is not None:
                        answered += 1
                        self._on_answer(key, a)
                self._settled(answered)
        finally:
            lost = list(waiting.values())
            waiting.clear()
            for key in lost:
                self._on_lost(key)
            self._settled(len(lost))

    async def send_many(self, i: int, keys: Sequence[int], bodies: Sequence[str]) -> None:
        """Write ``bodies`` (one envelope each, for ``keys``) on node ``i``'s socket as one
        message: a JSON array, whose envelopes the node numbers one ``seq`` each."""
        seq = self._next[i]
        self._next[i] = seq + len(keys)
        waiting = self._waiting[i]
        for key in keys:
            waiting[seq] = key
            seq += 1
        self.outstanding += len(keys)
        self.idle.clear()
        await self._socks[i].send_str("[" + ",".join(bodies) + "]")

    async def close(self) -> None:
        for ws in self._socks:
            await ws.close()
        for t in self._readers:
            t.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def _classify_stream(a: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """(status, error code, height) of one answer of ``/v1/tx/stream``."""
    if a.get("status") == "refused":
        return _classify(int(a.get("http_status") or 400), {"error": a.get("error")})
    return _classify(200, a)


# ============================================================================ the load phase


async def _post(session: Any, url: str, body: bytes, timeout: float) -> tuple[int, Any]:
    import aiohttp

    async with session.post(url, data=body, headers=_JSON_HEADERS,
                            timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        raw = await resp.read()
        status = resp.status
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def _classify(status: int, body: Any) -> tuple[str, str | None, int | None]:
    """(status, error code, height) of one answer to ``POST /v1/tx?wait=commit``."""
    if not isinstance(body, dict):
        return "error", f"http_{status}", None
    if status >= 300:
        err = body.get("error")
        code = err.get("code") if isinstance(err, dict) else None
        return "error", str(code or f"http_{status}"), None
    st = body.get("status")
    err = body.get("error")
    code = str(err.get("code")) if isinstance(err, dict) and err.get("code") else None
    height = body.get("height") if isinstance(body.get("height"), int) else None
    if st == "committed":
        return "committed", None, height
    if st == "rejected":
        return "rejected", code or "rejected", height
    return "timeout", code or f"status_{st}", height


_CPU_LINE = re.compile(r'^chainfin_cpu_seconds_total\{stage="([a-z_]+)"\} ([0-9.e+-]+)$', re.M)


async def _cpu_stages(session: Any, urls: Sequence[str], reader: Identity | None = None
                      ) -> list[dict[str, float] | None]:
    """Each node's CPU seconds by pipeline stage (``chainfin_cpu_seconds_total`` of /metrics),
    or None for a node that does not answer."""
    import aiohttp

    async def one(u: str) -> dict[str, float] | None:
        url = u + "/metrics"
        headers = signed_headers(reader, "GET", url) if reader is not None else None
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5),
                                   headers=headers) as r:
                text = await r.text()
        except (TimeoutError, aiohttp.ClientError):
            return None
        return {k: float(v) for k, v in _CPU_LINE.findall(text)} or None

    return list(await asyncio.gather(*(one(u) for u in urls)))


def stage_breakdown(before: Sequence[dict[str, float] | None],
                    after: Sequence[dict[str, float] | None], committed: int) -> dict[str, float]:
    """CPU per committed transaction by stage, summed over the nodes that answered both times
    (us, all nodes together, like ``cpu_us_per_committed_tx_all_nodes``)."""
    out: dict[str, float] = {}
    if not committed:
        return out
    for a, b in zip(before, after, strict=True):
        if a is None or b is None:
            continue
        for k, v in b.items():
            out[k] = out.get(k, 0.0) + max(0.0, v - a.get(k, 0.0))
    return {k: round(v / committed * 1e6, 1) for k, v in out.items()}


async def _wait_linked(session: Any, urls: Sequence[str], timeout: float) -> None:
    """Until every node reports all others as peers (bounded)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    want = len(urls) - 1
    pending = list(urls)
    while pending:
        for u in list(pending):
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                async with session.get(u + "/v1/status",
                                       timeout=aiohttp.ClientTimeout(total=2)) as r:
                    st = await r.json()
                if len(st.get("peers") or []) >= want:
                    pending.remove(u)
        if not pending:
            return
        if loop.time() > deadline:
            raise ChainfinError(f"{pending[0]} did not link to all {want} peers within "
                                f"{timeout:g}s")
        await asyncio.sleep(0.1)


async def _fund(session: Any, urls: Sequence[str], funding: Sequence[Transaction]) -> None:
    async def one(k: int, tx: Transaction) -> tuple[str, str | None]:
        body = json.dumps(tx.to_json()).encode()
        url = urls[k % len(urls)] + "/v1/tx?wait=commit"
        try:
            status, answer = await _post(session, url, body, FUND_TIMEOUT_S)
        except Exception as e:  # any failure to fund aborts the run below
            return "error", type(e).__name__
        st, code, _ = _classify(status, answer)
        return st, code

    results = await asyncio.gather(*(one(k, tx) for k, tx in enumerate(funding)))
    bad = [r for r in results if r[0] != "committed"]
    if bad:
        raise ChainfinError(f"funding failed for {len(bad)} of {len(funding)} senders "
                            f"(first: {bad[0][0]} {bad[0][1]})")


async def _load_phase(urls: Sequence[str], work: Workload, rate: float, duration: float,
                      pids: Sequence[int | None], label: str,
                      progress: bool = True, api: str = "rest", ssl_ctx: Any = None
                      ) -> tuple[list[Outcome], dict[str, Any], dict[str, Any]]:
    """Link check, funding, then the open-loop load and the drain. Returns the outcomes, the
    load generator's figures and the nodes' CPU figures. ``ssl_ctx``: the client context for
    https:// nodes (the testnet's CA)."""
    import aiohttp

    conn = aiohttp.TCPConnector(limit=4096, limit_per_host=0, force_close=False,
                                **({"ssl": ssl_ctx} if ssl_ctx is not None else {}))
    async with aiohttp.ClientSession(connector=conn) as session:
        await _wait_linked(session, urls, READY_TIMEOUT_S)
        await _fund(session, urls, work.funding)

        loop = asyncio.get_running_loop()
        clock = time.perf_counter
        schedule = arrival_times(len(work.txs), rate)
        addrs = []
        for u in urls:
            if not u.startswith("http://") and not (u.startswith("https://") and ssl_ctx):
                raise ChainfinError(f"an https:// node needs the CA's context: {u}")
            hp = u.split("://", 1)[1].rstrip("/")
            host, _, port = hp.rpartition(":")
            addrs.append((host, int(port)))
        n_nodes = len(addrs)
        # whole requests (or stream messages) built before the clock starts: the load generator
        # only writes them
        requests = [LeanClient.request_bytes(*addrs[k % n_nodes], "/v1/tx?wait=commit", b)
                    for k, b in enumerate(work.bodies)] if api == "rest" else []
        outcomes = [Outcome(due=t) for t in schedule]
        client = LeanClient(ssl=ssl_ctx)
        start = 0.0

        def on_answer(k: int, a: dict[str, Any]) -> None:
            o = outcomes[k]
            o.done = clock() - start
            if o.sent is not None and o.done - o.sent > REQUEST_TIMEOUT_S:
                o.status, o.code = "timeout", "client_timeout"  # as a REST client gives up
            else:
                o.status, o.code, o.height = _classify_stream(a)

        def on_lost(k: int) -> None:
            o = outcomes[k]
            if not o.status:  # (not one the drain already gave up on)
                o.status, o.code, o.done = "error", "connection_lost", clock() - start

        stream = StreamClient(session, urls, on_answer, on_lost) if api == "stream" else None
        texts = [b.decode() for b in work.bodies] if stream is not None else []
        if stream is not None:
            await stream.open()
        start = clock() + 0.05

        sends: set[asyncio.Task[None]] = set()

        async def send_stream(i: int, keys: list[int]) -> None:
            assert stream is not None
            try:
                await stream.send_many(i, keys, [texts[k] for k in keys])
            except (ConnectionError, RuntimeError):  # the socket closed under us
                for k in keys:
                    on_lost(k)

        def submit_stream(ks: list[int]) -> None:
            """Everything due at this wake-up: one message per node."""
            sent = clock() - start
            per_node: list[list[int]] = [[] for _ in range(n_nodes)]
            for k in ks:
                outcomes[k].sent = sent
                per_node[k % n_nodes].append(k)
            for i, keys in enumerate(per_node):
                for j in range(0, len(keys), STREAM_MESSAGE_TXS):  # a long catch-up: chunks
                    task = loop.create_task(send_stream(i, keys[j:j + STREAM_MESSAGE_TXS]))
                    sends.add(task)
                    task.add_done_callback(sends.discard)

        async def submit(k: int, due: float) -> None:
            o = outcomes[k]
            o.sent = clock() - start
            host, port = addrs[k % n_nodes]
            try:
                status, raw = await client.request(host, port, requests[k], REQUEST_TIMEOUT_S)
            except TimeoutError:
                o.status, o.code = "timeout", "client_timeout"
            except HttpError as e:
                # "reset": the node dropped a new connection before answering (e.g. its listen
                # backlog overflowed); "lost": it closed one while the request waited
                o.status, o.code = "error", "connection_reset" if e.args and "reset" in str(
                    e.args[0]).lower() else "connection_lost"
            except OSError as e:
                o.status, o.code = "error", f"os_{e.errno}"
            else:
                try:
                    answer = json.loads(raw) if raw else None
                except ValueError:
                    answer = None
                o.status, o.code, o.height = _classify(status, answer)
            o.done = clock() - start

        bar = Progress(label, len(schedule), duration) if progress else None

        async def show() -> None:
            assert bar is not None
            while True:
                await asyncio.sleep(bar.every_s)
                bar.show(clock() - start, outcomes)

        stages0 = await _cpu_stages(session, urls, work.reader)
        cpu0 = time.process_time()
        node0 = [proc_cpu_s(p) if p else None for p in pids]
        busy0 = machine_busy()
        wall0 = time.monotonic()
        shower = loop.create_task(show()) if bar is not None else None
        try:
            stats = await open_loop(schedule, submit, clock=clock, start=start,
                                    batch=None if stream is None else submit_stream,
                                    tick=STREAM_TICK_S)
            drain_from = clock()
            if stats.tasks or sends:
                await asyncio.wait(set(stats.tasks) | sends, timeout=DRAIN_S)
            if stream is not None:  # the answers still owed, within the same drain limit
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.idle.wait(),
                                           max(0.0, DRAIN_S - (clock() - drain_from)))
            undrained = list(stats.tasks)
            for t in undrained:
                t.cancel()
            if undrained:
                await asyncio.gather(*undrained, return_exceptions=True)
            for o in outcomes:
                if not o.status:
                    o.status, o.code = "timeout", "drain_timeout"
            drain_s = clock() - drain_from
        finally:
            client.close()
            if stream is not None:
                await stream.close()
            if shower is not None:
                shower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await shower
            if bar is not None:
                bar.show(clock() - start, outcomes)
                bar.close()
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        node1 = [proc_cpu_s(p) if p else None for p in pids]
        busy1 = machine_busy()
        stages1 = await _cpu_stages(session, urls, work.reader)

    lags = sorted(stats.lags_s)
    loadgen = {
        "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
        "cpu_share_of_machine": round(cpu / (wall * cpu_count()), 4) if wall > 0 else None,
        "cpu_us_per_tx": round(cpu / len(outcomes) * 1e6, 1) if outcomes else None,
        "schedule_lag_ms": {"p50": _r(percentile(lags, 50), 1000),
                            "p99": _r(percentile(lags, 99), 1000),
                            "max": _r(stats.max_lag_s, 1000)},
        "drain_s": round(drain_s, 3),
    }
    per_node = [None if a is None or b is None else round(b - a, 3)
                for a, b in zip(node0, node1, strict=True)]
    total = sum(x for x in per_node if x is not None)
    committed = sum(1 for o in outcomes if o.status == "committed")
    node_cpu: dict[str, Any] = {
        "cpu_s": per_node, "total_cpu_s": round(total, 3),
        "cpu_us_per_committed_tx_all_nodes": round(total / committed * 1e6, 1)
        if committed else None,
        # the rate at which the nodes alone would fill every core at this run's CPU per tx: a
        # figure other processes on the machine do not distort (latency figures they do)
        "capacity_estimate_tps": round(cpu_count() / (total / committed), 1)
        if committed and total > 0 else None,
        # where it went (the nodes' own accounting, node/metrics.py CPU_STAGES)
        "stages_us_per_committed_tx_all_nodes": stage_breakdown(stages0, stages1, committed),
    }
    if busy0 is not None and busy1 is not None and busy1[1] > busy0[1]:
        # everything the machine did meanwhile; what is neither a node nor the load generator
        # is other processes, which make the figures pessimistic (reported, not hidden)
        busy_s = (busy1[0] - busy0[0]) / _clk_tck()
        node_cpu["machine_busy_share"] = round((busy1[0] - busy0[0]) / (busy1[1] - busy0[1]), 4)
        node_cpu["other_processes_cpu_s"] = round(max(0.0, busy_s - total - cpu), 3)
        node_cpu["other_processes_share"] = round(
            max(0.0, busy_s - total - cpu) / (wall * cpu_count()), 4) if wall > 0 else None
    return outcomes, loadgen, node_cpu


def _r(x: float | None, scale: float = 1.0) -> float | None:
    return None if x is None else round(x * scale, 3)


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


@contextlib.contextmanager
def _bench_dir() -> Iterator[Path]:
    keep = os.environ.get("CHAINFIN_BENCH_DIR")
    if keep:
        base = Path(keep).resolve()
        base.mkdir(parents=True, exist_ok=True)
        d = Path(tempfile.mkdtemp(prefix="run-", dir=base))
        yield d
        return
    with tempfile.TemporaryDirectory(prefix="chainfin-bench-") as tmp:
        yield Path(tmp)


def run_bench(nodes: int, rate: float, duration: float, *, measure: bool = True,
              limit: LimitResult | None = None, progress: bool = True,
              label: str | None = None, node_command: Any = None,
              api: str = "rest", risk: bool = False) -> BenchResult:
    """One benchmark run on a fresh testnet (see the module doc). Stops every node it started,
    whatever happens. ``node_command(i, manifest_node) -> argv`` replaces the node command
    (experiments: a profiler or interpreter settings around ``chainfin node run``).

    Raises:
        ChainfinError: bad arguments, a node that does not start or dies, failed funding.
    """
    from testnet.launch import Testnet, init_testnet

    if not 1 <= nodes <= 64:
        raise ChainfinError("--nodes is 1..64")
    if api not in APIS:
        raise ChainfinError(f"--api is one of {', '.join(APIS)}")
    if rate <= 0 or duration <= 0:
        raise ChainfinError("--rate and --duration must be positive")
    count = max(1, int(round(rate * duration)))
    senders_n = sender_count(rate)
    with _bench_dir() as d:
        manifest = init_testnet(d / "tn", nodes, extra_clients=senders_n)
        root = d / "tn"
        issuer = load_identity(manifest.client("usd_issuer").key_file)
        senders = [load_identity(manifest.client(f"trader{i}").key_file)
                   for i in range(senders_n)]
        banks = [load_identity(manifest.client(f"bank{i}").key_file) for i in range(nodes)]
        customs = load_identity(manifest.client("customs").key_file)
        t0 = time.perf_counter()
        work = build_workload(manifest.chain_id, issuer, senders, count, banks=banks,
                              customs=customs,
                              trade_gap=max(TRADE_GAP, math.ceil(rate * TRADE_GAP_S)))
        work.encode_bodies()
        work.reader = issuer
        from chainfin.genesis import load_genesis

        genesis = load_genesis(manifest.genesis)
        if risk:
            work.funding += risk_setup(
                manifest.chain_id, load_identity(manifest.client("regulator").key_file),
                [*senders, *banks], bytes.fromhex(genesis.fingerprint_key))
        _say(f"signed {len(work.funding)} funding{' and risk setup' if risk else ''} + "
             f"{count} load transactions ({senders_n} senders) in "
             f"{time.perf_counter() - t0:.1f}s")
        if limit is None and measure:
            t0 = time.perf_counter()
            limit = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE], nodes=nodes)
            _say(f"limit: {limit.cost_us:.0f} us CPU per tx per node -> limit_tps "
                 f"{limit.limit_tps:.0f} on {limit.cpus} cores "
                 f"(measured in {time.perf_counter() - t0:.1f}s)")
        busy_before = busy_share(1.0)
        if busy_before is not None and busy_before > 0.1:
            _say(f"warning: the machine is {busy_before * 100:.0f}% busy before the run (other "
                 "processes): the figures will be pessimistic")
        with Testnet(root, command=node_command) as tn:
            tn.start()
            tn.wait_ready(READY_TIMEOUT_S)
            pids = [tn.pid(i) for i in range(tn.n)]
            _say(f"{nodes} nodes up in {root} (pids {' '.join(str(p) for p in pids)})")
            urls = [tn.rest_url(i) for i in range(tn.n)]
            outcomes, loadgen, node_cpu = _run_loop(_load_phase(
                urls, work, rate, duration, pids,
                label or f"{nodes} nodes @ {rate:g} tx/s", progress, api,
                tn.ssl_context() if urls[0].startswith("https://") else None))
            died = tn.exited()
            if died:
                k, code = next(iter(died.items()))
                raise ChainfinError(f"node{k} exited with code {code} during the run"
                                    f"{tn._log_tail(k)}")
        res = BenchResult(nodes=nodes, offered_rate=rate, duration_s=duration,
                          kinds=work.kinds, outcomes=outcomes, limit=limit, loadgen=loadgen,
                          node_cpu=node_cpu,
                          machine={**machine_info(), "busy_before_run": busy_before,
                                   "peer_tls": bool(getattr(manifest, "ca", None))},
                          senders=senders_n, api=api, risk=risk)
        if measure:  # the same loop again now that the nodes are gone (LIMIT_REPEATS)
            after = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE], nodes=nodes)
            res.limit = limit = cheapest(limit, after)
            assert limit is not None
            _say(f"limit after the run: {after.cost_us:.0f} us per tx per node; the cheapest "
                 f"of all passes: {limit.cost_us:.0f} us -> limit_tps {limit.limit_tps:.0f}")
        mean = res.blocks()["mean_txs"]
        if measure and mean:
            bs = max(1, round(mean))
            if limit is None or bs < limit.block_txs:
                res.limit_observed = measure_limit(genesis, work.funding, work.txs[:LIMIT_SAMPLE],
                                                   nodes=nodes, block_txs=bs)
    return res


# ============================================================================ output


def _fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def report_table(r: BenchResult) -> str:
    """A Caliper-like report: one row per transaction kind and a total."""
    head = ["Name", "Sent", "Committed", "Failed", "Send rate (tps)", "Throughput (tps)",
            "Min (ms)", "p50 (ms)", "p95 (ms)", "p99 (ms)", "Max (ms)"]
    rows = []
    names = {"transfer": "settlement.transfer", "register": "trade_documents.register"}
    for kind in [*sorted(set(r.kinds)), None]:
        fin = finality_stats(r.finalities_ms(kind))
        rows.append([names.get(kind or "", kind or "all"), str(r.sent(kind)),
                     str(r.committed(kind)), str(r.failed(kind)), _fmt(r.send_rate(kind)),
                     _fmt(r.throughput_tps(kind)), _fmt(fin["min"]), _fmt(fin["p50"]),
                     _fmt(fin["p95"]), _fmt(fin["p99"]), _fmt(fin["max"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    out = [f"chainfin bench: {r.nodes} nodes on 127.0.0.1, open loop {r.offered_rate:g} tx/s for "
           f"{r.duration_s:g}s over {API_NAMES[r.api]}, {r.senders} senders "
           f"({round(TRANSFER_SHARE * 100)}% transfers, {round(100 - TRANSFER_SHARE * 100)}% "
           "invoice registrations)", sep, line(head), sep]
    out += [line(row) for row in rows[:-1]] + [sep, line(rows[-1]), sep]
    errs = r.errors()
    if errs:
        out.append("failures: " + ", ".join(f"{k} x{v}" for k, v in errs.items()))
    if r.limit is not None:
        lim = r.limit
        parts = ", ".join(f"{k} {v:.1f}" for k, v in lim.breakdown_us.items())
        tput = r.throughput_tps()
        out.append(f"limit_tps {lim.limit_tps:,.1f} = {lim.cpus} cores / ({r.nodes} nodes x "
                   f"{lim.cost_us:.1f} us per tx) [{parts} us; blocks of {lim.block_txs}, "
                   f"{lim.txs} txs]")
        out.append(f"ratio_to_limit {tput / lim.limit_tps:.3f} (throughput {tput:,.1f} tx/s)")
    lo = r.limit_observed
    if lo is not None:
        blk = r.blocks()
        out.append(f"with blocks of {lo.block_txs} txs as in this run ({blk['count']} blocks, mean "
                   f"{blk['mean_txs']} txs): {lo.cost_us:.1f} us per tx per node -> "
                   f"{lo.limit_tps:,.1f} tx/s")
    t = targets(r)
    out.append("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in t.items()))
    lg, nc = r.loadgen, r.node_cpu
    if lg:
        lag = lg.get("schedule_lag_ms", {})
        out.append(f"load generator: {lg['cpu_s']:.1f}s CPU in {lg['wall_s']:.1f}s "
                   f"({(lg['cpu_share_of_machine'] or 0) * 100:.1f}% of the machine, "
                   f"{lg['cpu_us_per_tx']} us/tx); schedule lag p99 {lag.get('p99')} ms, "
                   f"max {lag.get('max')} ms")
    if nc:
        busy = nc.get("machine_busy_share")
        out.append(f"nodes: {nc['total_cpu_s']:.1f}s CPU in total "
                   f"({nc.get('cpu_us_per_committed_tx_all_nodes')} us per committed tx, all "
                   f"nodes: the cores would be full at {nc.get('capacity_estimate_tps')} tx/s)" + (f"; machine busy {busy * 100:.0f}%" if busy is not None else "")
                   + (f", other processes used {nc['other_processes_share'] * 100:.0f}% of it"
                      if nc.get("other_processes_share") else ""))
    stages = nc.get("stages_us_per_committed_tx_all_nodes") if nc else None
    if stages:
        order = [k for k in (*CPU_STAGES, "other", "background") if k in stages]
        out.append("nodes' CPU by stage, us per committed tx (all nodes): " + ", ".join(
            f"{k} {stages[k]:,.0f}" for k in order) + " (other: HTTP, p2p frames and TLS, the "
            "event loop; background: LevelDB's thread)")
    if r.machine.get("busy_before_run") is not None:
        out.append(f"machine busy before the nodes started: "
                   f"{r.machine['busy_before_run'] * 100:.0f}% (other processes)")
    return "\n".join(out)


def write_plot(r: BenchResult, path: str | os.PathLike[str],
               title: str | None = None) -> None:
    """PNG: finality over time (scatter by kind, failures marked) and its histogram.

    Raises:
        ChainfinError: matplotlib is not installed (``pip install 'chainfin[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ChainfinError("--plot needs matplotlib: pip install 'chainfin[plot]' "
                            "(or pip install matplotlib)") from e
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    colors = {"transfer": "tab:blue", "register": "tab:orange"}
    for kind in sorted(set(r.kinds)):
        xs, ys = [], []
        for o, k in zip(r.outcomes, r.kinds, strict=True):
            f = o.finality_ms
            if k == kind and f is not None:
                xs.append(o.due)
                ys.append(f)
        ax1.scatter(xs, ys, s=3, alpha=0.5, label=kind, color=colors.get(kind))
    fails = [o for o in r.outcomes if o.status != "committed"]
    if fails:
        top = max(r.finalities_ms(), default=1000.0)
        ax1.scatter([o.due for o in fails], [top * 1.1] * len(fails), marker="x", s=12,
                    color="red", label=f"failed ({len(fails)})")
    fin = finality_stats(r.finalities_ms())
    for name, style in (("p50", "--"), ("p99", ":")):
        v = fin[name]
        if v is not None:
            ax1.axhline(v, linestyle=style, color="gray", linewidth=1)
            ax1.text(0, v, f" {name} {v:.0f} ms", va="bottom", fontsize=8, color="dimgray")
    ax1.set_yscale("log")
    ax1.set_xlabel("scheduled send time (s)")
    ax1.set_ylabel("finality (ms, log)")
    ax1.legend(loc="upper right", fontsize=8, markerscale=3)
    ax1.grid(True, which="both", alpha=0.2)
    vals = r.finalities_ms()
    if vals:
        ax2.hist(vals, bins=60, color="tab:blue", alpha=0.8)
    ax2.set_yscale("log")
    ax2.set_xlabel("finality (ms)")
    ax2.set_ylabel("transactions (log)")
    ax2.grid(True, alpha=0.2)
    tput = r.throughput_tps()
    fig.suptitle(title or (f"chainfin bench: {r.nodes} nodes, {r.offered_rate:g} tx/s offered for "
                           f"{r.duration_s:g}s: {r.committed()}/{r.sent()} committed, "
                           f"{tput:,.0f} tx/s, p50 {_fmt(fin['p50'])} ms, "
                           f"p99 {_fmt(fin['p99'])} ms"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_json(doc: dict[str, Any], path: str) -> None:
    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise ChainfinError(f"cannot write {path}: {e.strerror or e}") from e


# ============================================================================ --find-max


def find_max(nodes: int, start_rate: float, duration: float,
             run: Callable[..., BenchResult] = run_bench,
             say: Callable[[str], None] = _say, confirm: int = 1,
             **run_kw: Any) -> tuple[BenchResult | None, list[BenchResult]]:
    """Step the rate up by ``FIND_MAX_FACTOR`` on fresh testnets until a rate fails the sustained
    target (a failure, or p99 > 1 s), then bisect twice between the last pass and the first
    failure. At most ``MAX_STEPS`` rates.

    A rate passes only when ``confirm`` runs at it in a row pass, each on a fresh testnet (the
    first failing run ends its step): on a machine whose speed drifts, one lucky run does not
    make a rate sustainable. A passing step is represented by its run with the lowest
    throughput. Returns (the highest passing step's run or None, every run in order)."""
    if confirm < 1:
        raise ValueError("confirm must be at least 1")
    runs: list[BenchResult] = []
    limit: LimitResult | None = None
    best: BenchResult | None = None
    worst: float | None = None
    rate = float(start_rate)
    refinements = 0
    for step in range(1, MAX_STEPS + 1):
        tried: list[BenchResult] = []
        while len(tried) < confirm and (not tried or tried[-1].passed()):
            of = f" (run {len(tried) + 1} of {confirm})" if confirm > 1 else ""
            r = run(nodes, rate, duration, limit=limit,
                    label=f"step {step}{of}: {nodes} nodes @ {rate:g} tx/s", **run_kw)
            limit = r.limit or limit  # a run's limit holds the passes it was given and its own
            runs.append(r)
            tried.append(r)
        ok = all(r.passed() for r in tried)
        shown = min(tried, key=lambda r: r.throughput_tps()) if ok else tried[-1]
        fin = finality_stats(shown.finalities_ms())
        runs_note = f" ({len(tried)} of {confirm} runs)" if confirm > 1 else ""
        say(f"step {step}: {rate:g} tx/s -> {shown.throughput_tps():.1f} tx/s, p99 "
            f"{_fmt(fin['p99'])} ms, {shown.failed()} failed: {'pass' if ok else 'FAIL'}"
            f"{runs_note}")
        if ok:
            best = shown if best is None or rate > best.offered_rate else best
        else:
            worst = rate if worst is None else min(worst, rate)
        if worst is None:
            rate = float(math.ceil(rate * FIND_MAX_FACTOR))
            continue
        if best is None or refinements >= 2:
            break
        nxt = float(math.floor((best.offered_rate + worst) / 2))
        if nxt <= best.offered_rate or worst - best.offered_rate <= 0.05 * best.offered_rate:
            break
        refinements += 1
        rate = nxt
    for r in runs:  # every step against the cheapest pass of the whole search
        r.limit = limit
    return best, runs


# ============================================================================ CLI


class _Stop(Exception):
    pass


def cli_bench(args: argparse.Namespace) -> int:
    """``chainfin bench --nodes N --rate R --duration S [--json FILE] [--plot FILE.png]
    [--find-max]``. Exit 0 when the run (with --find-max: the search) completed, whatever the
    figures; 1 on an error."""
    nodes, rate, duration = int(args.nodes), float(args.rate), float(args.duration)
    api = getattr(args, "api", "rest")
    plot = getattr(args, "plot", None)
    confirm = int(getattr(args, "confirm", 1))
    if confirm < 1:
        raise ChainfinError("--confirm must be at least 1")
    if confirm != 1 and not getattr(args, "find_max", False):
        raise ChainfinError("--confirm applies to --find-max (a single run has nothing to confirm)")
    if plot:  # fail before minutes of benchmark, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            raise ChainfinError("--plot needs matplotlib: pip install 'chainfin[plot]' "
                                "(or pip install matplotlib)") from e

    def on_term(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop()

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        if getattr(args, "find_max", False):
            best, runs = find_max(nodes, rate, duration, api=api, confirm=confirm)
            shown = best or runs[0]
            print(report_table(shown))
            doc = result_json(shown)
            doc["find_max"] = {
                "passed": best is not None,
                "max_rate": None if best is None else best.offered_rate,
                "criterion": f"failed == 0 and p99 <= {MAX_P99_MS:g} ms"
                             + (f" in {confirm} runs in a row" if confirm > 1 else ""),
                "confirm": confirm,
                "steps": [_step_json(r) for r in runs],
            }
            if best is None:
                print(f"find-max: even {runs[0].offered_rate:g} tx/s misses the target "
                      f"(failed == 0, p99 <= {MAX_P99_MS:g} ms)")
            else:
                print(f"find-max: highest passing rate {best.offered_rate:g} tx/s -> "
                      f"{best.throughput_tps():.1f} tx/s, ratio_to_limit "
                      f"{doc['ratio_to_limit']}")
        else:
            shown = run_bench(nodes, rate, duration, api=api,
                              risk=bool(getattr(args, "risk", False)))
            print(report_table(shown))
            doc = result_json(shown)
    except (KeyboardInterrupt, _Stop):
        print("bench: interrupted; stopped every node", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
    if args.json_out:
        _write_json(doc, args.json_out)
        print(f"wrote {args.json_out}")
    if plot:
        write_plot(shown, plot)
        print(f"wrote {plot}")
    return 0


def _step_json(r: BenchResult) -> dict[str, Any]:
    fin = finality_stats(r.finalities_ms())
    tput = r.throughput_tps()
    return {"offered_rate": r.offered_rate, "sent": r.sent(), "committed": r.committed(),
            "failed": r.failed(), "throughput_tps": round(tput, 2), "finality_ms": fin,
            "passed": r.passed(),
            "ratio_to_limit": round(tput / r.limit.limit_tps, 4) if r.limit else None,
            "errors": r.errors(), "blocks": r.blocks(),
            "node_cpu_us_per_tx": r.node_cpu.get("cpu_us_per_committed_tx_all_nodes"),
            "other_processes_share": r.node_cpu.get("other_processes_share")}
