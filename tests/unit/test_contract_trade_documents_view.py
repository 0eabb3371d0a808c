"""``chainfin trade show``'s rendering over a ledger's records: documents, attestation, pool,
financings (overdue by the block time it is given), LC drawings with discrepancies and payees."""

from __future__ import annotations

from contracts.trade.view import money, render, trade_report
from tests.unit.trade_cases import INVOICE_AMOUNT, T, finance, open_trade, trade_ledger


def test_money_is_integer_formatting() -> None:
    assert money(123450, "USD") == "USD 1,234.50"
    assert money(5, "JPY", 0) == "JPY 5"
    assert money(1, "KWD", 3) == "KWD 0.001"


def test_trade_report_shows_pool_financings_and_drawings() -> None:
    led = trade_ledger()
    ids = open_trade(led)
    fid = finance(led, "bank_a", 50_000_00, trade_id=ids["trade"])["financing_id"]
    lc = led.ok("bank_c", T, "issue_lc", applicant=led.pk("importer"),
                beneficiary=led.pk("exporter"), amount=INVOICE_AMOUNT, currency="USD",
                expiry_date="2026-01-31", lc_number="LC-1", required_docs=["invoice"],
                trade_id=ids["trade"])["lc_id"]
    p1 = led.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]],
                amount=60_000_00)["presentation_id"]
    led.ok("bank_c", T, "refuse_presentation", presentation_id=p1,
           discrepancies=["late_presentation"])

    def fetch(key: str) -> object:
        return led.get(T, key)

    rep = trade_report(fetch, ids["trade"], now_ms=led.now_ms,
                       params=led.get("governance", "params"))
    assert rep["pool"] == 98_000_00 and rep["remaining"] == 48_000_00
    text = render(rep)
    assert "customs: attested match" in text and "pool: USD 98,000.00" in text
    assert f"{fid[:16]}…" in text and "matures 2026-02-28  open" in text
    assert "refused discrepancies late_presentation" in text
    # the same records read after the maturity date: overdue, computed from block time
    late = trade_report(fetch, ids["trade"], now_ms=1_772_323_200_000)
    assert late["financings"][fid]["status_now"] == "overdue"
