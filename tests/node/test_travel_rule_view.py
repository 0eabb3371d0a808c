"""The travel rule through a real in-process node (decision 222): ``GET /v1/tx/{tx_id}`` of a
cross-border transfer shows its R.16 data (``travel``) to the originator's bank and the
beneficiary's bank — the latter reading nothing else of the payer's — and to no one else."""

from __future__ import annotations

from typing import Any

from chainfin.crypto import Identity
from tests.fixtures import Desk

ADDRESS = {"lines": ["1 Canada Square"], "town": "London", "country": "GB"}


async def _as(d: Desk, who: str, path: str) -> tuple[int, Any]:
    async with d.http.get(path, as_=d.ids[who]) as r:
        return r.status, await r.json()


async def test_the_beneficiarys_bank_reads_the_transfers_r16_data(desk: Desk) -> None:
    d = desk
    for name, role, bic in (("us_bank", "bank", "CHASUS33"), ("de_bank", "bank", "DEUTDEFF"),
                            ("payer", "exporter", "BARCGB22"), ("payee", "importer", "CHASUS33")):
        d.ids[name] = Identity.generate(name)
        out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
            "pubkey": d.ids[name].public_key.hex(), "name": name, "role": role, "bank": bic}))
        assert out["status"] == "committed", out
    await d.commit(d.issue(5_000_00, "payer"))
    pay = {"to": d.ids["payee"].public_key.hex(), "currency": "USD", "amount": 1_000_00}
    out = await d.commit(d.tx("payer", "settlement", "transfer", pay))
    assert out["error"]["code"] == "incomplete_originator_info", out
    out = await d.commit(d.tx("bank_a", "governance", "set_travel_info", {
        "pubkey": d.ids["payer"].public_key.hex(), "address": ADDRESS}))
    assert out["status"] == "committed", out
    out = await d.commit(d.tx("payer", "settlement", "transfer", pay))
    assert out["status"] == "committed", out
    path = f"/v1/tx/{out['tx_id']}"
    st, body = await _as(d, "us_bank", path)  # the beneficiary's bank
    assert st == 200 and "result" not in body, body
    assert body["travel"][0]["originator"]["address"] == ADDRESS
    assert [e["name"] for e in body["events"]] == ["transferred"]
    st, body = await _as(d, "bank_a", path)  # the originator's bank (a validator): all of it
    assert st == 200 and "result" in body and body["travel"][0]["originator"]["address"]
    st, body = await _as(d, "payee", path)  # the payee: its part, no address
    assert st == 200 and "travel" not in body
    assert (await _as(d, "de_bank", path))[0] == 404  # another bank (no validator)
    # the record's travel field: its home bank reads it, another bank does not
    rec = f"/v1/state/governance/id/{d.ids['payer'].public_key.hex()}"
    assert "travel" in (await _as(d, "bank_a", rec))[1]["value"]
    assert "travel" not in (await _as(d, "us_bank", rec))[1]["value"]
    # the data recorded later is not the data the transfer carried (decision 224), and the
    # kept version is read as the record's travel is
    out = await d.commit(d.tx("bank_a", "governance", "set_travel_info", {
        "pubkey": d.ids["payer"].public_key.hex(), "customer_id": "C-1"}))
    assert out["status"] == "committed", out
    st, body = await _as(d, "us_bank", path)
    assert body["travel"][0]["originator"]["address"] == ADDRESS, body
    assert "customer_id" not in body["travel"][0]["originator"]
    kept = f"/v1/state/governance/travel/{d.ids['payer'].public_key.hex()}/1"
    assert (await _as(d, "us_bank", kept))[0] == 404
    assert (await _as(d, "bank_a", kept))[1]["value"]["info"] == {"address": ADDRESS}
