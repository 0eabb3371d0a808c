"""``chainfin testnet outage``: the faults a whole consortium meets, on a real testnet under load.

``testnet chaos`` faults at most f nodes at a time (a split aside). These scenarios fault more:

- ``blackout``  every node SIGKILLed at once in the middle of the load (a power or cloud-region
  outage), off for ``hold`` seconds, then all started again. Measured: the time from power-on
  to the first block committed after it (a block whose timestamp is after power-on, on any
  node) and to every node having one; the highest view.
- ``coldstart`` every node stopped, then started one at a time ``gap`` seconds apart (node0
  alone for a while, then node1, ...), the load offered to the nodes that are up. Measured:
  the views reached while no quorum is up and the view changes the nodes started meanwhile
  (``chainfin_consensus_total{what="view_changes_started"}``: ``/v1/status`` shows only the
  last view entered; neither may climb without bound), the time from
  the start of the (2f+1)-th node to the first commit, and the highest view after it.
- ``quorum``    f+1 nodes SIGKILLed at once (no quorum left) for ``hold`` seconds, then started
  again. Checked: the survivors commit nothing meanwhile (after a 1 s grace for a block whose
  COMMITs were on the wire); a probe client (one transaction every 2 s to a survivor, 45 s
  timeout) records what a client is told (the node answers ``202 pending`` with ``no_quorum``,
  once the quorum has been lost for 5 s at once, a request waiting then when the outage reaches
  5 s, decision 174: an answer that says why, not a hang nor the 30 s ``timeout``); every
  transaction the probe was told committed is in the chain, and those it was told pending are
  counted once committed after the return (``probe_pending_committed_later``). Measured: the
  time from the last returner's start to the first commit.
- ``rolling``   each node in turn stopped and started again under load (the upgrade path):
  once with SIGTERM, once with SIGKILL; the next only once the restarted one has caught up.
  Measured per restart: whether it was the primary, how long the stop took, the time until it
  answered, until it had caught up, the longest commit stall meanwhile and the views it cost.

``blackout`` with ``power_loss`` (``--power-loss``): the node processes run under a small
LD_PRELOAD shim (:data:`SYNCLOG_C`, built with the system's C compiler) that records every
successful fsync/fdatasync; after the SIGKILL every LevelDB log is cut back to its size at its
last sync (:func:`power_cut`): what a power cut takes from the page cache, on every node at
once. :func:`power_cut_after_ack` is the sharpest case: an idle network, one transaction, and
the power cut the moment its client hears ``committed`` (a commit is written unsynced,
decision 14: the block is then on no node's disk).

Every scenario: load at ``rate`` tx/s (``testnet.chaos._load``: round-robin to the nodes up,
``POST /v1/tx?wait=commit``), the fork monitor of chaos running all along
(``testnet.chaos.Monitor``), and at the end chaos's check (``testnet.chaos._check``): every
node at the same height with the same blocks and state root, every acknowledged transaction
at the height and index it was acknowledged with, none twice. A scenario fails when that
check fails, when the network does not commit within ``LIVENESS_S`` of the moment it could
(power-on, the (2f+1)-th start, the return of the quorum), when a node does not come back, or
when views climb past ``MAX_VIEW_CLIMB`` while no quorum is up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
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
from chainfin.errors import ChainfinError
from chainfin.types import Transaction
from testnet.chaos import SPLIT_GRACE_S, ChaosResult, Monitor, _check, _get, _load
from testnet.launch import Testnet, load_manifest

SCENARIOS = ("blackout", "coldstart", "quorum", "rolling")
#: the network must commit within this long of the moment it can (power-on, the (2f+1)-th
#: node's start, the quorum's return); generous: a loaded 2-core machine starts 4 nodes slowly
LIVENESS_S = 45.0
#: views may not climb more than this above where they were while no quorum is up (one view
#: change a lone node asks for, and the doubling resends of it, are expected; a storm is not)
MAX_VIEW_CLIMB = 4
#: a restarted node must have caught up with the network within this long (rolling)
CATCH_UP_S = 45.0
#: the power-loss model of ``blackout --power-loss``: an LD_PRELOAD shim records, at every
#: successful fsync/fdatasync of the node processes, the file and its size; at the blackout,
#: after SIGKILL, every LevelDB log (``NNNNNN.log``) is cut back to the size it had at its last
#: sync (to nothing if it never had one): what the page cache held and a power cut loses.
#: (Tables, MANIFEST and CURRENT are synced by LevelDB when written; the side mark
#: CHAINFIN-walmark may only lag the WAL, which keeping it does not change.)
SYNCLOG_C = r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
static int logfd = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init(void) {
    const char *d = getenv("CHAINFIN_SYNCLOG_DIR");
    if (!d) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/%d.synclog", d, (int)getpid());
    logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}
static void note(int fd) {
    pthread_once(&once, init);
    if (logfd < 0) return;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    char line[4200];
    int k = snprintf(line, sizeof line, "%lld\t%s\n", (long long)st.st_size, path);
    if (k > 0 && k < (int)sizeof line) (void)!write(logfd, line, (size_t)k);
}
int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int r = real(fd);
    if (r == 0) note(fd);
    return r;
}
int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int r = real(fd);
    if (r == 0) note(fd);
    return r;
}
'''
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 45.0  # above the node's own 30 s wait (node.runtime.WAIT_TIMEOUT_S)


@dataclass
class OutageResult:
    scenario: str
    chaos: ChaosResult
    measures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        c = self.chaos
        return (not self.problems and c.agree and c.state_roots_agree and not c.lost
                and not c.duplicated and not c.forks and c.acknowledged > 0
                and not c.unrecovered)

    def to_json(self) -> dict[str, Any]:
        c = self.chaos
        return {"scenario": self.scenario, "offered": c.offered, "acknowledged": c.acknowledged,
                "failed": c.failed, "errors": c.errors, "lost": len(c.lost),
                "lost_sample": c.lost[:5], "duplicated": len(c.duplicated),
                "forks": len(c.forks), "forks_sample": c.forks[:5],
                "final_height": c.final_height, "agree": c.agree,
                "state_roots_agree": c.state_roots_agree, "monitor_polls": c.polls,
                "unrecovered": c.unrecovered, **self.measures, "problems": self.problems,
                "ok": self.ok}


class _Run:
    """One scenario's testnet, load, monitor and clocks."""

    def __init__(self, tn: Testnet, res: OutageResult, rate: float, out: Any,
                 rng: random.Random) -> None:
        self.tn, self.res, self.rate, self.out, self.rng = tn, res, rate, out, rng
        self.c = res.chaos
        self.f = max_faulty(tn.n)
        self.q = quorum(tn.n)
        self.acked: dict[bytes, tuple[int, int]] = {}
        self.down: set[int] = set()
        self.stop_load = asyncio.Event()
        self.stop_mon = asyncio.Event()
        self.t0 = time.monotonic()
        self.session: aiohttp.ClientSession | None = None
        self.load_session: aiohttp.ClientSession | None = None
        self.mon: Monitor | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def say(self, msg: str) -> None:
        print(f"  [{time.monotonic() - self.t0:6.1f}s] {msg}", file=self.out, flush=True)

    async def __aenter__(self) -> _Run:
        ssl = self.tn.ssl_context()
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl, limit=200))
        # the load's own pool (chaos does the same: requests to a node that cannot commit wait
        # up to their timeout and must not starve the monitor)
        self.load_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=ssl, limit=400, limit_per_host=100))
        self.mon = Monitor(self.tn, self.session, self.c, max(1, self.f))
        return self

    def start_load_and_monitor(self) -> None:
        assert self.mon is not None and self.load_session is not None
        self._tasks.append(asyncio.create_task(self.mon.run(self.stop_mon)))
        self._tasks.append(asyncio.create_task(
            _load(self.tn, self.load_session, self.down, self.stop_load, self.c, self.acked,
                  self.rate, set())))

    async def finish(self) -> None:
        """Stop the load (its requests answered or timed out), the monitor, then check."""
        assert self.session is not None
        self.stop_load.set()
        if len(self._tasks) > 1:
            await self._tasks[1]
        self.stop_mon.set()
        if self._tasks:
            await self._tasks[0]
        self.say(f"load done: {self.c.acknowledged} acknowledged, {self.c.failed} failed; "
                 "checking every node ...")
        await _check(self.tn, self.session, self.c, self.acked, list(range(self.tn.n)))
        for i, code in self.tn.exited().items():
            self.c.unrecovered.append(f"node{i} exited with code {code}")

    async def __aexit__(self, *exc: object) -> None:
        self.stop_load.set()
        self.stop_mon.set()
        for t in self._tasks:
            if not t.done():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for s in (self.session, self.load_session):
            if s is not None:
                await s.close()

    def ack_gap(self, t_from: float, t_to: float) -> float:
        """The longest time without an acknowledgement (a committed answer to the load's
        clients) between ``t_from`` and ``t_to`` (monotonic): the stall clients saw."""
        times = sorted(t for t, _ in self.c.acks if t_from <= t <= t_to)
        edges = [t_from, *times, t_to]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False))

    # ------------------------------------------------------------------ reading the nodes

    async def status(self, i: int) -> dict[str, Any] | None:
        assert self.session is not None
        try:
            st, s = await _get(self.session, f"{self.tn.rest_url(i)}/v1/status", timeout=2)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return None
        return s if st == 200 else None

    async def statuses(self, nodes: list[int]) -> dict[int, dict[str, Any]]:
        got = await asyncio.gather(*(self.status(i) for i in nodes))
        return {i: s for i, s in zip(nodes, got, strict=True) if s is not None}

    async def engine_counts(self, nodes: list[int]) -> dict[int, dict[str, float]]:
        """Each of ``nodes``' consensus counters (``chainfin_consensus_total``, /metrics):
        ``view_changes_started`` counts every view change a node asked for or joined, including
        those that never completed (the view ``/v1/status`` reports is the last one entered)."""
        assert self.session is not None
        reader = self.tn.reader()
        out: dict[int, dict[str, float]] = {}
        for i in nodes:
            url = f"{self.tn.rest_url(i)}/metrics"
            try:
                async with self.session.get(
                        url, timeout=aiohttp.ClientTimeout(total=3),
                        headers=signed_headers(reader, "GET", url) if reader else None) as rr:
                    text = await rr.text()
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                continue
            got: dict[str, float] = {}
            for ln in text.splitlines():
                if ln.startswith('chainfin_consensus_total{what="'):
                    key = ln.split('"', 2)[1]
                    with contextlib.suppress(ValueError, IndexError):
                        got[key] = float(ln.rsplit(" ", 1)[1])
            out[i] = got
        return out

    async def vcs_started(self, nodes: list[int]) -> dict[int, int]:
        return {i: int(c.get("view_changes_started", 0))
                for i, c in (await self.engine_counts(nodes)).items()}

    async def views(self) -> dict[int, int]:
        """Each running node's view now."""
        up = [i for i in range(self.tn.n) if self.tn.running(i)]
        return {i: int(s.get("view", 0)) for i, s in (await self.statuses(up)).items()}

    async def first_commit(self, since_ms: int, nodes: list[int], timeout: float
                           ) -> tuple[float | None, float | None, int]:
        """Seconds (from now) until one of ``nodes``, and until every one of them, holds a tip
        committed after the wall-clock ``since_ms`` (block time is the primary's clock, the
        same machine's here); and the highest view any of them reported meanwhile."""
        t_from = time.monotonic()
        first: float | None = None
        max_view = 0
        deadline = t_from + timeout
        while time.monotonic() < deadline:
            st = await self.statuses(nodes)
            for s in st.values():
                max_view = max(max_view, int(s.get("view", 0)))
            fresh = [i for i, s in st.items() if int(s.get("timestamp_ms", 0)) >= since_ms]
            now = time.monotonic()
            if fresh and first is None:
                first = now - t_from
            if len(fresh) == len(nodes):
                return first, now - t_from, max_view
            await asyncio.sleep(0.1)
        return first, None, max_view

    # ------------------------------------------------------------------ faults

    def kill_all(self, nodes: list[int]) -> None:
        """SIGKILL every node of ``nodes`` at once (the signals first, then the reaping)."""
        for i in nodes:
            self.down.add(i)
            pid = self.tn.pid(i)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for i in nodes:
            self.tn.kill(i)

    async def start(self, nodes: list[int], timeout: float = 60) -> float:
        """Start ``nodes`` and wait until they answer; the seconds that took."""
        t = time.monotonic()
        self.tn.start(nodes)
        await asyncio.to_thread(self.tn.wait_ready, timeout, nodes)
        self.down.difference_update(nodes)
        return time.monotonic() - t


def build_synclog(directory: Path) -> tuple[Path, Path]:
    """Compile the sync-recording shim into ``directory/.outage`` (needs a C compiler);
    returns (the shared object, the directory the node processes record their syncs in).

    Raises:
        ChainfinError: no compiler, or it failed.
    """
    work = Path(directory).resolve() / ".outage"
    logs = work / "synclog"
    logs.mkdir(parents=True, exist_ok=True)
    src, so = work / "synclog.c", work / "synclog.so"
    src.write_text(SYNCLOG_C)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ChainfinError("--power-loss compiles a small LD_PRELOAD shim and needs a C "
                            "compiler (cc)")
    rr = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(so), str(src), "-ldl",
                         "-lpthread"], capture_output=True, text=True)
    if rr.returncode != 0:
        raise ChainfinError(f"cannot build the power-loss shim: {rr.stderr.strip()[:400]}")
    return so, logs


def power_cut(tn: Testnet, logs: Path) -> dict[str, int]:
    """After SIGKILL of every node: cut each LevelDB log of every node back to its size at
    its last fsync (nothing if none), as a power loss would. Returns the bytes dropped per
    node."""
    synced: dict[str, int] = {}
    for f in logs.glob("*.synclog"):
        for ln in f.read_text(errors="replace").splitlines():
            at, _, path = ln.partition("\t")
            with contextlib.suppress(ValueError):
                synced[path] = max(synced.get(path, 0), int(at))
    dropped: dict[str, int] = {}
    for i in range(tn.n):
        db = Path(tn.manifest.nodes[i].data_dir).resolve() / "db"
        lost = 0
        for log_file in sorted(db.glob("*.log")):
            if not log_file.stem.isdigit():
                continue
            keep = synced.get(str(log_file), 0)
            size = log_file.stat().st_size
            if size > keep:
                with open(log_file, "r+b") as fh:
                    fh.truncate(keep)
                lost += size - keep
        dropped[f"node{i}"] = lost
    return dropped


def _start_height(tn: Testnet, i: int) -> int | None:
    """The height node ``i`` said it started at, in the last start line of its log."""
    try:
        with open(tn.log_file(i), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 65536))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    at = tail.rfind(" started at height ")
    if at < 0:
        return None
    with contextlib.suppress(ValueError, IndexError):
        return int(tail[at:].split()[3])
    return None


def _wall_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------- scenarios


async def _blackout(r: _Run, warm: float, hold: float, after: float,
                    synclog: Path | None = None) -> None:
    tn, m = r.tn, r.res.measures
    everyone = list(range(tn.n))
    await asyncio.sleep(warm)
    views = await r.views()
    m["view_before"] = max(views.values(), default=0)
    acked_before = r.c.acknowledged
    r.say(f"blackout: SIGKILL every node at once ({acked_before} acknowledged so far, "
          f"height {r.mon.max_height if r.mon else '?'})")
    assert r.mon is not None
    r.mon.over_f = True  # no stall counts while the network is off
    t_kill = time.monotonic()
    r.kill_all(everyone)
    m["acknowledged_before_blackout"] = acked_before
    if synclog is not None:
        # what every node's page cache held is gone with the power
        m["power_loss_bytes_dropped"] = power_cut(tn, synclog)
        r.say(f"power loss: unsynced LevelDB log bytes dropped {m['power_loss_bytes_dropped']}")
    await asyncio.sleep(hold)
    power_on = _wall_ms()
    r.say("power on: every node started at once")
    m["ready_s"] = round(await r.start(everyone), 2)
    r.mon.over_f = False
    first, all_, view = await r.first_commit(power_on, everyone, LIVENESS_S)
    ready = m["ready_s"]
    m["first_commit_after_power_on_s"] = None if first is None else round(ready + first, 2)
    m["every_node_committed_after_power_on_s"] = None if all_ is None else round(ready + all_, 2)
    r.say(f"first commit {m['first_commit_after_power_on_s']} s after power-on, every node "
          f"{m['every_node_committed_after_power_on_s']} s")
    if all_ is None:
        r.res.problems.append(f"not every node committed within {LIVENESS_S:g}s of power-on")
    await asyncio.sleep(after)
    # from the kill to the first acknowledgement after it (the whole outage, as clients saw it)
    m["no_ack_s"] = round(r.ack_gap(t_kill, time.monotonic()), 2)
    m["max_view"] = max(view, *(await r.views()).values(), max(r.mon.views))


async def _coldstart(r: _Run, gap: float, after: float, order: list[int] | None = None
                     ) -> None:
    tn, m = r.tn, r.res.measures
    assert r.mon is not None
    order = list(range(tn.n)) if order is None else order
    m["order"] = [f"node{i}" for i in order]
    r.mon.over_f = True
    m["gap_s"] = gap
    m["views_while_no_quorum"] = []
    view_start: int | None = None
    t_start: dict[int, float] = {}
    first_commit: float | None = None
    for k, i in enumerate(order):
        power_on = _wall_ms()
        t_start[i] = time.monotonic()
        ready = await r.start([i])
        r.say(f"node{i} started ({k + 1} of {tn.n} up; answered in {ready:.1f}s)")
        if view_start is None:
            view_start = max((await r.views()).values(), default=0)
            m["view_at_start"] = view_start
        if k + 1 < r.q:
            # no quorum: watch the views for the whole gap, and count the view changes the
            # nodes up start (a started one that cannot complete shows in no status)
            up = order[:k + 1]
            vc0 = await r.vcs_started(up)
            end = time.monotonic() + gap
            top = 0
            while time.monotonic() < end:
                top = max(top, *(await r.views()).values())
                await asyncio.sleep(0.5)
            vc1 = await r.vcs_started(up)
            started = sum(vc1.get(j, 0) - vc0.get(j, 0) for j in up)
            m["views_while_no_quorum"].append({"up": k + 1, "max_view": top,
                                               "view_changes_started": started})
            r.say(f"  {k + 1} up for {gap:g}s, no quorum: highest view entered {top}, "
                  f"view changes started {started}")
            if top - view_start > MAX_VIEW_CLIMB or started > MAX_VIEW_CLIMB * len(up):
                r.res.problems.append(f"views climbed from {view_start} to {top} ({started} "
                                      f"view changes started) with {k + 1} nodes up (no "
                                      "quorum): a view-change storm")
        elif k + 1 == r.q:
            r.mon.over_f = False
            up = order[:k + 1]
            base = time.monotonic() - t_start[i]
            first, all_, view = await r.first_commit(power_on, up, LIVENESS_S)
            first_commit = None if first is None else round(base + first, 2)
            m["first_commit_after_quorum_node_start_s"] = first_commit
            m["every_up_node_committed_s"] = None if all_ is None else round(base + all_, 2)
            m["max_view_at_quorum"] = view
            r.say(f"  quorum up: first commit {first_commit}s after node{i} started, on every "
                  f"node up after {m['every_up_node_committed_s']}s, view {view}")
            if all_ is None:
                r.res.problems.append(f"no commit on every node up within {LIVENESS_S:g}s of "
                                      f"the {r.q}th node's start")
            await asyncio.sleep(max(0.0, gap - (time.monotonic() - t_start[i])))
        else:
            # a late node: it must catch up
            h = r.mon.max_height
            t = time.monotonic()
            while time.monotonic() - t < CATCH_UP_S and r.mon.heights[i] < h:
                await asyncio.sleep(0.2)
            caught = r.mon.heights[i] >= h
            m.setdefault("late_nodes_caught_up_s", []).append(
                round(time.monotonic() - t_start[i], 2) if caught else None)
            if not caught:
                r.res.problems.append(f"node{i} did not catch up within {CATCH_UP_S:g}s")
            if k + 1 < tn.n:
                await asyncio.sleep(max(0.0, gap - (time.monotonic() - t_start[i])))
    await asyncio.sleep(after)
    m["max_view"] = max(max((await r.views()).values(), default=0), max(r.mon.views))


async def _probe(r: _Run, node: int, stop: asyncio.Event, out: list[dict[str, Any]],
                 committed: dict[bytes, tuple[int, int]]) -> None:
    """One transaction every PROBE_EVERY_S to ``node``, waited for up to PROBE_TIMEOUT_S: what
    is a client told while the quorum is lost?"""
    tn = r.tn
    issuer = tn.identity("usd_issuer")
    to = tn.manifest.client("importer").public_key
    nonce = 2**61 + int(time.time() * 1000) * 10
    tasks: list[asyncio.Task[None]] = []

    async def one(tx: Transaction, sent: float) -> None:
        assert r.session is not None
        rec: dict[str, Any] = {"sent_s": round(sent - r.t0, 1), "node": node}
        try:
            async with r.session.post(f"{tn.rest_url(node)}/v1/tx?wait=commit",
                                      json=tx.to_json(),
                                      timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)) as rr:
                body = await rr.json()
            rec["http"] = rr.status
            rec["status"] = body.get("status")
            rec["code"] = (body.get("error") or {}).get("code")
            if rr.status == 200 and body.get("status") == "committed":
                committed[tx.tx_id] = (body["height"], body["index"])
        except TimeoutError:
            rec["http"], rec["code"] = None, "client_timeout"
        except (aiohttp.ClientError, OSError, ValueError) as e:
            rec["http"], rec["code"] = None, type(e).__name__
        rec["answered_after_s"] = round(time.monotonic() - sent, 1)
        rec["tx_id"] = tx.tx_id.hex()
        out.append(rec)

    while not stop.is_set():
        nonce += 1
        tx = Transaction.create(issuer, tn.chain_id, nonce, "settlement", "issue",
                                {"currency": "USD", "to": to, "amount": 1})
        tasks.append(asyncio.create_task(one(tx, time.monotonic())))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROBE_EVERY_S)
    if tasks:
        await asyncio.wait(tasks, timeout=PROBE_TIMEOUT_S + 5)


async def _quorum(r: _Run, warm: float, hold: float, after: float) -> None:
    tn, m = r.tn, r.res.measures
    assert r.mon is not None and r.session is not None
    await asyncio.sleep(warm)
    victims = sorted(r.rng.sample(range(tn.n), r.f + 1))
    survivors = [i for i in range(tn.n) if i not in victims]
    m["killed"] = [f"node{i}" for i in victims]
    m["view_before"] = max((await r.views()).values(), default=0)
    r.say(f"lost quorum: SIGKILL {', '.join(m['killed'])} at once; survivors "
          f"{', '.join(f'node{i}' for i in survivors)}")
    r.mon.over_f = True
    vc0 = await r.vcs_started(survivors)
    r.kill_all(victims)
    await asyncio.sleep(SPLIT_GRACE_S)
    h_cut = r.mon.max_height
    probes: list[dict[str, Any]] = []
    probe_committed: dict[bytes, tuple[int, int]] = {}
    stop_probe = asyncio.Event()
    probe = asyncio.create_task(_probe(r, survivors[0], stop_probe, probes, probe_committed))
    await asyncio.sleep(max(0.0, hold - SPLIT_GRACE_S))
    st = await r.statuses(survivors)
    m["commits_without_quorum"] = max(int(s["height"]) for s in st.values()) - h_cut \
        if st else None
    m["mempool_without_quorum"] = {f"node{i}": s.get("mempool") for i, s in st.items()}
    m["max_view_without_quorum"] = max((int(s.get("view", 0)) for s in st.values()), default=0)
    vc1 = await r.vcs_started(survivors)
    m["view_changes_started_without_quorum"] = sum(vc1.get(j, 0) - vc0.get(j, 0)
                                                   for j in survivors)
    r.c.split_commits += max(0, m["commits_without_quorum"] or 0)
    r.say(f"  after {hold:g}s without quorum: {m['commits_without_quorum']} blocks committed "
          f"(must be 0), views entered up to {m['max_view_without_quorum']}, view changes "
          f"started {m['view_changes_started_without_quorum']}, mempools "
          f"{m['mempool_without_quorum']}")
    if m["commits_without_quorum"]:
        r.res.problems.append(f"{m['commits_without_quorum']} blocks committed without a "
                              "quorum")
    if (m["max_view_without_quorum"] - m["view_before"] > MAX_VIEW_CLIMB
            or m["view_changes_started_without_quorum"] > MAX_VIEW_CLIMB * len(survivors)):
        r.res.problems.append(f"views climbed from {m['view_before']} to "
                              f"{m['max_view_without_quorum']} "
                              f"({m['view_changes_started_without_quorum']} view changes "
                              "started) without a quorum")
    stop_probe.set()
    back = _wall_ms()
    r.say(f"restore: start {', '.join(m['killed'])}")
    m["ready_s"] = round(await r.start(victims), 2)
    r.mon.over_f = False
    first, all_, view = await r.first_commit(back, list(range(tn.n)), LIVENESS_S)
    m["first_commit_after_restore_s"] = None if first is None else round(m["ready_s"] + first, 2)
    m["every_node_committed_after_restore_s"] = (None if all_ is None
                                                 else round(m["ready_s"] + all_, 2))
    r.say(f"  first commit {m['first_commit_after_restore_s']}s after the restore began, every "
          f"node {m['every_node_committed_after_restore_s']}s")
    if all_ is None:
        r.res.problems.append(f"not every node committed within {LIVENESS_S:g}s of the "
                              "quorum's return")
    await probe
    # what the probe client was told
    answers: dict[str, int] = {}
    for p in probes:
        key = f"{p['http']} {p.get('status') or ''} {p.get('code') or ''}".strip()
        answers[key] = answers.get(key, 0) + 1
    m["probe_answers"] = answers
    m["probe_answer_max_s"] = max((p["answered_after_s"] for p in probes), default=None)
    m["probes"] = probes
    hung = [p for p in probes if p["code"] == "client_timeout"]
    if hung:
        r.res.problems.append(f"{len(hung)} probe requests got no answer within "
                              f"{PROBE_TIMEOUT_S:g}s")
    r.acked.update(probe_committed)  # checked like the load's: committed means in the chain
    m["probe_told_committed"] = len(probe_committed)
    await asyncio.sleep(after)
    # the probe's pending transactions: admitted while there was no quorum, committed after?
    later = 0
    for p in probes:
        if p.get("status") == "pending":
            st_, got = await _get(r.session, f"{tn.rest_url(survivors[0])}/v1/tx/{p['tx_id']}",
                                  tn.reader())
            later += st_ == 200 and got.get("status") == "committed"
    m["probe_pending_committed_later"] = later
    m["max_view"] = max(view, *(await r.views()).values(), max(r.mon.views))


async def _rolling(r: _Run, warm: float, plan: list[tuple[int, str]], settle: float) -> None:
    tn, m = r.tn, r.res.measures
    assert r.mon is not None
    mon = r.mon
    await asyncio.sleep(warm)
    m["restarts"] = []
    for i, mode in plan:
        primary = mon.primary(list(range(tn.n)))
        view0 = max(mon.views)
        h0 = mon.max_height
        mon.window_stall = 0.0
        t0 = time.monotonic()
        r.down.add(i)
        mon.faulty.add(i)
        if mode == "kill":
            r.kill_all([i])
        else:
            await asyncio.to_thread(tn.stop, i)
        stop_s = time.monotonic() - t0
        t1 = time.monotonic()
        ready = await r.start([i])
        mon.faulty.discard(i)
        h_net = mon.max_height
        caught: float | None = None
        while time.monotonic() - t1 < CATCH_UP_S:
            if mon.heights[i] >= h_net and mon.heights[i] > h0:
                caught = time.monotonic() - t1
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(settle)
        gap = r.ack_gap(t0, time.monotonic())
        entry = {"node": f"node{i}", "mode": mode, "was_primary": primary == i,
                 "stop_s": round(stop_s, 2), "ready_s": round(ready, 2),
                 "caught_up_s": None if caught is None else round(caught, 2),
                 "stall_s": round(mon.window_stall, 2), "no_ack_s": round(gap, 2),
                 "blocks_during": mon.max_height - h0,
                 "view_changes": max(mon.views) - view0}
        m["restarts"].append(entry)
        r.say(f"{mode} node{i}{' (primary)' if entry['was_primary'] else ''}: stopped in "
              f"{entry['stop_s']}s, answering {entry['ready_s']}s after its start, caught "
              f"up after {entry['caught_up_s']}s, longest stall {entry['stall_s']}s "
              f"(no acknowledgement for {entry['no_ack_s']}s), "
              f"{entry['view_changes']} view changes")
        if caught is None:
            r.res.problems.append(f"{mode} node{i}: not caught up within {CATCH_UP_S:g}s")
    rs = m["restarts"]
    m["max_stall_s"] = max((x["stall_s"] for x in rs), default=0.0)
    m["max_no_ack_s"] = max((x["no_ack_s"] for x in rs), default=0.0)
    m["max_caught_up_s"] = max((x["caught_up_s"] or 0 for x in rs), default=0.0)
    m["max_view"] = max(mon.views)


async def power_cut_after_ack(directory: Path, rounds: int = 4, out: Any = sys.stdout
                              ) -> list[dict[str, Any]]:
    """The sharpest blackout: on an idle network, one transaction is sent and, the moment its
    client hears ``committed``, every node is SIGKILLed and loses what no fsync made durable
    (:func:`power_cut`; a block's commit is written unsynced, decision 14, and nothing else
    happened after it). Then all start again. Per round: where the transaction was acknowledged,
    where the network holds it after the restart (it must be the same place), and the bytes
    each node lost."""
    so, logs = build_synclog(directory)
    for old_log in logs.glob("*.synclog"):
        old_log.unlink()
    env = {"LD_PRELOAD": str(so), "CHAINFIN_SYNCLOG_DIR": str(logs)}
    res = OutageResult("power-cut-after-ack", ChaosResult(0.0))
    rows: list[dict[str, Any]] = []
    with Testnet(directory, env=env) as tn:
        async with _Run(tn, res, 1, out, random.Random(0)) as r:
            assert r.session is not None
            issuer = tn.identity("usd_issuer")
            to = tn.manifest.client("exporter").public_key
            tn.start()
            await asyncio.to_thread(tn.wait_ready, 60)
            nonce = 2**60 + int(time.time() * 1000) * 1000
            everyone = list(range(tn.n))
            for k in range(rounds):
                await asyncio.sleep(1.0)  # idle: nothing in flight
                nonce += 1
                tx = Transaction.create(issuer, tn.chain_id, nonce, "settlement", "issue",
                                        {"currency": "USD", "to": to, "amount": 1})
                i = k % tn.n
                async with r.session.post(f"{tn.rest_url(i)}/v1/tx?wait=commit",
                                          json=tx.to_json(),
                                          timeout=aiohttp.ClientTimeout(total=60)) as rr:
                    body = await rr.json()
                row: dict[str, Any] = {"round": k, "node": i, "answer": body.get("status")}
                if body.get("status") == "committed":
                    row["acknowledged_at"] = [body["height"], body["index"]]
                    r.kill_all(everyone)
                    row["bytes_dropped"] = power_cut(tn, logs)
                    t_on = time.monotonic()
                    await r.start(everyone)
                    # the height each node found on its disk (its log's start line)
                    row["restarted_at"] = {f"node{j}": _start_height(tn, j) for j in everyone}
                    found = None
                    deadline = time.monotonic() + LIVENESS_S
                    while time.monotonic() < deadline:
                        with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError,
                                                 ValueError):
                            st, got = await _get(r.session,
                                                 f"{tn.rest_url(i)}/v1/tx/{tx.tx_id.hex()}",
                                                 tn.reader())
                            if st == 200 and got.get("status") == "committed":
                                found = [got["height"], got["index"]]
                                break
                        await asyncio.sleep(0.2)
                    row["after_restart"] = found
                    # every node back at (or above) the acknowledged height
                    h = int(body["height"])
                    heights: dict[str, int] = {}
                    while time.monotonic() < deadline:
                        heights = {f"node{j}": int(x["height"])
                                   for j, x in (await r.statuses(everyone)).items()}
                        if len(heights) == tn.n and min(heights.values()) >= h:
                            break
                        await asyncio.sleep(0.2)
                    row["heights"] = heights
                    row["every_node_back_s"] = round(time.monotonic() - t_on, 2)
                r.say(f"round {k}: {row}")
                rows.append(row)
    return rows


# ---------------------------------------------------------------------- entry points


async def run_outage(directory: Path, scenario: str, rate: float = 100, seed: int = 1,
                     out: Any = sys.stdout, *, warm: float = 8.0, hold: float = 5.0,
                     gap: float = 10.0, after: float = 8.0,
                     modes: tuple[str, ...] = ("stop", "kill"),
                     settle: float = 1.0, order: list[int] | None = None,
                     power_loss: bool = False,
                     restarts: list[tuple[int, str]] | None = None) -> OutageResult:
    """Run one scenario (:data:`SCENARIOS`) on the testnet in ``directory`` (its nodes must not
    be running) under ``rate`` tx/s.

    ``warm``: seconds of load before the fault; ``hold``: how long the blackout or the lost
    quorum lasts; ``gap``: between two starts of a cold start; ``after``: load after the
    network is back; ``modes``: the rolling restart's rounds (``stop``: SIGTERM, ``kill``:
    SIGKILL); ``settle``: load between two restarts once the restarted node caught up;
    ``restarts``: the rolling restart's (node, mode) in turn instead of every node in each
    of ``modes``; ``order``: the cold start's order of nodes (default node0, node1, ...);
    ``power_loss``
    (blackout): also drop what no fsync made durable (:func:`power_cut`; needs a C compiler).

    Raises:
        ChainfinError: an unknown scenario, or no testnet in ``directory``.
    """
    if scenario not in SCENARIOS:
        raise ChainfinError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    load_manifest(directory)
    res = OutageResult(scenario, ChaosResult(0.0))
    rng = random.Random(seed)
    t_begin = time.monotonic()
    env: dict[str, str] = {}
    synclog: Path | None = None
    if power_loss and scenario == "blackout":
        so, synclog = build_synclog(directory)
        for old_log in synclog.glob("*.synclog"):
            old_log.unlink()
        env = {"LD_PRELOAD": str(so), "CHAINFIN_SYNCLOG_DIR": str(synclog)}
        res.measures["power_loss"] = True
    with Testnet(directory, env=env) as tn:
        print(f"outage {scenario} on {tn.n} nodes (f = {max_faulty(tn.n)}, quorum "
              f"{quorum(tn.n)}), load {rate:g} tx/s", file=out, flush=True)
        async with _Run(tn, res, rate, out, rng) as r:
            if scenario != "coldstart":
                tn.start()
                await asyncio.to_thread(tn.wait_ready, 60)
            else:
                r.down.update(range(tn.n))
            r.start_load_and_monitor()
            if scenario == "blackout":
                await _blackout(r, warm, hold, after, synclog)
            elif scenario == "coldstart":
                await _coldstart(r, gap, after, order)
            elif scenario == "quorum":
                await _quorum(r, warm, hold, after)
            else:
                plan = restarts or [(i, mode) for mode in modes for i in range(tn.n)]
                await _rolling(r, warm, plan, settle)
            await r.finish()
    res.chaos.duration_s = round(time.monotonic() - t_begin, 1)
    res.measures["duration_s"] = res.chaos.duration_s
    c = res.chaos
    print(f"{'OK' if res.ok else 'FAILED'} {scenario}: {c.acknowledged} acknowledged, "
          f"{len(c.lost)} lost, {len(c.duplicated)} duplicated, {len(c.forks)} forks, "
          f"{c.final_height} blocks agreed: {c.agree}, state roots agree: "
          f"{c.state_roots_agree}" + (f"; problems: {res.problems}" if res.problems else ""),
          file=out, flush=True)
    return res


async def run_outages(directory: Path, scenarios: list[str], rate: float = 100, seed: int = 1,
                      out: Any = sys.stdout, **kw: Any) -> list[OutageResult]:
    """Each scenario in turn on the same testnet (its chain goes on from one to the next)."""
    results = []
    for k, s in enumerate(scenarios):
        results.append(await run_outage(directory, s, rate, seed + k, out, **kw))
    return results


def cli_outage(args: argparse.Namespace) -> int:
    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    for s in scenarios:
        if s not in SCENARIOS:
            raise ChainfinError(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}")
    kw: dict[str, Any] = {"warm": args.warm, "hold": args.hold, "gap": args.gap,
                          "after": args.after,
                          "power_loss": bool(getattr(args, "power_loss", False))}
    results = asyncio.run(run_outages(Path(args.dir), scenarios, args.rate, args.seed, **kw))
    if args.json:
        Path(args.json).write_text(json.dumps([x.to_json() for x in results], indent=2) + "\n")
    return 0 if all(x.ok for x in results) else 1
