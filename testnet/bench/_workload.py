"""The load of one run, signed before the clock starts, and the open-loop schedule that offers
it: transaction ``k`` is due at ``t0 + k / rate`` whatever the answers to earlier ones."""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chainfin.crypto import Identity
from chainfin.types import Transaction

TRANSFER_SHARE = 0.7
TRADE_GAP = 250  # least load positions between the dependent steps of one trade
TRADE_GAP_S = 2.0  # ... and at least this long at the offered rate (p99 passes at <= 1 s)
FUNDING_AMOUNT = 10**12  # minor units per sender: transfers never run out


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
                   customs: Identity | None = None, trade_gap: int = TRADE_GAP,
                   first_nonce: int = 0) -> Workload:
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
    Steps still waiting when the load ends are not sent (``count`` stays exact).
    ``first_nonce``: every signer's nonces start above it (a load on a ledger whose senders
    have used nonces already, e.g. one ``chainfin testnet grow`` made); document numbers and
    content (and the draw of amounts and dates) then depend on it too, so a second load on the
    same ledger registers new documents instead of duplicates (a first load is as it was)."""
    if len(senders) < 2:
        raise ValueError("a workload needs at least two senders")
    # a later load draws other amounts and dates too: the same invoice under a new number is
    # what the content fingerprint refuses as a suspected duplicate
    rng = random.Random(seed + first_nonce)
    run = f"{first_nonce:x}-" if first_nonce else ""
    trading = bool(banks) and customs is not None
    funded = [*senders, *(banks if trading else ())]
    funding = [Transaction.create(issuer, chain_id, first_nonce + i + 1, "settlement", "issue",
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
        nonces[who.public_key] = nonces.get(who.public_key, first_nonce) + 1
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
                # one buyer per invoice: two of a seller's invoices to one buyer within 1 % and
                # 3 days are a suspected duplicate (decision 114), which a load must not draw
                "buyer": f"Importer {run}{k} GmbH",
                "number": f"INV-{chain_id[-8:]}-{run}{k:08d}",
                "issue_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "amount": f"{cents // 100:,}.{cents % 100:02d}",
                "currency": currency,
            },
            "content_hash": hashlib.sha256(f"{chain_id}/invoice/{run}{k}".encode()).hexdigest(),
        })
        txs.append(tx)
        if trading:
            assert customs is not None
            trade_id = hashlib.sha256(tx.tx_id + (1).to_bytes(4, "big")).hexdigest()
            decl = signed(senders[si], "trade_documents", "register", {
                "doc_type": "customs_declaration", "trade_id": trade_id,
                "fields": {"declaration_number": f"CD-{chain_id[-8:]}-{run}{k:08d}",
                           "exporter": seller, "amount": cents, "currency": currency},
                "content_hash": hashlib.sha256(f"{chain_id}/decl/{run}{k}".encode()).hexdigest()})
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
            task: asyncio.Task[None] = loop.create_task(submit(k, due))  # type: ignore[arg-type]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
            fired += 1
            if fired >= 256:  # a long catch-up burst: let the loop breathe
                break
        if k < n:
            await nap(max(0.0, t0 + schedule[k] - now()))
    return OpenLoopStats(tasks, n, max(lags, default=0.0), lags)
