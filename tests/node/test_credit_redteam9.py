"""Red-team round 9, credit sharing, through a node (docs/redteam-privacy.md "Round 9", F3):
a customer's credit-sharing transactions — a consent (to which bank it turns for credit, for
what), a dispute (what it contests, why) — are not its home bank's to read whole, on
``GET /v1/tx`` nor in a transaction proof; its other transactions still are."""

from __future__ import annotations

import json
from typing import Any

from chainfin.crypto import Identity
from tests.fixtures import Desk

ANY_TX = "ab" * 32


async def get_as(d: Desk, who: str, path: str) -> tuple[int, Any]:
    async with d.http.get(path, as_=d.ids[who]) as r:
        return r.status, await r.json()


async def test_the_home_bank_does_not_read_its_customers_credit_sharing_transactions(
        desk3: Desk) -> None:
    d = desk3
    # banks that are no validators (validators read every block); bank_x's customer
    for name, role, bic in (("bank_x", "bank", "XBANKGB2"), ("bank_y", "bank", "YBANKGB2"),
                            ("cust", "exporter", "XBANKGB2")):
        d.ids[name] = Identity.generate(name)
        out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
            "pubkey": d.ids[name].public_key.hex(), "name": name, "role": role,
            "bank": bic}))
        assert out["status"] == "committed", out
    await d.commit(d.issue(1000, "cust"))
    pay = await d.commit(d.tx("cust", "settlement", "transfer", {
        "to": d.ids["importer"].public_key.hex(), "currency": "USD", "amount": 10}))
    consent = await d.commit(d.tx("cust", "credit_sharing", "grant_consent", {
        "bank": d.ids["bank_y"].public_key.hex(), "purposes": ["credit_decision"]}))
    assert pay["status"] == consent["status"] == "committed", (pay, consent)

    # the payment: its home bank reads it whole, and its proof
    st, body = await get_as(d, "bank_x", f"/v1/tx/{pay['tx_id']}")
    assert st == 200 and "result" in body
    assert (await get_as(d, "bank_x", f"/v1/proofs/tx/{pay['tx_id']}"))[0] == 200
    # the consent: a missing transaction's answer to the home bank, on both routes
    for route in ("/v1/tx/", "/v1/proofs/tx/"):
        st, missing = await get_as(d, "auditor", route + ANY_TX)
        assert st == 404
        want = json.loads(json.dumps(missing).replace(ANY_TX, consent["tx_id"]))
        assert await get_as(d, "bank_x", route + consent["tx_id"]) == (404, want), route
    # the bank it names reads its own part; the supervisors and the customer all of it
    st, body = await get_as(d, "bank_y", f"/v1/tx/{consent['tx_id']}")
    assert st == 200 and "result" not in body and body["events"]
    for who in ("cust", "auditor"):
        assert (await get_as(d, who, f"/v1/tx/{consent['tx_id']}"))[0] == 200
