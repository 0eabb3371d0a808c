"""Decision 223: every refusal that states an amount says it with its currency's decimals and
the minor units labelled, through one helper (:func:`contracts.amounts.said`): a message said
``insufficient funds: USD balance 1000 < 1500``, ``only 3000000 USD is available under the
LC``, which a desk reads in dollars. One refusal per contract, in currencies of exponent 0
(JPY), 2 (USD) and 3 (BHD)."""

from __future__ import annotations

from typing import Any

from chainfin.execution import DictState
from contracts.amounts import money, said
from contracts.testing import Ledger
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    MATURITY,
    T,
    h,
    register,
    trade_ledger,
)

S, R, G = "settlement", "risk", "governance"


def test_said_gives_the_currencys_decimals_then_the_minor_units() -> None:
    state = Ledger().state
    assert said(state, 3_000_000, "USD") == "USD 30,000.00 (3000000 minor units)"
    assert said(state, 1_234_567, "JPY") == "JPY 1,234,567 (1234567 minor units)"
    assert said(state, 1_250, "BHD") == "BHD 1.250 (1250 minor units)"
    # a currency the network does not know (a limit may name one first): minor units only
    assert said(state, 1_500, "XAU") == "1500 minor units of XAU"
    assert said(DictState({}), 7, "USD") == "7 minor units of USD"
    assert money(123_450, "KWD", 3) == "KWD 123.450" and money(None, "USD") == "-"


def _two(ccy: str, amount: int) -> Ledger:
    L = Ledger()
    issuer = "jpy_issuer" if ccy == "JPY" else "usd_issuer"
    L.ok(issuer, S, "issue", currency=ccy, to=L.pk("importer"), amount=amount)
    return L


def test_settlement_insufficient_funds_says_the_balance_and_the_payment() -> None:
    for ccy, have, want, says in (
            ("JPY", 1_000, 1_500, "the JPY balance, JPY 1,000 (1000 minor units), is below "
                                  "JPY 1,500 (1500 minor units)"),
            ("USD", 1_000, 1_500, "the USD balance, USD 10.00 (1000 minor units), is below "
                                  "USD 15.00 (1500 minor units)"),
            ("BHD", 1_000, 1_500, "the BHD balance, BHD 1.000 (1000 minor units), is below "
                                  "BHD 1.500 (1500 minor units)")):
        L = _two(ccy, have)
        r = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency=ccy, amount=want)
        assert r.error_code == "insufficient_funds" and r.error_message == (
            "insufficient funds: " + says), r.error_message


def test_risk_limits_say_the_maximum_and_the_payment_in_the_rules_currency() -> None:
    L = _two("BHD", 10_000)
    L.ok("regulator", R, "set_limit", subject=L.pk("importer"), kind="max_per_tx", currency="BHD",
         max=2_500, rule_id="cap")
    r = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="BHD", amount=2_501)
    assert r.error_code == "limit_exceeded" and r.error_message == (
        "limit cap (max_per_tx, max BHD 2.500 (2500 minor units)): BHD 2.501 (2501 minor "
        "units) in one payment"), r.error_message
    L = _two("JPY", 10_000)
    L.ok("regulator", R, "set_limit", subject=L.pk("importer"), kind="window_outflow",
         currency="JPY", max=5_000, window_s=3600, rule_id="hourly")
    assert L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="JPY",
                amount=4_000).ok
    r = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="JPY", amount=1_001)
    assert r.error_code == "limit_exceeded" and r.error_message == (
        "limit hourly (window_outflow, max JPY 5,000 (5000 minor units)): JPY 4,000 (4000 "
        "minor units) + JPY 1,001 (1001 minor units) paid within 3600 s"), r.error_message
    # a velocity rule counts payments, not money: its maximum stays a count
    L.ok("regulator", R, "set_limit", subject=L.pk("importer"), kind="velocity",
         currency="*", max=1, window_s=3600, rule_id="one")
    assert L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="JPY", amount=1).ok
    r = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="JPY", amount=1)
    assert r.error_code == "limit_exceeded" and r.error_message.startswith("limit one (velocity, max 1): 2 payments"), r.error_message


def _jpy_trade() -> tuple[Ledger, str, str]:
    """A trade invoiced in JPY 10,000,000 (exponent 0), its pool JPY 9,800,000; bank_a holds
    JPY. Returns the ledger, the trade and its invoice."""
    L = trade_ledger()
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("bank_a"), amount=50_000_000)
    inv = register(L, "invoice", dict(INVOICE, amount=10_000_000, currency="JPY"))
    decl = register(L, "customs_declaration", dict(DECLARATION, amount=9_800_000,
                                                   currency="JPY"), trade_id=inv["trade_id"])
    register(L, "bill_of_lading", BILL_OF_LADING, trade_id=inv["trade_id"])
    L.ok("customs", T, "attest", doc_id=decl["doc_id"], result="match",
         declared_amount=9_800_000)
    return L, inv["trade_id"], inv["doc_id"]


def _finance(L: Ledger, amount: int, doc: str) -> Any:
    return L.tx("bank_a", T, "request_financing", doc_id=doc, amount=amount, currency="JPY",
                maturity_date=MATURITY)


def test_trade_financing_refusals_say_the_pool_and_the_outstanding_in_yen() -> None:
    L, _, inv = _jpy_trade()
    r = _finance(L, 9_800_001, inv)
    assert r.error_code == "over_financed" and r.error_message == (
        "only JPY 9,800,000 (9800000 minor units) of the trade's pool remains to finance, not "
        "JPY 9,800,001 (9800001 minor units)"), r.error_message
    fin = _finance(L, 3_000_000, inv).result["financing_id"]
    r = L.tx("exporter", T, "repay", financing_id=fin, amount=3_000_001)
    assert r.error_code == "over_repaid" and r.error_message == (
        "only JPY 3,000,000 (3000000 minor units) is outstanding, not JPY 3,000,001 (3000001 "
        "minor units)"), r.error_message


def test_an_lc_refusal_says_what_is_available_with_the_currencys_decimals() -> None:
    """The walk-through's LC message: ``only 3000000 USD is available under the LC``."""
    for ccy, says in (("USD", "only USD 30,000.00 (3000000 minor units) is available under the "
                              "LC (tolerance included), not USD 30,000.01 (3000001 minor units)"),
                      ("BHD", "only BHD 3,000.000 (3000000 minor units) is available under "
                              "the LC (tolerance included), not BHD 3,000.001 (3000001 minor "
                              "units)")):
        L = trade_ledger()
        lc = L.ok("bank_c", T, "issue_lc", applicant=L.pk("importer"),
                  beneficiary=L.pk("exporter"), amount=3_000_000, currency=ccy,
                  expiry_date="2026-01-31", lc_number="LC-" + ccy,
                  required_docs=["invoice"])["lc_id"]
        r = L.tx("exporter", T, "present", lc_id=lc, doc_ids=[h("no document")],
                 amount=3_000_001)
        assert r.error_code == "amount_exceeds_lc" and r.error_message == says, r.error_message


def test_an_lc_amendment_below_the_drawn_and_a_drawing_above_the_invoices_say_the_amounts(
        ) -> None:
    """Decision 226: the two LC refusals that named no amount (``the amended amount is below
    what is already drawn``, ``the drawing is above the invoices presented``) say both."""
    from tests.unit.trade_cases import open_trade

    L = trade_ledger()
    ids = open_trade(L)
    lc = L.ok("bank_c", T, "issue_lc", applicant=L.pk("importer"), beneficiary=L.pk("exporter"),
              amount=150_000_00, currency="USD", expiry_date="2026-01-31", lc_number="LC-9",
              tolerance_bps=500, required_docs=["invoice"], partial_drawings=True,
              trade_id=ids["trade"])["lc_id"]
    r = L.tx("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]], amount=100_000_01)
    assert r.error_code == "document_mismatch" and r.error_message == (
        "the drawing, USD 100,000.01 (10000001 minor units), is above the invoices presented, "
        "USD 100,000.00 (10000000 minor units)"), r.error_message
    L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]], amount=60_000_00)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 50_000_00})
    r = L.tx("exporter", T, "accept_amendment", lc_id=lc)
    assert r.error_code == "amount_exceeds_lc" and r.error_message == (
        "the amended amount, USD 50,000.00 (5000000 minor units), with its tolerance USD "
        "52,500.00 (5250000 minor units), is below what is already drawn or presented, USD "
        "60,000.00 (6000000 minor units)"), r.error_message
