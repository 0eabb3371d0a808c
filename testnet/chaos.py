"""``chainfin testnet chaos``: load a testnet, inject faults, check nothing committed was lost.

While a steady load of signed transactions is offered round-robin to the nodes that are up,
one node at a time (at most f of them ever down) suffers a fault, then recovers:

- ``kill``   SIGKILL at a random moment, restart after a pause (crash, WAL and commit recovery);
- ``stop``   SIGTERM, restart (clean shutdown and restart);
- ``pause``  SIGSTOP for a while, then SIGCONT (a hung node: its peers time out on it; if it is
  the primary, a view change must happen).

At the end every node must be up, agree on the block hash at every height, and hold every
transaction that any node acknowledged as committed, at the height and index it was
acknowledged with. The result is printed and written as JSON (``--json FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chainfin.client import signed_headers
from chainfin.consensus.quorum import max_faulty
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from testnet.launch import Testnet, load_manifest

FAULTS = ("kill", "stop", "pause")


@dataclass
class ChaosResult:
    duration_s: float
    faults: list[dict[str, Any]] = field(default_factory=list)
    offered: int = 0
    acknowledged: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    final_height: int = 0
    agree: bool = False
    lost: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.agree and not self.lost and self.acknowledged > 0

    def to_json(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "faults": self.faults, "offered": self.offered,
                "acknowledged": self.acknowledged, "failed": self.failed,
                "errors": self.errors, "final_height": self.final_height,
                "agree": self.agree, "lost": self.lost, "ok": self.ok}


async def _load(tn: Testnet, session: aiohttp.ClientSession, down: set[int],
                stop: asyncio.Event, res: ChaosResult,
                acked: dict[bytes, tuple[int, int]], rate: float) -> None:
    m = tn.manifest
    issuer = load_identity(m.client("usd_issuer").key_file)
    to = m.client("exporter").public_key
    nonce = int(time.time() * 1000) * 1000
    k = 0
    inflight: set[asyncio.Task[None]] = set()

    async def one(i: int, tx: Transaction) -> None:
        try:
            async with session.post(f"{tn.rest_url(i)}/v1/tx?wait=commit", json=tx.to_json(),
                                    timeout=aiohttp.ClientTimeout(total=20)) as r:
                body = await r.json()
            if r.status == 200 and body.get("status") == "committed":
                acked[tx.tx_id] = (body["height"], body["index"])
                res.acknowledged += 1
                return
            code = (body.get("error") or {}).get("code", f"http_{r.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            code = type(e).__name__
        res.failed += 1
        res.errors[code] = res.errors.get(code, 0) + 1

    while not stop.is_set():
        up = [i for i in range(tn.n) if i not in down]
        if up:
            nonce += 1
            tx = Transaction.create(issuer, m.chain_id, nonce, "settlement", "issue",
                                    {"currency": "USD", "to": to, "amount": 1})
            t = asyncio.create_task(one(up[k % len(up)], tx))
            inflight.add(t)
            t.add_done_callback(inflight.discard)
            res.offered += 1
            k += 1
        await asyncio.sleep(1.0 / rate)
    if inflight:
        await asyncio.wait(inflight, timeout=25)


async def _inject(tn: Testnet, down: set[int], stop: asyncio.Event, res: ChaosResult,
                  faults: list[str], rng: random.Random, out: Any) -> None:
    f = max(1, max_faulty(tn.n))
    await asyncio.sleep(1.0)
    while not stop.is_set():
        kind = rng.choice(faults)
        i = rng.randrange(tn.n)
        if len(down) >= f:
            await asyncio.sleep(0.2)
            continue
        down.add(i)
        t0 = time.monotonic()
        hold = rng.uniform(0.5, 2.5)
        print(f"  fault: {kind} node{i} for {hold:.1f}s", file=out, flush=True)
        try:
            if kind == "kill":
                tn.kill(i)
                await asyncio.sleep(hold)
                tn.start(i)
                await asyncio.to_thread(tn.wait_ready, 30, [i])
            elif kind == "stop":
                await asyncio.to_thread(tn.stop, i)
                await asyncio.sleep(hold)
                tn.start(i)
                await asyncio.to_thread(tn.wait_ready, 30, [i])
            else:
                pid = tn.pid(i)
                if pid is None:
                    raise ChainfinError(f"node{i} has no pid")
                os.kill(pid, signal.SIGSTOP)
                try:
                    await asyncio.sleep(hold)
                finally:
                    os.kill(pid, signal.SIGCONT)
        finally:
            down.discard(i)
        res.faults.append({"fault": kind, "node": i, "held_s": round(hold, 2),
                           "recovered_in_s": round(time.monotonic() - t0, 2)})
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def _get(session: aiohttp.ClientSession, url: str, reader: Identity | None = None) -> Any:
    headers = signed_headers(reader, "GET", url) if reader is not None else None
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10), headers=headers) as r:
        return r.status, await r.json()


async def _check(tn: Testnet, session: aiohttp.ClientSession, res: ChaosResult,
                 acked: dict[bytes, tuple[int, int]], timeout: float = 60) -> None:
    """Every node catches up to the highest acknowledged height; all agree; nothing lost."""
    need = max((h for h, _ in acked.values()), default=0)
    deadline = time.monotonic() + timeout
    heights = [0] * tn.n
    while time.monotonic() < deadline:
        heights = [(await _get(session, f"{tn.rest_url(i)}/v1/status"))[1]["height"]
                   for i in range(tn.n)]
        if min(heights) >= need:
            break
        await asyncio.sleep(0.3)
    top = min(heights)
    res.final_height = top
    reader = tn.reader()  # blocks and transactions are for validators, regulators, auditors
    hashes: list[list[str]] = []
    for i in range(tn.n):
        chain = []
        for h in range(1, top + 1):
            st, b = await _get(session, f"{tn.rest_url(i)}/v1/blocks/{h}", reader)
            chain.append(b.get("hash", "") if st == 200 else "")
        hashes.append(chain)
    res.agree = all(c == hashes[0] for c in hashes) and all(hashes[0])
    for tx_id, (h, idx) in sorted(acked.items()):
        for i in range(tn.n):
            st, got = await _get(session, f"{tn.rest_url(i)}/v1/tx/{tx_id.hex()}", reader)
            if st != 200 or got.get("height") != h or got.get("index") != idx:
                res.lost.append(f"node{i}: {tx_id.hex()} acknowledged at {h}/{idx}, "
                                f"now {got}")
                break


async def run_chaos(directory: Path, duration: float, faults: list[str], rate: float = 20,
                    seed: int = 1, out: Any = sys.stdout) -> ChaosResult:
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ChainfinError(f"unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)}")
    load_manifest(directory)  # clear error when there is no testnet
    res = ChaosResult(duration)
    acked: dict[bytes, tuple[int, int]] = {}
    rng = random.Random(seed)
    with Testnet(directory) as tn:
        tn.start()
        await asyncio.to_thread(tn.wait_ready, 30)
        print(f"chaos on {tn.n} nodes for {duration:g}s: faults {', '.join(faults)}, "
              f"load {rate:g} tx/s", file=out, flush=True)
        down: set[int] = set()
        stop = asyncio.Event()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=tn.ssl_context())) as session:
            loader = asyncio.create_task(_load(tn, session, down, stop, res, acked, rate))
            chaos = asyncio.create_task(_inject(tn, down, stop, res, faults, rng, out))
            await asyncio.sleep(duration)
            stop.set()
            await chaos
            await loader
            print(f"  load done: {res.acknowledged} acknowledged, {res.failed} failed while "
                  "nodes were down; checking every node ...", file=out, flush=True)
            await _check(tn, session, res, acked)
    verdict = "OK" if res.ok else "FAILED"
    print(f"{verdict}: {len(res.faults)} faults, {res.acknowledged} txs acknowledged, "
          f"{len(res.lost)} lost, nodes agree on {res.final_height} blocks: {res.agree}",
          file=out)
    return res


def cli_chaos(args: argparse.Namespace) -> int:
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    res = asyncio.run(run_chaos(Path(args.dir), args.duration, faults, args.rate, args.seed))
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_json(), indent=2) + "\n")
    return 0 if res.ok else 1
