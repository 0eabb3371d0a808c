"""``chainfin testnet chaos``: load a testnet, inject faults, check nothing committed was lost.

While a steady load of signed transactions is offered round-robin to the nodes that are up,
faults are injected one at a time, each followed by a heal and a wait for every node to commit
again (so at most one fault is active, and at most f nodes are faulty except during a split):

- ``kill``      SIGKILL at a random moment, restart after a pause (crash, WAL and commit recovery);
- ``stop``      SIGTERM, restart (clean shutdown and restart);
- ``pause``     SIGSTOP for a while, then SIGCONT (a hung node: its peers time out on it; if it is
  the primary, a view change must happen);
- ``partition`` through the per-link relays of :mod:`testnet.netfault`, in turn: *isolate* one
  node both ways; *split* the network in two halves (2/2 on 4 nodes: no quorum anywhere, so no
  block may be committed and none may fork) then heal; *flap* one link (cut and restored every
  few hundred ms);
- ``delay``     200 ms +- 50 ms on every link both ways (a WAN) for a while;
- ``oneway``    asymmetric partitions, in turn (red-team round 6): the primary, then a replica,
  that cannot receive (*deaf-primary*, *deaf-replica*: every link into it cut one way) or
  cannot send (*mute-primary*, *mute-replica*), and a *nontransitive* partition (the primary
  and one replica cut from each other, both reaching the other two), each for 9-11 s (past the
  heartbeat: the links die and cannot be dialled again while the cut lasts). Checked: no stall
  longer than ONEWAY_MAX_STALL_S while within f;
- ``gray``      the primary's links alive but bad, no cut: *gray-rate* (every link out of it at
  a few KB/s) and *gray-loss* (30 % of the chunks lost both ways, each costing an RTO), each
  for 8 s; the same stall bound;
- ``byzantine`` one node runs a byzantine behaviour for the whole run (``node/byzantine.py``;
  with 7 or more nodes a second one with another behaviour);
- ``disk``      one honest node's data directory is a tmpfs of its own (mounted here: root
  only); the fault fills it below the node's free-space reserve for a while (the node must
  refuse transactions with 507 ``disk_full`` and pause), then frees it (it must catch up).

Checked while running (a monitor polls every node's tip every 250 ms and fetches every block it
has not seen): no two nodes ever hold different blocks at one height. Measured: the longest
commit stall (no new block anywhere) while at most f nodes are faulty, and per fault the blocks
committed during it, its stall and the time from its heal until every node committed past the
height the network had at the heal, the transactions acknowledged during it (per second, their
latency's median and maximum) and the views it cost. A group's kinds may be named alone
(``--faults deaf-primary,mute-primary``). At the end every node must be up, agree on the block hash
at every height and on the state root at the final height, and hold every transaction that any
node acknowledged as committed, at the height and index it was acknowledged with, exactly once.
The result is printed and written as JSON (``--json FILE``).

The network faults need the relays: ``run_chaos`` installs them into the testnet directory
(``testnet.netfault.install_relays``: the node configs then point at relay ports) when
``partition`` or ``delay`` is asked for, and removes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chainfin.client import signed_headers
from chainfin.consensus.quorum import max_faulty, quorum
from chainfin.crypto import Identity, load_identity
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from testnet.launch import Testnet, load_manifest
from testnet.netfault import RELAY_FILE, NetFault, install_relays, uninstall_relays

FAULTS = ("kill", "stop", "pause", "partition", "delay", "oneway", "gray", "byzantine", "disk")
NET_FAULTS = ("partition", "delay", "oneway", "gray")
# what one "partition" turn does, in rotation
PARTITION_KINDS = ("isolate", "split", "flap")
# what one "oneway" turn does, in rotation (red-team round 6): the primary or a replica that
# cannot receive (deaf) or cannot send (mute), every link into or out of it cut one way, and
# a non-transitive partition (the primary and one replica cut from each other, both reaching
# the other two)
ONEWAY_KINDS = ("deaf-primary", "mute-primary", "deaf-replica", "mute-replica", "nontransitive")
ONEWAY_HOLD_S = (9.0, 11.0)  # past the 5 s heartbeat + 2.5 s pong wait: the links die too
#: a one-way or gray fault within f must not hold commits back longer than this (a view
#: change takes one 1 s timeout, a failed next view two more; the longest stall seen is 1 s)
ONEWAY_MAX_STALL_S = 10.0
# what one "gray" turn does: the primary's links alive but bad, no cut
GRAY_KINDS = ("gray-rate", "gray-loss")
GRAY_RATE_BPS = 4_000.0   # every link out of the primary (a few KB/s: a saturated uplink)
GRAY_LOSS = 0.3           # every link of the primary, both ways (RTO 200 ms, doubling)
GRAY_HOLD_S = 8.0
#: a group name in --faults runs its kinds in rotation; a kind may also be named alone
FAULT_GROUPS = {"partition": PARTITION_KINDS, "oneway": ONEWAY_KINDS, "gray": GRAY_KINDS}
#: every kind that needs the relays (a group of NET_FAULTS or one of its kinds)
NET_KINDS = frozenset(NET_FAULTS) | {k for g in NET_FAULTS for k in FAULT_GROUPS.get(g, ())}
WAN_DELAY_MS, WAN_JITTER_MS = 200.0, 50.0
SPLIT_GRACE_S = 1.0  # a block whose COMMITs were on the wire when the split began may land
POLL_S = 0.25
RECOVERY_TIMEOUT_S = 45.0
SAMPLE_S = 10.0  # resources of every node (RSS, open files, data dir, loop lag)
DISK_MB = 512          # the tmpfs under the disk node's data directory (RAM only as written)
DISK_LEFT_MB = 24      # what a disk fault leaves free (the node's reserve is min_free_mb, 64)


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
    duplicated: list[str] = field(default_factory=list)
    forks: list[str] = field(default_factory=list)
    state_roots_agree: bool = False
    longest_stall_s: float = 0.0
    recovery_after_last_heal_s: float | None = None
    split_commits: int = 0
    unrecovered: list[str] = field(default_factory=list)
    #: faults that held commits back past their bound (ONEWAY_MAX_STALL_S) while within f
    stalled: list[str] = field(default_factory=list)
    byzantine: dict[str, str] = field(default_factory=dict)
    disk_node: str | None = None
    polls: int = 0
    relay: dict[str, int] = field(default_factory=dict)
    # every SAMPLE_S: [seconds, node, rss MiB, open fds, data dir MiB, event-loop lag s]
    samples: list[list[float]] = field(default_factory=list)
    # (monotonic time of the answer, seconds from submission) of every acknowledged transaction
    acks: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.agree and not self.lost and self.acknowledged > 0 and not self.forks
                and not self.duplicated and self.state_roots_agree and self.split_commits == 0
                and not self.unrecovered and not self.stalled)

    def to_json(self) -> dict[str, Any]:
        return {"duration_s": self.duration_s, "faults": self.faults, "offered": self.offered,
                "acknowledged": self.acknowledged, "failed": self.failed,
                "errors": self.errors, "final_height": self.final_height,
                "agree": self.agree, "lost": self.lost, "duplicated": self.duplicated,
                "forks": self.forks, "state_roots_agree": self.state_roots_agree,
                "longest_stall_s": round(self.longest_stall_s, 2),
                "recovery_after_last_heal_s": self.recovery_after_last_heal_s,
                "split_commits": self.split_commits, "unrecovered": self.unrecovered,
                "stalled": self.stalled,
                "byzantine": self.byzantine, "disk_node": self.disk_node,
                "monitor_polls": self.polls,
                "relay": self.relay, "resources": self.resources(),
                "samples": {"columns": ["s", "node", "rss_mb", "fds", "data_mb", "loop_lag_s"],
                            "rows": self.samples}, "ok": self.ok}

    def resources(self) -> dict[str, dict[str, float]]:
        """Per node, the first and last sample and the maximum of each resource."""
        out: dict[str, dict[str, float]] = {}
        for node in sorted({int(x[1]) for x in self.samples}):
            rows = [x for x in self.samples if int(x[1]) == node]
            d: dict[str, float] = {}
            for k, name in ((2, "rss_mb"), (3, "fds"), (4, "data_mb"), (5, "loop_lag_s")):
                d[f"{name}_first"] = rows[0][k]
                d[f"{name}_last"] = rows[-1][k]
                d[f"{name}_max"] = max(r[k] for r in rows)
            out[f"node{node}"] = d
        return out


async def _load(tn: Testnet, session: aiohttp.ClientSession, down: set[int],
                stop: asyncio.Event, res: ChaosResult,
                acked: dict[bytes, tuple[int, int]], rate: float,
                avoid: set[int]) -> None:
    m = tn.manifest
    issuer = load_identity(m.client("usd_issuer").key_file)
    to = m.client("exporter").public_key
    nonce = int(time.time() * 1000) * 1000
    k = 0
    inflight: set[asyncio.Task[None]] = set()

    async def one(i: int, tx: Transaction) -> None:
        t0 = time.monotonic()
        try:
            async with session.post(f"{tn.rest_url(i)}/v1/tx?wait=commit", json=tx.to_json(),
                                    timeout=aiohttp.ClientTimeout(total=20)) as r:
                body = await r.json()
            if r.status == 200 and body.get("status") == "committed":
                acked[tx.tx_id] = (body["height"], body["index"])
                res.acknowledged += 1
                now = time.monotonic()
                res.acks.append((now, now - t0))
                return
            code = (body.get("error") or {}).get("code", f"http_{r.status}")
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as e:
            code = type(e).__name__
        res.failed += 1
        res.errors[code] = res.errors.get(code, 0) + 1

    # paced by a schedule, not a fixed sleep per transaction (signing and task creation would
    # lower the rate); more than a second behind, the schedule restarts instead of bursting
    period, next_at = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        # clients talk to honest nodes that are up (a byzantine node's answers prove nothing)
        up = [i for i in range(tn.n) if i not in down and i not in avoid]
        if up:
            nonce += 1
            tx = Transaction.create(issuer, m.chain_id, nonce, "settlement", "issue",
                                    {"currency": "USD", "to": to, "amount": 1})
            t = asyncio.create_task(one(up[k % len(up)], tx))
            inflight.add(t)
            t.add_done_callback(inflight.discard)
            res.offered += 1
            k += 1
        next_at += period
        late = time.monotonic() - next_at
        if late > 1.0:
            next_at += late
        await asyncio.sleep(max(0.0, -late))
    if inflight:
        await asyncio.wait(inflight, timeout=25)


#: how often a read refused with 429 (the node's rate limit) is tried again
RATE_LIMIT_RETRIES = 30


async def _get(session: aiohttp.ClientSession, url: str, reader: Identity | None = None,
               timeout: float = 10) -> Any:
    """GET ``url``; signed by ``reader`` (blocks and transactions are for validators,
    regulators and auditors: the testnet's tools read as its auditor, ``Testnet.reader``)."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        headers = signed_headers(reader, "GET", url) if reader is not None else None
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout),
                               headers=headers) as r:
            if r.status == 429 and attempt < RATE_LIMIT_RETRIES:
                # the node's per-identity read limit: wait as it says, as any client should
                wait = 0.2
                with contextlib.suppress(ValueError):
                    wait = float(r.headers.get("Retry-After", "0.2"))
                await asyncio.sleep(min(max(wait, 0.05), 2.0))
                continue
            return r.status, await r.json()
    raise AssertionError("unreachable")


class Monitor:
    """Polls every node while the run goes on: forks, stalls, heights."""

    def __init__(self, tn: Testnet, session: aiohttp.ClientSession, res: ChaosResult,
                 f: int) -> None:
        self.tn = tn
        self.session = session
        self.reader = tn.reader()
        self.res = res
        self.f = f
        self.heights = [0] * tn.n
        self.views = [0] * tn.n              # each node's view, as its last status said
        self.primaries: list[str | None] = [None] * tn.n  # and the primary it names (hex key)
        self.checked = [0] * tn.n  # every height up to this was compared, per node
        self.hash_at: dict[int, tuple[str, int]] = {}  # height -> (hash, first node seen)
        self.max_height = 0
        self.faulty: set[int] = set()   # nodes currently under a fault (byzantine included)
        self.over_f = False             # a split: more than f nodes cannot reach a quorum
        self._stall_since: float | None = time.monotonic()
        self.window_stall = 0.0         # longest stall since the last reset (per fault)

    def primary(self, among: list[int]) -> int | None:
        """The node most of ``among`` name as primary (their latest status), or None."""
        named = [p for i, p in enumerate(self.primaries) if i in among and p is not None]
        if not named:
            return None
        key = max(sorted(set(named)), key=named.count)
        try:
            return self.tn.index_of(key)
        except (KeyError, ValueError, ChainfinError):
            return None

    def stall_counts(self) -> bool:
        return not self.over_f and len(self.faulty) <= self.f

    def _record(self, node: int, height: int, block_hash: str) -> None:
        first = self.hash_at.setdefault(height, (block_hash, node))
        if first[0] != block_hash:
            self.res.forks.append(f"height {height}: node{first[1]} has {first[0][:16]}, "
                                  f"node{node} has {block_hash[:16]}")

    async def _poll_node(self, i: int) -> None:
        try:
            st, s = await _get(self.session, f"{self.tn.rest_url(i)}/v1/status", timeout=2)
            if st != 200:
                return
            h = int(s["height"])
            self.heights[i] = h
            self.views[i] = int(s.get("view", 0))
            self.primaries[i] = s.get("primary")
            if h > 0:
                self._record(i, h, s["block_hash"])
            # the heights committed since the last poll, a bounded number per poll
            for hh in range(self.checked[i] + 1, min(h, self.checked[i] + 40) + 1):
                st, b = await _get(self.session, f"{self.tn.rest_url(i)}/v1/blocks/{hh}",
                                   self.reader, timeout=2)
                if st != 200:
                    return
                self._record(i, hh, b["hash"])
                self.checked[i] = hh
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError, KeyError):
            pass  # a node that is down or paused

    def observe(self, now: float, top: int) -> None:
        """One poll's highest height at ``now``: a new block ends a stall; a stall is timed only
        while at most f nodes are faulty (it restarts when the network is back within f)."""
        if top > self.max_height:
            self.max_height = top
            self._stall_since = now
        elif not self.stall_counts():
            self._stall_since = None
        else:
            if self._stall_since is None:
                self._stall_since = now
            stall = now - self._stall_since
            self.res.longest_stall_s = max(self.res.longest_stall_s, stall)
            self.window_stall = max(self.window_stall, stall)

    async def _sample(self, t: float) -> None:
        """RSS, open files, data-dir size and event-loop lag of every running node."""
        for i in range(self.tn.n):
            pid = self.tn.pid(i)
            if pid is None:
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rss = next(int(ln.split()[1]) for ln in status.splitlines()
                           if ln.startswith("VmRSS:")) / 1024
                fds = len(os.listdir(f"/proc/{pid}/fd"))
                data = Path(self.tn.manifest.nodes[i].data_dir)
                size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**20
                lag = 0.0
                url = f"{self.tn.rest_url(i)}/metrics"
                async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=2),
                                            headers=signed_headers(self.reader, "GET", url)
                                            if self.reader is not None else None) as r:
                    for ln in (await r.text()).splitlines():
                        if ln.startswith("chainfin_event_loop_lag_seconds "):
                            lag = float(ln.split()[1])
            except (OSError, StopIteration, ValueError, TimeoutError, aiohttp.ClientError):
                continue
            self.res.samples.append([round(t, 1), i, round(rss, 1), fds, round(size, 2),
                                     round(lag, 4)])

    async def run(self, stop: asyncio.Event) -> None:
        t0 = time.monotonic()
        next_sample = t0
        while not stop.is_set():
            await asyncio.gather(*(self._poll_node(i) for i in range(self.tn.n)))
            self.res.polls += 1
            if time.monotonic() >= next_sample:
                next_sample += SAMPLE_S
                await self._sample(time.monotonic() - t0)
            self.observe(time.monotonic(), max(self.heights))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)


class Injector:
    """Runs the faults one after the other; each one healed and recovered from before the next."""

    def __init__(self, tn: Testnet, mon: Monitor, net: NetFault | None, down: set[int],
                 res: ChaosResult, kinds: list[str], rng: random.Random, out: Any,
                 byzantine: set[int], disk_node: int | None = None) -> None:
        self.tn, self.mon, self.net, self.down, self.res = tn, mon, net, down, res
        self.disk_node = disk_node
        self.rng = rng
        self.out = out
        self.byzantine = byzantine
        # a seeded rotation, so a short run still meets every kind
        expanded: list[str] = []
        for k in kinds:
            expanded.extend(FAULT_GROUPS.get(k, [k]))
        self.kinds = expanded

    def _honest(self) -> list[int]:
        return [i for i in range(self.tn.n) if i not in self.byzantine]

    async def run(self, until: float) -> None:
        await asyncio.sleep(1.0)
        if not self.kinds:
            return
        order: list[str] = []
        rotations = 0
        # every kind runs at least once, even on a slow machine (the run then lasts longer)
        while time.monotonic() < until or (rotations == 1 and order):
            if not order:
                order = list(self.kinds)
                self.rng.shuffle(order)
                rotations += 1
            await self._one(order.pop(0))
            await asyncio.sleep(self.rng.uniform(0.3, 1.0))

    async def _one(self, kind: str) -> None:
        tn, rng, mon = self.tn, self.rng, self.mon
        honest = self._honest()
        i = rng.choice(honest)
        if kind == "disk":
            assert self.disk_node is not None
            i = self.disk_node
        primary = mon.primary(honest)
        if kind.endswith("-primary") or kind in GRAY_KINDS or kind == "nontransitive":
            if primary is not None and primary in honest:
                i = primary  # (a byzantine primary: an honest replica instead)
        elif kind.endswith("-replica"):
            i = rng.choice([x for x in honest if x != primary] or honest)
        nodes = [i]
        h_start = mon.max_height
        t_start = time.monotonic()
        view_start = max(mon.views)
        within_f = len(self.byzantine | {i}) <= mon.f
        mon.window_stall = 0.0
        extra: dict[str, Any] = {}
        if kind in ONEWAY_KINDS or kind in GRAY_KINDS:
            extra["primary"] = primary
        if kind in ("kill", "stop", "pause"):
            hold = rng.uniform(0.5, 2.5)
        elif kind == "isolate":
            hold = rng.uniform(5.5, 7.0)  # past the 5 s heartbeat: links die and redial
        elif kind == "split":
            hold = rng.uniform(3.0, 5.0)
        elif kind == "flap":
            hold = 4.0
        elif kind == "disk":
            hold = rng.uniform(3.0, 5.0)
        elif kind in ONEWAY_KINDS:
            hold = rng.uniform(*ONEWAY_HOLD_S)
        elif kind in GRAY_KINDS:
            hold = GRAY_HOLD_S
        else:
            hold = 5.0
        desc = {"split": "the network in two halves",
                "delay": f"{WAN_DELAY_MS:g} ms +- {WAN_JITTER_MS:g} ms on every link",
                "gray-rate": f"node{i}'s links out at {GRAY_RATE_BPS / 1000:g} KB/s",
                "gray-loss": f"node{i}'s links losing {GRAY_LOSS:.0%} of their chunks",
                }.get(kind, f"node{i}")
        if kind in ONEWAY_KINDS or kind in GRAY_KINDS:
            desc += " (primary)" if i == primary else " (replica)"
        print(f"  fault: {kind} {desc} for {hold:.1f}s", file=self.out, flush=True)
        try:
            if kind == "kill":
                self.down.add(i)
                mon.faulty.add(i)
                tn.kill(i)
                await asyncio.sleep(hold)
                tn.start(i)
                await asyncio.to_thread(tn.wait_ready, 30, [i])
            elif kind == "stop":
                self.down.add(i)
                mon.faulty.add(i)
                await asyncio.to_thread(tn.stop, i)
                await asyncio.sleep(hold)
                tn.start(i)
                await asyncio.to_thread(tn.wait_ready, 30, [i])
            elif kind == "pause":
                pid = tn.pid(i)
                if pid is None:
                    raise ChainfinError(f"node{i} has no pid")
                self.down.add(i)
                mon.faulty.add(i)
                os.kill(pid, signal.SIGSTOP)
                try:
                    await asyncio.sleep(hold)
                finally:
                    os.kill(pid, signal.SIGCONT)
            elif kind == "isolate":
                assert self.net is not None
                self.down.add(i)
                mon.faulty.add(i)
                self.net.isolate(i)
                await asyncio.sleep(hold)
                self.net.heal()
            elif kind == "split":
                assert self.net is not None
                order = list(range(tn.n))
                rng.shuffle(order)
                half = tn.n // 2
                groups = [sorted(order[:half]), sorted(order[half:])]
                nodes = order
                extra["groups"] = groups
                mon.over_f = True
                self.net.partition(groups)
                await asyncio.sleep(SPLIT_GRACE_S)
                h_cut = mon.max_height
                await asyncio.sleep(max(0.0, hold - SPLIT_GRACE_S))
                # a split leaves no side with a quorum only when neither half has one
                if max(len(g) for g in groups) < quorum(tn.n):
                    extra["commits_while_split"] = mon.max_height - h_cut
                    self.res.split_commits += mon.max_height - h_cut
                self.net.heal()
                mon.over_f = False
            elif kind == "flap":
                assert self.net is not None
                j = rng.choice([x for x in range(tn.n) if x != i])
                nodes = [i, j]
                mon.faulty.add(i)
                end = time.monotonic() + hold
                flips = 0
                while time.monotonic() < end:
                    self.net.cut(i, j)
                    await asyncio.sleep(rng.uniform(0.2, 0.6))
                    self.net.heal(i, j)
                    await asyncio.sleep(rng.uniform(0.2, 0.6))
                    flips += 1
                extra["flaps"] = flips
            elif kind in ONEWAY_KINDS:
                assert self.net is not None
                mon.faulty.add(i)
                if kind == "nontransitive":
                    # i and j cannot reach each other; both reach everyone else (so each
                    # thinks the other is down, and the rest see both alive)
                    j = rng.choice([x for x in honest if x != i] or [x for x in range(tn.n)
                                                                     if x != i])
                    nodes = [i, j]
                    self.net.cut(i, j)
                else:
                    for j in range(tn.n):
                        if j == i:
                            continue
                        if kind.startswith("deaf"):  # nothing reaches i; i's bytes arrive
                            self.net.cut(j, i, both=False)
                        else:  # mute: i hears everything, nothing it sends arrives
                            self.net.cut(i, j, both=False)
                await asyncio.sleep(hold)
                self.net.heal()
            elif kind in GRAY_KINDS:
                assert self.net is not None
                mon.faulty.add(i)
                for j in range(tn.n):
                    if j == i:
                        continue
                    if kind == "gray-rate":
                        self.net.shape(i, j, both=False, rate_bps=GRAY_RATE_BPS)
                    else:
                        self.net.shape(i, j, loss=GRAY_LOSS)
                await asyncio.sleep(hold)
                self.net.heal()
            elif kind == "disk":
                self.down.add(i)
                mon.faulty.add(i)
                extra["refused_while_full"] = await self._fill_disk(i, hold)
                if not extra["refused_while_full"]:
                    self.res.unrecovered.append(f"disk node{i}: it did not refuse transactions "
                                                "with 507 disk_full while its disk was full")
            elif kind == "delay":
                assert self.net is not None
                nodes = []
                self.net.shape(delay_ms=WAN_DELAY_MS, jitter_ms=WAN_JITTER_MS)
                await asyncio.sleep(hold)
                self.net.heal()
            else:
                raise ChainfinError(f"unknown fault {kind!r}")
        finally:
            self.down.discard(i)
            mon.faulty.discard(i)
            mon.faulty.update(self.byzantine)
            mon.over_f = False
        healed = time.monotonic()
        h_heal = mon.max_height
        rec = await self._recovery(h_heal)
        rec_s = None if rec is None else round(rec - healed, 2)
        during = sorted(lat for t, lat in self.res.acks if t_start <= t <= healed)
        entry = {"fault": kind, "nodes": nodes, "held_s": round(hold, 2),
                 "blocks_during": h_heal - h_start, "stall_s": round(mon.window_stall, 2),
                 "recovered_in_s": rec_s,
                 "acked_during": len(during),
                 "tx_per_s_during": round(len(during) / max(healed - t_start, 1e-3), 1),
                 "latency_p50_s": round(during[len(during) // 2], 2) if during else None,
                 "latency_max_s": round(during[-1], 2) if during else None,
                 "view_changes": max(mon.views) - view_start, **extra}
        if ((kind in ONEWAY_KINDS or kind in GRAY_KINDS) and within_f
                and mon.window_stall > ONEWAY_MAX_STALL_S):
            self.res.stalled.append(f"{kind} {nodes}: no commit for {mon.window_stall:.1f}s "
                                    f"(bound {ONEWAY_MAX_STALL_S:g}s)")
        if rec is None:
            self.res.unrecovered.append(f"{kind} {nodes}: no commit on every honest node within "
                                        f"{RECOVERY_TIMEOUT_S:g}s of the heal")
        self.res.faults.append(entry)
        self.res.recovery_after_last_heal_s = rec_s

    async def _fill_disk(self, i: int, hold: float) -> bool:
        """Fill node ``i``'s data directory (its own tmpfs) to DISK_LEFT_MB free for ``hold``
        seconds; True when it then refused a transaction with 507 disk_full."""
        data = Path(self.tn.manifest.nodes[i].data_dir)
        filler = data / "chaos-filler"
        st = os.statvfs(data)
        size = st.f_bavail * st.f_frsize - DISK_LEFT_MB * 2**20
        refused = False
        issuer = self.tn.identity("usd_issuer")
        to = self.tn.manifest.client("exporter").public_key
        try:
            await asyncio.to_thread(_write_zeros, filler, max(0, size))
            deadline = time.monotonic() + hold
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                    ssl=self.tn.ssl_context())) as s:
                while time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError,
                                             ValueError):
                        tx = Transaction.create(issuer, self.tn.chain_id,
                                                2**62 + self.rng.randrange(2**40), "settlement",
                                                "issue", {"currency": "USD", "to": to,
                                                          "amount": 1})
                        async with s.post(f"{self.tn.rest_url(i)}/v1/tx", json=tx.to_json(),
                                          timeout=aiohttp.ClientTimeout(total=2)) as r:
                            body = await r.json()
                            refused = refused or (r.status == 507 and body["error"]["code"]
                                                  == "disk_full")
                    await asyncio.sleep(0.3)
        finally:
            filler.unlink(missing_ok=True)
        return refused

    async def _recovery(self, h_heal: int) -> float | None:
        """When every honest node committed above ``h_heal`` (None: not within the timeout)."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        honest = self._honest()
        while time.monotonic() < deadline:
            if all(self.mon.heights[k] > h_heal for k in honest):
                return time.monotonic()
            await asyncio.sleep(0.1)
        return None


def _write_zeros(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        block = b"\0" * (1 << 20)
        while size > 0:
            f.write(block[:size])
            size -= len(block)


def _mount_disk(data_dir: Path) -> None:
    """A DISK_MB tmpfs at ``data_dir`` (empty or new), so that the disk fault fills that node's
    disk only.

    Raises:
        ChainfinError: not root, mounting failed, or the directory already holds data.
    """
    if os.geteuid() != 0:
        raise ChainfinError("the disk fault mounts a tmpfs under a node's data directory and "
                            "needs root")
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()):
        raise ChainfinError(f"the disk fault needs a fresh testnet: {data_dir} holds data")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs",
                        str(data_dir)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ChainfinError(f"cannot mount a tmpfs at {data_dir} for the disk fault: "
                            f"{r.stderr.strip() or r.returncode}")


def _unmount_disk(data_dir: Path) -> None:
    subprocess.run(["umount", "-l", str(data_dir)], capture_output=True, check=False)


async def _check(tn: Testnet, session: aiohttp.ClientSession, res: ChaosResult,
                 acked: dict[bytes, tuple[int, int]], honest: list[int],
                 timeout: float = 60) -> None:
    """Every honest node catches up to the same height; all agree on every block and the final
    state root; nothing acknowledged is lost or there twice."""
    need = max((h for h, _ in acked.values()), default=0)
    deadline = time.monotonic() + timeout
    statuses: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        statuses = [(await _get(session, f"{tn.rest_url(i)}/v1/status"))[1] for i in honest]
        heights = [s["height"] for s in statuses]
        if min(heights) >= need and len(set(heights)) == 1:
            break
        await asyncio.sleep(0.3)
    top = min(s["height"] for s in statuses)
    res.final_height = top
    reader = tn.reader()  # blocks and transactions are for validators, regulators, auditors
    at_top = [s for s in statuses if s["height"] == top]
    res.state_roots_agree = (len(at_top) == len(honest)
                             and len({s["state_root"] for s in at_top}) == 1)
    hashes: list[list[str]] = []
    where: dict[str, list[tuple[int, int]]] = {}
    for n, i in enumerate(honest):
        chain: list[str] = [""] * top
        for lo in range(1, top + 1, 32):  # 32 requests at a time

            async def one(h: int, i: int = i) -> tuple[int, int, Any]:
                st, b = await _get(session, f"{tn.rest_url(i)}/v1/blocks/{h}", reader)
                return h, st, b

            for h, st, b in await asyncio.gather(*(one(h) for h in range(lo, min(top, lo + 31)
                                                                          + 1))):
                if st != 200:
                    continue
                chain[h - 1] = b.get("hash", "")
                if n == 0:
                    for idx, t in enumerate(b.get("tx_ids", [])):
                        where.setdefault(t, []).append((h, idx))
        hashes.append(chain)
    res.agree = all(c == hashes[0] for c in hashes) and all(hashes[0])
    res.duplicated = [f"{t} at {locs}" for t, locs in sorted(where.items()) if len(locs) > 1]
    # the chains agree (block hashes), so the first honest node's blocks stand for all of them
    for tx_id, (h, idx) in sorted(acked.items()):
        locs = where.get(tx_id.hex(), [])
        if (h, idx) not in locs:
            res.lost.append(f"{tx_id.hex()} acknowledged at {h}/{idx}, in the chain at {locs}")
    # and every honest node's transaction index answers for them (a sample of up to 300)
    sample = sorted(acked.items())
    sample = sample[:: max(1, len(sample) // 300)]
    for tx_id, (h, idx) in sample:
        for i in honest:
            st, got = await _get(session, f"{tn.rest_url(i)}/v1/tx/{tx_id.hex()}", reader)
            if st != 200 or got.get("height") != h or got.get("index") != idx:
                res.lost.append(f"node{i}: {tx_id.hex()} acknowledged at {h}/{idx}, "
                                f"its index says {got}")


def _setup_byzantine(tn: Testnet, rng: random.Random, res: ChaosResult,
                     behaviours: list[str] | None = None) -> set[int]:
    """Mark one node (two with 7 or more) byzantine in its config, with ``behaviours`` (default:
    picked by ``rng``, different ones); returns their indices."""
    from node.byzantine import BEHAVIOURS, enable_byzantine

    count = 2 if tn.n >= 7 else 1
    picks = rng.sample(range(tn.n), count)
    if behaviours is None:
        behaviours = rng.sample(sorted(BEHAVIOURS), count)
    behaviours = (behaviours * count)[:count]
    for i, b in zip(picks, behaviours, strict=True):
        enable_byzantine(tn.manifest.nodes[i].config, tn.manifest.genesis, b)
        res.byzantine[f"node{i}"] = b
    return set(picks)


async def run_chaos(directory: Path, duration: float, faults: list[str], rate: float = 20,
                    seed: int = 1, out: Any = sys.stdout,
                    byzantine: set[int] | None = None,
                    behaviours: list[str] | None = None) -> ChaosResult:
    """Run the testnet in ``directory`` under load and ``faults`` for ``duration`` seconds.

    ``byzantine``: node indices already configured byzantine (else, with ``byzantine`` in
    ``faults``, one node, two from 7 nodes, is picked and configured here with ``behaviours``,
    by default picked with the seed).

    Raises:
        ChainfinError: an unknown fault, or no testnet in ``directory``.
    """
    unknown = sorted(set(faults) - set(FAULTS) - {k for g in FAULT_GROUPS.values() for k in g})
    if unknown:
        kinds = ", ".join(k for g in FAULT_GROUPS.values() for k in g)
        raise ChainfinError(f"unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)} "
                            f"(or one kind of a group: {kinds})")
    load_manifest(directory)  # clear error when there is no testnet
    relays_here = (any(k in NET_KINDS for k in faults)
                   and not (Path(directory) / RELAY_FILE).exists())
    if relays_here:
        install_relays(directory)
    try:
        return await _run(directory, duration, faults, rate, seed, out, byzantine, behaviours)
    finally:
        if relays_here:  # the directory stays usable by `testnet up`
            uninstall_relays(directory)


async def _run(directory: Path, duration: float, faults: list[str], rate: float, seed: int,
               out: Any, byzantine: set[int] | None,
               behaviours: list[str] | None) -> ChaosResult:
    res = ChaosResult(duration)
    acked: dict[bytes, tuple[int, int]] = {}
    rng = random.Random(seed)
    net: NetFault | None = None
    with Testnet(directory) as tn:
        byz = set(byzantine or ())
        configured: set[int] = set()
        if "byzantine" in faults and not byz:
            byz = configured = _setup_byzantine(tn, rng, res, behaviours)
        honest = [i for i in range(tn.n) if i not in byz]
        f = max_faulty(tn.n)
        disk_node: int | None = None
        try:
            if "disk" in faults:
                disk_node = rng.choice(honest)
                _mount_disk(Path(tn.manifest.nodes[disk_node].data_dir))
                res.disk_node = f"node{disk_node}"
            if any(k in NET_KINDS for k in faults):
                net = NetFault.from_dir(directory, seed=seed)
                await net.start()
            tn.start()
            await asyncio.to_thread(tn.wait_ready, 30)
            print(f"chaos on {tn.n} nodes for {duration:g}s: faults {', '.join(faults)}, "
                  f"load {rate:g} tx/s" + (f", byzantine {res.byzantine}" if res.byzantine
                                           else ""), file=out, flush=True)
            down: set[int] = set()
            stop_load = asyncio.Event()
            stop_mon = asyncio.Event()
            # the load has a session of its own: its requests to a node that cannot commit
            # (a deaf one) wait up to their timeout, and in one shared pool they held every
            # connection the monitor needed (it then saw no block anywhere: a false stall);
            # per node, so one such node leaves the others their clients
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                    ssl=tn.ssl_context(), limit=200)) as session, \
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                        ssl=tn.ssl_context(), limit=400, limit_per_host=100)) as load_session:
                mon = Monitor(tn, session, res, max(1, f))
                mon.faulty.update(byz)
                t_start = time.monotonic()
                monitor = asyncio.create_task(mon.run(stop_mon))
                loader = asyncio.create_task(
                    _load(tn, load_session, down, stop_load, res, acked, rate, byz))
                kinds = [k for k in faults if k != "byzantine"]
                inj = Injector(tn, mon, net, down, res, kinds, rng, out, byz, disk_node)
                # faults stop early enough that the last one is healed under load
                await inj.run(until=t_start + max(duration * 0.75, duration - 12))
                await asyncio.sleep(max(0.0, t_start + duration - time.monotonic()))
                stop_load.set()
                await loader
                print(f"  load done: {res.acknowledged} acknowledged, {res.failed} failed "
                      "while nodes were faulty; checking every node ...", file=out, flush=True)
                stop_mon.set()
                await monitor
                await _check(tn, session, res, acked, honest)
                for i, code in tn.exited().items():
                    res.unrecovered.append(f"node{i} exited with code {code}")
        finally:
            if net is not None:
                res.relay = dict(net.stats)
                await net.stop()
            tn.stop()
            if res.disk_node is not None and disk_node is not None:
                _unmount_disk(Path(tn.manifest.nodes[disk_node].data_dir))
            if configured:  # the directory's nodes are honest again after the run
                from node.byzantine import disable_byzantine

                for i in configured:
                    disable_byzantine(tn.manifest.nodes[i].config)
    verdict = "OK" if res.ok else "FAILED"
    print(f"{verdict}: {len(res.faults)} faults, {res.acknowledged} txs acknowledged, "
          f"{len(res.lost)} lost, {len(res.duplicated)} duplicated, {len(res.forks)} forks, "
          f"nodes agree on {res.final_height} blocks: {res.agree}, state roots agree: "
          f"{res.state_roots_agree}, longest stall (<= f faulty) {res.longest_stall_s:.1f}s, "
          f"recovery after the last heal {res.recovery_after_last_heal_s}s", file=out)
    return res


def plot_resources(res: ChaosResult, path: str) -> None:
    """One panel per resource, one line per node (needs matplotlib: the ``plot`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    for k, (ax, label) in enumerate(zip(axes, ("RSS (MiB)", "open files", "data dir (MiB)",
                                               "event-loop lag (s)"), strict=True)):
        for node in sorted({int(x[1]) for x in res.samples}):
            rows = [x for x in res.samples if int(x[1]) == node]
            ax.plot([r[0] for r in rows], [r[2 + k] for r in rows], label=f"node{node}")
        ax.set_ylabel(label)
    axes[0].legend(loc="upper left", fontsize="small")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)


def cli_chaos(args: argparse.Namespace) -> int:
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    behaviours = ([b.strip() for b in args.behaviours.split(",") if b.strip()]
                  if getattr(args, "behaviours", None) else None)
    res = asyncio.run(run_chaos(Path(args.dir), args.duration, faults, args.rate, args.seed,
                                behaviours=behaviours))
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_json(), indent=2) + "\n")
    if getattr(args, "plot", None):
        plot_resources(res, args.plot)
    return 0 if res.ok else 1
