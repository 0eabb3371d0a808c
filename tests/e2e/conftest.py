"""Real-process testnets on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chainfin.client import signed_headers
from chainfin.crypto import load_identity
from chainfin.types import Transaction
from testnet.launch import Testnet, init_testnet

_nonce = itertools.count(1)


class Net:
    """A started testnet plus signing helpers for its demo identities."""

    def __init__(self, tn: Testnet, directory: Path) -> None:
        self.tn = tn
        self.dir = directory
        manifest = json.loads((directory / "testnet.json").read_text())
        self.chain_id = manifest["chain_id"]
        self.urls = [n["rest_url"] for n in manifest["nodes"]]
        self.ids = {c["name"]: load_identity(c["key_file"]) for c in manifest["clients"]}
        self.session: aiohttp.ClientSession | None = None

    def tx(self, who: str, contract: str, method: str, args: dict[str, Any]) -> Transaction:
        return Transaction.create(self.ids[who], self.chain_id, next(_nonce), contract, method,
                                  args)

    async def post(self, i: int, tx: Transaction | dict[str, Any] | bytes, wait: bool = True,
                   timeout: float = 30) -> tuple[int, dict[str, Any]]:
        assert self.session is not None
        url = self.urls[i] + "/v1/tx" + ("?wait=commit" if wait else "")
        if isinstance(tx, Transaction):
            kw: dict[str, Any] = {"json": tx.to_json()}
        elif isinstance(tx, bytes):
            kw = {"data": tx, "headers": {"Content-Type": "application/json"}}
        else:
            kw = {"json": tx}
        async with self.session.post(url, timeout=aiohttp.ClientTimeout(total=timeout),
                                     **kw) as r:
            return r.status, await r.json()

    async def get(self, i: int, path: str, timeout: float = 10, who: str = "regulator"
                  ) -> tuple[int, Any]:
        """GET ``path`` on node ``i``, signed as client ``who`` (the regulator reads all)."""
        assert self.session is not None
        url = self.urls[i] + path
        async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=timeout),
                                    headers=signed_headers(self.ids[who], "GET", url)) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.text()

    async def height(self, i: int) -> int:
        _, st = await self.get(i, "/v1/status")
        return int(st["height"])

    async def wait_height(self, i: int, h: int, timeout: float = 30) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                if await self.height(i) >= h:
                    return
            except (TimeoutError, aiohttp.ClientError):
                pass
            if loop.time() > deadline:
                raise AssertionError(f"node {i} did not reach height {h} in {timeout}s")
            await asyncio.sleep(0.2)

    async def hashes(self, i: int, upto: int, start: int = 1) -> list[str]:
        out = []
        for h in range(start, upto + 1):
            status, b = await self.get(i, f"/v1/blocks/{h}")
            assert status == 200, (i, h, b)
            out.append(b["hash"])
        return out


@pytest.fixture
async def net(tmp_path: Path):
    d = tmp_path / "tn"
    init_testnet(d, nodes=4)
    tn = Testnet(d)
    n = Net(tn, d)
    try:
        tn.start()
        tn.wait_ready(30)
        n.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tn.ssl_context()))
        yield n
    finally:
        if n.session is not None:
            await n.session.close()
        tn.stop()
