"""The per-link relay of testnet/netfault.py with real sockets on 127.0.0.1 (each test < 1 s)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from node.config import load_config
from testnet.launch import init_testnet
from testnet.netfault import NetFault, install_relays, uninstall_relays


class Echo:
    """A TCP server that echoes; the relay's target."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> tuple[str, int]:
        async def on(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        self.server = await asyncio.start_server(on, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[:2]

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def relay() -> AsyncIterator[tuple[NetFault, int]]:
    async with Echo() as target:
        port = _port()
        nf = NetFault(2, [(0, 1, port, target)], seed=3)
        async with nf:
            yield nf, port


async def _roundtrip(port: int, payload: bytes = b"ping", timeout: float = 3.0) -> float:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        t0 = time.monotonic()
        w.write(payload)
        await w.drain()
        got = await asyncio.wait_for(r.readexactly(len(payload)), timeout)
        assert got == payload
        return time.monotonic() - t0
    finally:
        w.close()


async def test_relay_forwards_unchanged(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    assert await _roundtrip(port, bytes(range(256)) * 100) < 0.5
    assert nf.stats["connections"] == 1 and nf.stats["bytes"] == 2 * 25600


async def test_delay_applies_per_direction(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    nf.shape(0, 1, both=False, delay_ms=150)
    rtt = await _roundtrip(port)
    assert 0.14 <= rtt < 0.6
    nf.shape(delay_ms=100, jitter_ms=20)  # every link, both ways: two crossings
    rtt = await _roundtrip(port)
    assert 0.16 <= rtt < 0.7
    nf.heal()
    assert await _roundtrip(port) < 0.1


async def test_cut_holds_bytes_and_heal_releases_them(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        nf.cut(0, 1)
        w.write(b"held")
        await w.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.readexactly(4), 0.3)
        nf.heal()
        assert await asyncio.wait_for(r.readexactly(4), 1.0) == b"held"
    finally:
        w.close()


async def test_one_way_cut_blocks_only_that_direction(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    nf.cut(1, 0, both=False)  # the echo's answers are held; the request gets through
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(b"x")
        await w.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.readexactly(1), 0.3)
        assert nf.stats["bytes"] == 1  # reached the echo server
        nf.uncut()
        assert await asyncio.wait_for(r.readexactly(1), 1.0) == b"x"
    finally:
        w.close()


async def test_isolate_and_partition_cut_the_right_links() -> None:
    nf = NetFault(4, [])
    nf.isolate(2)
    assert sorted(nf.shapes) == sorted([(2, j) for j in (0, 1, 3)] + [(j, 2) for j in (0, 1, 3)])
    nf.heal()
    nf.partition([[0, 1], [2, 3]])
    assert sorted(nf.shapes) == [(0, 2), (0, 3), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0), (3, 1)]
    nf.heal(0, 2)
    assert (0, 2) not in nf.shapes and (2, 0) not in nf.shapes and (0, 3) in nf.shapes


async def test_loss_shows_as_retransmission_delay(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    nf.shape(0, 1, both=False, loss=0.5)
    total = 0.0
    for _ in range(5):
        total += await _roundtrip(port, timeout=10)
    assert total >= 0.19  # at least one retransmission timeout
    assert nf.stats["chunks_lost"] >= 1


async def test_rate_limits_bandwidth(relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    nf.shape(0, 1, both=False, rate_bps=100_000)
    rtt = await _roundtrip(port, b"z" * 30_000)
    assert 0.28 <= rtt < 1.5


async def test_closing_one_end_closes_the_other_even_across_a_cut(
        relay: tuple[NetFault, int]) -> None:
    nf, port = relay
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)
    nf.cut(0, 1)
    w.write(b"lost")
    w.close()
    await asyncio.sleep(0.2)
    assert all(not rl._writers for rl in nf.relays)


def test_install_relays_points_peers_at_relay_ports(tmp_path) -> None:
    d = tmp_path / "tn"
    m = init_testnet(d, nodes=3, tls=False)
    path = install_relays(d)
    links = json.loads(path.read_text())["links"]
    assert len(links) == 6
    for a, nd in enumerate(m.nodes):
        cfg = load_config(nd.config)
        for p in cfg.peers:
            b = int(p.node_id.removeprefix("node"))
            ln = next(x for x in links if x["src"] == a and x["dst"] == b)
            assert p.address == f"127.0.0.1:{ln['listen']}"
            assert ln["target"] == m.nodes[b].p2p_address
    assert install_relays(d) == path and json.loads(path.read_text())["links"] == links
    uninstall_relays(d)
    assert not path.exists()
    for nd in m.nodes:
        assert {p.address for p in load_config(nd.config).peers} == {
            o.p2p_address for o in m.nodes if o.id != nd.id}
