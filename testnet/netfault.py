"""Network faults for a local testnet: one TCP relay per ordered pair of nodes, driven at run time.

``install_relays(DIR)`` gives every ordered pair (a, b) of a testnet's nodes a relay port on
127.0.0.1 and points node a's config entry for peer b at it (the real p2p addresses stay in the
manifest); it writes ``DIR/netfault.json``. :class:`NetFault` then runs those relays in the
caller's event loop and changes what they do while the testnet runs::

    nf = NetFault.from_dir(DIR, seed=1)
    await nf.start()
    nf.isolate(2)                      # node 2 hears nothing and is heard by nobody
    nf.partition([[0, 1], [2, 3]])     # a 2/2 split
    nf.cut(0, 1, both=False)           # 0 -> 1 only
    nf.shape(delay_ms=200, jitter_ms=50)           # WAN delay on every link, both ways
    nf.shape(0, 1, loss=0.05, rate_bps=64_000)     # lossy and slow, 0 -> 1
    nf.heal()                          # everything back to normal
    await nf.stop()

A relay only forwards bytes: TLS and the peer handshake run end to end through it. Faults are set
per *direction* (a -> b): the bytes that a sends to b obey (a, b), whichever of the two dialled the
connection that carries them.

What a fault does to a TCP byte stream (TCP hides loss and reorders nothing, so neither does the
relay):

- **cut**: bytes in that direction are held, not delivered (a partition: the sender's writes are
  accepted, nothing arrives, the endpoints' heartbeats decide when the link is dead). When a
  held connection is closed by either endpoint the relay closes the other end too. New
  connections during a cut are accepted and held the same way. ``heal`` releases what is held.
- **delay / jitter**: each chunk is delivered ``delay_ms`` +- uniform ``jitter_ms`` after it was
  read, never before the chunk ahead of it (order is kept, as TCP keeps it).
- **loss**: with probability ``loss`` a chunk is "lost" and, as TCP would, retransmitted after a
  retransmission timeout (``RTO_MS``, doubling when the retransmission is lost too): loss shows
  as extra latency, not as missing bytes.
- **rate**: at most ``rate_bps`` bytes per second in that direction (a slow link).

A change of a direction's shape (``heal`` included) re-times what the relay holds for it: each
held chunk is due its new delay after it was read, at the new rate from now on (a healed slow
link delivers its backlog at once, as a router's queue drains when its link comes back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainfin.errors import ConfigError
from testnet.launch import free_ports

__all__ = ["LinkShape", "Relay", "NetFault", "install_relays", "uninstall_relays", "RELAY_FILE",
           "RTO_MS"]

RELAY_FILE = "netfault.json"
HOST = "127.0.0.1"
RTO_MS = 200.0  # Linux's minimum TCP retransmission timeout
_CHUNK = 64 * 1024
_MAX_HELD = 8 * 1024 * 1024  # per direction of one connection; beyond it the relay stops reading


@dataclass
class LinkShape:
    """What happens to the bytes of one direction a -> b."""

    cut: bool = False
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    rate_bps: float = 0.0  # 0: unlimited

    def normal(self) -> bool:
        return self == LinkShape()


@dataclass(eq=False)
class _Pump:
    """One direction of one relayed connection."""

    writer: asyncio.StreamWriter
    edge: tuple[int, int]
    # (when it is due, when it was read, the bytes)
    held: deque[tuple[float, float, bytes]] = field(default_factory=deque)
    held_bytes: int = 0
    last_at: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    eof: bool = False


class Relay:
    """Forwards connections from ``listen_port`` to ``target``; bytes a -> b (client to target)
    obey ``shapes[(a, b)]``, bytes b -> a obey ``shapes[(b, a)]``."""

    def __init__(self, a: int, b: int, listen_port: int, target: tuple[str, int],
                 shapes: dict[tuple[int, int], LinkShape], rng: random.Random,
                 stats: dict[str, int]) -> None:
        self.a, self.b = a, b
        self.listen_port = listen_port
        self.target = target
        self._shapes = shapes
        self._rng = rng
        self._stats = stats
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[_Pump] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, HOST, self.listen_port,
                                                  reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            _abort(w)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None

    def wake(self, edges: Iterable[tuple[int, int]] = ()) -> None:
        """Shapes changed (those of ``edges``): re-time what their pumps hold, and let every
        pump re-check what it holds."""
        changed = set(edges)
        now = time.monotonic()
        for p in self._pumps:
            if p.edge in changed:
                _retime(p, self._shapes.get(p.edge, _NORMAL), now)
            p.wake.set()

    def reset(self) -> None:
        """Abort every connection through this relay (both ends see a reset)."""
        for w in list(self._writers):
            _abort(w)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _on_client(self, c_reader: asyncio.StreamReader,
                         c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(c_reader, c_writer)
        except asyncio.CancelledError:
            pass  # stop(): asyncio's stream server must not see the cancellation
        finally:
            self._tasks.discard(task)

    async def _relay(self, c_reader: asyncio.StreamReader,
                     c_writer: asyncio.StreamWriter) -> None:
        self._stats["connections"] += 1
        try:
            t_reader, t_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._stats["connect_failed"] += 1
            _abort(c_writer)
            return
        self._writers.update((c_writer, t_writer))
        up = _Pump(t_writer, (self.a, self.b))
        down = _Pump(c_writer, (self.b, self.a))
        self._pumps.update((up, down))
        done = asyncio.Event()
        try:
            tasks = [asyncio.ensure_future(x) for x in (
                self._read(c_reader, up, (self.a, self.b), done),
                self._write(up, (self.a, self.b), done),
                self._read(t_reader, down, (self.b, self.a), done),
                self._write(down, (self.b, self.a), done))]
            await done.wait()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._pumps.difference_update((up, down))
            for w in (c_writer, t_writer):
                self._writers.discard(w)
                _abort(w)

    async def _read(self, reader: asyncio.StreamReader, pump: _Pump, edge: tuple[int, int],
                    done: asyncio.Event) -> None:
        try:
            while True:
                while pump.held_bytes > _MAX_HELD:
                    pump.wake.clear()
                    await pump.wake.wait()
                data = await reader.read(_CHUNK)
                if not data:
                    break
                now = time.monotonic()
                sh = self._shapes.get(edge, _NORMAL)
                at = now
                if sh.delay_ms or sh.jitter_ms:
                    at += max(0.0, sh.delay_ms + self._rng.uniform(-sh.jitter_ms,
                                                                    sh.jitter_ms)) / 1000
                rto = RTO_MS
                while sh.loss and self._rng.random() < sh.loss:
                    self._stats["chunks_lost"] += 1
                    at += rto / 1000
                    rto = min(rto * 2, 4000.0)
                if sh.rate_bps:
                    at = max(at, pump.last_at) + len(data) / sh.rate_bps
                at = max(at, pump.last_at)  # TCP keeps order
                pump.last_at = at
                pump.held.append((at, now, data))
                pump.held_bytes += len(data)
                pump.wake.set()
        except (OSError, asyncio.IncompleteReadError):
            pass
        # the endpoint closed: the other end is closed too, even across a cut (the relay does
        # not model a half-dead connection beyond the endpoints' own timeouts)
        pump.eof = True
        pump.wake.set()
        if not pump.held or self._shapes.get(edge, _NORMAL).cut:
            done.set()

    async def _write(self, pump: _Pump, edge: tuple[int, int], done: asyncio.Event) -> None:
        try:
            while True:
                sh = self._shapes.get(edge, _NORMAL)
                if not pump.held or sh.cut:
                    if pump.eof:
                        done.set()
                        return
                    pump.wake.clear()
                    await pump.wake.wait()
                    continue
                at, _, data = pump.held[0]
                wait = at - time.monotonic()
                if wait > 0:
                    pump.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(pump.wake.wait(), wait)
                    continue
                pump.held.popleft()
                pump.held_bytes -= len(data)
                pump.wake.set()  # a reader waiting for room
                pump.writer.write(data)
                self._stats["bytes"] += len(data)
                await pump.writer.drain()
        except (OSError, ConnectionError):
            done.set()


_NORMAL = LinkShape()


def _retime(pump: _Pump, sh: LinkShape, now: float) -> None:
    """Give what ``pump`` holds the times the new shape ``sh`` gives it, in order: each chunk
    due its delay after it was read (no new jitter or loss), at most ``rate_bps`` from now on.
    A chunk keeps the time it was read at, not the time the old shape gave it: a healed slow
    link delivers its backlog at once (as a router's queue drains when its link is restored),
    where before it drained at the old rate for as long as the backlog took (8 MiB at 4 KB/s:
    half an hour)."""
    last = 0.0
    out: deque[tuple[float, float, bytes]] = deque()
    for _, read_at, data in pump.held:
        at = read_at + sh.delay_ms / 1000
        if sh.rate_bps:
            at = max(at, last or now) + len(data) / sh.rate_bps
        at = max(at, last)
        last = at
        out.append((at, read_at, data))
    pump.held = out
    pump.last_at = last if out else min(pump.last_at, now)


def _abort(w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        w.transport.abort()


# ---------------------------------------------------------------------- the controller


class NetFault:
    """The relays of one testnet and the faults they apply; drive it from one event loop."""

    def __init__(self, n: int, links: Sequence[tuple[int, int, int, tuple[str, int]]],
                 seed: int = 0) -> None:
        self.n = n
        self.shapes: dict[tuple[int, int], LinkShape] = {}
        self.stats: dict[str, int] = {"connections": 0, "connect_failed": 0, "bytes": 0,
                                      "chunks_lost": 0}
        self._rng = random.Random(seed)
        self.relays = [Relay(a, b, port, target, self.shapes, self._rng, self.stats)
                       for a, b, port, target in links]

    @classmethod
    def from_dir(cls, directory: str | Path, seed: int = 0) -> NetFault:
        """The relays ``install_relays`` wrote for the testnet in ``directory``.

        Raises:
            ConfigError: the testnet has no relays (``install_relays`` was not run).
        """
        path = Path(directory) / RELAY_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"{path} not found: the testnet has no relays "
                              "(testnet.netfault.install_relays)") from e
        links = []
        for ln in raw["links"]:
            host, _, port = ln["target"].rpartition(":")
            links.append((ln["src"], ln["dst"], ln["listen"], (host, int(port))))
        return cls(raw["nodes"], links, seed)

    async def start(self) -> None:
        for r in self.relays:
            await r.start()

    async def stop(self) -> None:
        for r in self.relays:
            await r.stop()

    async def __aenter__(self) -> NetFault:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -------------------------------------------------------------- faults

    def _edges(self, a: int | None, b: int | None, both: bool) -> list[tuple[int, int]]:
        if a is None:
            return [(x, y) for x in range(self.n) for y in range(self.n) if x != y]
        if b is None:
            raise ValueError("give both ends of a link, or neither")
        return [(a, b), (b, a)] if both else [(a, b)]

    def _set(self, edges: Iterable[tuple[int, int]], **changes: Any) -> None:
        edges = list(edges)
        for e in edges:
            cur = self.shapes.get(e, LinkShape())
            for k, v in changes.items():
                setattr(cur, k, v)
            if cur.normal():
                self.shapes.pop(e, None)
            else:
                self.shapes[e] = cur
        for r in self.relays:
            r.wake(edges)

    def cut(self, a: int, b: int, both: bool = True) -> None:
        """Hold every byte a sends to b (and b to a when ``both``)."""
        self._set(self._edges(a, b, both), cut=True)

    def isolate(self, i: int) -> None:
        """Cut node ``i`` from every other node, both ways."""
        self._set([e for j in range(self.n) if j != i for e in ((i, j), (j, i))], cut=True)

    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Cut every link between nodes of different groups (nodes in no group are isolated)."""
        side = {i: g for g, members in enumerate(groups) for i in members}
        self._set([(a, b) for a in range(self.n) for b in range(self.n)
                   if a != b and side.get(a, -1 - a) != side.get(b, -1 - b)], cut=True)

    def shape(self, a: int | None = None, b: int | None = None, *, both: bool = True,
              delay_ms: float | None = None, jitter_ms: float | None = None,
              loss: float | None = None, rate_bps: float | None = None) -> None:
        """Delay, jitter, loss or a bandwidth limit on link a -> b (and back when ``both``), or
        on every link when ``a`` and ``b`` are None. Unspecified properties stay as they are."""
        changes = {k: v for k, v in (("delay_ms", delay_ms), ("jitter_ms", jitter_ms),
                                     ("loss", loss), ("rate_bps", rate_bps)) if v is not None}
        if not 0.0 <= changes.get("loss", 0.0) < 1.0:
            raise ValueError("loss is a probability below 1")
        self._set(self._edges(a, b, both), **changes)

    def heal(self, a: int | None = None, b: int | None = None, both: bool = True) -> None:
        """Undo every fault of link a -> b (and back), or of every link."""
        edges = self._edges(a, b, both)
        for e in edges:
            self.shapes.pop(e, None)
        for r in self.relays:
            r.wake(edges)

    def uncut(self, a: int | None = None, b: int | None = None, both: bool = True) -> None:
        """Lift cuts only (delays and loss stay)."""
        self._set(self._edges(a, b, both), cut=False)

    def reset(self) -> None:
        """Abort every relayed connection (the nodes reconnect)."""
        for r in self.relays:
            r.reset()

    def describe(self) -> dict[str, Any]:
        return {f"{a}->{b}": vars(s).copy() for (a, b), s in sorted(self.shapes.items())}


# ---------------------------------------------------------------------- installing into a testnet


def install_relays(directory: str | Path) -> Path:
    """Give every ordered pair of the testnet's nodes a relay port and point the node configs'
    peer addresses at them; the real p2p addresses stay in the manifest. Idempotent: a testnet
    that already has relays is left as it is. Returns the path of ``DIR/netfault.json``.

    Raises:
        ConfigError: no testnet in ``directory``.
    """
    from node.config import load_config
    from testnet.launch import load_manifest

    root = Path(directory).resolve()
    out = root / RELAY_FILE
    if out.exists():
        return out
    m = load_manifest(root)
    n = len(m.nodes)
    index = {nd.id: i for i, nd in enumerate(m.nodes)}
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    # the nodes' own ports are free too while they are stopped: never hand one to a relay
    taken = {int(nd.p2p_address.rpartition(":")[2]) for nd in m.nodes}
    taken |= {int(nd.rest_url.rpartition(":")[2]) for nd in m.nodes}
    free: list[int] = []
    while len(free) < len(pairs):
        free = [p for p in dict.fromkeys(free + free_ports(len(pairs))) if p not in taken]
    ports = dict(zip(pairs, free[:len(pairs)], strict=True))
    for a, nd in enumerate(m.nodes):
        cfg_path = Path(nd.config)
        raw = json.loads(cfg_path.read_text())
        for p in raw.get("peers", []):
            b = index[p["node_id"]]
            p["address"] = f"{HOST}:{ports[(a, b)]}"
        cfg_path.write_text(json.dumps(raw, indent=2) + "\n")
        load_config(cfg_path)  # still a valid config
    links = [{"src": a, "dst": b, "listen": ports[(a, b)],
              "target": m.nodes[b].p2p_address} for a, b in pairs]
    out.write_text(json.dumps({"nodes": n, "links": links}, indent=2) + "\n")
    return out


def uninstall_relays(directory: str | Path) -> None:
    """Point every node config's peers at the real p2p addresses again and remove
    ``DIR/netfault.json`` (a testnet without running relays cannot link up otherwise)."""
    from node.config import load_config
    from testnet.launch import load_manifest

    root = Path(directory).resolve()
    m = load_manifest(root)
    real = {nd.id: nd.p2p_address for nd in m.nodes}
    for nd in m.nodes:
        cfg_path = Path(nd.config)
        raw = json.loads(cfg_path.read_text())
        for p in raw.get("peers", []):
            p["address"] = real[p["node_id"]]
        cfg_path.write_text(json.dumps(raw, indent=2) + "\n")
        load_config(cfg_path)
    (root / RELAY_FILE).unlink(missing_ok=True)
