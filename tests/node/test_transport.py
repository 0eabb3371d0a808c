"""Peer transport over real sockets on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator

import pytest

from chainfin import codec
from chainfin.crypto import Identity
from chainfin.peerproto import mac
from node.transport import STAT_NAMES, RequestError, RequestTimeout, Transport
from tests.fixtures import CHAIN, FAST, idents, until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, ident: Identity, **kw: object) -> None:
        self.ident = ident
        self.key = ident.public_key
        self.inbox: list[tuple[bytes, str, bytes]] = []
        self.kw = kw
        self.t = self._make(0)

    def _make(self, port: int) -> Transport:
        return Transport(self.ident, CHAIN, "127.0.0.1", port, {}, self._on_frame,
                         rng=random.Random(1), **{**FAST, **self.kw})  # type: ignore[arg-type]

    def _on_frame(self, sender: bytes, kind: str, payload: bytes) -> None:
        self.inbox.append((sender, kind, payload))

    def got(self, sender: bytes | None = None, kind: str | None = None) -> list[bytes]:
        return [p for s, k, p in self.inbox
                if (sender is None or s == sender) and (kind is None or k == kind)]


@contextlib.asynccontextmanager
async def cluster(n: int, tag: str = "t", **kw: object) -> AsyncIterator[list[Node]]:
    nodes = [Node(i, **kw) for i in idents(n, tag)]
    try:
        for nd in nodes:
            await nd.t.start()
        for nd in nodes:
            nd.t.set_peers({o.key: o.t.address for o in nodes if o is not nd})
        await until(lambda: all(len(nd.t.connected()) == n - 1 for nd in nodes))
        yield nodes
    finally:
        for nd in nodes:
            await nd.t.stop()


async def test_three_nodes_exchange_frames_both_ways() -> None:
    async with cluster(3) as nodes:
        for a in nodes:
            for b in nodes:
                if a is not b:
                    a.t.send(b.key, "hello", a.key[:4] + b.key[:4])
        nodes[1].t.broadcast("bcast", b"x")
        await until(lambda: all(len(nd.inbox) == 2 + (0 if nd is nodes[1] else 1) for nd in nodes))
        for b in nodes:
            for a in nodes:
                if a is not b:
                    assert b.got(a.key, "hello") == [a.key[:4] + b.key[:4]]
        assert nodes[0].got(nodes[1].key, "bcast") == [b"x"]
        # one link per pair: the lower key dialed
        assert nodes[0].t.dials(nodes[2].key) and not nodes[2].t.dials(nodes[0].key)
        assert all(nd.t.stats["handshakes_ok"] == 2 for nd in nodes)
        assert set(nodes[0].t.stats) >= set(STAT_NAMES)


async def test_frames_are_batched_and_ordered() -> None:
    async with cluster(2) as (a, b):
        for i in range(2000):
            a.t.send(b.key, "n", i.to_bytes(4, "big"))
        await until(lambda: len(b.inbox) == 2000)
        assert [int.from_bytes(p, "big") for p in b.got()] == list(range(2000))
        assert a.t.stats["frames_out"] == 2000
        assert a.t.stats["envelopes_out"] < 100  # many frames per websocket message


async def test_request_response() -> None:
    async with cluster(2) as (a, b):
        async def echo(sender: bytes, payload: bytes) -> bytes:
            assert sender == a.key
            return b"echo:" + payload

        async def fail(sender: bytes, payload: bytes) -> bytes:
            raise RequestError("no such block")

        async def slow(sender: bytes, payload: bytes) -> bytes:
            await asyncio.sleep(10)
            return b""

        b.t.set_request_handler("echo", echo)
        b.t.set_request_handler("fail", fail)
        b.t.set_request_handler("slow", slow)
        results = await asyncio.gather(
            *(a.t.request(b.key, "echo", bytes([i]), 2) for i in range(20)))
        assert results == [b"echo:" + bytes([i]) for i in range(20)]
        with pytest.raises(RequestError, match="no such block"):
            await a.t.request(b.key, "fail", b"", 2)
        with pytest.raises(RequestError, match="no handler"):
            await a.t.request(b.key, "nope", b"", 2)
        with pytest.raises(RequestTimeout):
            await a.t.request(b.key, "slow", b"", 0.1)
        with pytest.raises(RequestError, match="not connected"):
            await a.t.request(b"\x01" * 32, "echo", b"", 1)
        # the acceptor can ask the dialer too
        a.t.set_request_handler("echo", echo)

        async def echo_b(sender: bytes, payload: bytes) -> bytes:
            return payload

        a.t.set_request_handler("echo2", echo_b)
        assert await b.t.request(a.key, "echo2", b"back", 2) == b"back"


async def test_non_member_is_refused_at_handshake() -> None:
    ids = idents(3, "m")
    outsider, member = Node(ids[0]), Node(ids[2])  # the outsider has the lower key: it dials
    try:
        await member.t.start()
        await outsider.t.start()
        member.t.set_peers({ids[1].public_key: "127.0.0.1:1"})  # the outsider is not in it
        outsider.t.set_peers({member.key: member.t.address})
        await until(lambda: member.t.stats["dropped_unknown_peer"] >= 1)
        assert member.t.connected() == [] and outsider.t.connected() == []
        assert outsider.t.stats["handshakes_ok"] == 0
    finally:
        await outsider.t.stop()
        await member.t.stop()


async def test_wrong_chain_and_wrong_direction_are_refused() -> None:
    ids = idents(2, "w")
    low, high = Node(ids[0]), Node(ids[1])
    try:
        await low.t.start()
        await high.t.start()
        # high dials low against the rule (forced by swapping its notion of direction)
        high.t.dials = lambda key: True  # type: ignore[method-assign]
        low.t.set_peers({high.key: "127.0.0.1:1"})  # low dials nowhere useful
        high.t.set_peers({low.key: low.t.address})
        await until(lambda: low.t.stats["handshakes_failed"] >= 1)
        assert low.t.connected() == []
    finally:
        await low.t.stop()
        await high.t.stop()
    other = Node(ids[1])
    other.t.chain_id = "another-chain"
    low = Node(ids[0])
    try:
        await other.t.start()
        await low.t.start()
        other.t.set_peers({low.key: "127.0.0.1:1"})
        low.t.set_peers({other.key: other.t.address})
        await until(lambda: other.t.stats["handshakes_failed"] >= 1)
        assert low.t.connected() == []
    finally:
        await low.t.stop()
        await other.t.stop()


async def test_bad_frames_are_dropped_and_counted_link_survives() -> None:
    async with cluster(2, max_frame=64 * 1024) as (a, b):
        link = a.t._peers[b.key].link
        assert link is not None
        a.t.send(b.key, "ok", b"1")
        await until(lambda: len(b.inbox) == 1)
        sent = link.frames.send_seq
        await link.ws.send_bytes(b"\x00" * 40)                            # bad MAC
        body = codec.encode("not an envelope")
        await link.ws.send_bytes(body + mac(link.frames.keys.send, body))  # MAC ok, malformed
        await link.ws.send_bytes(b"\x93\x01")                             # too short
        await link.ws.send_bytes(link.frames.seal_at(sent, [["ok", b"replayed"]]))  # replay
        await link.ws.send_bytes(b"\x00" * (70 * 1024))                   # oversized
        await link.ws.send_str("text")                                   # not binary
        await until(lambda: b.t.stats["dropped_oversized"] == 1
                    and b.t.stats["dropped_malformed"] == 3)
        assert b.t.stats["dropped_bad_mac"] == 1
        assert b.t.stats["dropped_replay"] == 1
        # a frame from a fresh seq with a forged MAC under another key is dropped too
        forged = codec.encode([sent + 100, [["ok", b"forged"]]])
        await link.ws.send_bytes(forged + mac(b"k" * 32, forged))
        await until(lambda: b.t.stats["dropped_bad_mac"] == 2)
        # the link still works, in order, with nothing of the above delivered
        link.frames.send_seq = sent + 1000  # seqs may jump: only strictly increasing is required
        a.t.send(b.key, "ok", b"2")
        await until(lambda: len(b.inbox) == 2)
        assert b.got(kind="ok") == [b"1", b"2"]
        assert a.key in b.t.connected()


async def test_garbage_flood_disconnects_then_reconnects() -> None:
    async with cluster(2, max_bad_frames=5) as (a, b):
        link = a.t._peers[b.key].link
        assert link is not None
        for _ in range(10):
            await link.ws.send_bytes(b"\x01" * 64)
        await until(lambda: b.t.stats["disconnects_bad_peer"] == 1)
        # a is the dialer and a configured peer: it comes back with a fresh session
        await until(lambda: a.t.stats["reconnects"] >= 1 and a.key in b.t.connected())
        a.t.send(b.key, "ok", b"again")
        await until(lambda: b.got(kind="ok") == [b"again"])


async def test_peer_restart_reconnects() -> None:
    async with cluster(2) as (a, b):
        # restart the acceptor on the same port: the dialer reconnects with back-off
        port = b.t.port
        await b.t.stop()
        await until(lambda: a.t.connected() == [])
        a.t.send(b.key, "while-down", b"queued")
        b.t = b._make(port)
        await b.t.start()
        b.t.set_peers({a.key: a.t.address})
        await until(lambda: a.t.connected() == [b.key] and b.t.connected() == [a.key])
        assert a.t.stats["reconnects"] == 1
        await until(lambda: b.got(kind="while-down") == [b"queued"])  # the queue survived
        # restart the dialer: it dials on start, the acceptor replaces its dead link
        await a.t.stop()
        a.t = a._make(0)
        await a.t.start()
        a.t.set_peers({b.key: b.t.address})
        await until(lambda: a.t.connected() == [b.key] and b.t.connected() == [a.key])
        a.t.send(b.key, "after", b"restart")
        b.t.send(a.key, "after", b"restart")
        await until(lambda: b.got(kind="after") == [b"restart"] == a.got(kind="after"))


async def test_the_link_state_handler_hears_a_peer_link_lost_and_back() -> None:
    # decisions 198/199: the node tells its engine when the link to a validator drops (its
    # process died) and when it is back; a link replaced by a newer one is not reported lost
    async with cluster(2, tag="ls") as (a, b):
        seen: list[tuple[bytes, bool]] = []
        a.t.set_link_state_handler(lambda key, up: seen.append((key, up)))
        port = b.t.port
        await b.t.stop()
        await until(lambda: seen == [(b.key, False)])
        b.t = b._make(port)
        await b.t.start()
        b.t.set_peers({a.key: a.t.address})
        await until(lambda: seen == [(b.key, False), (b.key, True)])


async def test_full_queue_drops_oldest_and_counts() -> None:
    ids = idents(2, "q")
    port = free_port()
    a, b = Node(ids[0], max_queue=5), Node(ids[1])
    try:
        await a.t.start()
        a.t.set_peers({b.key: f"127.0.0.1:{port}"})  # nobody listens there yet
        for i in range(10):
            a.t.send(b.key, "n", bytes([i]))
        assert a.t.stats["dropped_queue_full"] == 5
        assert a.t.queue_sizes() == {b.key: 5}
        a.t.send(b"\x02" * 32, "n", b"")  # unknown peer: counted, no exception
        assert a.t.stats["dropped_no_peer"] == 1
        b.t = b._make(port)
        await b.t.start()
        b.t.set_peers({a.key: a.t.address})
        await until(lambda: len(b.inbox) == 5)
        assert b.got() == [bytes([i]) for i in range(5, 10)]  # the newest five
    finally:
        await a.t.stop()
        await b.t.stop()


async def test_queue_byte_bound_and_oversized_send() -> None:
    ids = idents(2, "b")
    a = Node(ids[0], max_queue_bytes=1000, max_frame=8192)
    a.t.set_peers({ids[1].public_key: "127.0.0.1:1"})
    for _ in range(5):
        a.t.send(ids[1].public_key, "n", b"x" * 300)
    assert a.t.queue_sizes()[ids[1].public_key] == 3
    assert a.t.stats["dropped_queue_full"] == 2
    a.t.send(ids[1].public_key, "n", b"x" * 8000)  # above max_payload: refused, not raised
    assert a.t.stats["dropped_oversized_out"] == 1
    with pytest.raises(ValueError):
        a.t.send(ids[1].public_key, "_req", b"")  # reserved kind


async def test_removed_peer_is_disconnected() -> None:
    async with cluster(3) as nodes:
        a, b, c = nodes
        a.t.set_peers({a.key: a.t.address, b.key: b.t.address})  # its own key is skipped
        c.t.set_peers({b.key: b.t.address})
        await until(lambda: a.t.connected() == [b.key] and c.key not in a.t.connected())
        a.t.send(c.key, "n", b"")
        assert a.t.stats["dropped_no_peer"] == 1


async def test_message_above_the_websocket_limit_closes_the_link() -> None:
    async with cluster(2, max_frame=64 * 1024) as (a, b):
        link = a.t._peers[b.key].link
        assert link is not None
        await link.ws.send_bytes(b"\x00" * (256 * 1024))
        await until(lambda: b.t.stats["dropped_oversized"] == 1
                    and b.t.stats["disconnects_bad_peer"] == 1)
        await until(lambda: a.t.stats["reconnects"] >= 1 and a.key in b.t.connected())
        a.t.send(b.key, "ok", b"after")
        await until(lambda: b.got(kind="ok") == [b"after"])


async def test_the_links_account_their_cpu_without_the_stages_they_call() -> None:
    """``p2p_in`` / ``p2p_out`` (decision 107): the CPU of opening and dispatching what arrives
    and of sealing and writing what leaves, less the stages the dispatch calls into (here a
    handler that spends 2 ms per frame in a stage of its own, as gossip does in ``gossip_in``)."""
    async with cluster(2) as (a, b):
        cpu_a = {"gossip_in": 0.0, "p2p_in": 0.0, "p2p_out": 0.0}
        cpu_b = dict(cpu_a)
        a.t._cpu, b.t._cpu = cpu_a, cpu_b

        def busy_handler(sender: bytes, kind: str, payload: bytes) -> None:
            t0 = time.thread_time()
            while time.thread_time() - t0 < 0.002:
                pass
            cpu_b["gossip_in"] += time.thread_time() - t0
            b.inbox.append((sender, kind, payload))

        b.t._on_frame = busy_handler
        for i in range(40):
            a.t.send(b.key, "n", i.to_bytes(4, "big"))
            await asyncio.sleep(0.001)  # separate envelopes, each opened on its own
        await until(lambda: len(b.inbox) == 40)
        assert a.t.stats["envelopes_out"] >= 10
        assert cpu_a["p2p_out"] > 0 and cpu_b["p2p_in"] > 0
        assert cpu_b["gossip_in"] >= 40 * 0.002
        assert cpu_b["p2p_in"] < cpu_b["gossip_in"] / 4  # the handler's stage is not counted twice
        assert cpu_a["p2p_in"] == cpu_b["p2p_out"] == 0.0  # nothing went the other way
