"""Red-team round 3 over "one trade is financed only once, however its documents are dressed up"
(decision 139): letters of credit and financing of one trade, across products and paths.

Findings (each test fails on the code before decision 139):

* F1 -- what a trade's letters of credit paid the exporter did not count against its pool: a
  bank financed the whole pool of a trade whose receivable the LC had already paid (the exporter
  was paid twice for one sale), by ``accept_presentation`` or ``claim_honour``.
* F2 -- a document presented under an LC in no trade (its proceeds go to the exporter) could
  join a trade afterwards, which a bank then financed against it.
* F3 -- a presentation made while its LC was in no trade was paid to the exporter even after the
  LC had joined a trade (the beneficiary's copy registered there) that a bank financed.

The other tests pin what was checked and found sound, and the limits docs/contracts.md
documents ("What duplicate detection does not see").
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from contracts.trade.view import trade_report
from tests.unit.test_contract_lc_deadlines import NEXT_THURSDAY_ENDS, THURSDAY, at, day
from tests.unit.test_contract_trade_documents_duplicates import LC_COPY, _bic_bank, _issue
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.trade_cases import (
    BILL_OF_LADING,
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

POOL = 98_000_00  # the declaration's attested amount caps open_trade's pool


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def usd(led: Ledger, who: str) -> int:
    return led.balance(who, "USD")


def fin_tx(led: Ledger, bank: str, trade: str, amount: int) -> Any:
    return led.make_tx(bank, T, "request_financing", {
        "trade_id": trade, "amount": amount, "currency": "USD", "maturity_date": MATURITY})


def packing_list(led: Ledger, number: str, trade: str | None = None) -> str:
    extra = {} if trade is None else {"trade_id": trade}
    return str(register(led, "packing_list", {"exporter": "ACME Exports Ltd", "number": number,
                                               "issue_date": "2025-11-21"}, **extra)["doc_id"])


def present(led: Ledger, lc: str, docs: list[str], amount: int) -> str:
    return str(led.ok("exporter", T, "present", lc_id=lc, doc_ids=docs,
                      amount=amount)["presentation_id"])


# ---------------------------------------------------------------------------- F1


def test_f1_a_trade_its_lc_paid_the_exporter_for_is_not_financed_again(L: Ledger) -> None:
    """The LC paid the sale in full to the exporter; bank A then financed the same trade's whole
    pool (USD 98,000 more for a USD 100,000 sale)."""
    ids = open_trade(L)
    lc = issue(L, ids["trade"])
    pres = present(L, lc, [ids["invoice"], ids["bill_of_lading"]], INVOICE_AMOUNT)
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    assert r["payments"] == [{"to": L.pk("exporter"), "amount": INVOICE_AMOUNT,
                              "financing_id": None}]
    e = refused(L, "already_financed", "bank_a", "request_financing", trade_id=ids["trade"],
                amount=POOL, currency="USD", maturity_date=MATURITY)
    assert "letters of credit" in (e.error_message or "")
    refused(L, "already_financed", "bank_b", "request_financing", doc_id=ids["declaration"],
            amount=1, currency="USD", maturity_date=MATURITY)


def test_f1_a_partial_drawing_paid_to_the_exporter_leaves_the_rest_of_the_pool(
        L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], partial_drawings=True, required_docs=["packing_list"])
    pres = present(L, lc, [packing_list(L, "PL-1", ids["trade"])], 30_000_00)
    L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    refused(L, "over_financed", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=POOL - 30_000_00 + 1, currency="USD", maturity_date=MATURITY)
    f = finance(L, "bank_a", POOL - 30_000_00, trade_id=ids["trade"])
    assert f["remaining"] == 0
    # the next drawing repays bank A first
    pres2 = present(L, lc, [packing_list(L, "PL-2", ids["trade"])], 70_000_00)
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pres2)
    assert r["payments"] == [
        {"to": L.pk("bank_a"), "amount": POOL - 30_000_00, "financing_id": f["financing_id"]},
        {"to": L.pk("exporter"), "amount": 2_000_00, "financing_id": None}]
    # the exporter received the sale once: 30,000 + 68,000 + 2,000
    rep = trade_report(lambda k: L.get(T, k), ids["trade"], L.now_ms)
    assert rep["lc_paid_out"] == 32_000_00 and rep["remaining"] == 0


def test_f1_honour_claimed_after_the_deadline_counts_against_the_pool_too(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"])
    at(L, day(THURSDAY) + 3600_000)
    pres = present(L, lc, [ids["invoice"], ids["bill_of_lading"]], INVOICE_AMOUNT)
    at(L, NEXT_THURSDAY_ENDS)
    # the claim and a financing in one block, in either order: the receivable is paid once
    res = L.block([L.make_tx("exporter", T, "claim_honour", {"presentation_id": pres}),
                   fin_tx(L, "bank_a", ids["trade"], POOL)])
    assert [(r.status, r.error_code) for r in res.receipts] == [
        ("committed", None), ("rejected", "already_financed")]


def test_f1_an_lc_that_paid_before_joining_the_trade_counts_against_its_pool() -> None:
    """The LC paid the exporter on documents in no trade; its beneficiary then registered the
    LC's copy in the trade (attaching the LC to it) and had the trade financed."""
    L = trade_ledger()
    _bic_bank(L, "bkch", "BKCHUS33XXX")
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bkch"), amount=FUNDS)
    lc = _issue(L, "bkch", required_docs=["packing_list"]).result["lc_id"]
    pres = present(L, lc, [packing_list(L, "PL-1")], INVOICE_AMOUNT)
    L.ok("bkch", T, "accept_presentation", presentation_id=pres)
    ids = open_trade(L)
    register(L, "letter_of_credit", LC_COPY, trade_id=ids["trade"])
    assert L.get(T, "trade/" + ids["trade"])["lcs"] == [lc]
    refused(L, "already_financed", "bank_a", "request_financing", trade_id=ids["trade"],
            amount=POOL, currency="USD", maturity_date=MATURITY)


# ---------------------------------------------------------------------------- F2


def test_f2_a_document_presented_under_an_lc_in_no_trade_joins_no_trade(L: Ledger) -> None:
    """The B/L was presented under an LC in no trade (proceeds to the exporter), then linked
    into the exporter's trade, which bank A financed against it: the payment bypassed A."""
    inv = register(L, "invoice", INVOICE)
    trade = inv["trade_id"]
    bl = register(L, "bill_of_lading", BILL_OF_LADING)["doc_id"]
    lc = issue(L, None, required_docs=["bill_of_lading"])
    pres = present(L, lc, [bl], INVOICE_AMOUNT)
    refused(L, "document_in_use", "exporter", "link", trade_id=trade, doc_id=bl)
    L.ok("bank_c", T, "accept_presentation", presentation_id=pres)
    refused(L, "document_in_use", "exporter", "link", trade_id=trade, doc_id=bl)


def test_f2_a_refused_presentation_frees_the_document_to_join_a_trade(L: Ledger) -> None:
    inv = register(L, "invoice", INVOICE)
    bl = register(L, "bill_of_lading", BILL_OF_LADING)["doc_id"]
    lc = issue(L, None, required_docs=["bill_of_lading"])
    pres = present(L, lc, [bl], INVOICE_AMOUNT)
    L.ok("bank_c", T, "refuse_presentation", presentation_id=pres, discrepancies=["other"])
    L.ok("exporter", T, "link", trade_id=inv["trade_id"], doc_id=bl)


def test_f2_a_document_presented_for_a_trade_may_join_that_trade(L: Ledger) -> None:
    inv = register(L, "invoice", INVOICE)
    bl = register(L, "bill_of_lading", BILL_OF_LADING)["doc_id"]
    lc = issue(L, inv["trade_id"], required_docs=["bill_of_lading"])
    pres = present(L, lc, [bl], INVOICE_AMOUNT)
    assert L.get(T, "pres/" + pres)["trade_id"] == inv["trade_id"]
    L.ok("exporter", T, "link", trade_id=inv["trade_id"], doc_id=bl)


# ---------------------------------------------------------------------------- F3


def test_f3_a_pending_presentation_pays_the_trade_its_lc_joined_since() -> None:
    """Documents in no trade presented; the beneficiary's LC copy then attached the LC to its
    trade; bank A financed that trade (its report listing the LC); the bank accepted: the
    proceeds went to the exporter, none to A."""
    L = trade_ledger()
    _bic_bank(L, "bkch", "BKCHUS33XXX")
    L.ok("usd_issuer", "settlement", "issue", currency="USD", to=L.pk("bkch"), amount=FUNDS)
    lc = _issue(L, "bkch", required_docs=["packing_list"]).result["lc_id"]
    ids = open_trade(L)
    pres = present(L, lc, [packing_list(L, "PL-1")], INVOICE_AMOUNT)
    register(L, "letter_of_credit", LC_COPY, trade_id=ids["trade"])
    assert L.get(T, "lc/" + lc)["trade_id"] == ids["trade"]
    f = finance(L, "bank_a", POOL, trade_id=ids["trade"])
    a0 = usd(L, "bank_a")
    r = L.ok("bkch", T, "accept_presentation", presentation_id=pres)
    assert r["payments"] == [
        {"to": L.pk("bank_a"), "amount": POOL, "financing_id": f["financing_id"]},
        {"to": L.pk("exporter"), "amount": 2_000_00, "financing_id": None}]
    assert usd(L, "bank_a") == a0 + POOL
    assert L.get(T, "pres/" + pres)["trade_id"] == ids["trade"]
    assert L.get(T, "fin/" + f["financing_id"])["status"] == "repaid"


# ---------------------------------------------------------------------------- sound


def test_two_banks_financing_one_pool_in_one_block(L: Ledger) -> None:
    ids = open_trade(L)
    res = L.block([fin_tx(L, "bank_a", ids["trade"], 60_000_00),
                   fin_tx(L, "bank_b", ids["trade"], 60_000_00),
                   fin_tx(L, "bank_c", ids["trade"], POOL - 60_000_00)])
    assert [(r.status, r.error_code) for r in res.receipts] == [
        ("committed", None), ("rejected", "over_financed"), ("committed", None)]
    assert L.get(T, "trade/" + ids["trade"])["financed"] == POOL


def test_a_duplicate_registered_in_the_block_of_a_financing_is_refused(L: Ledger) -> None:
    ids = open_trade(L)
    copy = {**INVOICE, "number": "INV 2025 0001", "buyer": "Globex Corporation"}
    res = L.block([fin_tx(L, "bank_a", ids["trade"], POOL),
                   L.make_tx("exporter", T, "register", {
                       "doc_type": "invoice", "fields": copy, "content_hash": h("copy")})])
    assert [(r.status, r.error_code) for r in res.receipts] == [
        ("committed", None), ("rejected", "duplicate_document")]


def test_f1_an_increase_accepted_in_the_block_of_a_claim_repays_the_banks_first(
        L: Ledger) -> None:
    ids = open_trade(L)
    f = finance(L, "bank_a", 60_000_00, trade_id=ids["trade"])
    lc = issue(L, ids["trade"], partial_drawings=True, tolerance_bps=500,
               required_docs=["packing_list"])
    at(L, day(THURSDAY) + 3600_000)
    pres = present(L, lc, [packing_list(L, "PL-1", ids["trade"])], 105_000_00)  # + 5 %
    refused(L, "amount_exceeds_lc", "exporter", "present", lc_id=lc,
            doc_ids=[packing_list(L, "PL-2", ids["trade"])], amount=1)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 200_000_00})
    at(L, NEXT_THURSDAY_ENDS)
    res = L.block([L.make_tx("exporter", T, "accept_amendment", {"lc_id": lc}),
                   L.make_tx("exporter", T, "claim_honour", {"presentation_id": pres})])
    assert all(r.status == "committed" for r in res.receipts)
    assert res.receipts[1].result["payments"][0] == {
        "to": L.pk("bank_a"), "amount": 60_000_00, "financing_id": f["financing_id"]}
    # the increase: 210,000 in all with the tolerance, 105,000 drawn
    pl3 = packing_list(L, "PL-3", ids["trade"])
    refused(L, "amount_exceeds_lc", "exporter", "present", lc_id=lc, doc_ids=[pl3],
            amount=105_000_00 + 1)
    # and the trade's pool is spent: 60,000 financed + 45,000 paid to the exporter > 98,000
    refused(L, "already_financed", "bank_b", "request_financing", trade_id=ids["trade"],
            amount=1, currency="USD", maturity_date=MATURITY)


def test_documents_refused_under_one_lc_repay_the_banks_under_another(L: Ledger) -> None:
    ids = open_trade(L)
    f = finance(L, "bank_a", POOL, trade_id=ids["trade"])
    lc1 = issue(L, None)
    pres = present(L, lc1, [ids["invoice"], ids["bill_of_lading"]], INVOICE_AMOUNT)
    L.ok("bank_c", T, "refuse_presentation", presentation_id=pres, discrepancies=["other"])
    lc2 = L.ok("bank_b", T, "issue_lc", applicant=L.pk("importer"),
               beneficiary=L.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
               expiry_date="2026-01-31", lc_number="LC-2")["lc_id"]
    pres2 = present(L, lc2, [ids["invoice"]], INVOICE_AMOUNT)
    r = L.ok("bank_b", T, "accept_presentation", presentation_id=pres2)
    assert r["payments"][0] == {"to": L.pk("bank_a"), "amount": POOL,
                                "financing_id": f["financing_id"]}
    assert L.get(T, "trade/" + ids["trade"])["lcs"] == sorted([lc1, lc2])


# ---------------------------------------------------------------------------- documented limits


@pytest.mark.parametrize("change", [
    {"buyer": "Глобекс Корп"},          # the buyer transliterated: not a look-alike
    {"currency": "CNY"},                 # the same goods invoiced in another currency
    {"issue_date": "2025-11-24"},        # four days later
    {"amount": INVOICE_AMOUNT * 103 // 100},  # 3 % more
])
def test_a_renumbered_invoice_outside_the_similarity_window_opens_a_trade(
        change: dict[str, Any]) -> None:
    """docs/contracts.md, "What duplicate detection does not see": a second invoice for the same
    goods under a new number is caught by the shipment's own documents (one B/L, one
    declaration per trade; customs attests its declarations), not by the ledger's similarity
    check once it differs beyond its window."""
    L = trade_ledger()
    open_trade(L)
    r = L.tx("exporter", T, "register", doc_type="invoice",
             fields={**INVOICE, "number": "INV-2025-901", **change}, content_hash=h(change))
    assert r.status == "committed"
    # but the trade's B/L and declaration stay in the first trade
    refused(L, "duplicate_document", "exporter", "register", doc_type="bill_of_lading",
            fields={**BILL_OF_LADING, "bl_number": "MAEU 0778899"}, content_hash=h("bl2"),
            trade_id=r.result["trade_id"])
