"""Privacy red-team round 11 (docs/redteam-privacy.md "Round 11"): the newest reads — a
guarantee and its demands, a transfer's travel-rule data, a structuring case's pattern, state
proofs — tried by a curious bank, a customer, an exporter and an outsider with signed requests
on an in-process node (the trade cluster: the ``desk`` fixture; ``auditor`` is a regulator).
A finding's test fails on the code before its fix; the others pin what held."""

from __future__ import annotations

from typing import Any

from chainfin.crypto import Identity
from tests.fixtures import DECLARATION, INVOICE, Desk, trade_hash
from tests.node.test_access import get_as

T = "trade_documents"


def pk(d: Desk, who: str) -> str:
    return d.ids[who].public_key.hex()


async def ident(d: Desk, name: str, role: str, bic: str | None = None,
                legal: str | None = None) -> None:
    """``name`` (legal name ``legal``) registered by the admin bank ``bank_a`` (with BIC/LEI
    ``bic``)."""
    d.ids[name] = Identity.generate(name)
    args: dict[str, Any] = {"pubkey": pk(d, name), "name": legal or name, "role": role}
    if bic is not None:
        args["bank"] = bic
    out = await d.commit(d.tx("bank_a", "governance", "register_identity", args))
    assert out["status"] == "committed", out


async def committed(d: Desk, who: str, contract: str, method: str, args: dict[str, Any]
                    ) -> dict[str, Any]:
    out = await d.commit(d.tx(who, contract, method, args))
    assert out["status"] == "committed", (method, out.get("error"))
    return out


# ------------------------------------------------- F1: an LC's proceeds and the exporter's bank


async def test_the_exporters_bank_reads_its_customers_lc_payment_not_the_financing_repaid(
        desk: Desk) -> None:
    """An LC's proceeds repay the trade's financing banks first, then the rest goes to the
    exporter, in one transaction of the issuing bank (``pay_proceeds``). The exporter's home
    bank — here a bank that neither financed the trade nor issued the LC — is the beneficiary's
    bank of that transaction (decision 222) and read every ``transferred`` event of the issuing
    bank in it and its R.16 data: which other bank financed its customer's receivable, and how
    much was repaid — the financing that ``fin/`` keeps from it (round 7 F8). It reads the
    payment to its customer only."""
    d = desk
    for name, role, bic in (("bank_h", "bank", "HOMEGB2L"), ("bank_f", "bank", "FINAGB2L"),
                            ("bank_lc", "bank", "LCBKUS33")):
        await ident(d, name, role, bic)
    await ident(d, "exp_h", "exporter", "HOMEGB2L", "ACME Exports Ltd")
    for bank in ("bank_f", "bank_lc"):
        await d.commit(d.issue(10**9, bank))
    inv = (await committed(d, "exp_h", T, "register", {
        "doc_type": "invoice", "fields": INVOICE, "content_hash": trade_hash("inv")}))["result"]
    trade = inv["trade_id"]
    decl = (await committed(d, "exp_h", T, "register", {
        "doc_type": "customs_declaration", "fields": DECLARATION,
        "content_hash": trade_hash("decl"), "trade_id": trade}))["result"]["doc_id"]
    await committed(d, "customs", T, "attest", {"doc_id": decl, "result": "match",
                                                "declared_amount": 98_000_00})
    fin = (await committed(d, "bank_f", T, "request_financing", {
        "trade_id": trade, "amount": 40_000_00, "currency": "USD",
        "maturity_date": "2099-12-31"}))["result"]["financing_id"]
    lc = (await committed(d, "bank_lc", T, "issue_lc", {
        "applicant": pk(d, "importer"), "beneficiary": pk(d, "exp_h"), "amount": 90_000_00,
        "currency": "USD", "expiry_date": "2099-12-31", "lc_number": "LC-R11-1",
        "required_docs": ["invoice"], "trade_id": trade}))["result"]["lc_id"]
    pres = (await committed(d, "exp_h", T, "present", {
        "lc_id": lc, "doc_ids": [inv["doc_id"]], "amount": 70_000_00}))["result"][
        "presentation_id"]
    paid = await committed(d, "bank_lc", T, "accept_presentation", {"presentation_id": pres})
    assert [p["to"] for p in paid["result"]["payments"]] == [pk(d, "bank_f"), pk(d, "exp_h")]
    # the exporter's bank may not read the financing
    assert (await get_as(d, "bank_h", f"/v1/state/{T}/fin/{fin}"))[0] == 404
    st, body = await get_as(d, "bank_h", f"/v1/tx/{paid['tx_id']}")
    assert st == 200, body
    assert [(e["data"]["to"], e["data"]["amount"]) for e in body["events"]] == [
        (pk(d, "exp_h"), 30_000_00)], body["events"]
    assert [t["beneficiary"]["account"] for t in body["travel"]] == [pk(d, "exp_h")], body
    assert pk(d, "bank_f") not in str(body) and fin not in str(body)
    # the issuing bank's own view and the supervisors' are whole
    st, body = await get_as(d, "auditor", f"/v1/tx/{paid['tx_id']}")
    assert len(body["travel"]) == 2, body
