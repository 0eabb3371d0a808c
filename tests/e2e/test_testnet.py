"""Issue 4 acceptance on a real 4-node testnet (separate processes, real sockets and LevelDB)."""

from __future__ import annotations

import asyncio
import json
import os

import aiohttp
import pytest

from chainfin import codec
from chainfin.crypto import Identity

pytestmark = pytest.mark.slow


def issue(net, i: int, amount: int = 1):
    to = net.ids["exporter"].public_key.hex()
    return net.tx("usd_issuer", "settlement", "issue", {"currency": "USD", "to": to,
                                                         "amount": amount})


async def submit_many(net, count: int, nodes: list[int], concurrency: int = 20):
    """Submit ``count`` txs round-robin over ``nodes`` with ?wait=commit; return the outcomes."""
    sem = asyncio.Semaphore(concurrency)
    txs = [issue(net, nodes[k % len(nodes)]) for k in range(count)]

    async def one(k: int):
        async with sem:
            return txs[k], await net.post(nodes[k % len(nodes)], txs[k])

    return await asyncio.gather(*(one(k) for k in range(count)))


async def transport_stat(net, i: int, what: str) -> float:
    st, text = await net.get(i, "/metrics")
    assert st == 200
    for line in text.splitlines():
        if line.startswith("chainfin_transport_total{") and f'what="{what}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no transport metric {what}")


async def agree(net, nodes: list[int]) -> int:
    """All ``nodes`` have the same block hash at every height up to the lowest tip."""
    top = min([await net.height(i) for i in nodes])
    chains = [await net.hashes(i, top) for i in nodes]
    assert all(c == chains[0] for c in chains), "nodes disagree on a block hash"
    return top


async def test_200_txs_round_robin_all_commit_and_nodes_agree(net):
    results = await submit_many(net, 200, [0, 1, 2, 3])
    for tx, (status, body) in results:
        assert status == 200, body
        assert body["status"] == "committed", body
        assert body["tx_id"] == tx.tx_id.hex()
        assert body["height"] >= 1 and body["finality_ms"] >= 0
    top = max(body["height"] for _, (_, body) in results)
    for i in range(4):
        await net.wait_height(i, top)
    await agree(net, [0, 1, 2, 3])
    # every acknowledged tx is findable on every node
    for tx, (_, body) in results[::20]:
        for i in range(4):
            st, got = await net.get(i, f"/v1/tx/{tx.tx_id.hex()}")
            assert st == 200 and got["height"] == body["height"], got
    st, bal = await net.get(2, "/v1/state/settlement/" +
                            f"bal/{net.ids['exporter'].public_key.hex()}/USD")
    assert st == 200 and bal["value"] == 200, bal


async def test_kill_replica_under_load_then_it_catches_up(net):
    status = (await net.get(0, "/v1/status"))[1]
    primary = status["primary"]
    keys = [json.loads((net.dir / "testnet.json").read_text())["nodes"][i]["public_key"]
            for i in range(4)]
    victim = next(i for i in range(4) if keys[i] != primary)
    others = [i for i in range(4) if i != victim]
    first = await submit_many(net, 40, others)
    net.tn.kill(victim)
    second = await submit_many(net, 60, others)
    acked = [(tx, b) for tx, (s, b) in first + second if s == 200 and b["status"] == "committed"]
    assert len(acked) == 100
    net.tn.start(victim)
    net.tn.wait_ready(30, [victim])
    top = max(b["height"] for _, b in acked)
    await net.wait_height(victim, top, timeout=60)
    await agree(net, [0, 1, 2, 3])
    for tx, b in acked:
        st, got = await net.get(victim, f"/v1/tx/{tx.tx_id.hex()}")
        assert st == 200 and got["height"] == b["height"], got


async def test_kill_primary_view_change_then_commits_again(net):
    await submit_many(net, 10, [0, 1, 2, 3])
    status = (await net.get(0, "/v1/status"))[1]
    keys = [n["public_key"] for n in json.loads((net.dir / "testnet.json").read_text())["nodes"]]
    primary = keys.index(status["primary"])
    net.tn.kill(primary)
    others = [i for i in range(4) if i != primary]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    results = await submit_many(net, 10, others)
    elapsed = loop.time() - t0
    assert all(s == 200 and b["status"] == "committed" for _, (s, b) in results), results
    assert elapsed < 20, f"took {elapsed:.1f}s to commit again after the primary died"
    st = (await net.get(others[0], "/v1/status"))[1]
    assert st["view"] >= 1 and st["primary"] != keys[primary]


async def test_one_transaction_at_one_replica_outlives_a_dead_primary(net):
    """Decision 99: a replica sends its clients' transactions to the primary alone. With the
    primary dead, the one transaction sent to it is lost there; only the entry replica holds it,
    and one replica's timer is not a view change. The fallback broadcast (0.5 s after
    admission) starts every replica's timer: the view changes and the transaction commits."""
    await submit_many(net, 4, [0, 1, 2, 3])
    keys = [n["public_key"] for n in json.loads((net.dir / "testnet.json").read_text())["nodes"]]
    primary = keys.index((await net.get(0, "/v1/status"))[1]["primary"])
    net.tn.kill(primary)
    entry = next(i for i in range(4) if i != primary)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    st, body = await net.post(entry, issue(net, entry))
    elapsed = loop.time() - t0
    assert st == 200 and body["status"] == "committed", body
    assert elapsed < 20, f"took {elapsed:.1f}s"
    st, text = await net.get(entry, "/metrics")
    assert 'chainfin_node_total{what="gossip_deferred_out"} 1.0' in text


async def test_restart_all_nodes_chain_state_and_view_continue(net):
    results = await submit_many(net, 30, [0, 1, 2, 3])
    assert all(s == 200 for _, (s, _) in results)
    before = [(await net.get(i, "/v1/status"))[1] for i in range(4)]
    top = min(b["height"] for b in before)
    hashes = await net.hashes(0, top)
    net.tn.stop()
    net.tn.start()
    net.tn.wait_ready(30)
    after = [(await net.get(i, "/v1/status"))[1] for i in range(4)]
    for b, a in zip(before, after, strict=True):
        assert a["height"] >= b["height"] and a["view"] >= b["view"]
    assert await net.hashes(0, top) == hashes
    more = await submit_many(net, 10, [0, 1, 2, 3])
    assert all(s == 200 and b["status"] == "committed" for _, (s, b) in more), more
    await agree(net, [0, 1, 2, 3])


async def test_bad_input_gets_clear_errors_and_node_keeps_serving(net):
    # malformed JSON
    st, body = await net.post(0, b"{not json", wait=False)
    assert st == 400 and body["error"]["code"] == "malformed_json"
    # wrong signature
    tx = issue(net, 0)
    bad = tx.to_json()
    bad["signature"] = ("00" if bad["signature"][:2] != "00" else "11") + bad["signature"][2:]
    st, body = await net.post(0, bad, wait=False)
    assert st == 400 and body["error"]["code"] == "bad_signature", body
    # a reused nonce: commit one, then the same (sender, nonce) with other args
    st, body = await net.post(0, tx)
    assert st == 200 and body["status"] == "committed"
    from chainfin.types import Transaction

    # committed on node 0 is not yet applied on node 1: until it is, node 1 may still hold the
    # transaction in its mempool and answer nonce_in_use (also a 409) instead
    await net.wait_height(1, int(body["height"]))
    reuse = Transaction.create(net.ids["usd_issuer"], net.chain_id, tx.nonce, "settlement",
                               "issue", {**tx.args, "amount": 2})
    st, body = await net.post(1, reuse, wait=False)
    assert st == 409 and body["error"]["code"] == "nonce_reused", body
    # unknown contract / method
    st, body = await net.post(0, net.tx("exporter", "nope", "x", {}), wait=False)
    assert st == 400 and body["error"]["code"] == "unknown_contract", body
    st, body = await net.post(0, net.tx("exporter", "settlement", "nope", {}), wait=False)
    assert st == 400 and body["error"]["code"] == "unknown_method", body
    # 2 MiB body
    st, body = await net.post(0, b"{" + b" " * (2 * 1024 * 1024) + b"}", wait=False)
    assert st == 413 and body["error"]["code"] == "body_too_large"
    # garbage peer frames: a raw websocket to the p2p port without a handshake, then garbage
    manifest = json.loads((net.dir / "testnet.json").read_text())
    addr = manifest["nodes"][0]["p2p_address"]
    failed_before = await transport_stat(net, 0, "handshakes_failed")
    async with aiohttp.ClientSession() as s:
        try:
            async with s.ws_connect(f"http://{addr}/p2p",
                                    timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                await ws.send_bytes(os.urandom(200))
                await ws.send_bytes(codec.encode({"hello": "x"}))
                stranger = Identity.generate()
                await ws.send_bytes(codec.encode([stranger.public_key, b"x" * 64]))
                await asyncio.sleep(0.5)
        except (TimeoutError, aiohttp.ClientError):
            pass  # the node may close the link at once: that is fine
    for _ in range(50):
        if await transport_stat(net, 0, "handshakes_failed") > failed_before:
            break
        await asyncio.sleep(0.1)
    assert await transport_stat(net, 0, "handshakes_failed") > failed_before
    # still serving and committing
    st, body = await net.post(0, issue(net, 0))
    assert st == 200 and body["status"] == "committed"
    st, h = await net.get(0, "/healthz")
    assert st == 200 and h["ok"]
