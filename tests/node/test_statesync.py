"""State sync (node/statesync.py) on an in-process cluster: an empty observer installs a verified
snapshot over REST, refuses a tampered chunk, resumes a sync cut short, and then follows."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from aiohttp import web

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.errors import InvalidMessage
from chainfin.store import MemoryStore
from chainfin.types import Transaction
from node import statesync
from node.api import make_app
from node.runtime import Node
from tests.fixtures import connect, start_cluster, stop_cluster, wait_height

# nonces 256 apart: each transaction's nonce is in a word of its own, a new state key (ledger
# format 2, decision 95; its issues to unregistered accounts are refused and write nothing else)
_nonce = itertools.count(256, 256)


async def _commit_issues(nodes: list[Node], ids: dict[str, Identity], n: int) -> None:
    """``n`` issue transactions to fresh accounts, all in blocks (each a new nonce word)."""
    txs = []
    for _ in range(n):
        to = Identity.generate("acct").public_key.hex()
        tx = Transaction.create(ids["usd_issuer"], nodes[0].chain_id, next(_nonce),
                                "settlement", "issue", {"currency": "USD", "to": to,
                                                        "amount": 5})
        nodes[0].admit(tx)
        txs.append(tx)
        if len(txs) % 50 == 0:
            await asyncio.sleep(0.01)
    deadline = time.monotonic() + 30
    while any(nodes[0].ledger.tx_location(t.tx_id) is None for t in txs):
        assert time.monotonic() < deadline, "transactions did not commit"
        await asyncio.sleep(0.02)


async def _serve(node: Node) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_app(node), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _observer(gen: Any, store: MemoryStore, url: str, auditor: Identity,
              state_sync: bool = True) -> Node:
    return Node(Identity.generate("joiner"), gen, store, "127.0.0.1", 0, {}, "joiner",
                sync_urls=[url], sync_identity=auditor, state_sync=state_sync)


@pytest.fixture
async def cluster(monkeypatch):
    # small chunks, so that a few hundred keys make many regions (and a refusal to split)
    monkeypatch.setattr(statesync, "MAX_CHUNK_ENTRIES", 64)
    gen, nodes, ids = await start_cluster()
    await _commit_issues(nodes, ids, 400)
    for nd in nodes:  # every node's state tree at its tip stored whole: a snapshot to serve
        nd.ledger.flush_smt()
    runner, url = await _serve(nodes[0])
    try:
        yield gen, nodes, ids, url
    finally:
        await runner.cleanup()
        await stop_cluster(nodes)


async def _assert_same_state(validator: Any, node: Any) -> None:
    """``node``'s state root at its tip is the one the validator certified at that height."""
    h = node.ledger.tip.height
    await wait_height(validator, h)
    assert node.ledger.tip.state_root == codec.decode(validator.ledger.block_raw(h))[
        "block"]["header"]["state_root"]


async def _until(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_join_by_snapshot_reaches_the_validators_state_and_follows(cluster) -> None:
    gen, nodes, ids, url = cluster
    snap = nodes[0].ledger.snapshot_height
    assert snap > 0
    joiner = _observer(gen, MemoryStore(), url, ids["auditor"])
    await joiner.start()
    try:
        await _until(lambda: not joiner.syncing_state and joiner.ledger.tip.height >= snap)
        assert joiner.ledger.base_height == snap  # installed, not replayed
        assert joiner.stats["chunks_installed"] >= 2  # 400+ keys: more than one region
        assert joiner.ledger.block_raw(1) is None  # blocks below the snapshot: not fetched
        # it keeps following: new blocks are replayed on top of the snapshot
        await _commit_issues(nodes, ids, 30)
        top = nodes[0].ledger.tip.height
        await wait_height(joiner, top, timeout=30)
        rec = nodes[0].ledger.block_record(top)
        assert rec is not None
        assert joiner.ledger.tip.state_root == nodes[0].ledger.block_record(top)["block"][
            "header"]["state_root"]
        # the nonces each sender used are known to the joiner too (the receipts in the chunks
        # and the blocks replayed after them): /v1/nonce answers as the validator does
        for ident in ids.values():
            used = sorted(nodes[0].ledger.used_nonces(ident.public_key))
            assert sorted(joiner.ledger.used_nonces(ident.public_key)) == used
            assert joiner.next_nonce(ident.public_key) == nodes[0].next_nonce(ident.public_key)
        assert any(nodes[0].ledger.used_nonces(i.public_key) for i in ids.values())
    finally:
        await joiner.stop()


def _chunk_or_none(*args: Any) -> bytes | None:
    """statesync.chunk, or None for a region too large for one chunk."""
    try:
        return statesync.chunk(*args)
    except statesync.SnapshotRefused as e:
        assert e.code == "too_large"
        return None


async def test_a_chunk_with_one_byte_changed_is_refused(cluster) -> None:
    gen, nodes, ids, url = cluster
    ledger = nodes[0].ledger
    m = statesync.verify_manifest(statesync.manifest(ledger, None), gen.chain_id,
                                  gen.validator_set())
    # a region with entries that fits one chunk (the identities are random: any one eighth may
    # be empty or, rarely, hold more than MAX_CHUNK_ENTRIES)
    prefix, raw = next((i, r) for i in range(8) for r in [_chunk_or_none(
        nodes[0].store, ledger.state_root_at, m.height, i, 3)]
        if r is not None and statesync.decode_chunk(r).entries)
    store = MemoryStore()
    p = statesync.Progress(m.raw, prefix << 253, 3, b"\0" * 32)
    c = statesync.decode_chunk(raw)
    assert c.entries
    key, value = c.entries[len(c.entries) // 2]
    bad = raw.replace(value, value[:-1] + bytes([value[-1] ^ 1]), 1)
    assert bad != raw
    with pytest.raises(InvalidMessage):
        statesync.install_chunk(store, m, p, bad)
    assert store.get(statesync.K_PROGRESS) is None and p.chunks == 0  # nothing written
    assert statesync.install_chunk(store, m, p, raw) == len(c.entries)


async def test_a_tampering_source_is_refused_and_another_used(cluster, monkeypatch) -> None:
    gen, nodes, ids, url = cluster
    joiner = _observer(gen, MemoryStore(), url, ids["auditor"])
    real = statesync.StateSync._sources

    def sources(self: statesync.StateSync) -> list[statesync.Source]:
        good = real(self)

        async def bad_chunk(height: int, prefix: int, depth: int) -> bytes:
            raw = await good[0].chunk(height, prefix, depth)
            c = statesync.decode_chunk(raw)
            if not c.entries:
                return raw
            k, v = c.entries[0]
            return raw.replace(k, k[:-1] + bytes([k[-1] ^ 1]), 1)

        return [statesync.Source("tamperer", good[0].manifest, bad_chunk), *good]

    monkeypatch.setattr(statesync.StateSync, "_sources", sources)
    await joiner.start()
    try:
        await _until(lambda: not joiner.syncing_state
                     and joiner.ledger.tip.height >= nodes[0].ledger.snapshot_height)
        assert joiner.stats["statesync_failed"] >= 1
        await _assert_same_state(nodes[0], joiner)
    finally:
        await joiner.stop()


async def test_a_sync_cut_short_resumes_and_never_runs_on_half_a_state(cluster,
                                                                       monkeypatch) -> None:
    gen, nodes, ids, url = cluster
    monkeypatch.setattr(statesync, "MAX_CHUNK_ENTRIES", 4096)
    ledger = nodes[0].ledger
    m = statesync.verify_manifest(statesync.manifest(ledger, None), gen.chain_id,
                                  gen.validator_set())
    store = MemoryStore()
    first = _observer(gen, store, url, ids["auditor"], state_sync=False)  # creates genesis
    await first.stop()
    p = statesync.begin(store, m)
    p.depth = 2
    for _ in range(2):  # two of four regions installed, then the process "dies"
        statesync.install_chunk(store, m, p, statesync.chunk(
            nodes[0].store, ledger.state_root_at, m.height, p.cursor >> 254, 2))
    assert store.get(statesync.K_PROGRESS) is not None
    # restarted WITHOUT state sync enabled: it still resumes (its state is partial) ...
    joiner = _observer(gen, store, url, ids["auditor"], state_sync=False)
    assert joiner.statesync.needed()
    await joiner.start()
    try:
        assert joiner.syncing_state  # ... and refuses state reads and transactions meanwhile
        await _until(lambda: not joiner.syncing_state and joiner.ledger.tip.height >= m.height)
        assert joiner.ledger.base_height == m.height
        assert joiner.stats["chunks_installed"] == 2  # only the two regions left
        assert store.get(statesync.K_PROGRESS) is None
        await _assert_same_state(nodes[0], joiner)
    finally:
        await joiner.stop()


async def test_bad_snapshot_requests_get_clear_errors(cluster) -> None:
    gen, nodes, ids, url = cluster
    node = nodes[0]
    import aiohttp

    from chainfin.client import signed_headers
    async with aiohttp.ClientSession() as s:
        for who, path, want in (
                ("auditor", "/v1/sync/snapshot", 200),
                ("exporter", "/v1/sync/snapshot", 404),  # blocks are not an exporter's to read
                ("auditor", "/v1/sync/chunk?height=1&prefix=9&depth=2", 400),
                ("auditor", "/v1/sync/chunk?height=x", 400),
                ("auditor", f"/v1/sync/chunk?height={node.ledger.snapshot_height}"
                            "&prefix=0&depth=0", 413)):
            async with s.get(url + path, headers=signed_headers(ids[who], "GET",
                                                                url + path)) as r:
                assert r.status == want, (who, path, await r.read())
    for req, code in (({"height": 10**9, "prefix": 0, "depth": 0}, "not_found"),
                      ({"height": 1, "prefix": 4, "depth": 2}, "bad_request"),
                      ({"height": 1, "prefix": 0, "depth": 99}, "bad_request"),
                      ({"height": "x"}, "bad_request")):
        out = codec.decode(await statesync.serve_chunk(node, b"", codec.encode(req)))
        assert out["error"] == code, (req, out)
    out = codec.decode(await statesync.serve_chunk(node, b"", b"\xc1garbage"))
    assert out["error"] == "bad_request"
    out = codec.decode(await statesync.serve_snapshot(node, b"", codec.encode({"height": 3})))
    assert out["error"] == "not_found"  # no tree stored whole at an arbitrary height
    snap = node.ledger.snapshot_height
    with pytest.raises(statesync.SnapshotRefused) as e:
        statesync.chunk(node.store, node.ledger.state_root_at, snap, 0, 0)  # 400+ keys > 64
    assert e.value.code == "too_large"


async def test_an_emptied_validator_syncs_from_its_peers_over_p2p(cluster) -> None:
    """A validator restarted on an empty store with state sync takes the snapshot from its
    peers over the p2p ``snapshot``/``chunk`` requests, then takes part again."""
    gen, nodes, ids, url = cluster
    old = nodes[3]
    await old.stop()
    fresh = Node(old.identity, gen, MemoryStore(), "127.0.0.1", 0, {}, "node3",
                 state_sync=True)
    nodes[3] = fresh  # (the fixture stops it)
    await fresh.start()
    await connect(nodes)
    await _until(lambda: not fresh.syncing_state and fresh.ledger.base_height > 0)
    assert fresh.stats["chunks_installed"] >= 2
    assert sum(n.stats["chunks_served"] for n in nodes[:3]) >= fresh.stats["chunks_installed"]
    await _commit_issues(nodes, ids, 20)
    top = nodes[0].ledger.tip.height
    await wait_height(fresh, top, timeout=30)
    assert fresh.ledger.tip.state_root == codec.decode(nodes[0].ledger.block_raw(top))[
        "block"]["header"]["state_root"]


async def test_a_node_stopped_mid_sync_resumes_at_its_next_start(cluster, monkeypatch) -> None:
    gen, nodes, ids, url = cluster
    real = statesync.StateSync._sources

    def slow_sources(self: statesync.StateSync) -> list[statesync.Source]:
        out = []
        for src in real(self):
            async def chunk(height: int, prefix: int, depth: int,
                            src: statesync.Source = src) -> bytes:
                await asyncio.sleep(0.05)
                return await src.chunk(height, prefix, depth)
            out.append(statesync.Source(src.name, src.manifest, chunk))
        return out

    monkeypatch.setattr(statesync.StateSync, "_sources", slow_sources)
    store = MemoryStore()
    joiner = _observer(gen, store, url, ids["auditor"])
    await joiner.start()
    await _until(lambda: joiner.stats["chunks_installed"] >= 3)
    await joiner.stop()  # killed in the middle: the progress record and 3+ regions are in
    done = statesync.load_progress(store)
    assert done is not None and 3 <= done.chunks
    assert joiner.ledger.tip.height == 0  # never took the partial state as a tip
    monkeypatch.setattr(statesync.StateSync, "_sources", real)
    again = _observer(gen, store, url, ids["auditor"], state_sync=False)
    await again.start()
    try:
        await _until(lambda: not again.syncing_state and again.ledger.base_height > 0)
        assert statesync.load_progress(store) is None
        await _assert_same_state(nodes[0], again)
    finally:
        await again.stop()
    # it fetched only the regions it did not have: a whole sync takes that many more
    whole = _observer(gen, MemoryStore(), url, ids["auditor"])
    await whole.start()
    try:
        await _until(lambda: not whole.syncing_state and whole.ledger.base_height > 0)
        if whole.ledger.base_height == again.ledger.base_height:
            assert again.stats["chunks_installed"] == \
                whole.stats["chunks_installed"] - done.chunks
    finally:
        await whole.stop()
