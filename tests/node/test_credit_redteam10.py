"""Red-team privacy round 10 through a node (docs/redteam-privacy.md "Round 10", F1): a
credit record's retention end is its publisher's, its subject's and the regulators'; a bank
that a consent lets read the record's metadata gets the record without it on
``GET /v1/state``."""

from __future__ import annotations

from typing import Any

from chainfin.crypto import Identity
from contracts import credit_sharing as cs
from tests.fixtures import Desk


async def get_as(d: Desk, who: str, path: str) -> tuple[int, Any]:
    async with d.http.get(path, as_=d.ids[who]) as r:
        return r.status, await r.json()


async def test_the_retention_end_is_not_read_by_a_consented_bank(desk: Desk) -> None:
    d = desk
    d.ids["bank_x"] = Identity.generate("bank_x")  # a bank that is no validator
    out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
        "pubkey": d.ids["bank_x"].public_key.hex(), "name": "bank_x", "role": "bank",
        "bank": "XBANKGB2"}))
    assert out["status"] == "committed", out
    record, salt = b'{"default": "2025-03"}', bytes(range(16))
    pub = await d.commit(d.tx("bank_a", "credit_sharing", "publish", {
        "subject": d.ids["exporter"].public_key.hex(),
        "commitment": cs.make_commitment(record, salt), "retain_days": 2557,
        "sealed": cs.seal_record(record, salt, [d.ids["bank_a"].public_key,
                                                d.ids["auditor"].public_key])}))
    consent = await d.commit(d.tx("exporter", "credit_sharing", "grant_consent", {
        "bank": d.ids["bank_x"].public_key.hex(), "purposes": ["account_review"]}))
    assert pub["status"] == consent["status"] == "committed", (pub, consent)
    path = f"/v1/state/credit_sharing/record/{pub['result']['record_id']}"
    ends = set()
    for who in ("bank_a", "exporter", "auditor"):  # publisher, subject, the regulator
        st, body = await get_as(d, who, path)
        assert st == 200, (who, body)
        ends.add(body["value"]["retain_until_ms"])
    assert len(ends) == 1
    st, body = await get_as(d, "bank_x", path)
    assert st == 200 and body["value"]["subject"] == d.ids["exporter"].public_key.hex()
    assert "retain_until_ms" not in body["value"]
