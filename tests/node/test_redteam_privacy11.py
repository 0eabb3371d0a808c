"""Privacy red-team round 11 (docs/redteam-privacy.md "Round 11"): the newest reads — a
guarantee and its demands, a transfer's travel-rule data, a structuring case's pattern, state
proofs — tried by a curious bank, a customer, an exporter and an outsider with signed requests
on an in-process node (the trade cluster: the ``desk`` fixture; ``auditor`` is a regulator).
A finding's test fails on the code before its fix; the others pin what held."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chainfin.crypto import Identity
from tests.fixtures import DECLARATION, INVOICE, Desk, trade_hash
from tests.node.test_access import ANY_ID, check_row, get_as
from tests.node.test_access_privacy import missing_twin, until_block_naming

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


@pytest.mark.parametrize("own_financing", [False, True])
async def test_the_exporters_bank_reads_its_customers_lc_payment_not_the_financing_repaid(
        desk: Desk, own_financing: bool) -> None:
    """An LC's proceeds repay the trade's financing banks first, then the rest goes to the
    exporter, in one transaction of the issuing bank (``pay_proceeds``). The exporter's home
    bank — here a bank that neither financed the trade nor issued the LC — is the beneficiary's
    bank of that transaction (decision 222) and read every ``transferred`` event of the issuing
    bank in it and its R.16 data: which other bank financed its customer's receivable, and how
    much was repaid — the financing that ``fin/`` keeps from it (round 7 F8). It reads the
    payment to its customer only — and, when it financed the trade too (``own_financing``), its
    own events as a party of the transaction: its repayment and ``repaid``."""
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
    own = None
    if own_financing:
        await d.commit(d.issue(10**9, "bank_h"))
        own = (await committed(d, "bank_h", T, "request_financing", {
            "trade_id": trade, "amount": 20_000_00, "currency": "USD",
            "maturity_date": "2099-12-31"}))["result"]["financing_id"]
    lc = (await committed(d, "bank_lc", T, "issue_lc", {
        "applicant": pk(d, "importer"), "beneficiary": pk(d, "exp_h"), "amount": 90_000_00,
        "currency": "USD", "expiry_date": "2099-12-31", "lc_number": "LC-R11-1",
        "required_docs": ["invoice"], "trade_id": trade}))["result"]["lc_id"]
    pres = (await committed(d, "exp_h", T, "present", {
        "lc_id": lc, "doc_ids": [inv["doc_id"]], "amount": 70_000_00}))["result"][
        "presentation_id"]
    paid = await committed(d, "bank_lc", T, "accept_presentation", {"presentation_id": pres})
    assert [p["to"] for p in paid["result"]["payments"]] == [pk(d, "bank_f")] + (
        [pk(d, "bank_h")] if own_financing else []) + [pk(d, "exp_h")]
    # the exporter's bank may not read the financing
    assert (await get_as(d, "bank_h", f"/v1/state/{T}/fin/{fin}"))[0] == 404
    st, body = await get_as(d, "bank_h", f"/v1/tx/{paid['tx_id']}?tx=1")
    assert st == 200 and "tx" not in body and "result" not in body, body  # no envelope
    to_exporter = ("transferred", pk(d, "exp_h"), (10_000_00 if own_financing else 30_000_00))
    assert [(e["name"], e["data"].get("to"), e["data"]["amount"]) for e in body["events"]] == ([
        ("transferred", pk(d, "bank_h"), 20_000_00), ("repaid", None, 20_000_00)]
        if own_financing else []) + [to_exporter], body["events"]
    assert [t["beneficiary"]["account"] for t in body["travel"]] == [pk(d, "exp_h")], body
    assert pk(d, "bank_f") not in str(body) and fin not in str(body)
    assert own is None or body["events"][1]["data"]["financing_id"] == own
    # the supervisors' view is whole
    st, body = await get_as(d, "auditor", f"/v1/tx/{paid['tx_id']}")
    assert len(body["travel"]) == len(paid["result"]["payments"]), body


# ------------------------------------------------------------------------ guarantees (held)


async def guarantee(d: Desk) -> dict[str, str]:
    """``bank_g`` (no validator) issues a guarantee for the exporter (applicant) in favour of
    the importer (beneficiary), advised by ``bank_adv``; the importer demands under it, and
    ``bank_g`` proposes an amendment. ``bank_x`` is a bank with nothing to do with it."""
    for name, bic in (("bank_g", "GTEEGB2L"), ("bank_adv", "ADVSFRPP"), ("bank_x", "OTHRDEFF")):
        await ident(d, name, "bank", bic)
    issued = await committed(d, "bank_g", T, "issue_guarantee", {
        "applicant": pk(d, "exporter"), "beneficiary": pk(d, "importer"), "amount": 50_000_00,
        "currency": "USD", "form": "DGAR", "guarantee_type": "performance",
        "guarantee_number": "PG-R11-1", "underlying_ref": "CONTRACT-R11",
        "expiry_date": "2099-12-31", "advising_bank": pk(d, "bank_adv")})
    gid = issued["result"]["guarantee_id"]
    dem = await committed(d, "importer", T, "demand", {
        "guarantee_id": gid, "amount": 10_000_00, "supporting_statement": "not delivered"})
    amend = await committed(d, "bank_g", T, "amend_guarantee", {
        "guarantee_id": gid, "changes": {"expiry_date": "2099-06-30"}})
    st, g = await get_as(d, "auditor", f"/v1/state/{T}/gtee/{gid}")
    assert st == 200, g
    return {"gid": gid, "issue_tx": issued["tx_id"], "demand": dem["result"]["demand_id"],
            "demand_tx": dem["tx_id"], "amend_tx": amend["tx_id"],
            "fp": g["value"]["fingerprint"]}


async def test_a_guarantee_its_demands_and_amendments_are_its_parties_alone(desk: Desk) -> None:
    """Held. A bank that is no party (a validator's key or not), another customer and an
    auditor read a guarantee, its demand, its number key, their state proofs and its
    transactions exactly as an id of nothing: the same 404 with the same body (no "forbidden"
    to tell a guarded record from a missing one); its four parties and the regulator read it."""
    d = desk
    w = await guarantee(d)
    await d.register("pure_auditor", "auditor")
    parties = ["bank_g", "exporter", "importer", "bank_adv", "auditor"]
    outsiders = ["bank_x", "bank_b", "exporter2", "pure_auditor", "customs"]
    for key, real in ((f"gtee/{w['gid']}", w["gid"]), (f"gdem/{w['demand']}", w["demand"]),
                      (f"gtfp/{w['fp']}", w["fp"])):
        await check_row(d, f"/v1/state/{T}/{key}", parties, outsiders, (real, ANY_ID))
        # a state proof: the supervisors' (validators, regulators, auditors), of a key they
        # may read: a validator or an auditor that is no party gets the missing key's answer
        proof = f"/v1/proofs/state/{T}/{key}"
        want = await missing_twin(d, proof, real)
        for who in ("bank_b", "pure_auditor", "bank_x", "exporter2"):
            assert await get_as(d, who, proof) == (404, want), (who, key)
        assert (await get_as(d, "auditor", proof))[0] == 200
    # its transactions: a party reads its status and its own events; an outsider the 404 of
    # no transaction (bank_b is a validator: it reads every block, decision 58)
    for tx in (w["issue_tx"], w["demand_tx"], w["amend_tx"]):
        path = f"/v1/tx/{tx}"
        want = await missing_twin(d, path, tx)
        for who in ("bank_x", "exporter2", "customs"):
            assert await get_as(d, who, path) == (404, want), (who, tx)
        st, body = await get_as(d, "bank_adv", path)
        assert st == 200 and "result" not in body and "tx" not in body, body
    # the demand's statement of breach is in its transaction's arguments: the beneficiary's
    # bank of no payment, a non-party, reads none of it
    assert "not delivered" not in str(await get_as(d, "bank_x", f"/v1/tx/{w['demand_tx']}?tx=1"))
    # Left (decision 242): a non-party's demand or amendment for the id is `forbidden` where an
    # id of nothing is `unknown_guarantee`; the party check comes first, so no status is told
    for who, method, args in (
            ("exporter2", "demand", {"amount": 1}),
            ("bank_x", "amend_guarantee", {"changes": {"expiry_date": "2099-01-31"}})):
        codes = []
        for gid in (w["gid"], ANY_ID):
            out = await d.commit(d.tx(who, T, method, {"guarantee_id": gid, **args}))
            codes.append((out["status"], out["error"]["code"], out["error"]["message"]))
        assert [c[1] for c in codes] == ["forbidden", "unknown_guarantee"], codes
        assert "only the guarantee's" in codes[0][2] and "issued" not in codes[0][2], codes


async def test_a_non_party_on_the_event_stream_hears_nothing_of_a_guarantee(desk: Desk) -> None:
    """Held. ``/v1/events`` of a bank that is no party carries none of the guarantee's events
    (issue, demand, amendment); the advising bank's carries each."""
    d = desk
    for name, bic in (("bank_adv", "ADVSFRPP"), ("bank_x", "OTHRDEFF")):
        await ident(d, name, "bank", bic)
    await ident(d, "bank_g", "bank", "GTEEGB2L")
    await d.commit(d.issue(10**6, "bank_x"))
    async with d.http.get("/v1/events", as_=d.ids["bank_x"]) as other, \
            d.http.get("/v1/events", as_=d.ids["bank_adv"]) as adv:
        gid = (await committed(d, "bank_g", T, "issue_guarantee", {
            "applicant": pk(d, "exporter"), "beneficiary": pk(d, "importer"),
            "amount": 50_000_00, "currency": "USD", "form": "STBY", "guarantee_type": "payment",
            "guarantee_number": "SB-R11-2", "underlying_ref": "CONTRACT-R11-2",
            "expiry_date": "2099-12-31", "advising_bank": pk(d, "bank_adv")}))["result"][
            "guarantee_id"]
        await committed(d, "importer", T, "demand", {"guarantee_id": gid, "amount": 1_000_00})
        await d.commit(d.issue(77, "bank_x"))  # a later block naming bank_x (and bank_adv)
        await d.commit(d.issue(77, "bank_adv"))
        got_other = await asyncio.wait_for(until_block_naming(other, 77), 10)
        got_adv = await asyncio.wait_for(until_block_naming(adv, 77), 10)
    assert gid not in json.dumps(got_other) and "guarantee" not in json.dumps(got_other)
    names = [e["name"] for i in got_adv if i["type"] == "block" for e in i["events"]]
    assert {"guarantee_issued", "guarantee_demand"} <= set(names), names


# ------------------------------------------------------ a structuring case's pattern (held)


async def test_a_structuring_cases_payments_are_its_accounts_own_and_its_bank_reads_them(
        desk: Desk) -> None:
    """Held. A structuring alert's ``near_limit_txs`` (decision 217) are the payer's own
    earlier near payments: its home bank (no validator) reads the case and each of them whole,
    as it reads every payment of its customer; the payee's bank reads the case as an alert of
    nothing and each payment as the beneficiary's bank (status, the payment to its customer);
    the payer and the payee read no case (no tipping off)."""
    d = desk
    for name, role, bic in (("bank_h", "bank", "HOMEGB2L"), ("bank_x", "bank", "OTHRDEFF"),
                            ("cust_h", "exporter", "HOMEGB2L"),
                            ("cust_x", "importer", "OTHRDEFF")):
        await ident(d, name, role, bic)
    await d.commit(d.issue(100_00, "cust_h"))
    await committed(d, "bank_h", "risk", "set_limit", {
        "subject": pk(d, "cust_h"), "kind": "max_per_tx", "currency": "USD", "max": 1_000})
    txs = [(await committed(d, "cust_h", "settlement", "transfer", {
        "to": pk(d, "cust_x"), "currency": "USD", "amount": amount}))["tx_id"]
        for amount in (950, 960, 990)]
    st, queue = await get_as(d, "bank_h", "/v1/risk/alerts/queue")
    (alert,) = [a for a in queue["alerts"] if a["rule"] == "structuring"]
    path = f"/v1/risk/alerts/{alert['alert']}"
    st, case = await get_as(d, "bank_h", path)
    assert st == 200 and case["detail"]["near_limit_txs"] == txs[:2], case
    for tx in txs:
        st, body = await get_as(d, "bank_h", f"/v1/tx/{tx}")
        assert st == 200 and "result" in body, body
    want = await missing_twin(d, path, alert["alert"])
    for who in ("bank_x", "cust_h", "cust_x", "exporter2"):
        assert await get_as(d, who, path) == (404, want), who
    for tx in txs:
        st, body = await get_as(d, "bank_x", f"/v1/tx/{tx}")
        assert st == 200 and "result" not in body, body
        assert [e["name"] for e in body["events"]] == ["transferred"], body


# ---------------------------------------------------------- travel data by transfer (held)


async def test_a_transfers_r16_data_is_its_two_banks_not_its_customers_nor_a_third_bank(
        desk: Desk) -> None:
    """Held. A cross-border transfer's R.16 data by its id: the payer reads its transaction
    without ``travel`` (and not the payee's travel data: the record's field, its versions), the
    payee its own event only, a third bank and another customer the 404 of no transaction."""
    d = desk
    for name, role, bic in (("us_bank", "bank", "CHASUS33"), ("de_bank", "bank", "DEUTDEFF"),
                            ("payer", "exporter", "HOMEGB2L"), ("payee", "importer", "CHASUS33"),
                            ("bank_h", "bank", "HOMEGB2L")):
        await ident(d, name, role, bic)
    await d.commit(d.issue(5_000_00, "payer"))
    for who in ("payer", "payee"):
        await committed(d, "bank_h" if who == "payer" else "us_bank", "governance",
                        "set_travel_info", {"pubkey": pk(d, who), "customer_id": "C-" + who})
    tx = (await committed(d, "payer", "settlement", "transfer", {
        "to": pk(d, "payee"), "currency": "USD", "amount": 1_500_00}))["tx_id"]
    path = f"/v1/tx/{tx}"
    st, body = await get_as(d, "payer", path + "?tx=1")
    assert st == 200 and "travel" not in body and "C-payee" not in json.dumps(body), body
    st, body = await get_as(d, "payee", path)
    assert st == 200 and "travel" not in body and "C-payer" not in json.dumps(body), body
    want = await missing_twin(d, path, tx)
    for who in ("de_bank", "exporter2"):
        assert await get_as(d, who, path) == (404, want), who
    st, body = await get_as(d, "us_bank", path)
    assert body["travel"][0]["originator"]["customer_id"] == "C-payer", body
    assert "C-payee" not in json.dumps(body)  # the beneficiary: its name and account only
    for key in (f"id/{pk(d, 'payee')}", f"travel/{pk(d, 'payee')}/1"):
        st, rec = await get_as(d, "payer", f"/v1/state/governance/{key}")
        assert "C-payee" not in json.dumps(rec), (key, rec)


# ------------------------------------------------- F2: a state proof carries the value whole


async def test_a_state_proof_is_not_served_of_a_value_read_with_fields_withheld(
        desk: Desk) -> None:
    """A state proof carries its key's value whole; it was served to a validator for any key
    it may read, so a validator that is a party of a trade but did not finance it (here: it
    verified the invoice and issued the LC, presented under) read in the proofs of ``trade/`` and ``fin/`` what
    ``GET /v1/state`` withholds from it (round 7 F8): another bank's financing, its amount and
    maturity. Such a proof is now the missing key's 404; a reader that reads the value whole
    (the financing bank, the auditor) still gets it, and the state reads are unchanged."""
    d = desk
    trade, inv, _ = await d.attested_trade()
    await d.send("bank_c", "verify", doc_id=inv)
    fin = (await d.send("bank_a", "request_financing", trade_id=trade, amount=40_000_00,
                        currency="USD", maturity_date="2099-12-31"))["financing_id"]
    lc = (await d.send("bank_c", "issue_lc", applicant=pk(d, "importer"),
                       beneficiary=pk(d, "exporter"), amount=90_000_00, currency="USD",
                       expiry_date="2099-12-31", lc_number="LC-R11-P",
                       required_docs=["invoice"], trade_id=trade))["lc_id"]
    await d.send("exporter", "present", lc_id=lc, doc_ids=[inv], amount=70_000_00)
    st, body = await get_as(d, "bank_c", f"/v1/state/{T}/trade/{trade}")
    assert st == 200 and "pool" not in body["value"], body  # its state read: no pool
    st, body = await get_as(d, "bank_c", f"/v1/state/{T}/fin/{fin}")
    assert st == 200 and "maturity_date" not in body["value"], body  # lc_issuer's fields
    for key, real in ((f"trade/{trade}", trade), (f"fin/{fin}", fin)):
        proof = f"/v1/proofs/state/{T}/{key}"
        st, none = await get_as(d, "bank_c", proof.replace(real, ANY_ID))  # no such record
        assert st == 404, none
        want = json.loads(json.dumps(none).replace(ANY_ID, real))
        assert await get_as(d, "bank_c", proof) == (404, want), key
        for who in ("bank_a", "auditor"):
            st, body = await get_as(d, who, proof)
            assert st == 200 and body["value"], (who, key, st)
    # a key the validator reads whole keeps its proof
    st, body = await get_as(d, "bank_c", f"/v1/proofs/state/{T}/doc/{inv}")
    assert st == 200, body
