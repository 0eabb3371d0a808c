"""The client SDK and the tx/query/proof CLI handlers against a small stand-in node."""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from chainfin.client import (
    Client,
    ClientError,
    SyncClient,
    build_tx,
    cli_proof_state,
    cli_proof_tx,
    cli_query,
    cli_tx_send,
)
from chainfin.crypto import Identity, save_identity
from chainfin.errors import ChainfinError, InvalidTransaction
from chainfin.types import Transaction

CHAIN = "chainfin-testnet-abcd"


def _err(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class FakeNode:
    """Just enough of the REST surface, with the node's error shape."""

    def __init__(self) -> None:
        self.txs: dict[str, Transaction] = {}
        self.nonces: dict[str, int] = {}
        self.reject_method = "fail"
        self.seen_paths: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_post("/v1/tx", self.post_tx)
        r.add_get("/v1/tx/{tx_id}", self.get_tx)
        r.add_get("/v1/status", self.status)
        r.add_get("/v1/nonce/{sender}", self.nonce)
        r.add_get("/v1/blocks/{height}", self.block)
        r.add_get("/v1/state/{contract}/{key:.+}", self.state)
        r.add_get("/v1/proofs/tx/{tx_id}", self.proof_tx)
        r.add_get("/v1/proofs/state/{contract}/{key:.+}", self.proof_state)
        r.add_get("/v1/boom", self.boom)
        r.add_get("/v1/notjson", self.notjson)
        r.add_get("/v1/signed", self.signed)
        return app

    async def signed(self, request: web.Request) -> web.Response:
        if "Signature" not in request.headers:
            return _err(401, "unauthenticated", "missing: Signature-Input, Signature")
        return web.json_response({"ok": True})

    async def post_tx(self, request: web.Request) -> web.Response:
        try:
            tx = Transaction.from_wire(await request.json())
            tx.verify_signature()
        except InvalidTransaction as e:
            return _err(400, e.code, str(e))
        if tx.chain_id != CHAIN:
            return _err(400, "wrong_chain", "transaction is for another chain")
        tid = tx.tx_id.hex()
        if tid in self.txs:
            return _err(409, "duplicate", "transaction already received")
        self.txs[tid] = tx
        self.nonces[tx.sender.hex()] = tx.nonce + 1
        if request.query.get("wait") != "commit":
            return web.json_response({"tx_id": tid, "status": "pending"}, status=202)
        if tx.method == self.reject_method:
            return web.json_response({"tx_id": tid, "status": "rejected", "height": 3, "index": 0,
                                      "error": {"code": "contract_error", "message": "nope"}})
        return web.json_response({"tx_id": tid, "status": "committed", "height": 3, "index": 0,
                                  "finality_ms": 12.5, "result": {"ok": True}})

    async def get_tx(self, request: web.Request) -> web.Response:
        tid = request.match_info["tx_id"]
        if tid not in self.txs:
            return _err(404, "not_found", "unknown transaction")
        return web.json_response({"tx_id": tid, "status": "committed", "height": 3, "index": 0})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"node_id": "node0", "chain_id": CHAIN, "height": 3, "view": 0,
                                  "primary": "00" * 32, "validators": [], "peers": []})

    async def nonce(self, request: web.Request) -> web.Response:
        s = request.match_info["sender"]
        return web.json_response({"sender": s, "next": self.nonces.get(s, 1)})

    async def block(self, request: web.Request) -> web.Response:
        h = request.match_info["height"]
        return web.json_response({"height": 3 if h == "latest" else int(h)})

    async def state(self, request: web.Request) -> web.Response:
        self.seen_paths.append(request.raw_path)
        return web.json_response({"contract": request.match_info["contract"],
                                  "key": request.match_info["key"], "value": 7})

    async def proof_tx(self, request: web.Request) -> web.Response:
        if request.match_info["tx_id"] == "ee" * 32:  # as a node answers a proof it will not give
            return web.json_response({"error": {"code": "not_found", "message": "no committed "
                                                "transaction with this id"}}, status=404)
        return web.json_response({"kind": "tx", "tx_id": request.match_info["tx_id"]})

    async def proof_state(self, request: web.Request) -> web.Response:
        return web.json_response({"kind": "state", "key": request.match_info["key"]})

    async def boom(self, request: web.Request) -> web.Response:
        return web.Response(status=502, text="Bad Gateway")

    async def notjson(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>")


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[FakeNode, str]]:
    """The stand-in node on its own loop in a thread, so sync and async clients both reach it."""
    fake = FakeNode()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
        box["runner"] = runner
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert started.wait(5)
    yield fake, box["url"]
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    th.join(5)


ALICE = Identity.from_seed_text("client-alice")


async def test_async_client_round_trip(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    async with Client(url + "/") as c:
        assert await c.chain_id() == CHAIN
        n = await c.next_nonce(ALICE.public_key)
        tx = build_tx(ALICE, CHAIN, "settlement", "transfer", {"amount": 5}, n)
        assert tx.sender == ALICE.public_key and tx.nonce == n
        out = await c.submit(tx)
        assert out == {"tx_id": tx.tx_id.hex(), "status": "pending"}
        assert await c.next_nonce(ALICE.public_key.hex()) == n + 1
        got = await c.tx(tx.tx_id)
        assert got["status"] == "committed"
        with pytest.raises(ClientError) as e:
            await c.submit(tx)
        assert (e.value.code, e.value.status) == ("duplicate", 409)
        assert "already received" in str(e.value)
        res = await c.call(ALICE, "settlement", "transfer", {"amount": 6}, wait=True)
        assert res["status"] == "committed" and res["height"] == 3
        assert (await c.block())["height"] == 3 and (await c.block(2))["height"] == 2
        st = await c.state("trade_documents", "doc/a b?#")
        assert st["key"] == "doc/a b?#" and st["value"] == 7
        assert fake.seen_paths[-1] == "/v1/state/trade_documents/doc/a%20b%3F%23"
        assert (await c.proof_tx("ab" * 32))["tx_id"] == "ab" * 32
        assert (await c.proof_state("settlement", "bal/x"))["key"] == "bal/x"


async def test_async_client_errors(node: tuple[FakeNode, str]) -> None:
    _, url = node
    async with Client(url) as c:
        with pytest.raises(ClientError) as e:
            await c.tx("00" * 32)
        assert (e.value.code, e.value.status) == ("not_found", 404)
        with pytest.raises(ClientError) as e:
            await c.get("/v1/boom")
        assert (e.value.code, e.value.status, e.value.message) == ("http_error", 502, "Bad Gateway")
        with pytest.raises(ClientError) as e:
            await c.get("/v1/notjson")
        assert e.value.code == "bad_response"
        forged = Transaction(CHAIN, ALICE.public_key, 1, "c", "m", {}, b"\1" * 64)
        with pytest.raises(ClientError) as e:
            await c.submit(forged)
        assert (e.value.code, e.value.status) == ("bad_signature", 400)
        assert isinstance(e.value, ChainfinError)
        with pytest.raises(ClientError) as e:  # an unsigned read: the error names --key
            await c.get("/v1/signed")
        assert e.value.status == 401 and "--key" in e.value.message
    async with Client(url, identity=ALICE) as c:
        assert await c.get("/v1/signed") == {"ok": True}
    async with Client("http://127.0.0.1:1", timeout=2) as c:
        with pytest.raises(ClientError) as e:
            await c.status()
        assert e.value.code == "unreachable" and e.value.status == 0
    with pytest.raises(ClientError):
        Client("127.0.0.1:8000")


def test_sync_client(node: tuple[FakeNode, str]) -> None:
    _, url = node
    bob = Identity.from_seed_text("client-bob")
    with SyncClient(url) as c:
        assert c.status()["chain_id"] == CHAIN
        out = c.call(bob, "settlement", "transfer", {"amount": 1})
        assert out["status"] == "pending"
        assert c.next_nonce(bob.public_key) == 2
        assert c.tx(out["tx_id"])["tx_id"] == out["tx_id"]
        assert c.get("/v1/status")["node_id"] == "node0"
        with pytest.raises(ClientError):
            c.tx("11" * 32)


async def test_sync_client_refuses_a_running_loop(node: tuple[FakeNode, str]) -> None:
    with SyncClient(node[1]) as c, pytest.raises(RuntimeError, match="running event loop"):
        c.status()


def _ns(**kw: Any) -> argparse.Namespace:
    return argparse.Namespace(**kw)


def test_cli_tx_send(node: tuple[FakeNode, str], tmp_path: Any, capsys: pytest.CaptureFixture[str]
                     ) -> None:
    fake, url = node
    key = tmp_path / "carol.json"
    carol = Identity.from_seed_text("client-carol")
    save_identity(carol, key)
    base = dict(node=url, key=str(key), contract="settlement", method="transfer", nonce=None)
    assert cli_tx_send(_ns(**base, args='{"amount": 3}', wait=False)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "pending"
    sent = fake.txs[out["tx_id"]]
    assert sent.nonce == 1 and sent.chain_id == CHAIN and sent.args == {"amount": 3}
    assert cli_tx_send(_ns(**base, args="{}", wait=True)) == 0  # nonce 2 from the node
    assert json.loads(capsys.readouterr().out)["status"] == "committed"
    assert cli_tx_send(_ns(**{**base, "nonce": 40}, args="{}", wait=True)) == 0
    assert fake.txs[json.loads(capsys.readouterr().out)["tx_id"]].nonce == 40
    # a rejected transaction prints the result and exits 1 with the reason
    assert cli_tx_send(_ns(**{**base, "method": "fail"}, args="{}", wait=True)) == 1
    cap = capsys.readouterr()
    assert json.loads(cap.out)["status"] == "rejected" and "nope" in cap.err
    with pytest.raises(ChainfinError, match="JSON object"):
        cli_tx_send(_ns(**base, args="[1]", wait=False))
    with pytest.raises(ChainfinError, match="not valid JSON"):
        cli_tx_send(_ns(**base, args="{", wait=False))
    with pytest.raises(ClientError, match="unreachable"):
        cli_tx_send(_ns(**{**base, "node": "http://127.0.0.1:1"}, args="{}", wait=False))


def test_cli_query_and_proofs(node: tuple[FakeNode, str], tmp_path: Any,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _, url = node
    assert cli_query(_ns(node=url, path="v1/status")) == 0
    assert json.loads(capsys.readouterr().out)["chain_id"] == CHAIN
    with pytest.raises(ClientError, match="not_found"):
        cli_query(_ns(node=url, path="/v1/tx/" + "22" * 32))
    out = tmp_path / "p.json"
    assert cli_proof_tx(_ns(node=url, id="cd" * 32, out=str(out))) == 0
    assert json.loads(out.read_text()) == {"kind": "tx", "tx_id": "cd" * 32}
    assert str(out) in capsys.readouterr().out
    assert cli_proof_state(_ns(node=url, contract="settlement", key="bal/x", out=str(out))) == 0
    assert json.loads(out.read_text())["key"] == "bal/x"
    with pytest.raises(ChainfinError, match="cannot write"):
        cli_proof_tx(_ns(node=url, id="cd" * 32, out=str(tmp_path / "no" / "such" / "f.json")))
    # a 404 cannot say why (docs/proofs.md §2.5): the message names what it may mean, the
    # sender's own-transactions-only block included, and nothing is written
    with pytest.raises(ClientError, match="not_found") as e:
        cli_proof_tx(_ns(node=url, id="ee" * 32, out=str(tmp_path / "none.json")))
    assert e.value.status == 404 and "only the sender's own transactions" in str(e.value)
    assert "§2.5" in str(e.value) and not (tmp_path / "none.json").exists()


def test_cli_main_reports_node_errors_in_one_sentence(node: tuple[FakeNode, str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from chainfin.cli import main

    assert main(["query", "--node", node[1], "/v1/tx/" + "33" * 32]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "chainfin: error: unknown transaction (not_found, HTTP 404)"


def test_a_read_only_regulator_command_says_what_its_timeout_waits_for(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`calendar show`, `risk jurisdictions list` send no transaction: their --timeout help
    does not speak of one (`calendar set` does)."""
    from chainfin.cli import main

    for argv, said in ((["calendar", "show"], "node's answers"),
                       (["risk", "jurisdictions", "list"], "node's answers"),
                       (["calendar", "set"], "transaction to be final")):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert said in out, argv
        if said == "node's answers":
            assert "transaction" not in out, argv
