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

import aiohttp

from chainfin.crypto import load_identity
from chainfin.types import Transaction
from testnet.launch import Manifest

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
    log = (tmp_path / "node0.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "chainfin.cli", "node", "run", "--config",
                             node.config], stdout=log, stderr=subprocess.STDOUT)
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
