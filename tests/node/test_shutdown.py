"""A node stops promptly on SIGTERM while clients wait for outcomes: a real node process (one
validator of four started alone, so nothing it admits can commit), a ``/v1/tx/stream``
WebSocket with a transaction waiting on it and a ``POST /v1/tx?wait=commit`` waiting too.

Before the fix the REST server's shutdown waited for both handlers until its 60 s timeout
(measured: 46 s with an idle stream open), so a back office keeping a stream open turned every
restart of its node into a long stop or, under a launcher or service manager that gives up
first, a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from chainfin.crypto import load_identity
from chainfin.types import Transaction
from node import api
from testnet.launch import Manifest
from tests.fixtures import Harness, make_genesis, start_cluster, stop_cluster, until

STOP_WITHIN_S = 10.0  # the launcher's own SIGKILL deadline (Testnet.stop)


def _transfer(manifest: Manifest, nonce: int) -> dict[str, object]:
    sender = load_identity(manifest.client("bank0").key_file)
    to = manifest.client("bank1").public_key
    tx = Transaction.create(sender, manifest.chain_id, nonce, "settlement", "transfer",
                            {"to": to, "currency": "USD", "amount": 1})
    return tx.to_json()


async def _ready(session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the node exited before it was ready"
        try:
            async with session.get(url + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the node was not ready within 60 s")


def test_sigterm_answers_the_waiting_requests_and_closes_streams(
        net4: tuple[Path, Manifest], tmp_path: Path) -> None:
    _, manifest = net4
    node = manifest.nodes[0]
    # alone, the node never has a quorum: without this its waiting requests are answered
    # `no_quorum` once the outage lasts 5 s (decision 174), which a slow machine reaches before
    # the SIGTERM; the answer under test is the stop's
    config = Path(node.config).with_name("config-no-early-answer.json")
    config.write_text(json.dumps({**json.loads(Path(node.config).read_text()),
                                  "no_quorum_answer_s": 3600}))
    log = (tmp_path / "node0.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                             str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        async def scenario() -> tuple[float, int, dict, list, aiohttp.WSMessage]:  # type: ignore[type-arg]
            async with aiohttp.ClientSession() as s:
                await _ready(s, node.rest_url, proc)
                ws = await s.ws_connect(node.rest_url + "/v1/tx/stream")
                streamed = _transfer(manifest, 1)
                await ws.send_str(json.dumps(streamed))
                posted = asyncio.create_task(s.post(node.rest_url + "/v1/tx?wait=commit",
                                                    json=_transfer(manifest, 2)))
                deadline = time.monotonic() + 30  # both admitted, waiting (no quorum: no commit)
                while (await (await s.get(node.rest_url + "/v1/status")).json())["mempool"] < 2:
                    assert time.monotonic() < deadline, "the two transactions were not admitted"
                    await asyncio.sleep(0.05)
                assert not posted.done()
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                answers: list[dict] = []  # type: ignore[type-arg]
                while True:
                    msg = await asyncio.wait_for(ws.receive(), STOP_WITHIN_S)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    answers += json.loads(msg.data)
                r = await asyncio.wait_for(posted, STOP_WITHIN_S)
                body = await r.json()
                while proc.poll() is None and time.monotonic() - t0 < STOP_WITHIN_S:
                    await asyncio.sleep(0.05)
                return time.monotonic() - t0, r.status, body, answers, msg

        took, status, body, answers, last = asyncio.run(scenario())
        assert proc.poll() == 0, f"the node did not exit by itself within {STOP_WITHIN_S} s"
        assert took < STOP_WITHIN_S
        assert status == 202
        assert body["status"] == "pending" and body["error"]["code"] == "node_stopping"
        assert [(a["seq"], a["status"], a["error"]["code"]) for a in answers] == \
            [(0, "pending", "node_stopping")]
        assert last.type == aiohttp.WSMsgType.CLOSE
        assert last.data == aiohttp.WSCloseCode.GOING_AWAY and last.extra == "node stopping"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


async def test_a_stopping_server_lets_waiting_requests_finish_within_the_grace() -> None:
    """In process, one validator whose blocks are 500 ms apart: a transaction admitted on a
    stream just before the REST server shuts down commits within the grace, so its client gets
    the real outcome (``committed``), then the 1001 close; without the grace it got
    ``node_stopping`` for a transaction that committed a moment later."""
    def slow(validators: Any, clients: Any) -> Any:
        return make_genesis(validators, clients,
                            params={"block_interval_ms": 500, "block_interval_max_ms": 500})

    genesis, nodes, ids = await start_cluster(1, genesis=slow)
    node = nodes[0]
    server = TestServer(api.make_app(node))
    await server.start_server()
    try:
        h = Harness(genesis, nodes, ids, None)  # type: ignore[arg-type]  # builds txs only
        async with aiohttp.ClientSession() as s:
            first = h.issue()  # a block now: the next one is due 500 ms later
            async with s.post(server.make_url("/v1/tx?wait=commit"), json=first.to_json()) as r:
                assert (await r.json())["status"] == "committed"
            ws = await s.ws_connect(server.make_url("/v1/tx/stream"))
            tx = h.issue()
            await ws.send_str(json.dumps(tx.to_json()))
            await until(lambda: tx.tx_id in node.waiters)
            assert not any(f.done() for f in node.waiters[tx.tx_id])
            closing = asyncio.create_task(server.close())
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            assert [(a["seq"], a["status"]) for a in json.loads(msg.data)] == [(0, "committed")]
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE,
                                            aiohttp.WSCloseCode.GOING_AWAY)
            await ws.close()
            await closing
    finally:
        await server.close()
        await stop_cluster(nodes)
