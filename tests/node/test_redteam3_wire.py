"""Third red-team round over the peer protocol and REST input, against real in-process nodes
(the engine-level attacks are in tests/unit/test_redteam3_wire.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chainfin import codec
from node.runtime import K_CONSENSUS
from tests.fixtures import start_cluster, stop_cluster, until


async def test_a_linked_validator_cannot_stop_a_node_with_one_malformed_consensus_frame() -> None:
    """A consensus message whose kind is a list made the engine raise TypeError, which the
    consensus loop treats as fatal: the node logged CRITICAL and exited."""
    _, nodes, _ = await start_cluster(4, outsider=False)
    try:
        target, attacker = nodes[0], nodes[1]
        bad = codec.encode([[1], 0, 1, b"\1" * 32, b"\2" * 32, b"\3" * 64, None, None])
        attacker.transport.send(target.identity.public_key, K_CONSENSUS, bad)
        await until(lambda: target.engine.stats["dropped_malformed"] >= 1 or target.failed.is_set())
        await asyncio.sleep(0.05)
        assert not target.failed.is_set(), target.failure
        assert target.engine.stats["dropped_malformed"] == 1
    finally:
        await stop_cluster(nodes)


async def test_rest_refuses_a_transaction_its_peers_could_not_decode() -> None:
    """The canonical encoder takes maps of any size, the bounded decoder (every peer, every
    reader of a block record) refuses more than 10,000 entries: a client's transaction whose
    args held a 10,001-entry map (50 KB, under the 64 KiB limit) was admitted over REST,
    committed, and then its block could be read by no one: ``GET /v1/blocks/<h>`` answered 500,
    and every node fetching the chain stopped there for good ("sent a bad certified block")."""
    import itertools
    import json
    import string

    from aiohttp.test_utils import TestServer

    from node import api
    from tests.fixtures import Harness, SigningClient

    genesis, nodes, ids = await start_cluster(1)
    http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
    await http.start_server()
    h = Harness(genesis, nodes, ids, http)
    try:
        keys = ("".join(p) for p in itertools.product(string.ascii_letters, repeat=3))
        fields = {k: 1 for k in itertools.islice(keys, 10_001)}
        tx = h.tx("exporter", "trade_documents", "register",
                  {"doc_type": "invoice", "fields": {"a": 1}, "content_hash": "ab" * 32})
        envelope = tx.to_json()  # (our encoder refuses the map now: the client writes it by hand)
        envelope["args"]["fields"] = fields
        status, body = await h.post(json.dumps(envelope))
        if status == 200:  # the code before: admitted, committed, and its block unreadable
            status_b, _ = await h.get(f"/v1/blocks/{body['height']}")
            assert status_b != 500, "a committed block no one can decode"
        assert (status, body["error"]["code"]) == (400, "bad_encoding"), body
        assert "10001" in body["error"]["message"]
    finally:
        await http.close()
        await stop_cluster(nodes)


async def test_a_fetched_record_that_breaks_the_decoder_is_a_bad_block_not_a_dead_task() -> None:
    """Catch-up caught only ChainfinError, KeyError and TypeError around a peer's record, but a
    certificate vote given as a huge integer makes ``bytes(n)`` raise OverflowError (or
    MemoryError): it escaped ``_pull``, and from the validators' once-a-second ``watch`` it
    ended that task for good (the node never again noticed being behind a peer)."""
    from chainfin.types import Block, BlockHeader

    _, nodes, _ = await start_cluster(1, outsider=False)
    node = nodes[0]
    try:
        tip = node.ledger.tip
        header = BlockHeader(node.chain_id, tip.height + 1, 0, tip.block_hash, b"\1" * 32,
                             b"\2" * 32, tip.validators.hash(), tip.validators.hash(), 1,
                             b"\3" * 32)
        cert = {"chain_id": node.chain_id, "height": tip.height + 1, "view": 0,
                "block_hash": header.hash(), "votes": [[2**63, 2**63]]}
        record = codec.encode({"block": Block(header, ()).to_wire(), "cert": cert})

        async def evil(start: int) -> list[bytes]:
            return [record]

        failed = node.stats["fetch_failed"]
        assert await node.catchup._pull(evil, "evil") is False
        assert node.stats["fetch_failed"] == failed + 1
    finally:
        await stop_cluster(nodes)


async def test_idle_connections_of_a_stranger_do_not_keep_a_validator_from_linking() -> None:
    """At most 32 handshakes wait at once, each up to 5 s for its first message, and the 33rd
    connection was refused (503 busy): anyone who can reach the p2p port (a bank's observer
    with a consortium certificate; anyone without TLS) kept every validator from linking to a
    node by holding 32 idle websockets, opened again as they time out. The oldest waiting
    handshake now gives way to a new connection: an attacker must open 32 connections within
    one honest handshake's round trip to keep a validator out."""
    import random

    import aiohttp

    from node.transport import Transport
    from tests.fixtures import CHAIN, FAST, idents

    a_id, b_id = idents(2, "rt3")
    a = Transport(a_id, CHAIN, "127.0.0.1", 0, {}, lambda *x: None, rng=random.Random(1),
                  **FAST)  # type: ignore[arg-type]
    b = Transport(b_id, CHAIN, "127.0.0.1", 0, {}, lambda *x: None, rng=random.Random(2),
                  **FAST)  # type: ignore[arg-type]
    session = aiohttp.ClientSession()
    idle = []
    try:
        await b.start()
        for _ in range(32):
            idle.append(await session.ws_connect(f"http://{b.address}/p2p"))
        await a.start()
        a.set_peers({b.public_key: b.address})
        b.set_peers({a.public_key: a.address})
        await until(lambda: a.connected() == [b.public_key], timeout=2.0)
    finally:
        for ws in idle:
            await ws.close()
        await session.close()
        await a.stop()
        await b.stop()


async def test_a_sync_reader_cannot_keep_every_snapshot_pinned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each flush pins the store (a LevelDB snapshot) to serve state sync, and an older pin
    is kept while a sync read it within PIN_IDLE_S: a reader of chunks (a validator peer, or
    any regulator or auditor over REST) that touches every pinned height keeps all of them,
    so nothing pruning deletes is ever reclaimed (decision 90's saving undone) and the pins
    grow by one per flush. ``Ledger._pin_flushed`` keeps at most ``MAX_PINS`` (the newest and
    the most recently read; docs/reliability.md, "Red-team round 3")."""
    from node import ledger as ledger_mod
    from node import statesync
    from tests.fixtures import Harness

    monkeypatch.setattr(ledger_mod, "PIN_IDLE_S", 0.2)
    genesis, nodes, ids = await start_cluster(1)
    node = nodes[0]
    h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
    try:
        for _ in range(8):
            await asyncio.sleep(0.25)  # longer than PIN_IDLE_S here: unread pins are released
            for height in node.ledger.pinned_heights():  # the attacker's reads
                if height >= 1:
                    statesync.ledger_chunk(node.ledger, height, 0, 32)
            tx = h.issue()
            fut = node.wait_for(tx.tx_id)
            node.admit(tx)
            await asyncio.wait_for(fut, 10)
            node.ledger.flush_smt()
        assert len(node.ledger.pinned_heights()) <= 4, node.ledger.pinned_heights()
    finally:
        await stop_cluster(nodes)


async def test_a_broken_websocket_frame_from_a_linked_peer_is_counted() -> None:
    """A websocket frame the reader refuses (a reserved opcode, bad framing) ended the link
    with no counter saying why (only ``disconnects``): the fuzzers' rule is that every drop
    is counted. It now counts ``dropped_malformed`` and ``disconnects_bad_peer``."""
    import random

    from node.transport import Transport
    from tests.fixtures import CHAIN, FAST, idents

    a_id, b_id = idents(2, "rt3ws")
    a = Transport(a_id, CHAIN, "127.0.0.1", 0, {}, lambda *x: None, rng=random.Random(1),
                  **FAST)  # type: ignore[arg-type]
    b = Transport(b_id, CHAIN, "127.0.0.1", 0, {}, lambda *x: None, rng=random.Random(2),
                  **FAST)  # type: ignore[arg-type]
    try:
        await a.start()
        await b.start()
        a.set_peers({b.public_key: b.address})
        b.set_peers({a.public_key: a.address})
        await until(lambda: a.connected() == [b.public_key] and b.connected() == [a.public_key])
        link = a._peers[b.public_key].link
        assert link is not None
        await link.ws._writer.send_frame(b"x", 0x3)  # a reserved opcode
        await until(lambda: b.stats["disconnects"] >= 1)
        assert b.stats["dropped_malformed"] == 1
        assert b.stats["disconnects_bad_peer"] == 1
    finally:
        await a.stop()
        await b.stop()


# ------------------------------------------------------------------ state sync


async def _server_and_joiner(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any], Any, Any]:
    """A snapshot server's chain (its genesis, nodes and ledger) and an empty joining Node;
    state-sync chunks prepared in the joiner's own thread."""
    from chainfin.crypto import Identity
    from chainfin.store import MemoryStore
    from node import statesync
    from node.runtime import Node

    monkeypatch.setattr(statesync, "PREPARE_WORKERS", 0)
    genesis, nodes, _ = await _snapshot_server()
    joiner = Node(Identity.generate("joiner"), genesis, MemoryStore(), "127.0.0.1", 0, {},
                  "joiner")
    return genesis, nodes, nodes[0].ledger, joiner


async def _snapshot_server() -> tuple[Any, list[Any], dict[str, Any]]:
    """A one-validator chain with a few committed transactions and a snapshot to serve."""
    from tests.fixtures import Harness

    genesis, nodes, ids = await start_cluster(1)
    h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
    for _ in range(3):
        tx = h.issue()
        fut = nodes[0].wait_for(tx.tx_id)
        nodes[0].admit(tx)
        await asyncio.wait_for(fut, 10)
    nodes[0].ledger.flush_smt()
    return genesis, nodes, ids


def _counted(chunk: Any, limit: int = 300) -> tuple[Any, list[int]]:
    calls: list[int] = []

    async def counted(height: int, prefix: int, depth: int) -> bytes:
        calls.append(depth)
        if len(calls) > limit:
            raise RuntimeError(f"more than {limit} chunk requests")
        return await chunk(height, prefix, depth)

    return counted, calls


async def test_a_source_cannot_leave_a_joiner_billions_of_regions_to_fetch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A joiner halves its regions when a source says ``too_large`` and never went back: a
    source that answered so down to depth 32, served one region there (which saves the depth
    in the progress record) and went away left every source after it 2**32 regions to serve
    (a joiner that never finishes)."""
    from node import statesync

    genesis, nodes, server, joiner = await _server_and_joiner(monkeypatch)
    try:
        async def manifest(height: int | None) -> bytes:
            return statesync.manifest(server, height)

        served: list[int] = []

        async def deepest_once(height: int, prefix: int, depth: int) -> bytes:
            if depth < statesync.MAX_CHUNK_DEPTH:
                raise statesync.SnapshotRefused("too_large", "ask for its halves")
            if served:
                raise ConnectionError("gone")
            served.append(prefix)
            return statesync.ledger_chunk(server, height, prefix, depth)

        async def honest(height: int, prefix: int, depth: int) -> bytes:
            return statesync.ledger_chunk(server, height, prefix, depth)

        with pytest.raises(ConnectionError):
            await joiner.statesync._from_source(
                statesync.Source("deep", manifest, deepest_once), None, None)
        p = statesync.load_progress(joiner.store)
        assert p is not None and p.depth == statesync.MAX_CHUNK_DEPTH and p.chunks == 1
        m = statesync.verify_manifest(p.manifest, genesis.chain_id, genesis.validator_set())
        chunk, calls = _counted(honest)
        assert await joiner.statesync._from_source(statesync.Source("honest", manifest, chunk),
                                                   m, p)
        assert len(calls) < 100, calls
    finally:
        await stop_cluster(nodes)


async def test_a_source_that_lies_about_region_sizes_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A source that serves real chunks but only of the deepest regions (``too_large`` for any
    other) kept a joiner at 2**32 regions: a refusal whose halves then hold less than one
    chunk's worth is a lie the joiner can see, and it moves on to another source."""
    from chainfin.errors import InvalidMessage
    from node import statesync

    genesis, nodes, server, joiner = await _server_and_joiner(monkeypatch)
    try:
        async def manifest(height: int | None) -> bytes:
            return statesync.manifest(server, height)

        async def liar(height: int, prefix: int, depth: int) -> bytes:
            if depth < statesync.MAX_CHUNK_DEPTH:
                raise statesync.SnapshotRefused("too_large", "ask for its halves")
            return statesync.ledger_chunk(server, height, prefix, depth)

        chunk, calls = _counted(liar)
        with pytest.raises(InvalidMessage, match="too large"):
            await joiner.statesync._from_source(statesync.Source("liar", manifest, chunk),
                                                None, None)
        assert len(calls) < 100, calls
    finally:
        await stop_cluster(nodes)


def test_a_manifest_naming_a_member_by_a_huge_integer_is_refused_at_once() -> None:
    """A manifest's member lists were read with ``bytes(m)``: an integer ``m`` became ``m`` zero
    bytes (2**33: an 8 GiB key, hashed and encoded when the change is checked) or raised
    OverflowError / MemoryError instead of a malformed manifest."""
    from chainfin.errors import InvalidMessage
    from chainfin.types import Block, BlockHeader, CommitCertificate, ValidatorSet
    from node import statesync

    vs = ValidatorSet((b"\1" * 32,))
    header = BlockHeader("x", 1, 0, b"\2" * 32, b"\3" * 32, b"\4" * 32, vs.hash(), vs.hash(),
                         1, b"\1" * 32)
    record = codec.encode({"block": Block(header, ()).to_wire(),
                           "cert": CommitCertificate("x", 1, 0, header.hash(), ()).to_wire()})
    for member in (2**33, 2**63, 5):
        raw = codec.encode({"height": 1, "block": record, "changes": [[record, [member]]]})
        with pytest.raises(InvalidMessage, match="member"):
            statesync.verify_manifest(raw, "x", vs)


async def test_catch_up_batches_stay_within_what_a_peer_link_carries() -> None:
    """``fetch`` answered up to 64 block records whatever their size, and a peer link refuses
    an answer above its payload limit (2 MiB): once 64 blocks of the chain held more than
    that (a few dozen 60 KB transactions), no node could fetch them over p2p ("response of N
    bytes is too large"), for ever. Over REST the same read built answers of up to 64 frames
    (128 MiB). A batch now stops at ``FETCH_BYTES`` (at least one record)."""
    from chainfin import codec as codec_
    from node.catchup import FETCH_BATCH, K_FETCH
    from tests.fixtures import Harness

    genesis, nodes, ids = await start_cluster(2)
    h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
    try:
        txs = [h.tx("exporter", "trade_documents", "register",
                    {"doc_type": "invoice", "fields": {"note": f"{i:05d}" + "x" * 60_000},
                     "content_hash": f"{i:064x}"}) for i in range(40)]
        for tx in txs:
            nodes[0].admit(tx)
        await until(lambda: all(nodes[0].ledger.tx_location(t.tx_id) for t in txs), 30)
        raw = await nodes[1].transport.request(
            nodes[0].identity.public_key, K_FETCH,
            codec_.encode({"from": 1, "max": FETCH_BATCH}), 10.0)
        records = codec_.decode(raw)
        assert records and sum(map(len, records)) <= 2 * 2**20
    finally:
        await stop_cluster(nodes)


async def test_a_peer_answering_fetches_with_blocks_we_have_cannot_hold_catch_up() -> None:
    """A fetch applied what a peer answered and asked again while the answer was a full batch:
    a peer answering every request with 64 records we already have kept the fetch running for
    ever, and with it the node's one fetch at a time (``fetching``): it never caught up from
    anyone else. A batch that brings nothing new now ends the pull."""
    from tests.fixtures import Harness

    genesis, nodes, ids = await start_cluster(1)
    node = nodes[0]
    h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
    try:
        tx = h.issue()
        fut = node.wait_for(tx.tx_id)
        node.admit(tx)
        await asyncio.wait_for(fut, 10)
        stale = node.ledger.block_raw(1)
        assert stale is not None
        calls = []

        async def replayer(start: int) -> list[bytes]:
            calls.append(start)
            return [stale] * 64

        assert await asyncio.wait_for(node.catchup._pull(replayer, "replayer"), 5) is False
        assert len(calls) == 1
    finally:
        await stop_cluster(nodes)
