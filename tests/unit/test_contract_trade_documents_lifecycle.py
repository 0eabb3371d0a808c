"""trade_documents through the ledger: each test is named after the attack or case it stops.
Every refusal is checked to change no state but its own receipt (``refused``)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    FUNDS,
    INVOICE,
    INVOICE_AMOUNT,
    MATURITY,
    T,
    finance,
    h,
    open_trade,
    refused,
    register,
    trade_ledger,
)


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def usd(led: Ledger, who: str) -> int:
    return led.balance(who, "USD")


# ---------------------------------------------------------------------------- identity


@pytest.mark.parametrize("change", [{"amount": INVOICE_AMOUNT + 1},
                                    {"issue_date": "2025-11-21"},
                                    {"amount": "100,000.01", "buyer": "Initech"}])
def test_reregistered_invoice_with_changed_amount_or_date_is_a_duplicate(
        L: Ledger, change: dict[str, Any]) -> None:
    first = register(L, "invoice", INVOICE)["doc_id"]
    L.ok("bank_a", T, "verify", doc_id=first)
    r = refused(L, "duplicate_document", "exporter", "register", doc_type="invoice",
                fields={**INVOICE, **change, "number": " inv 2025-001 "},
                content_hash=h("rescan"))
    # the attempter (who may hold only a copy of the file) learns neither the document nor its
    # banks; the attempt is recorded on the document, which its owner and banks read
    assert first not in (r.error_message or "") and L.pk("bank_a") not in str(r.events)
    [ev] = r.events
    assert ev.name == "duplicate_attempt" and ev.data == {"attempted_by": L.pk("exporter")}
    [att] = L.get(T, "doc/" + first)["duplicate_attempts"]
    assert att["by"] == L.pk("exporter") and att["tx_id"] == r.tx_id.hex()


def test_same_file_under_another_number_is_a_duplicate(L: Ledger) -> None:
    register(L, "invoice", INVOICE, tag="file")
    refused(L, "duplicate_document", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, "number": "INV-9"}, content_hash=h("file"))


def test_renumbered_copy_is_a_suspected_duplicate_unless_declared_distinct(L: Ledger) -> None:
    first = register(L, "invoice", INVOICE)["doc_id"]
    copy = {**INVOICE, "number": "INV-2025-001-B"}
    r = refused(L, "suspected_duplicate", "exporter", "register", doc_type="invoice",
                fields=copy, content_hash=h("copy"))
    assert first in (r.error_message or "")
    second = register(L, "invoice", copy, tag="copy",
                      declare_distinct="second container, same price list")
    doc = L.get(T, "doc/" + second["doc_id"])
    assert doc["declared_distinct"] == {"reason": "second container, same price list",
                                        "similar_to": first}
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bank_b"), amount=1)
    # banks financing either trade see the reason (no declaration: attestation not required),
    # before the money moves: they finance only when they acknowledge it (decision 153)
    led = trade_ledger(financing_requires_attestation=False)
    a = register(led, "invoice", INVOICE)
    b = register(led, "invoice", copy, tag="copy", declare_distinct="second container")
    for trade in (a["trade_id"], b["trade_id"]):
        r = refused(led, "distinct_not_acknowledged", "bank_a", "request_financing",
                    trade_id=trade, amount=1000, currency="USD", maturity_date=MATURITY)
        assert "second container" in (r.error_message or "")
        notes = finance(led, "bank_a", 1000, trade_id=trade,
                        acknowledge_distinct=True)["declared_distinct"]
        assert notes == [{"doc_id": b["doc_id"], "reason": "second container",
                          "similar_to": a["doc_id"]}]


def test_reference_numbers_never_reach_the_state(L: Ledger) -> None:
    open_trade(L)
    blob = b"".join(k + v for k, v in L.state.data.items()).lower()
    for secret in (b"inv2025001", b"inv-2025-001", b"cd2025000123", b"maeu778899"):
        assert secret not in blob


# ---------------------------------------------------------------------------- parties


def test_exporter_cannot_register_another_sellers_invoice(L: Ledger) -> None:
    refused(L, "not_document_party", "exporter2", "register", doc_type="invoice",
            fields=INVOICE, content_hash=h(1))
    refused(L, "not_document_party", "exporter2", "register", doc_type="bill_of_lading",
            fields=BILL_OF_LADING, content_hash=h(2))


def test_agent_bank_registers_for_the_exporter_that_named_it(L: Ledger) -> None:
    args = {"doc_type": "invoice", "fields": INVOICE, "content_hash": h(1),
            "on_behalf_of": L.pk("exporter")}
    refused(L, "not_document_party", "bank_a", "register", **args)
    refused(L, "not_document_party", "bank_a", "register",
            **{k: v for k, v in args.items() if k != "on_behalf_of"})
    L.ok("exporter", T, "appoint_agent", bank=L.pk("bank_a"))
    r = L.ok("bank_a", T, "register", **args)
    doc = L.get(T, "doc/" + r["doc_id"])
    assert doc["owner"] == L.pk("exporter") and doc["registrant"] == L.pk("bank_a")
    L.ok("exporter", T, "revoke_agent", bank=L.pk("bank_a"))
    refused(L, "not_document_party", "bank_a", "register",
            **{**args, "fields": {**INVOICE, "number": "INV-2"}, "content_hash": h(2)})


# ---------------------------------------------------------------------------- cross-checks


def test_declaration_naming_another_exporter_is_a_mismatch(L: Ledger) -> None:
    trade = register(L, "invoice", INVOICE)["trade_id"]
    other = {**DECLARATION, "exporter": "Borealis Trading Co"}
    r = refused(L, "document_mismatch", "exporter2", "register", doc_type="customs_declaration",
                fields=other, content_hash=h(1), trade_id=trade)
    # registered on its own by its real exporter, it cannot join ACME's trade either
    decl = register(L, "customs_declaration", other, who="exporter2")["doc_id"]
    r = refused(L, "document_mismatch", "exporter2", "link", trade_id=trade, doc_id=decl)
    assert "different exporters" in (r.error_message or "")


def test_declaration_cross_checks_name_the_fields(L: Ledger) -> None:
    trade = register(L, "invoice", INVOICE)["trade_id"]
    r = refused(L, "document_mismatch", "exporter", "register", doc_type="customs_declaration",
                fields={**DECLARATION, "amount": 94_999_99}, content_hash=h(1), trade_id=trade)
    assert r.error_message and r.error_message.endswith(": amount")
    r = refused(L, "document_mismatch", "exporter", "register", doc_type="customs_declaration",
                fields={**DECLARATION, "currency": "HKD"}, content_hash=h(2), trade_id=trade)
    assert r.error_message and r.error_message.endswith(": currency")
    # 5 % below the invoice is inside the tolerance
    register(L, "customs_declaration", {**DECLARATION, "amount": 95_000_00}, trade_id=trade)
    lc_copy = {"issuing_bank": "BANKGB2L", "lc_number": "LC-77", "applicant": "Initech",
               "beneficiary": "ACME Exports Ltd", "amount": 100_000_00, "currency": "USD",
               "expiry_date": "2026-01-31"}
    r = refused(L, "document_mismatch", "exporter", "register", doc_type="letter_of_credit",
                fields=lc_copy, content_hash=h(3), trade_id=trade)
    assert r.error_message and r.error_message.endswith(": applicant")
    # the B/L's shipper must be the registrant, who is the trade's seller
    refused(L, "not_document_party", "exporter", "register", doc_type="bill_of_lading",
            fields={**BILL_OF_LADING, "shipper": "Someone Else"}, content_hash=h(4),
            trade_id=trade)


def test_second_declaration_cannot_join_a_trade(L: Ledger) -> None:
    ids = open_trade(L)
    refused(L, "already_linked", "exporter", "register", doc_type="customs_declaration",
            fields={**DECLARATION, "declaration_number": "CD-2"}, content_hash=h(9),
            trade_id=ids["trade"])
    refused(L, "already_linked", "exporter", "link", trade_id=ids["trade"],
            doc_id=ids["bill_of_lading"])


# ---------------------------------------------------------------------------- pool


def test_invoice_and_declaration_of_one_trade_cannot_be_financed_beyond_the_pool(
        L: Ledger) -> None:
    ids = open_trade(L)  # invoice 100,000.00, attested 98,000.00: pool 98,000.00
    pool = 98_000_00
    r = finance(L, "bank_a", pool * 8 // 10, doc_id=ids["invoice"])
    assert r["remaining"] == pool - pool * 8 // 10
    assert usd(L, "exporter") == pool * 8 // 10 and usd(L, "bank_a") == FUNDS - pool * 8 // 10
    refused(L, "over_financed", "bank_b", "request_financing", doc_id=ids["declaration"],
            amount=pool, currency="USD", maturity_date=MATURITY)
    refused(L, "over_financed", "bank_c", "request_financing", doc_id=ids["bill_of_lading"],
            amount=pool // 5 + 1, currency="USD", maturity_date=MATURITY)
    finance(L, "bank_b", pool // 5, doc_id=ids["declaration"])
    refused(L, "already_financed", "bank_c", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date=MATURITY)
    trade = L.get(T, "trade/" + ids["trade"])
    assert trade["financed"] == pool and len(trade["financings"]) == 2


def test_pool_is_capped_by_the_advance_rate_rounded_down() -> None:
    led = trade_ledger(max_advance_rate_bps=8_333)
    ids = open_trade(led, declared=100_000_01)  # attested above the invoice: invoice caps
    refused(led, "over_financed", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=83_330_01, currency="USD", maturity_date=MATURITY)
    finance(led, "bank_a", 83_330_00, trade_id=ids["trade"])


def test_declaration_cannot_join_a_financed_trade() -> None:
    led = trade_ledger(financing_requires_attestation=False)
    trade = register(led, "invoice", INVOICE)["trade_id"]
    finance(led, "bank_a", 50_000_00, trade_id=trade)
    refused(led, "trade_financed", "exporter", "register", doc_type="customs_declaration",
            fields=DECLARATION, content_hash=h(1), trade_id=trade)


def test_document_outside_a_trade_is_not_financeable(L: Ledger) -> None:
    bl = register(L, "bill_of_lading", BILL_OF_LADING)["doc_id"]
    refused(L, "not_financeable", "bank_a", "request_financing", doc_id=bl, amount=1,
            currency="USD", maturity_date=MATURITY)


def test_financing_without_the_funds_disburses_nothing(L: Ledger) -> None:
    ids = open_trade(L)
    refused(L, "insufficient_funds", "bank_d", "request_financing", trade_id=ids["trade"],
            amount=1000, currency="USD", maturity_date=MATURITY)
    refused(L, "currency_mismatch", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=1000, currency="HKD", maturity_date=MATURITY)
    refused(L, "bad_field", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=1000, currency="USD", maturity_date="2025-01-01")


# ---------------------------------------------------------------------------- customs


def test_financing_before_attestation_is_refused(L: Ledger) -> None:
    ids = open_trade(L, attest=None)
    refused(L, "not_attested", "bank_a", "request_financing", doc_id=ids["invoice"],
            amount=1000, currency="USD", maturity_date=MATURITY)
    refused(L, "forbidden", "bank_a", "attest", doc_id=ids["declaration"], result="match",
            declared_amount=1)
    refused(L, "not_a_declaration", "customs", "attest", doc_id=ids["invoice"],
            result="match", declared_amount=1)
    L.ok("customs", T, "attest", doc_id=ids["declaration"], result="match",
         declared_amount=98_000_00)
    refused(L, "already_attested", "customs", "attest", doc_id=ids["declaration"],
            result="mismatch", declared_amount=1)
    finance(L, "bank_a", 1000, doc_id=ids["invoice"])


def test_trade_without_a_declaration_is_not_attested(L: Ledger) -> None:
    trade = register(L, "invoice", INVOICE)["trade_id"]
    refused(L, "not_attested", "bank_a", "request_financing", trade_id=trade, amount=1,
            currency="USD", maturity_date=MATURITY)


def test_customs_mismatch_stops_financing_even_when_not_required() -> None:
    led = trade_ledger(financing_requires_attestation=False)
    ids = open_trade(led, attest="mismatch")
    refused(led, "not_attested", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date=MATURITY)


# ---------------------------------------------------------------------------- repayment


def test_partial_repayments_pay_the_bank_and_never_free_the_pool(L: Ledger) -> None:
    ids = open_trade(L)
    fin = finance(L, "bank_a", 98_000_00, trade_id=ids["trade"])["financing_id"]
    a0 = usd(L, "bank_a")
    r = L.ok("exporter", T, "repay", financing_id=fin, amount=30_000_00)
    assert r == {"financing_id": fin, "outstanding": 68_000_00, "status": "open"}
    assert usd(L, "bank_a") == a0 + 30_000_00
    assert L.get(T, "trade/" + ids["trade"])["status"] == "financed"
    # the buyer may pay too; nobody else
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("importer"),
         amount=10_000_00)
    L.ok("importer", T, "repay", financing_id=fin, amount=10_000_00)
    refused(L, "forbidden", "exporter2", "repay", financing_id=fin, amount=1)
    refused(L, "over_repaid", "exporter", "repay", financing_id=fin, amount=58_000_01)
    # the pool stays used: repaid money does not make the goods financeable again
    refused(L, "already_financed", "bank_b", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date=MATURITY)
    L.ok("exporter", T, "repay", financing_id=fin, amount=58_000_00)
    assert L.get(T, "fin/" + fin)["status"] == "repaid"
    assert L.get(T, "trade/" + ids["trade"])["status"] == "repaid"
    assert usd(L, "bank_a") == a0 + 98_000_00
    refused(L, "repaid", "exporter", "repay", financing_id=fin, amount=1)


def test_overdue_by_block_time(L: Ledger) -> None:
    ids = open_trade(L)
    fin = finance(L, "bank_a", 50_000_00, trade_id=ids["trade"])["financing_id"]
    refused(L, "not_overdue", "bank_a", "mark_overdue", financing_id=fin)
    L.now_ms = 1_772_323_200_000 - 2000  # 2026-03-01T00:00Z minus 2 s: the last day of maturity
    refused(L, "not_overdue", "bank_a", "mark_overdue", financing_id=fin)
    r = L.ok("bank_b", T, "mark_overdue", financing_id=fin)  # block time now 2026-03-01T00:00Z
    assert r["status"] == "overdue"
    assert L.get(T, "trade/" + ids["trade"])["status"] == "overdue"
    L.ok("exporter", T, "repay", financing_id=fin, amount=20_000_00)
    assert L.get(T, "fin/" + fin)["status"] == "overdue"
    L.ok("exporter", T, "repay", financing_id=fin, amount=30_000_00)
    assert L.get(T, "fin/" + fin)["status"] == "repaid"
    assert L.get(T, "trade/" + ids["trade"])["status"] == "repaid"


# ---------------------------------------------------------------------------- letters of credit


def issue(led: Ledger, trade: str | None = None, **terms: Any) -> str:
    args = {"applicant": led.pk("importer"), "beneficiary": led.pk("exporter"),
            "amount": INVOICE_AMOUNT, "currency": "USD", "expiry_date": "2026-01-31",
            "lc_number": "LC-1", "required_docs": ["invoice", "bill_of_lading"], **terms}
    if trade is not None:
        args["trade_id"] = trade
    return str(led.ok("bank_c", T, "issue_lc", **args)["lc_id"])


def test_financed_invoice_presented_under_an_lc_pays_the_financing_banks_first(
        L: Ledger) -> None:
    ids = open_trade(L)
    fa = finance(L, "bank_a", 60_000_00, doc_id=ids["invoice"])["financing_id"]
    fb = finance(L, "bank_b", 20_000_00, doc_id=ids["declaration"])["financing_id"]
    L.ok("exporter", T, "repay", financing_id=fb, amount=5_000_00)
    lc = issue(L, ids["trade"], partial_drawings=True, required_docs=["packing_list"])
    pl1, pl2 = (register(L, "packing_list", {"exporter": "ACME Exports Ltd", "number": n,
                                             "issue_date": "2025-11-21"},
                         trade_id=ids["trade"])["doc_id"] for n in ("PL-1", "PL-2"))
    a0, b0, c0, e0 = (usd(L, n) for n in ("bank_a", "bank_b", "bank_c", "exporter"))
    pres = L.ok("exporter", T, "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"], pl1],
                amount=70_000_00)["presentation_id"]
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    assert r["payments"] == [
        {"to": L.pk("bank_a"), "amount": 60_000_00, "financing_id": fa},
        {"to": L.pk("bank_b"), "amount": 10_000_00, "financing_id": fb}]
    assert usd(L, "bank_a") == a0 + 60_000_00 and usd(L, "bank_b") == b0 + 10_000_00
    assert usd(L, "exporter") == e0 and usd(L, "bank_c") == c0 - 70_000_00
    assert L.get(T, "fin/" + fa)["status"] == "repaid"
    assert L.get(T, "fin/" + fb)["repaid"] == 15_000_00
    assert L.get(T, "lc/" + lc)["drawn"] == 70_000_00
    # a second drawing repays bank B's rest first, and the remainder reaches the exporter
    pres2 = L.ok("exporter", T, "present", lc_id=lc, doc_ids=[pl2],
                 amount=30_000_00)["presentation_id"]
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres2)
    assert r["payments"] == [
        {"to": L.pk("bank_b"), "amount": 5_000_00, "financing_id": fb},
        {"to": L.pk("exporter"), "amount": 25_000_00, "financing_id": None}]
    assert L.get(T, "trade/" + ids["trade"])["status"] == "repaid"
    assert L.get(T, "lc/" + lc)["status"] == "drawn"


def test_lc_proceeds_beyond_financing_reach_the_exporter(L: Ledger) -> None:
    ids = open_trade(L)
    fa = finance(L, "bank_a", 78_400_00, doc_id=ids["invoice"])["financing_id"]
    lc = issue(L, ids["trade"])
    pres = L.ok("exporter", T, "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                amount=INVOICE_AMOUNT)["presentation_id"]
    e0 = usd(L, "exporter")
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    assert r["payments"] == [{"to": L.pk("bank_a"), "amount": 78_400_00, "financing_id": fa},
                             {"to": L.pk("exporter"), "amount": 21_600_00,
                              "financing_id": None}]
    assert usd(L, "exporter") == e0 + 21_600_00
    assert L.get(T, "trade/" + ids["trade"])["status"] == "repaid"
    assert L.get(T, "lc/" + lc)["status"] == "drawn"
    refused(L, "lc_not_open", "exporter", "present", lc_id=lc, doc_ids=[ids["declaration"]],
            amount=1)


def test_presentation_after_expiry_is_refused(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"])
    L.now_ms = 1_769_904_000_000 - 1000  # 2026-02-01T00:00Z: 2026-01-31 has passed
    refused(L, "lc_expired", "exporter", "present", lc_id=lc,
            doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=1000)


def test_presentation_over_the_tolerance_is_refused(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], amount=95_000_00, tolerance_bps=500)  # up to 99,750.00
    docs = [ids["invoice"], ids["bill_of_lading"]]
    refused(L, "amount_exceeds_lc", "exporter", "present", lc_id=lc, doc_ids=docs,
            amount=99_750_01)
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=docs, amount=99_750_00)


def test_presentation_with_mismatched_parties_is_refused(L: Ledger) -> None:
    ids = open_trade(L)
    # an LC naming another applicant than the invoice's buyer
    lc = L.ok("bank_c", T, "issue_lc", applicant=L.pk("bank_e"),
              beneficiary=L.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
              expiry_date="2026-01-31", lc_number="LC-X")["lc_id"]
    r = refused(L, "document_mismatch", "exporter", "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=1000)
    assert "invoice.buyer" in (r.error_message or "")
    # linking such an LC to the trade is refused as well
    refused(L, "document_mismatch", "bank_c", "issue_lc", applicant=L.pk("bank_e"),
            beneficiary=L.pk("exporter"), amount=1000, currency="USD",
            expiry_date="2026-01-31", lc_number="LC-Y", trade_id=ids["trade"])
    # another exporter's documents under this beneficiary's LC
    lc2 = issue(L, lc_number="LC-2")
    other = register(L, "invoice", {**INVOICE, "seller": "Borealis Trading Co"},
                     who="exporter2")["doc_id"]
    refused(L, "forbidden", "exporter2", "present", lc_id=lc2, doc_ids=[other], amount=1)
    refused(L, "document_mismatch", "exporter", "present", lc_id=lc2,
            doc_ids=[other, ids["bill_of_lading"]], amount=1)


def test_discrepant_presentation_is_refused_then_a_corrected_one_paid(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], required_docs=["invoice"])
    pres = L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]],
                amount=INVOICE_AMOUNT)["presentation_id"]
    refused(L, "forbidden", "bank_a", "refuse_presentation", presentation_id=pres,
            discrepancies=["other"])
    refused(L, "bad_field", "bank_c", "refuse_presentation", presentation_id=pres,
            discrepancies=["looks odd"])
    r = L.ok("bank_c", T, "refuse_presentation", presentation_id=pres,
             discrepancies=["description_mismatch", "amount_mismatch"])
    assert r["discrepancies"] == ["amount_mismatch", "description_mismatch"]
    assert L.get(T, "lc/" + lc)["reserved"] == 0
    refused(L, "presentation_closed", "bank_c", "accept_presentation", presentation_id=pres)
    pres2 = L.ok("exporter", T, "present", lc_id=lc,
                 doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                 amount=INVOICE_AMOUNT)["presentation_id"]
    e0 = usd(L, "exporter")
    L.ok("bank_c", T, "accept_presentation", presentation_id=pres2)
    assert usd(L, "exporter") == e0 + INVOICE_AMOUNT


def test_documents_of_a_pending_presentation_are_in_use(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], required_docs=["invoice"], partial_drawings=True)
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]], amount=1000)
    refused(L, "document_in_use", "exporter", "present", lc_id=lc, doc_ids=[ids["invoice"]],
            amount=1000)


def test_usance_lc_pays_at_maturity(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], usance_days=30)
    pres = L.ok("exporter", T, "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                amount=INVOICE_AMOUNT)["presentation_id"]
    e0 = usd(L, "exporter")
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    assert r["status"] == "accepted" and usd(L, "exporter") == e0
    refused(L, "not_due", "bank_c", "pay_deferred", presentation_id=pres)
    L.now_ms = r["due_ms"] - 1000
    L.ok("bank_c", T, "pay_deferred", presentation_id=pres)
    assert usd(L, "exporter") == e0 + INVOICE_AMOUNT
    refused(L, "presentation_closed", "bank_c", "pay_deferred", presentation_id=pres)


def test_amendment_without_the_beneficiarys_acceptance_has_no_effect(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], amount=50_000_00)
    docs = [ids["invoice"], ids["bill_of_lading"]]
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": INVOICE_AMOUNT})
    assert L.get(T, "lc/" + lc)["amount"] == 50_000_00
    refused(L, "amount_exceeds_lc", "exporter", "present", lc_id=lc, doc_ids=docs,
            amount=INVOICE_AMOUNT)
    refused(L, "forbidden", "exporter2", "accept_amendment", lc_id=lc)
    L.ok("exporter", T, "accept_amendment", lc_id=lc)
    assert L.get(T, "lc/" + lc)["amount"] == INVOICE_AMOUNT
    refused(L, "no_amendment", "exporter", "accept_amendment", lc_id=lc)
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=docs, amount=INVOICE_AMOUNT)


def test_amendment_that_shortens_expiry_applies_only_once_accepted(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"])
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"expiry_date": "2025-11-26"})
    L.now_ms = 1_764_201_600_000  # 2025-11-27T00:00Z
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"], ids["bill_of_lading"]],
         amount=1000)


def test_cancel_needs_the_beneficiarys_consent_while_open(L: Ledger) -> None:
    lc = issue(L)
    refused(L, "consent_required", "bank_c", "cancel_lc", lc_id=lc)
    refused(L, "forbidden", "exporter2", "consent_cancel", lc_id=lc)
    L.ok("exporter", T, "consent_cancel", lc_id=lc)
    L.ok("bank_c", T, "cancel_lc", lc_id=lc)
    assert L.get(T, "lc/" + lc)["status"] == "cancelled"
    refused(L, "lc_not_open", "exporter", "present", lc_id=lc, doc_ids=["00" * 32], amount=1)
    # after expiry no consent is needed
    lc2 = issue(L, lc_number="LC-2")
    L.now_ms = 1_769_904_000_000
    L.ok("bank_c", T, "cancel_lc", lc_id=lc2)


def test_issue_lc_rejections(L: Ledger) -> None:
    base = {"applicant": L.pk("importer"), "beneficiary": L.pk("exporter"), "amount": 1000,
            "currency": "USD", "expiry_date": "2026-01-31", "lc_number": "LC-1"}
    refused(L, "lc_expired", "bank_c", "issue_lc", **{**base, "expiry_date": "2025-01-01"})
    refused(L, "bad_field", "bank_c", "issue_lc",
            **{**base, "amount": 2**63 - 1, "tolerance_bps": 1})
    refused(L, "bad_field", "bank_c", "issue_lc", **{**base, "beneficiary": L.pk("bank_a")})
    refused(L, "unknown_currency", "bank_c", "issue_lc", **{**base, "currency": "EUR"})
    L.ok("bank_c", T, "issue_lc", **base)
    refused(L, "duplicate_lc", "bank_c", "issue_lc", **{**base, "lc_number": "lc 1"})
    L.ok("bank_a", T, "issue_lc", **base)  # another bank's LC-1 is another LC


def test_accept_presentation_is_all_or_nothing(L: Ledger) -> None:
    ids = open_trade(L)
    finance(L, "bank_a", 50_000_00, trade_id=ids["trade"])
    lc = L.ok("bank_e", T, "issue_lc", applicant=L.pk("importer"),
              beneficiary=L.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
              expiry_date="2026-01-31", lc_number="LC-E",
              required_docs=["invoice"])["lc_id"]
    pres = L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]],
                amount=INVOICE_AMOUNT)["presentation_id"]
    refused(L, "insufficient_funds", "bank_e", "accept_presentation", presentation_id=pres)


def test_documents_outside_the_trade_cannot_route_lc_proceeds_around_the_bank(
        L: Ledger) -> None:
    ids = open_trade(L)
    fa = finance(L, "bank_a", 50_000_00, trade_id=ids["trade"])["financing_id"]
    lc = issue(L, ids["trade"], required_docs=["packing_list"])
    loose = register(L, "packing_list", {"exporter": "ACME Exports Ltd", "number": "PL-9",
                                         "issue_date": "2025-11-21"})["doc_id"]
    pres = L.ok("exporter", T, "present", lc_id=lc, doc_ids=[loose],
                amount=60_000_00)["presentation_id"]
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    assert r["payments"][0] == {"to": L.pk("bank_a"), "amount": 50_000_00, "financing_id": fa}


def test_closed_invoice_closes_its_trade_to_financing() -> None:
    led = trade_ledger(financing_requires_attestation=False)
    inv = register(led, "invoice", INVOICE)
    led.ok("exporter", T, "close", doc_id=inv["doc_id"])
    refused(led, "document_closed", "bank_a", "request_financing", trade_id=inv["trade_id"],
            amount=1, currency="USD", maturity_date=MATURITY)
