"""State sync: an empty node installs a verified snapshot of the state instead of replaying every
block from genesis, then follows the chain by the usual catch-up (``node.catchup``).

Serving. A node serves the state at its ``Ledger.snapshot_height`` (the last height whose state
tree it wrote whole). A pruning node (the default) reads it from the store pinned right after
that flush (``Ledger.snapshot_reader``: a LevelDB snapshot, which later pruning cannot touch),
and keeps an older pin while a sync still reads it; a node that keeps every version of the tree
serves any such height from its store (decision 90):

- a *manifest*: the certified record of the block at that height and the certified records of
  every block up to it that changed the validator set, with the members each set;
- *chunks* (``chainfin.snapshot``): the state whose key hashes start with a given prefix, with
  the siblings that tie it to the block's state root. A region above ``MAX_CHUNK_ENTRIES``
  entries or ``MAX_CHUNK_BYTES`` bytes is refused as ``too_large``: the client asks for its
  halves.

Both go over the p2p ``snapshot``/``chunk`` requests (validators) and over REST
``/v1/sync/snapshot`` and ``/v1/sync/chunk`` (observers, e.g. a joining bank), like catch-up.

Installing. The client checks the manifest's certificates against the validator sets it derives
from genesis through the certified changes (TRAPS #12), then fetches the chunks in key-hash order
and checks each against the certified state root, in a worker process, a few regions ahead of the
one being written; the hashing that verifies a chunk also makes the records of the state tree
inside its region (``chainfin.snapshot_tree``). Each chunk is written in one LevelDB batch with its
state, its key index, its tree records, its region's summary and the progress record
``meta/statesync`` (the next region), so a node killed mid-sync resumes where it stopped. Until the
last batch the progress record stays: the node knows its state is partial and neither runs
consensus nor answers state reads on it. The last batch writes the pages above the regions (built
from the summaries; their root must be the certified one), the snapshot's block record, the
set-change records, the validator sets, the tip and ``meta/base`` and drops the progress record; then
the node replays the blocks after the snapshot height.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import multiprocessing
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from chainfin import codec
from chainfin.client import signed_headers
from chainfin.errors import ChainfinError, InvalidMessage
from chainfin.smt import EMPTY, SparseMerkleTree, StoreNodes, put_nodes
from chainfin.snapshot import (
    MAX_CHUNK_BYTES,
    MAX_CHUNK_DEPTH,
    MAX_CHUNK_ENTRIES,
    Chunk,
    SetChangeBlock,
    encode_chunk,
    region_end,
    verify_snapshot_header,
)
from chainfin.snapshot import (
    decode_chunk as decode_chunk,  # (re-exported: callers and tests parse chunks through here)
)
from chainfin.snapshot_tree import Region, assemble_top
from chainfin.store import (
    NONCE_INDEX,
    NONCE_WORD_INDEX,
    KVStore,
    StorePin,
    state_key_of,
    state_region,
)
from chainfin.types import Block, BlockHeader, CommitCertificate, ValidatorSet
from node.envelope import loads_untrusted
from node.ledger import (
    DIGEST_LEAVES,
    K_BASE,
    K_TIP,
    P_BLOCK,
    P_HASH,
    P_SMT,
    P_STATE,
    P_VSET,
    Ledger,
    Tip,
    tip_bytes,
)
from node.statesync_work import P_REGION, Prepared, decode_region, prepare_chunk

if TYPE_CHECKING:
    from node.runtime import Node

log = logging.getLogger("chainfin.statesync")

K_SNAPSHOT = "snapshot"
K_CHUNK = "chunk"
K_PROGRESS = b"meta/statesync"
END = 1 << 256  # one past the last key-hash position


def _h(height: int) -> bytes:
    return struct.pack(">Q", height)


class SnapshotRefused(ChainfinError):
    """The server cannot serve what was asked; ``code`` says why (``too_large``, ``not_found``,
    ``bad_request``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- serving


def manifest(ledger: Ledger, height: int | None) -> bytes:
    """The manifest of the snapshot at ``height`` (None: the latest this node has whole).

    Raises:
        SnapshotRefused: not_found (no stored state tree or block at that height).
    """
    h = ledger.snapshot_height if height is None else height
    raw = ledger.block_raw(h) if h >= 1 else None
    if raw is None:
        raise SnapshotRefused("not_found", f"no snapshot at height {h}")
    root = BlockHeader.from_wire(codec.decode(raw)["block"]["header"]).state_root
    reader = ledger.snapshot_reader(h)
    if h > ledger.tip.height or reader is None or reader.get(P_SMT + root) is None:
        raise SnapshotRefused("not_found", f"the state tree of height {h} is not stored whole "
                                           f"here (the latest is {ledger.snapshot_height})")
    changes = []
    for from_height, vs in ledger.validator_sets():
        if 1 < from_height <= h + 1:
            rec = ledger.block_raw(from_height - 1)
            if rec is None:
                raise SnapshotRefused("not_found", f"set-change block {from_height - 1} missing")
            changes.append([rec, list(vs.members)])
    return codec.encode({"height": h, "block": raw, "changes": changes})


def _check_region(prefix: int, depth: int) -> None:
    if not 0 <= depth <= MAX_CHUNK_DEPTH or not 0 <= prefix < 1 << depth:
        raise SnapshotRefused("bad_request", f"depth must be 0..{MAX_CHUNK_DEPTH} and prefix "
                                             "below 2**depth")


def ledger_chunk(ledger: Ledger, height: int, prefix: int, depth: int) -> bytes:
    """:func:`chunk` of the state this ledger serves at ``height`` (its store, or the store
    pinned at that height's flush on a pruning node). May run in a worker thread.

    Raises:
        SnapshotRefused: as :func:`chunk`; not_found when no pin holds that height.
    """
    _check_region(prefix, depth)
    reader = ledger.snapshot_reader(height) if height >= 1 else None
    if reader is None:
        raise SnapshotRefused("not_found", f"the state tree of height {height} is not "
                                           f"served here (heights served: "
                                           f"{ledger.pinned_heights() or 'none'})")
    return chunk(reader, ledger.state_root_at, height, prefix, depth)


def chunk(store: KVStore | StorePin, state_root_at: Callable[[int], bytes | None], height: int,
          prefix: int, depth: int) -> bytes:
    """The encoded chunk ``prefix``/``depth`` of the state at ``height``. Reads the store only
    (no ledger cache), so it may run in a worker thread.

    Raises:
        SnapshotRefused: bad_request, not_found or too_large.
    """
    _check_region(prefix, depth)
    root = state_root_at(height) if height >= 1 else None
    if root is None:
        raise SnapshotRefused("not_found", f"no block at height {height}")
    if store.get(P_SMT + root) is None:
        raise SnapshotRefused("not_found", f"the state tree of height {height} is not stored "
                                           "whole here")
    got = SparseMerkleTree(StoreNodes(store)).chunk(root, prefix, depth, MAX_CHUNK_ENTRIES,
                                                    leaves=False)
    assert got is not None  # (without leaves there is no count to exceed)
    sibs, _ = got
    entries = _region_entries(store, prefix, depth)
    size = 0
    for key, value in entries:
        size += len(key) + len(value)
    if size > MAX_CHUNK_BYTES and len(entries) > 1:
        raise SnapshotRefused("too_large", f"region {prefix}/{depth} holds more than "
                                           f"{MAX_CHUNK_BYTES} bytes: ask for its halves")
    return encode_chunk(Chunk(height, prefix, depth, tuple(sibs), tuple(entries)))


def _region_entries(store: KVStore | StorePin, prefix: int, depth: int
                    ) -> list[tuple[bytes, bytes]]:
    """The (state key, value) entries of region ``prefix``/``depth`` in key-hash order: one
    sequential scan of the state key space, which is ordered by the first 8 bytes of the key
    hash (decision 92), then a sort by the whole hash (keys sharing those 8 bytes).

    Raises:
        SnapshotRefused: too_large (more than MAX_CHUNK_ENTRIES entries).
    """
    lo, hi = state_region(prefix, depth)
    out: list[tuple[bytes, bytes, bytes]] = []
    sha = hashlib.sha256
    for k, v in store.iterate(prefix=P_STATE, start=lo, stop=hi):
        if len(out) >= MAX_CHUNK_ENTRIES:
            raise SnapshotRefused("too_large", f"region {prefix}/{depth} holds more than "
                                               f"{MAX_CHUNK_ENTRIES} entries: ask for its halves")
        key = state_key_of(k)
        out.append((sha(key).digest(), key, v))
    out.sort()
    return [(key, v) for _, key, v in out]


def _reply_ok(body: bytes) -> bytes:
    return codec.encode({"ok": body})


def _reply_err(e: SnapshotRefused) -> bytes:
    return codec.encode({"error": e.code, "message": str(e)})


async def serve_snapshot(node: Node, peer: bytes, payload: bytes) -> bytes:
    try:
        req = codec.decode(payload)
        height = req.get("height") if isinstance(req, dict) else None
        if height is not None and type(height) is not int:
            raise SnapshotRefused("bad_request", "height must be an integer")
        return _reply_ok(manifest(node.ledger, height))
    except SnapshotRefused as e:
        return _reply_err(e)
    except ChainfinError as e:
        return _reply_err(SnapshotRefused("bad_request", str(e)))


async def serve_chunk(node: Node, peer: bytes, payload: bytes) -> bytes:
    try:
        req = codec.decode(payload)
        if not isinstance(req, dict) or not all(type(req.get(k)) is int
                                                for k in ("height", "prefix", "depth")):
            raise SnapshotRefused("bad_request", "a chunk request is {height, prefix, depth}")
        node.stats["chunks_served"] += 1
        return _reply_ok(await asyncio.to_thread(
            ledger_chunk, node.ledger, req["height"], req["prefix"], req["depth"]))
    except SnapshotRefused as e:
        return _reply_err(e)
    except ChainfinError as e:
        return _reply_err(SnapshotRefused("bad_request", str(e)))


def _unwrap(raw: bytes) -> bytes:
    d = codec.decode(raw)
    if isinstance(d, dict) and type(d.get("ok")) is bytes:
        return d["ok"]  # type: ignore[no-any-return]
    if isinstance(d, dict) and isinstance(d.get("error"), str):
        raise SnapshotRefused(d["error"], str(d.get("message", "")))
    raise InvalidMessage("a snapshot reply is {ok} or {error, message}")


# --------------------------------------------------------------------------- installing


@dataclass
class Source:
    """Where snapshots come from: one peer (p2p) or one sync URL (REST)."""

    name: str
    manifest: Callable[[int | None], Awaitable[bytes]]
    chunk: Callable[[int, int, int], Awaitable[bytes]]


@dataclass
class Manifest:
    """A verified manifest."""

    block: Block
    cert: CommitCertificate
    validators_after: ValidatorSet
    changes: list[SetChangeBlock]
    raw: bytes

    @property
    def height(self) -> int:
        return self.block.height


def verify_manifest(raw: bytes, chain_id: str, genesis_set: ValidatorSet) -> Manifest:
    """Parse a manifest and check it against the sets derived from genesis.

    Raises:
        InvalidMessage: malformed, or a certificate does not check out.
    """
    try:
        d = codec.decode(raw)
        rec = codec.decode(d["block"])
        block = Block.from_wire(rec["block"])
        cert = CommitCertificate.from_wire(rec["cert"])
        changes = []
        for crec, members in d["changes"]:
            c = codec.decode(crec)
            if not all(type(m) is bytes and len(m) == 32 for m in members):
                # (``bytes(n)`` of an integer is n zero bytes: 2**33 is an 8 GiB "key")
                raise InvalidMessage("a set change's member is not a 32-byte key")
            changes.append(SetChangeBlock(Block.from_wire(c["block"]),
                                     CommitCertificate.from_wire(c["cert"]),
                                     ValidatorSet(tuple(members))))
    except (ChainfinError, KeyError, TypeError, ValueError) as e:
        raise InvalidMessage(f"malformed snapshot manifest: {e}") from e
    if d.get("height") != block.height:
        raise InvalidMessage("manifest height and block differ")
    after = verify_snapshot_header(chain_id, genesis_set, changes, block, cert)
    return Manifest(block, cert, after, changes, raw)


@dataclass
class Progress:
    """``meta/statesync``: which snapshot, the next region, how many chunks are in.

    Each installed region leaves its summary (``snapshot_tree.Region``) under
    ``meta/statesync/r/`` + its start, in the batch that writes it; :func:`finish` builds the
    pages above the regions from them. ``partial_root`` is the root of the state written so far
    in records of layout 1 (each chunk went through ``SparseMerkleTree.update``); layout 2 (this
    one) leaves it EMPTY: a layout-1 record is resumed from the first region."""

    manifest: bytes
    cursor: int  # the next key-hash position to fetch (END: all fetched)
    depth: int  # the depth of the regions asked for now
    partial_root: bytes
    chunks: int = 0
    layout: int = 2

    def encode(self) -> bytes:
        return codec.encode({"manifest": self.manifest, "cursor": self.cursor.to_bytes(33, "big"),
                             "depth": self.depth, "partial_root": self.partial_root,
                             "chunks": self.chunks, "layout": self.layout})

    @classmethod
    def decode(cls, raw: bytes) -> Progress:
        d = codec.decode(raw)
        if d.get("layout", 1) != 2:
            # written by an install that updated the tree chunk by chunk: its regions left no
            # summaries, so install them again (the same values over the same keys)
            return cls(d["manifest"], 0, 0, EMPTY, 0)
        return cls(d["manifest"], int.from_bytes(d["cursor"], "big"), d["depth"],
                   d["partial_root"], d.get("chunks", 0))


def load_progress(store: KVStore) -> Progress | None:
    raw = store.get(K_PROGRESS)
    return None if raw is None else Progress.decode(raw)


def begin(store: KVStore, m: Manifest) -> Progress:
    """Start installing ``m``: drop the state this (empty) node holds and the region summaries
    of an abandoned sync, and record the progress, in one synced batch."""
    p = Progress(m.raw, 0, 0, EMPTY)
    with store.write_batch(sync=True) as b:
        for k, _ in store.iterate(prefix=P_STATE):
            b.delete(k)
        for prefix in (NONCE_INDEX, NONCE_WORD_INDEX):
            for k, _ in store.iterate(prefix=prefix):
                b.delete(k)
        for k, _ in store.iterate(prefix=P_REGION):
            b.delete(k)
        b.put(K_PROGRESS, p.encode())
    return p


def write_prepared(store: KVStore, p: Progress, prep: Prepared) -> int:
    """Write a prepared chunk and the progress after it in one batch. Returns its entries.

    Raises:
        InvalidMessage: it is not the region the progress expects next.
    """
    if prep.start != p.cursor:
        raise InvalidMessage("a prepared chunk out of order")
    p.cursor = region_end(prep.start >> (256 - prep.depth), prep.depth)
    p.depth = prep.depth  # (the cursor is aligned to it: a resumed sync asks from there)
    p.chunks += 1
    puts = prep.puts
    with store.write_batch(sync=False) as b:
        put = b.put
        for i in range(0, len(puts), 2):
            put(puts[i], puts[i + 1])
        put(K_PROGRESS, p.encode())
    return prep.entries


def install_chunk(store: KVStore, m: Manifest, p: Progress, raw: bytes,
                  digest_leaves: bool = DIGEST_LEAVES) -> int:
    """Verify a chunk against the certified root and write it with the progress (one batch).
    Returns the number of entries.

    Raises:
        InvalidMessage: it is not the chunk asked for, or it does not verify.
    """
    return write_prepared(store, p, prepare_chunk(m.block.header.state_root, m.height, p.depth,
                                                  p.cursor, raw, digest_leaves))


def finish(store: KVStore, m: Manifest, p: Progress) -> None:
    """Build the pages above the installed regions; write them, the snapshot's block, the set
    changes and the tip; drop the progress and the region summaries (one synced batch).

    Raises:
        InvalidMessage: the state written does not hash to the certified root (a bug: every
            chunk was checked), or its regions do not cover the key space.
    """
    keys: list[bytes] = []
    regions: list[Region] = []
    for k, v in store.iterate(prefix=P_REGION):
        keys.append(k)
        regions.append(decode_region(k, v))
    root, top = assemble_top(regions)
    if root != m.block.header.state_root:
        raise InvalidMessage("the installed state does not hash to the certified root")
    h = m.height
    bh = m.block.hash()
    with store.write_batch(sync=True) as b:
        put_nodes(b, top)
        for k in keys:
            b.delete(k)
        # receipts are not in a snapshot (format 1: not certified; format 2: certified by the
        # header, not fetched): the snapshot's block is kept without
        b.put(P_BLOCK + _h(h), codec.encode_local(
            {"block": m.block.to_wire(), "cert": m.cert.to_wire(), "receipts": []}))
        b.put(P_HASH + bh, _h(h))
        for ch in m.changes:
            ch_h = ch.block.height
            b.put(P_VSET + _h(ch_h + 1), codec.encode(list(ch.members.members)))
            if ch_h != h:
                b.put(P_BLOCK + _h(ch_h), codec.encode_local(
                    {"block": ch.block.to_wire(), "cert": ch.cert.to_wire(), "receipts": []}))
                b.put(P_HASH + ch.block.hash(), _h(ch_h))
        tip = Tip(h, bh, m.block.header.state_root, m.block.header.timestamp_ms,
                  m.validators_after, 0)
        b.put(K_TIP, tip_bytes(tip))
        b.put(K_BASE, _h(h))
        b.delete(K_PROGRESS)


#: regions fetched and verified ahead of the one being written
AHEAD = 6
#: worker processes that verify chunks (0: a thread of this process)
PREPARE_WORKERS = 1


def _prepare_pool() -> ProcessPoolExecutor | None:
    """The worker processes that verify chunks (spawned: this process runs threads and an event
    loop, which a fork would copy mid-flight); None when ``PREPARE_WORKERS`` is 0."""
    if PREPARE_WORKERS <= 0:
        return None
    return ProcessPoolExecutor(PREPARE_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                               initializer=gc.disable)  # (no cycles there: see install)


@dataclass
class _Claim:
    """A region a source refused as too large (it ends at ``end``), and what the regions it was
    split into held: entries and chunk bytes."""

    end: int
    entries: int = 0
    size: int = 0


def _check_claims(claims: list[_Claim], cursor: int, entries: int, size: int,
                  source: str) -> None:
    """Add a written region (which ends at ``cursor``) to the refused regions it lies in; a
    refused region now filled in must hold more than one chunk may: more than
    MAX_CHUNK_ENTRIES entries or MAX_CHUNK_BYTES of keys and values (which its chunks' bytes
    exceed). Otherwise the refusal was a lie, told to keep the joiner asking for small
    regions for ever.

    Raises:
        InvalidMessage: a refusal was a lie (the caller moves on to another source).
    """
    for c in claims:
        c.entries += entries
        c.size += size
    while claims and cursor >= claims[-1].end:
        c = claims.pop()
        if c.entries <= MAX_CHUNK_ENTRIES and c.size <= MAX_CHUNK_BYTES:
            raise InvalidMessage(f"{source} refused a region as too large that holds "
                                 f"{c.entries} entries in {c.size} bytes")


async def _cancel_all(pending: deque[asyncio.Future[Any]]) -> None:
    """Cancel the regions fetched or verified ahead and wait for them to end."""
    while pending:
        f = pending.popleft()
        f.cancel()
        with contextlib.suppress(BaseException):
            await f


class StateSync:
    """The node's side: install a snapshot before the engine starts (``Node.start``)."""

    def __init__(self, node: Node, enabled: bool) -> None:
        self.node = node
        self.enabled = enabled
        self.active = False  # set while a snapshot is being installed (state is partial)
        self.status: dict[str, Any] = {}
        self._writing: asyncio.Future[Any] | None = None  # the store write in a worker thread
        # every node serves its snapshots to peers, syncing or not
        node.transport.set_request_handler(
            K_SNAPSHOT, lambda peer, payload: serve_snapshot(node, peer, payload))
        node.transport.set_request_handler(
            K_CHUNK, lambda peer, payload: serve_chunk(node, peer, payload))

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store write in a worker thread. Cancelling the caller does not stop the thread,
        so the write is remembered: ``drain`` waits for it before the store is closed."""
        fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._writing = fut
        return await asyncio.shield(fut)

    async def drain(self) -> None:
        """Wait for a store write still running in a worker thread (the node is stopping)."""
        if self._writing is not None and not self._writing.done():
            with contextlib.suppress(BaseException):
                await self._writing

    def start_first(self, start: Callable[[], None]) -> bool:
        """If a sync is needed, run it in a task of the node's and ``start`` the node's tasks
        after it (True); otherwise do nothing (False)."""
        node = self.node
        if not self.needed():
            return False
        node.syncing_state = True
        node._tasks.append(asyncio.get_running_loop().create_task(
            self._sync_then_start(start), name="statesync"))
        log.info("node %s: state sync before it starts", node.node_id)
        return True

    async def _sync_then_start(self, start: Callable[[], None]) -> None:
        """Install a snapshot (or resume one), then start the node on its tip. A failure here
        is fatal like one of the engine task: the store stays as the last batch left it (the
        sync resumes at the next start)."""
        node = self.node
        try:
            if await self.run():
                node.ledger.reload()
            node.syncing_state = False
            start()
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            from node.runtime import fail_stop

            fail_stop(node, "state sync", e)

    def needed(self) -> bool:
        """Resume an unfinished sync always; start one when enabled on an empty node."""
        if self.node.store.get(K_PROGRESS) is not None:
            return True
        return self.enabled and self.node.ledger.tip.height == 0

    def _sources(self) -> list[Source]:
        node = self.node
        out: list[Source] = []
        transport = node.transport
        for peer in transport.connected():
            async def p_manifest(height: int | None, peer: bytes = peer) -> bytes:
                return _unwrap(await transport.request(
                    peer, K_SNAPSHOT, codec.encode({"height": height}), 10.0))

            async def p_chunk(height: int, prefix: int, depth: int, peer: bytes = peer) -> bytes:
                return _unwrap(await transport.request(peer, K_CHUNK, codec.encode(
                    {"height": height, "prefix": prefix, "depth": depth}), 30.0))

            out.append(Source(peer.hex()[:12], p_manifest, p_chunk))
        session = node.catchup.session
        if session is not None:
            for url in node.sync_urls:
                async def get(target: str, session: aiohttp.ClientSession = session) -> bytes:
                    async with session.get(
                            URL(target, encoded=True), timeout=aiohttp.ClientTimeout(total=30),
                            headers=signed_headers(node.sync_identity, "GET", target)) as r:
                        body = await r.read()
                        if r.status == 200:
                            return body
                        try:
                            err = loads_untrusted(body)
                        except (ValueError, RecursionError):  # a peer's body: anything
                            err = {}
                        e = err.get("error") if isinstance(err, dict) else None
                        code = e.get("code") if isinstance(e, dict) else None
                        raise SnapshotRefused(code if isinstance(code, str) else "http",
                                              f"HTTP {r.status}: {body[:200]!r}")

                async def r_manifest(height: int | None, url: str = url) -> bytes:
                    q = "" if height is None else f"?height={height}"
                    return await get(f"{url}/v1/sync/snapshot{q}")

                async def r_chunk(height: int, prefix: int, depth: int, url: str = url) -> bytes:
                    return await get(f"{url}/v1/sync/chunk?height={height}&prefix={prefix}"
                                     f"&depth={depth}")

                out.append(Source(url, r_manifest, r_chunk))
        return out

    async def run(self, patience_s: float = 20.0) -> bool:
        """Install a snapshot (resuming one in progress). Returns True when one was installed;
        False when none is worth it: every source answered and none offers a snapshot above the
        tip, or no source answered within ``patience_s`` (and none was in progress)."""
        node = self.node
        store = node.store
        genesis_set = node.genesis.validator_set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience_s
        self.active = True
        try:
            while True:
                sources = self._sources()
                refused_all = bool(sources)
                p: Progress | None = None
                m: Manifest | None = None
                for src in sources:
                    # (again per source: the one before may have started or advanced a sync)
                    p = load_progress(store)
                    m = None if p is None else verify_manifest(p.manifest, node.chain_id,
                                                               genesis_set)
                    try:
                        if await self._from_source(src, m, p):
                            return True
                    except SnapshotRefused as e:
                        log.info("state sync from %s: %s (%s)", src.name, e, e.code)
                        if e.code != "not_found":
                            refused_all = False
                    except Exception as e:  # noqa: BLE001 - a source's fault: try the next
                        refused_all = False
                        node.stats["statesync_failed"] += 1
                        log.warning("state sync from %s failed: %r", src.name, e)
                p = load_progress(store)
                if p is not None and refused_all:
                    # nobody serves the height we started: start again from a newer one
                    log.warning("no source serves the snapshot at height %d any more: "
                                "starting again", m.height if m else -1)
                    store.delete(K_PROGRESS, sync=True)
                    continue
                if load_progress(store) is None and (refused_all or loop.time() > deadline):
                    log.info("state sync: no snapshot above height %d: replaying blocks",
                             node.ledger.tip.height)
                    return False
                await asyncio.sleep(1.0)
        finally:
            self.active = False

    async def _install_regions(self, src: Source, m: Manifest, p: Progress,
                               pool: ProcessPoolExecutor | None) -> int:
        """Fetch, verify and write the regions from ``p.cursor`` on, in a pipeline: up to
        ``AHEAD`` regions are being fetched (the server's work and the transfer) and verified in
        ``pool`` (``prepare_chunk``: the hashing, on another core) while this process writes the
        oldest verified one (in key-hash order: the progress record moves region by region).
        Returns the entries written.

        Raises:
            SnapshotRefused, InvalidMessage: the source failed or sent a chunk that does not
                verify (nothing of that chunk is written).
        """
        node = self.node
        loop = asyncio.get_running_loop()
        root, height = m.block.header.state_root, m.height
        digest = node.ledger.digest_leaves

        async def fetch_prepare(at: int, depth: int) -> tuple[Prepared, int]:
            raw = await src.chunk(height, at >> (256 - depth), depth)
            if pool is None:
                prep = await asyncio.to_thread(prepare_chunk, root, height, depth, at, raw,
                                               digest)
            else:
                prep = await loop.run_in_executor(pool, prepare_chunk, root, height, depth, at,
                                                  raw, digest)
            return prep, len(raw)

        pending: deque[tuple[asyncio.Future[tuple[Prepared, int]], int, int]] = deque()
        nxt, ask = p.cursor, p.depth  # where and at which depth the next region is asked for
        claims: list[_Claim] = []  # regions the source refused as too large, being filled in
        entries = 0
        probing = True  # no region of this depth served yet: ask for one at a time (a region
        # refused as too large costs the server a walk of MAX_CHUNK_ENTRIES leaves)
        try:
            while p.cursor < END:
                while len(pending) < (1 if probing else AHEAD) and nxt < END:
                    pending.append((asyncio.ensure_future(fetch_prepare(nxt, ask)), nxt, ask))
                    nxt = region_end(nxt >> (256 - ask), ask)
                fut, start, depth = pending.popleft()
                try:
                    prep, size = await fut
                except SnapshotRefused as e:
                    if e.code != "too_large" or depth >= MAX_CHUNK_DEPTH:
                        raise
                    await _cancel_all(deque(f for f, _, _ in pending))
                    pending.clear()
                    claims.append(_Claim(region_end(start >> (256 - depth), depth)))
                    ask = depth + 1  # the regions are too big: halve them from here on
                    nxt = p.cursor
                    probing = True
                    continue
                probing = False
                entries += await self._in_thread(write_prepared, self.node.store, p, prep)
                self.status["chunks"] = p.chunks
                node.stats["chunks_installed"] += 1
                _check_claims(claims, p.cursor, prep.entries, size, src.name)
                # regions far smaller than a chunk: ask for bigger ones again (once the cursor
                # allows it). A source's refusals only ever made them smaller, so one that
                # refused everything down to depth MAX_CHUNK_DEPTH left 2**32 regions to ask
                # every source for, the progress record keeping that depth across restarts
                if (ask > 0 and prep.entries < MAX_CHUNK_ENTRIES // 4
                        and size < MAX_CHUNK_BYTES // 4 and nxt % (1 << (257 - ask)) == 0):
                    ask -= 1
        finally:
            await _cancel_all(deque(f for f, _, _ in pending))
        return entries

    async def _from_source(self, src: Source, m: Manifest | None,
                           p: Progress | None) -> bool:
        node = self.node
        store = node.store
        if m is None or p is None:
            m = verify_manifest(await src.manifest(None), node.chain_id,
                                node.genesis.validator_set())
            if m.height <= node.ledger.tip.height:
                raise SnapshotRefused("not_found", f"it offers height {m.height}, not above ours")
            p = await self._in_thread(begin, store, m)
            log.info("state sync: installing the state of height %d from %s", m.height,
                     src.name)
        else:
            # the server must hold this very snapshot (it is verified again, and compared)
            again = verify_manifest(await src.manifest(m.height), node.chain_id,
                                    node.genesis.validator_set())
            if again.block.hash() != m.block.hash():
                raise InvalidMessage("the server's block at the snapshot height differs")
            log.info("state sync: resuming height %d at chunk %d from %s", m.height, p.chunks,
                     src.name)
        t0 = time.perf_counter()
        self.status = {"height": m.height, "chunks": p.chunks, "source": src.name}
        pool = _prepare_pool()
        # the install allocates millions of short-lived bytes and tuples and no cycles: the
        # cyclic collector would only walk them (~5 % of the install's CPU)
        collecting = gc.isenabled()
        gc.disable()
        try:
            entries = await self._install_regions(src, m, p, pool)
        finally:
            if collecting:
                gc.enable()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        await self._in_thread(finish, store, m, p)
        log.info("state sync: installed height %d (%d chunks, %d entries this run) in %.1f s",
                 m.height, p.chunks, entries, time.perf_counter() - t0)
        return True

