"""One-way cuts between in-process validators, through the per-link relays of testnet/netfault.py
(red-team round 6, docs/reliability.md): what a link that dies takes with it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chainfin.store import MemoryStore
from chainfin.types import Transaction
from node.runtime import Node
from testnet.launch import free_ports
from testnet.netfault import NetFault
from tests.fixtures import client_ids, make_genesis, validator_ids

N = 4


@pytest.fixture
async def relayed() -> AsyncIterator[tuple[list[Node], NetFault, dict[str, Any]]]:
    """Four validators whose every link runs through a relay (a -> b on its own port)."""
    validators = validator_ids(N)
    ids = client_ids()
    gen = make_genesis(validators, ids)
    nodes = [Node(v, gen, MemoryStore(), "127.0.0.1", 0, {}, f"node{i}")
             for i, v in enumerate(validators)]
    for nd in nodes:
        await nd.start()
    pairs = [(a, b) for a in range(N) for b in range(N) if a != b]
    ports = dict(zip(pairs, free_ports(len(pairs)), strict=True))
    nf = NetFault(N, [(a, b, ports[(a, b)], ("127.0.0.1", nodes[b].transport.port))
                      for a, b in pairs], seed=6)
    await nf.start()
    for a, nd in enumerate(nodes):
        peers = {nodes[b].identity.public_key: f"127.0.0.1:{ports[(a, b)]}"
                 for b in range(N) if b != a}
        nd.peers_cfg = dict(peers)
        nd.transport.set_peers(peers)
    await _linked(nodes)
    try:
        yield nodes, nf, {"ids": ids, "genesis": gen}
    finally:
        for nd in nodes:
            await nd.stop()
        await nf.stop()


async def _linked(nodes: list[Node], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while any(len(nd.transport.connected()) < N - 1 for nd in nodes):
        assert time.monotonic() < deadline, [len(nd.transport.connected()) for nd in nodes]
        await asyncio.sleep(0.02)


async def test_transactions_a_dying_link_swallowed_are_sent_again_when_it_comes_back(
        relayed: tuple[list[Node], NetFault, dict[str, Any]]) -> None:
    """A replica whose outbound links black-hole (it receives, nothing it sends arrives) takes
    a client's transaction: its copy to the primary and its deferred broadcast are accepted by
    TCP and held; the links then die (as the peers' heartbeats would kill them) with those
    bytes. Before the fix the transaction stayed in that replica's mempool alone for good:
    nobody else ever heard of it, the client waited in vain (chaos: 100 of 100 such requests
    timed out). Now a link that comes back brings the pending transactions again."""
    nodes, nf, ctx = relayed
    ids, gen = ctx["ids"], ctx["genesis"]
    primary = gen.validator_set().primary(0)
    x = next(i for i, nd in enumerate(nodes) if nd.identity.public_key != primary)
    for j in range(N):
        if j != x:
            nf.cut(x, j, both=False)  # x is mute: it sends into the void
    tx = Transaction.create(ids["usd_issuer"], gen.chain_id, 1, "settlement", "issue",
                            {"currency": "USD", "amount": 5,
                             "to": ids["exporter"].public_key.hex()})
    nodes[x].admit(tx)
    await asyncio.sleep(1.2)  # to the primary at once, the deferred broadcast after 0.5 s
    assert all(tx.tx_id not in nd.mempool for i, nd in enumerate(nodes) if i != x)
    nf.reset()  # the links die with what they held
    await asyncio.sleep(0.5)
    nf.heal()
    await _linked(nodes)
    deadline = time.monotonic() + 10
    others = [nd for i, nd in enumerate(nodes) if i != x]
    while any(nd.ledger.tx_location(tx.tx_id) is None for nd in others):
        assert time.monotonic() < deadline, (
            "the transaction never left the replica that took it",
            [tx.tx_id in nd.mempool for nd in nodes], [nd.ledger.tip.height for nd in nodes])
        await asyncio.sleep(0.05)
    assert nodes[x].stats["gossip_resent_on_reconnect"] >= 1


async def test_a_healed_slow_link_delivers_its_backlog_at_once() -> None:
    """A relay times every chunk when it reads it; a chunk read while the link ran at a few
    KB/s kept that time after the heal, so the backlog (up to 8 MiB per direction) drained at
    the old rate for minutes: a gray primary healed after 15 s at 4 KB/s still sent its votes
    and transactions at 4 KB/s, and every request of its clients timed out or was refused as
    overloaded (806 of them in a 36 s run). A heal re-times what is held, as a router's queue
    drains at the restored link's pace."""
    async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = free_ports(1)[0]
    nf = NetFault(2, [(0, 1, port, server.sockets[0].getsockname()[:2])], seed=3)
    try:
        async with nf:
            nf.shape(0, 1, both=False, rate_bps=2_000)  # 40 KB would take 20 s
            r, w = await asyncio.open_connection("127.0.0.1", port)
            try:
                payload = b"q" * 40_000
                w.write(payload)
                await w.drain()
                await asyncio.sleep(0.3)
                t0 = time.monotonic()
                nf.heal()
                got = await asyncio.wait_for(r.readexactly(len(payload)), 5.0)
                assert got == payload and time.monotonic() - t0 < 2.0
                nf.shape(0, 1, both=False, delay_ms=300)  # re-timing keeps a delay
                t1 = time.monotonic()
                w.write(b"d")
                await w.drain()
                await asyncio.wait_for(r.readexactly(1), 3.0)
                assert time.monotonic() - t1 >= 0.29
            finally:
                w.close()
    finally:
        server.close()


async def test_a_replica_cut_from_the_primary_alone_gets_its_transactions_committed(
        relayed: tuple[list[Node], NetFault, dict[str, Any]]) -> None:
    """A non-transitive partition: the primary and one replica cannot reach each other, both
    reach the other two. The three keep committing (a quorum), so no timer fires and the
    primary stays; the cut replica's clients' transactions went to the primary (lost) and, in
    its deferred broadcast, to the other two, who kept them: before the fix none of them was
    ever proposed for as long as the cut lasted (only the other nodes' clients were served).
    Now a replica passes a transaction it heard by gossip, still in no proposal after the
    deferred wait, to the primary once."""
    nodes, nf, ctx = relayed
    ids, gen = ctx["ids"], ctx["genesis"]
    p = next(i for i, nd in enumerate(nodes)
             if nd.identity.public_key == gen.validator_set().primary(0))
    b, c = [i for i in range(N) if i != p][:2]
    nf.cut(p, b)  # both ways; p and b both reach the other two

    def tx(nonce: int, who: str = "usd_issuer") -> Transaction:
        return Transaction.create(ids[who], gen.chain_id, nonce, "settlement", "issue",
                                  {"currency": "USD", "amount": 1,
                                   "to": ids["exporter"].public_key.hex()})

    stop = asyncio.Event()

    async def load() -> None:  # the rest of the network keeps committing all along
        n = 100
        while not stop.is_set():
            n += 1
            nodes[c].admit(tx(n))
            await asyncio.sleep(0.1)

    task = asyncio.create_task(load())
    try:
        await asyncio.sleep(1.0)
        mine = tx(10_000)
        nodes[b].admit(mine)
        deadline = time.monotonic() + 8
        while nodes[c].ledger.tx_location(mine.tx_id) is None:
            assert time.monotonic() < deadline, (
                "the cut replica's transaction was never proposed",
                [mine.tx_id in nd.mempool for nd in nodes],
                [nd.ledger.tip.height for nd in nodes], [nd.view for nd in nodes])
            await asyncio.sleep(0.05)
        assert nodes[c].ledger.tip.height > 3  # the others committed meanwhile
        assert sum(nd.stats["gossip_relayed_to_primary"] for nd in nodes) >= 1
    finally:
        stop.set()
        await task


async def test_the_transport_calls_the_reconnect_handler_on_a_reconnect_only() -> None:
    """Not on a first link (nothing was in flight before it); on each one after it, with the
    peer's key, on the side that lost the link."""
    from tests.node.test_transport import cluster

    async with cluster(2, "rc") as (a, b):
        seen: list[bytes] = []
        a.t.set_reconnect_handler(seen.append)
        assert seen == []
        port = b.t.port
        await b.t.stop()
        deadline = time.monotonic() + 5
        while a.t.connected():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        b.t = b._make(port)
        await b.t.start()
        b.t.set_peers({a.key: a.t.address})
        while seen != [b.key]:
            assert time.monotonic() < deadline + 5, seen
            await asyncio.sleep(0.01)
        # a handler that raises is counted, the link stays
        def broken(key: bytes) -> None:
            raise RuntimeError("handler bug")

        a.t.set_reconnect_handler(broken)
        await b.t.stop()
        b.t = b._make(port)
        await b.t.start()
        b.t.set_peers({a.key: a.t.address})
        while a.t.stats["handler_errors"] < 1 or a.t.connected() != [b.key]:
            assert time.monotonic() < deadline + 15, a.t.stats
            await asyncio.sleep(0.01)
