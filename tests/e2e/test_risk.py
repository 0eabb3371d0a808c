"""Issue 16 on a real 4-node testnet: a limit refuses identically on every node."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


async def test_an_over_limit_payment_is_refused_identically_on_every_node(net) -> None:
    exp = net.ids["exporter"].public_key.hex()
    imp = net.ids["importer"].public_key.hex()
    for tx in (net.tx("usd_issuer", "settlement", "issue",
                      {"currency": "USD", "to": exp, "amount": 10_000}),
               net.tx("regulator", "risk", "set_limit",
                      {"subject": exp, "kind": "max_per_tx", "currency": "USD", "max": 1_000,
                       "rule_id": "e2e-limit"})):
        status, out = await net.post(0, tx)
        assert status == 200 and out["status"] == "committed", out

    def pay(amount: int):
        return net.tx("exporter", "settlement", "transfer",
                      {"to": imp, "currency": "USD", "amount": amount})

    status, ok = await net.post(1, pay(1_000))
    assert status == 200 and ok["status"] == "committed", ok
    status, refused = await net.post(2, pay(1_001))
    assert status == 200 and refused["status"] == "rejected", refused
    assert refused["error"]["code"] == "limit_exceeded"
    assert "e2e-limit" in refused["error"]["message"]

    top = refused["height"]
    for i in range(4):
        await net.wait_height(i, top)
    receipts, states = [], []
    for i in range(4):
        status, block = await net.get(i, f"/v1/blocks/{top}")
        assert status == 200
        (rc,) = [r for r in block["receipts"] if r["tx_id"] == refused["tx_id"]]
        receipts.append(rc)
        status, acct = await net.get(i, f"/v1/risk/accounts/{exp}")
        assert status == 200
        states.append((block["hash"], acct["alerts"], acct["rules"]))
    assert all(r == receipts[0] for r in receipts)
    assert receipts[0]["error"]["code"] == "limit_exceeded"
    assert [e["data"]["rule_id"] for e in receipts[0]["events"]] == ["e2e-limit"]
    assert all(s == states[0] for s in states)
    assert [a["rule"] for a in states[0][1]] == ["limit_exceeded"]
