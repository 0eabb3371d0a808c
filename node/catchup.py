"""Catch-up (state transfer): a node that is behind fetches certified blocks and applies them.

Validators fetch from peers over the p2p transport (``fetch`` requests); observers, which
validators do not link to, follow their sync URLs over REST with the node's one HTTP client
session. Every certificate is checked against the validator set this node derived itself. This
module also serves the ``fetch`` and ``status`` requests of other nodes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from chainfin import codec
from chainfin.client import signed_headers
from chainfin.consensus import api
from chainfin.errors import ChainfinError, InvalidMessage
from node import replay

if TYPE_CHECKING:
    from node.runtime import Node

log = logging.getLogger("chainfin.node")

K_FETCH = "fetch"
K_STATUS = "status"
FETCH_BATCH = 64  # certified blocks per request ...
#: ... and at most this many bytes of them (always at least one record): a peer link carries
#: answers of at most 2 MiB, which 64 blocks of big transactions exceed (no node could then
#: fetch them over p2p at all)
FETCH_BYTES = 1 << 20

#: ``source(start) -> raw block records from height start`` (empty: it has no more)
Source = Callable[[int], Awaitable[list[bytes]]]


def _records(raw: bytes) -> list[bytes]:
    out = codec.decode(raw)
    if not isinstance(out, list) or not all(isinstance(r, bytes) for r in out):
        raise InvalidMessage("a block batch is a list of encoded records")
    return out


class CatchUp:
    """The node's state transfer, both ways. One fetch runs at a time."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fetching = False
        self.session: aiohttp.ClientSession | None = None  # REST sync; open while started
        self.decoder: replay.BlockDecoder | None = None  # started at the first multi-block batch

    async def open(self) -> None:
        """Create the HTTP client session REST catch-up uses for the node's lifetime (only a
        node with sync URLs has one: the others never fetch over REST)."""
        if not self.node.sync_urls:
            return
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10),
            connector=aiohttp.TCPConnector(ssl=self.node.sync_ssl or True))

    async def close(self) -> None:
        if self.decoder is not None:
            self.decoder.close()
            self.decoder = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    # ------------------------------------------------------------------ fetching

    def start_fetch(self, from_height: int, hint: Iterable[bytes]) -> None:
        if self.fetching or self.node.disk_full:
            return
        self.fetching = True
        asyncio.get_running_loop().create_task(self.fetch(list(hint)), name="fetch")

    async def fetch(self, hint: list[bytes]) -> None:
        """Catch up from peers (``hint`` first), else from the sync URLs; the caller set
        ``fetching``, which this clears."""
        try:
            progressed = await self._catch_up(hint)
            if not progressed and self.node.sync_urls:
                progressed = await self._catch_up_rest()
            if progressed:
                self._notify_synced()
        finally:
            self.fetching = False

    def _notify_synced(self) -> None:
        tip = self.node.ledger.tip
        self.node.events.put_nowait(api.Synced(tip.height, tip.block_hash, tip.validators,
                                               self.node.tip_certificate()))

    async def _catch_up(self, hint: list[bytes]) -> bool:
        """Fetch certified blocks above our tip from validator peers over p2p."""
        transport = self.node.transport
        peers = [p for p in hint if p in transport.connected()] or transport.connected()
        progressed = False
        for peer in peers:

            async def from_peer(start: int, peer: bytes = peer) -> list[bytes]:
                raw = await transport.request(
                    peer, K_FETCH, codec.encode({"from": start, "max": FETCH_BATCH}), 5.0)
                return _records(raw)

            progressed |= await self._pull(from_peer, peer.hex()[:12])
        return progressed

    async def _catch_up_rest(self) -> bool:
        """Observers (not yet validators: peers do not link to them) follow over REST."""
        session = self.session
        if session is None:  # not started (or stopping)
            return False
        progressed = False
        for url in self.node.sync_urls:

            async def from_url(start: int, url: str = url) -> list[bytes]:
                # signed with the node key: block records are for validators (and this
                # node's key is a registered identity before it becomes one)
                target = f"{url}/v1/sync/blocks?from={start}&max={FETCH_BATCH}"
                async with session.get(URL(target, encoded=True), headers=signed_headers(
                        self.node.sync_identity, "GET", target)) as r:
                    if r.status != 200:
                        raise InvalidMessage(f"HTTP {r.status}")
                    return _records(await r.read())

            progressed |= await self._pull(from_url, url)
        return progressed

    async def _pull(self, source: Source, name: str) -> bool:
        """Apply certified blocks from ``source`` until it has no more.
        Each certificate is checked against the set this node derived itself (TRAPS #12)."""
        node = self.node
        progressed = False
        while True:
            start = node.ledger.tip.height + 1
            try:
                records = await source(start)
            except Exception as e:  # timeouts, peers, aiohttp client errors: never kill the node
                node.stats["fetch_failed"] += 1
                log.info("fetch from %s failed: %s", name, e)
                return progressed
            if not records:
                return progressed
            if node.disk_full or (node.min_free_bytes and node.space_low()):
                return progressed  # state transfer writes too: it waits for space like consensus
            # a batch of big blocks is decoded (and its signatures checked) in a worker process
            # while this one executes; a few small ones are not worth the round trips
            big = len(records) > 1 and sum(map(len, records)) >= replay.WORKER_MIN_BYTES
            if big and self.decoder is None:
                self.decoder = replay.BlockDecoder()
            ahead = replay.Ahead(self.decoder if big else None, records)
            try:
                for i in range(len(records)):
                    try:
                        try:
                            block, cert, verified = await ahead.get(i)
                        except (ChainfinError, asyncio.CancelledError):
                            raise
                        except Exception as e:  # a peer's bytes can break any decoder step
                            # (a huge integer where a key belongs: OverflowError, MemoryError)
                            raise InvalidMessage(f"undecodable record: {e!r}") from e
                        if block.height <= node.ledger.tip.height:
                            continue
                        old_vs = node.ledger.tip.validators
                        spec = node.ledger.apply_certified(block, cert,
                                                           signatures_verified=verified)
                    except (ChainfinError, KeyError, TypeError) as e:
                        node.stats["fetch_failed"] += 1
                        log.warning("%s sent a bad certified block: %s", name, e)
                        return progressed
                    progressed = True
                    node.stats["blocks_fetched"] += 1
                    node.io.after_commit(block, spec.result, live=False)
                    if spec.validators_after != old_vs:
                        node.validators_changed()
                    await asyncio.sleep(0)  # never hold the loop for a whole batch
            finally:
                ahead.cancel()
                if big and ahead.decoder is None and self.decoder is not None:
                    self.decoder.close()  # its worker died: a new one next time
                    self.decoder = None
            if node.ledger.tip.height < start:
                # nothing new in it: a peer answering with blocks we hold would otherwise keep
                # this fetch (the node's only one) asking for ever
                return progressed
            # (a short batch is not the end: the server stops at FETCH_BYTES; an empty one is)

    async def watch(self) -> None:
        """Catch up when we are behind: observers poll their sync URLs every 200 ms; validators
        check every second whether a peer is ahead while we have not moved (restart,
        partition)."""
        node = self.node
        last_height = -1
        while True:
            observer = not node.is_validator
            await asyncio.sleep(0.2 if observer else 1.0)
            if self.fetching:
                continue
            if observer and node.sync_urls:
                self.fetching = True
                await self.fetch([])
                continue
            h = node.ledger.tip.height
            if h != last_height:
                last_height = h
                continue
            best, best_peer = h, None
            for peer in node.transport.connected():
                try:
                    st = codec.decode(await node.transport.request(peer, K_STATUS, b"", 2.0))
                    if int(st["height"]) > best:
                        best, best_peer = int(st["height"]), peer
                except (TimeoutError, ChainfinError, ConnectionError, OSError, KeyError,
                        TypeError, ValueError):
                    continue
            if best_peer is not None and not self.fetching:
                self.fetching = True
                await self.fetch([best_peer])

    # ------------------------------------------------------------------ serving

    def sync_records(self, start: int, n: int) -> list[bytes]:
        """Raw certified block records from ``start`` (served to catching-up nodes): at most
        ``min(n, FETCH_BATCH)`` of them and ``FETCH_BYTES`` (at least one). None below the
        snapshot height of a node that joined by state sync (it has no blocks there)."""
        out: list[bytes] = []
        if start < self.node.ledger.base_height:
            return out
        size = 0
        for h in range(max(1, start), start + min(n, FETCH_BATCH)):
            raw = self.node.ledger.block_raw(h)
            if raw is None or (out and size + len(raw) > FETCH_BYTES):
                break
            out.append(raw)
            size += len(raw)
        return out

    async def serve_fetch(self, peer: bytes, payload: bytes) -> bytes:
        try:
            req = codec.decode(payload)
            start, n = int(req["from"]), int(req["max"])
        except (ChainfinError, KeyError, TypeError, ValueError):
            return codec.encode([])
        self.node.stats["fetch_served"] += 1
        return codec.encode(self.sync_records(start, n))

    async def serve_status(self, peer: bytes, payload: bytes) -> bytes:
        return codec.encode({"height": self.node.ledger.tip.height, "view": self.node.view})
