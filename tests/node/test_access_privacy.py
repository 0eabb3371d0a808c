"""Each bank's data only to those entitled to it, through a real in-process node: the cases a
privacy review found leaking, each named for what it stops. Rules: node/access.py, docs/api.md
"Authorization"; the world is the trade cluster (the ``desk`` fixture of tests/conftest.py), where
``auditor`` is a regulator, ``bank_a``..``bank_c`` are validators and ``exporter2`` is a bank's
customer with no business with the others."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from chainfin import proofs
from chainfin.client import signed_headers
from chainfin.crypto import Identity
from node import api
from tests.fixtures import Desk, SigningClient
from tests.node.test_access import ANY_ID, get_as

PURE_AUDITOR = "pure_auditor"


def pk(d: Desk, who: str) -> str:
    return d.ids[who].public_key.hex()


async def register(d: Desk, name: str, role: str, by: str = "bank_a") -> None:
    await d.register(name, role, by)


def pay(d: Desk, frm: str, to: str, amount: int) -> Any:
    return d.tx(frm, "settlement", "transfer", {"to": pk(d, to), "currency": "USD",
                                                "amount": amount})


async def missing_twin(d: Desk, path: str, real: str) -> Any:
    """The answer for ``path`` with ``real`` replaced by an id of nothing, with ``real`` put
    back: what a refusal must look like."""
    st, body = await get_as(d, "auditor", path.replace(real, ANY_ID))
    assert st == 404, body
    return json.loads(json.dumps(body).replace(ANY_ID, real))


async def sse_items(resp: Any) -> AsyncIterator[dict[str, Any]]:
    """The ``data`` of each event of an SSE response, in order."""
    async for raw in resp.content:
        line = raw.decode().strip()
        if line.startswith("data: "):
            yield json.loads(line[6:])


async def collect(resp: Any) -> list[dict[str, Any]]:
    """Every event item until the node ends the stream."""
    return [i async for i in sse_items(resp)]


async def until_block_naming(resp: Any, amount: int) -> list[dict[str, Any]]:
    """Every event item up to (including) the block whose events carry ``amount``."""
    seen: list[dict[str, Any]] = []
    async for item in sse_items(resp):
        seen.append(item)
        if item["type"] == "block" and any(e["data"].get("amount") == amount
                                           for e in item["events"]):
            return seen
    raise AssertionError(f"stream ended before a block with amount {amount}: {seen}")


# ------------------------------------------------------------------ a transaction's receipt


async def test_the_payee_does_not_read_the_payers_balance_in_the_receipt(desk: Desk) -> None:
    d = desk
    await register(d, PURE_AUDITOR, "auditor")
    await d.commit(d.issue(1_234_567, "exporter"))
    out = await d.commit(pay(d, "exporter", "importer", 7))
    assert out["status"] == "committed" and out["result"] == {"balance": 1_234_560}, out
    tx_id = out["tx_id"]
    # the payee: where and how it ended, and its own event; no result, no proof
    st, body = await get_as(d, "importer", f"/v1/tx/{tx_id}")
    assert st == 200, body
    assert set(body) == {"tx_id", "status", "height", "index", "events"}, body
    assert body["status"] == "committed" and body["height"] == out["height"]
    assert [(e["contract"], e["name"]) for e in body["events"]] == [("settlement",
                                                                     "transferred")]
    assert "1234560" not in json.dumps(body)
    path = f"/v1/proofs/tx/{tx_id}"
    assert await get_as(d, "importer", path) == (404, await missing_twin(d, path, tx_id))
    # the sender and the supervisors read all of it; the proof, which carries the hashes of
    # the block's other receipts, only the supervisors (red-team round 2), and it verifies
    for who in ("exporter", "auditor", PURE_AUDITOR, "bank_b"):
        st, body = await get_as(d, who, f"/v1/tx/{tx_id}")
        assert st == 200 and body["result"] == {"balance": 1_234_560}, (who, body)
        st, doc = await get_as(d, who, path)
        if who == "exporter":
            assert st == 404, doc
            continue
        assert st == 200 and doc["receipt"]["result"] == {"balance": 1_234_560}, (who, doc)
        proofs.verify_proof(d.genesis, doc)
    # someone the transaction does not name: nothing
    assert (await get_as(d, "exporter2", f"/v1/tx/{tx_id}"))[0] == 404


async def bank_d_and_its_customer(d: Desk) -> None:
    """bank_d (no validator) and ``customer``, both under the BIC TESTDEFFXXX: bank_d is the
    customer's home bank."""
    for name, role in (("bank_d", "bank"), ("customer", "exporter")):
        d.ids[name] = Identity.generate(name)
        out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
            "pubkey": pk(d, name), "name": name, "role": role, "bank": "TESTDEFFXXX"}))
        assert out["status"] == "committed", out


async def in_one_block(d: Desk, *txs: Any) -> list[dict[str, Any]]:
    """``txs`` committed in one block: sent in one message of ``/v1/tx/stream``, which admits
    them to the mempool together (no proposal between them). Their outcomes, in order."""
    async with d.http.ws_connect("/v1/tx/stream") as ws:
        await ws.send_str(json.dumps([t.to_json() for t in txs]))
        answers: list[dict[str, Any]] = []
        while len(answers) < len(txs):
            answers += json.loads((await asyncio.wait_for(ws.receive(), 15)).data)
    out = [a for _, a in sorted((a["seq"], a) for a in answers)]
    assert all(a["status"] in ("committed", "rejected") for a in out), out
    assert len({a["height"] for a in out}) == 1, out
    return out


async def test_in_format_3_the_senders_home_bank_has_the_proof(desk3: Desk) -> None:
    """Decision 129: salted leaves let a transaction's proof go to the sender's home bank
    (bank_d: the same BIC), whole. The sender gets it inclusion-only (decision 147): without
    the receipt, which holds the alerts its payment raised (decision 144), and only from a
    block holding another identity's transaction too (alone in its block, it could test its
    receipt against the header's receipts_root: a missing proof's answer). The payee, a mere
    party, gets nothing."""
    d = desk3
    await bank_d_and_its_customer(d)
    await d.commit(d.issue(1_234_567, "customer"))
    alone = await d.commit(pay(d, "customer", "importer", 7))
    path = f"/v1/proofs/tx/{alone['tx_id']}"
    assert await get_as(d, "customer", path) == (404, await missing_twin(d, path, alone["tx_id"]))
    out, _ = await in_one_block(d, pay(d, "customer", "importer", 7), d.issue(1, "exporter"))
    for tx in (alone, out):
        path = f"/v1/proofs/tx/{tx['tx_id']}"
        for who in ("bank_d", "auditor"):
            st, doc = await get_as(d, who, path)
            assert st == 200 and doc["receipt"]["result"]["balance"] in (1_234_560, 1_234_553), (
                who, doc)
            assert proofs.verify_proof(d.genesis, doc).receipt["status"] == "committed"
        assert await get_as(d, "importer", path) == (404, await missing_twin(d, path,
                                                                            tx["tx_id"]))
    st, doc = await get_as(d, "customer", path)
    assert st == 200 and "receipt" not in doc and "receipt_path" not in doc, doc
    v = proofs.verify_proof(d.genesis, doc)
    assert v.inclusion_only and v.receipt is None and v.tx_id.hex() == out["tx_id"]


async def test_the_senders_home_bank_reads_the_whole_transaction(desk: Desk) -> None:
    """bank_d is no validator: it reads its customer's transaction as the customer's home bank
    (the same BIC), where a mere party reads only its own part; neither gets the proof."""
    d = desk
    await bank_d_and_its_customer(d)
    await d.commit(d.issue(500, "customer"))
    out = await d.commit(pay(d, "customer", "importer", 5))
    assert out["status"] == "committed", out
    st, body = await get_as(d, "bank_d", f"/v1/tx/{out['tx_id']}")
    assert st == 200 and body["result"] == {"balance": 495}, body
    st, doc = await get_as(d, "bank_d", f"/v1/proofs/tx/{out['tx_id']}")
    assert st == 404, doc  # proofs are the supervisors' (red-team round 2)
    st, body = await get_as(d, "importer", f"/v1/tx/{out['tx_id']}")
    assert st == 200 and "result" not in body, body


async def test_a_rejected_payments_error_is_the_payers(desk: Desk) -> None:
    """A refusal names the payer's limit (rule id, max): a counterparty named only by the
    refusing rule's alert is no party to the transaction at all."""
    d = desk
    exp = pk(d, "exporter")
    await d.commit(d.issue(1_000_000, "exporter"))
    out = await d.commit(d.tx("auditor", "risk", "set_limit", {
        "subject": exp, "kind": "max_per_tx", "currency": "USD", "max": 4321,
        "rule_id": "secret-aml-rule-7"}))
    assert out["status"] == "committed", out
    async with d.http.get("/v1/events", as_=d.ids["importer"]) as payee, \
            d.http.get("/v1/events", as_=d.ids["exporter"]) as payer:
        out = await d.commit(pay(d, "exporter", "importer", 5000))
        assert out["status"] == "rejected" and out["error"]["code"] == "limit_exceeded", out
        await d.commit(d.issue(99_001, "importer"))  # a block naming both readers, to sync on
        await d.commit(d.issue(99_001, "exporter"))
        got_payee = await asyncio.wait_for(until_block_naming(payee, 99_001), 10)
        got_payer = await asyncio.wait_for(until_block_naming(payer, 99_001), 10)
    assert [i for i in got_payee if i["type"] == "alert"] == []
    assert "secret-aml-rule-7" not in json.dumps(got_payee)
    alerts = [i for i in got_payer if i["type"] == "alert"]
    assert alerts and alerts[0]["rule_id"] == "secret-aml-rule-7", got_payer
    for path in (f"/v1/tx/{out['tx_id']}", f"/v1/proofs/tx/{out['tx_id']}"):
        assert await get_as(d, "importer", path) == (404, await missing_twin(
            d, path, out["tx_id"])), path
    st, body = await get_as(d, "exporter", f"/v1/tx/{out['tx_id']}")
    assert st == 200 and body["error"]["code"] == "limit_exceeded"


async def test_a_counterparty_change_alert_stays_with_the_payer(desk: Desk) -> None:
    """The payee of a committed payment reads its own ``transferred`` event, never the
    payer's alert carrying the payer's average payment."""
    d = desk
    await d.commit(d.issue(1_000_000, "exporter"))
    for _ in range(5):
        assert (await d.commit(pay(d, "exporter", "importer", 1000)))["status"] == "committed"
    out = await d.commit(pay(d, "exporter", "exporter2", 9000))
    assert out["status"] == "committed", out
    st, doc = await get_as(d, "auditor", f"/v1/proofs/tx/{out['tx_id']}")
    assert st == 200 and any(e["name"] == "alert" for e in doc["receipt"]["events"])
    st, body = await get_as(d, "exporter2", f"/v1/tx/{out['tx_id']}")
    assert st == 200, body
    assert [e["name"] for e in body["events"]] == ["transferred"], body
    assert (await get_as(d, "exporter2", f"/v1/proofs/tx/{out['tx_id']}"))[0] == 404


# ------------------------------------------------------------------------------ state proofs


def key_hash(contract: str, key: str) -> bytes:
    return hashlib.sha256(f"{contract}/{key}".encode()).digest()


async def test_state_proofs_are_for_supervisors_only(desk: Desk) -> None:
    """A proof carries the hashes of other keys' leaves (a non-inclusion proof ends at a
    neighbour's leaf), and a balance is found from its hash by trying every amount: a reader
    that is not a supervisor gets, for every key, the answer of a key it may not read."""
    d = desk
    await register(d, PURE_AUDITOR, "auditor")
    await d.commit(d.issue(7_654_321, "exporter"))
    exp = pk(d, "exporter")
    target = key_hash("settlement", f"bal/{exp}/USD")
    probe = next(f"zz-probe-{i}" for i in range(1 << 20)
                 if key_hash("governance", f"zz-probe-{i}")[:1] == target[:1])
    for key in (f"governance/{probe}", "governance/regulators", f"settlement/bal/{exp}/USD"):
        path = f"/v1/proofs/state/{key}"
        want = {"error": {"code": "not_found", "message": f"no value at {key}"}}
        for who in ("exporter", "exporter2", "importer"):
            assert await get_as(d, who, path) == (404, want), (who, path)
    d.ids["node3"] = d.nodes[3].identity  # a validator that is no identity
    for who, key in (("auditor", f"settlement/bal/{exp}/USD"),
                     (PURE_AUDITOR, f"settlement/bal/{exp}/USD"),
                     (PURE_AUDITOR, f"governance/{probe}"),
                     ("node3", "governance/regulators")):
        st, doc = await get_as(d, who, f"/v1/proofs/state/{key}")
        assert st == 200, (who, doc)
        proofs.verify_proof(d.genesis, doc)


# ----------------------------------------------------------------------- an identity's freeze


async def test_a_freeze_is_not_shown_to_the_identitys_counterparties(desk: Desk) -> None:
    d = desk
    await register(d, "customer", "exporter", by="bank_a")
    cust = pk(d, "customer")
    out = await d.commit(d.tx("auditor", "governance", "freeze_identity", {
        "pubkey": cust, "reason": "AML investigation", "order_ref": "FIU-2026-17"}))
    assert out["status"] == "committed", out
    path = f"/v1/state/governance/id/{cust}"
    for who in ("exporter2", "importer"):
        st, body = await get_as(d, who, path)
        assert st == 200 and body["value"]["name"] == "customer", body
        assert not {"status", "frozen_by", "frozen_by_regulator"} & set(body["value"]), body
        assert "frozen" not in json.dumps(body)
        assert (await get_as(d, who, "/v1/proofs/state/governance/id/" + cust))[0] == 404
    for who in ("customer", "bank_a", "auditor", "bank_c"):  # owner, home bank, supervisors
        st, body = await get_as(d, who, path)
        assert st == 200 and body["value"]["status"] == "frozen", (who, body)


# ------------------------------------------------------------------------------- /v1/events


async def test_an_event_stream_ends_when_its_readers_key_is_revoked(desk: Desk) -> None:
    d = desk
    await register(d, PURE_AUDITOR, "auditor")
    async with d.http.get("/v1/events", as_=d.ids[PURE_AUDITOR]) as sse:
        assert await asyncio.wait_for(sse.content.readline(), 5) == b": connected\n"
        # an auditor is an institution: a regulator revokes it, not the bank that registered
        # it (decision 119)
        out = await d.commit(d.tx("auditor", "governance", "revoke_identity", {
            "pubkey": pk(d, PURE_AUDITOR), "reason": "key stolen", "order_ref": "R-1"}))
        assert out["status"] == "committed", out
        await d.commit(d.issue(31337, "exporter2"))
        got = await asyncio.wait_for(collect(sse), 10)  # the node closes the stream
    assert got and got[-1]["type"] == "end" and got[-1]["reason"] == "unauthenticated", got
    assert "31337" not in json.dumps(got)


async def test_an_event_stream_ends_at_its_maximum_lifetime(desk: Desk) -> None:
    d = desk
    limits = api.AccessLimits(events_max_s=0.3)
    async with SigningClient(TestServer(api.make_app(d.node, limits)), d.ids["exporter"]) as c:
        async with c.get("/v1/events") as sse:
            got = await asyncio.wait_for(collect(sse), 5)
    assert got == [{"type": "end", "reason": "expired", "message": "the stream reached its "
                    "maximum lifetime; reconnect with a fresh signature"}]


# ------------------------------------------------------------------------- cross-node replay


async def test_a_signed_read_for_one_node_is_refused_by_another(desk: Desk) -> None:
    """The replay cache is each node's own: a read captured on its way to node 0 (a proxy's
    log) would replay within the window on every other node, were it not signed for node 0."""
    d = desk
    await d.commit(d.issue(4242, "exporter"))
    path = f"/v1/state/settlement/bal/{pk(d, 'exporter')}/USD"
    servers = [TestServer(api.make_app(n, api.AccessLimits(
        authorities=frozenset({f"node{i}.bank.example:80"})))) for i, n in enumerate(d.nodes)]
    for srv in servers:
        await srv.start_server()
    try:
        host = "node0.bank.example"  # node 0 behind its DNS name
        captured = signed_headers(d.ids["exporter"], "GET", f"http://{host}{path}") | {
            "Host": host}
        async with aiohttp.ClientSession() as s:
            for srv in servers[1:]:
                async with s.get(str(srv.make_url(path)), headers=captured) as r:
                    body = await r.json()
                assert r.status == 401, body
                assert body["error"]["message"].startswith("wrong_authority:"), body
            async with s.get(str(servers[0].make_url(path)), headers=captured) as r:
                body = await r.json()
            assert r.status == 200 and body["value"] == 4242, body
    finally:
        for srv in servers:
            await srv.close()


async def test_the_sender_reads_what_it_signed_without_a_proof(desk: Desk) -> None:
    """Transaction proofs are the supervisors'; the sender still gets its envelope (a
    payment's references) and the block's time with ?tx=1, and a party does not."""
    d = desk
    await d.commit(d.issue(100, "exporter"))
    out = await d.commit(pay(d, "exporter", "importer", 7))
    st, body = await get_as(d, "exporter", f"/v1/tx/{out['tx_id']}?tx=1")
    assert st == 200 and body["tx"]["args"]["amount"] == 7 and body["timestamp_ms"] > 0, body
    st, body = await get_as(d, "importer", f"/v1/tx/{out['tx_id']}?tx=1")
    assert st == 200 and "tx" not in body and "timestamp_ms" not in body, body
