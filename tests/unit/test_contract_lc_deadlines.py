"""Letters of credit under UCP 600's clock (decision 138): the issuing bank examines a
presentation for at most five banking days following the day of presentation (art. 14 b), refuses
by the close of the fifth (art. 16 d) or is precluded and must honour (art. 16 f), which the
beneficiary may then claim; and a consent to cancel is for one cancellation: it lapses.

Block time is the test's: the next block is stamped ``L.now_ms + 1000`` (:func:`at` sets it)."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import codec
from chainfin.execution import storage_key
from contracts.testing import Ledger
from contracts.trade.letters_of_credit import CANCEL_CONSENT_DAYS
from contracts.trade.state import DAY_MS, end_of_day_ms, examination_deadline_ms
from contracts.trade.view import render, trade_report
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.trade_cases import INVOICE_AMOUNT, T, finance, open_trade, refused, trade_ledger


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def usd(led: Ledger, who: str) -> int:
    return led.balance(who, "USD")


def day(iso: str) -> int:
    """Block time at the start (00:00 UTC) of ``iso``."""
    return end_of_day_ms(iso) - DAY_MS


def at(led: Ledger, ms: int) -> None:
    """The next block is stamped ``ms``."""
    led.now_ms = ms - 1000


def events(led: Ledger) -> list[str]:
    assert led.last is not None
    return [e.name for e in led.last.events]


THURSDAY, SATURDAY = "2025-12-04", "2025-12-06"
NEXT_THURSDAY_ENDS = end_of_day_ms("2025-12-11")  # Fri 5, Mon 8, Tue 9, Wed 10, Thu 11


def presented(led: Ledger, when: int, financed: int = 0, **terms: Any) -> dict[str, Any]:
    """A trade (its invoice financed by bank A for ``financed``), an LC of bank C for it, and the
    invoice and B/L presented at block time ``when``. Returns the ids."""
    ids: dict[str, Any] = open_trade(led)
    if financed:
        ids["financing"] = finance(led, "bank_a", financed, doc_id=ids["invoice"])["financing_id"]
    ids["lc"] = issue(led, ids["trade"], **terms)
    at(led, when)
    r = led.ok("exporter", T, "present", lc_id=ids["lc"],
               doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=INVOICE_AMOUNT)
    ids["presentation"], ids["presented"] = r["presentation_id"], r
    return ids


# ---------------------------------------------------------------------------- the deadline


@pytest.mark.parametrize(("presented_on", "last"), [
    ("2025-12-04", "2025-12-11"),  # Thursday: Fri, Mon, Tue, Wed, Thu
    ("2025-12-05", "2025-12-12"),  # Friday: Mon .. Fri
    ("2025-12-06", "2025-12-12"),  # Saturday: the day of presentation is no banking day
    ("2025-12-07", "2025-12-12"),  # Sunday
    ("2025-12-08", "2025-12-15"),  # Monday: Tue .. Fri, Mon
])
def test_the_deadline_closes_the_fifth_banking_day_after_the_day_of_presentation(
        presented_on: str, last: str) -> None:
    start = day(presented_on)
    for ms in (start, start + 12 * 3600_000, start + DAY_MS - 1):
        assert examination_deadline_ms(ms) == end_of_day_ms(last)


def test_a_presentation_records_its_deadline(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY) + 3600_000)
    pres = L.get(T, "pres/" + ids["presentation"])
    assert pres["examination_deadline_ms"] == NEXT_THURSDAY_ENDS
    assert ids["presented"]["examine_by"] == "2025-12-11"
    assert ids["presented"]["examination_deadline_ms"] == NEXT_THURSDAY_ENDS
    assert L.last is not None
    assert L.last.events[0].data["examination_deadline_ms"] == NEXT_THURSDAY_ENDS


def test_a_presentation_on_a_saturday_is_examined_through_the_friday_after() -> None:
    led = trade_ledger()
    ids = presented(led, day(SATURDAY) + 10 * 3600_000)
    assert led.get(T, "pres/" + ids["presentation"])["examination_deadline_ms"] == \
        end_of_day_ms("2025-12-12")


# ---------------------------------------------------------------------------- refusal


@pytest.mark.parametrize("late_by", [-1000, -1])
def test_a_refusal_by_the_close_of_the_fifth_banking_day_stands(late_by: int) -> None:
    led = trade_ledger()
    ids = presented(led, day(THURSDAY) + 3600_000)
    at(led, NEXT_THURSDAY_ENDS + late_by)
    r = led.ok("bank_c", T, "refuse_presentation", presentation_id=ids["presentation"],
               discrepancies=["description_mismatch"])
    assert r["status"] == "refused"


@pytest.mark.parametrize("late_by", [0, 1, 40 * DAY_MS])
def test_a_refusal_after_the_deadline_is_too_late(late_by: int) -> None:
    led = trade_ledger()
    ids = presented(led, day(THURSDAY) + 3600_000)
    at(led, NEXT_THURSDAY_ENDS + late_by)  # 0: the first ms after Thursday 2025-12-11
    r = refused(led, "refusal_too_late", "bank_c", "refuse_presentation",
                presentation_id=ids["presentation"], discrepancies=["other"])
    assert "2025-12-11" in (r.error_message or "")
    # the issuing bank may still honour late
    e0 = usd(led, "exporter")
    assert led.ok("bank_c", T, "accept_presentation",
                  presentation_id=ids["presentation"])["status"] == "paid"
    assert usd(led, "exporter") == e0 + INVOICE_AMOUNT


# ---------------------------------------------------------------------------- claim_honour


def test_honour_claimed_after_the_deadline_pays_the_financing_banks_first(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY) + 3600_000, financed=60_000_00)
    pres = ids["presentation"]
    at(L, NEXT_THURSDAY_ENDS - 1)  # the bank's last millisecond
    r = refused(L, "not_due", "exporter", "claim_honour", presentation_id=pres)
    assert "2025-12-11" in (r.error_message or "")
    a0, c0, e0 = usd(L, "bank_a"), usd(L, "bank_c"), usd(L, "exporter")
    at(L, NEXT_THURSDAY_ENDS)
    r2 = L.ok("exporter", T, "claim_honour", presentation_id=pres)
    assert events(L)[:1] == ["honour_claimed"] and "presentation_paid" in events(L)
    assert r2["status"] == "paid"
    assert r2["payments"] == [
        {"to": L.pk("bank_a"), "amount": 60_000_00, "financing_id": ids["financing"]},
        {"to": L.pk("exporter"), "amount": 40_000_00, "financing_id": None}]
    assert usd(L, "bank_a") == a0 + 60_000_00 and usd(L, "exporter") == e0 + 40_000_00
    assert usd(L, "bank_c") == c0 - INVOICE_AMOUNT
    assert L.get(T, "fin/" + ids["financing"])["status"] == "repaid"
    lc = L.get(T, "lc/" + ids["lc"])
    assert lc["drawn"] == INVOICE_AMOUNT and lc["reserved"] == 0 and lc["status"] == "drawn"
    rec = L.get(T, "pres/" + pres)
    assert rec["status"] == "paid" and rec["claimed"]["timestamp_ms"] == NEXT_THURSDAY_ENDS
    # decided: neither a late refusal nor a second claim
    refused(L, "presentation_closed", "bank_c", "refuse_presentation", presentation_id=pres,
            discrepancies=["other"])
    refused(L, "presentation_closed", "exporter", "claim_honour", presentation_id=pres)


def test_honour_claimed_under_a_usance_lc_records_the_deferred_obligation(L: Ledger) -> None:
    ids = presented(L, day(SATURDAY), usance_days=30)
    e0 = usd(L, "exporter")
    at(L, end_of_day_ms("2025-12-12"))
    r = L.ok("exporter", T, "claim_honour", presentation_id=ids["presentation"])
    assert r == {"presentation_id": ids["presentation"], "status": "accepted",
                 "due_ms": end_of_day_ms("2025-12-12") + 30 * DAY_MS}
    assert events(L) == ["honour_claimed", "presentation_accepted"]
    assert usd(L, "exporter") == e0
    assert L.get(T, "lc/" + ids["lc"])["drawn"] == INVOICE_AMOUNT
    refused(L, "presentation_closed", "exporter", "claim_honour",
            presentation_id=ids["presentation"])
    at(L, r["due_ms"])
    L.ok("bank_c", T, "pay_deferred", presentation_id=ids["presentation"])
    assert usd(L, "exporter") == e0 + INVOICE_AMOUNT


def test_only_the_beneficiary_claims_honour(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY))
    at(L, NEXT_THURSDAY_ENDS + DAY_MS)
    refused(L, "forbidden", "exporter2", "claim_honour", presentation_id=ids["presentation"])
    refused(L, "forbidden", "bank_c", "claim_honour", presentation_id=ids["presentation"])
    refused(L, "forbidden", "importer", "claim_honour", presentation_id=ids["presentation"])
    refused(L, "unknown_presentation", "exporter", "claim_honour", presentation_id="00" * 32)


@pytest.mark.parametrize("decision", ["refuse", "accept"])
def test_a_presentation_decided_in_time_cannot_be_claimed(decision: str) -> None:
    led = trade_ledger()
    ids = presented(led, day(THURSDAY), usance_days=30 if decision == "accept" else 0)
    if decision == "refuse":
        led.ok("bank_c", T, "refuse_presentation", presentation_id=ids["presentation"],
               discrepancies=["other"])
    else:
        led.ok("bank_c", T, "accept_presentation", presentation_id=ids["presentation"])
    at(led, NEXT_THURSDAY_ENDS + DAY_MS)
    r = refused(led, "presentation_closed", "exporter", "claim_honour",
                presentation_id=ids["presentation"])
    assert ("refused" if decision == "refuse" else "accepted") in (r.error_message or "")


def test_a_claim_the_bank_cannot_fund_changes_nothing(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY))
    bal = usd(L, "bank_c")
    L.ok("bank_c", "settlement", "transfer", to=L.pk("bank_b"), currency="USD", amount=bal)
    at(L, NEXT_THURSDAY_ENDS)
    refused(L, "insufficient_funds", "exporter", "claim_honour",
            presentation_id=ids["presentation"])
    # still presented, and the refusal stays barred
    assert L.get(T, "pres/" + ids["presentation"])["status"] == "presented"
    refused(L, "refusal_too_late", "bank_c", "refuse_presentation",
            presentation_id=ids["presentation"], discrepancies=["other"])


def _as_before_deadlines(led: Ledger, pres: str) -> None:
    rec = led.get(T, "pres/" + pres)
    del rec["examination_deadline_ms"]  # as a presentation recorded before decision 138
    led.state.apply({storage_key(T, "pres/" + pres): codec.encode(rec)})


def test_a_presentation_recorded_before_deadlines_keeps_the_old_rules(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY), partial_drawings=True, required_docs=["invoice"])
    _as_before_deadlines(L, ids["presentation"])
    at(L, NEXT_THURSDAY_ENDS + 30 * DAY_MS)
    r = refused(L, "not_due", "exporter", "claim_honour", presentation_id=ids["presentation"])
    assert "before examination deadlines" in (r.error_message or "")
    L.ok("bank_c", T, "refuse_presentation", presentation_id=ids["presentation"],
         discrepancies=["other"])


def test_the_trade_view_shows_the_deadline(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY))

    def fetch(key: str) -> object:
        return L.get(T, key)

    text = render(trade_report(fetch, ids["trade"], now_ms=NEXT_THURSDAY_ENDS - 1))
    assert "presented  examine by 2025-12-11" in text and "may claim honour" not in text
    text = render(trade_report(fetch, ids["trade"], now_ms=NEXT_THURSDAY_ENDS))
    assert "examine by 2025-12-11 (passed: the beneficiary may claim honour)" in text
    at(L, NEXT_THURSDAY_ENDS)
    L.ok("exporter", T, "claim_honour", presentation_id=ids["presentation"])
    text = render(trade_report(fetch, ids["trade"], now_ms=L.now_ms))
    assert "paid  honoured on the beneficiary's claim" in text
    _as_before_deadlines(L, ids["presentation"])  # an old record renders as before
    assert "examine by" not in render(trade_report(fetch, ids["trade"], now_ms=L.now_ms))


# ---------------------------------------------------------------------------- cancel consent


@pytest.mark.parametrize(("after", "ok"), [(CANCEL_CONSENT_DAYS * DAY_MS - 1, True),
                                           (CANCEL_CONSENT_DAYS * DAY_MS, False)])
def test_a_consent_to_cancel_lapses_after_its_days(after: int, ok: bool) -> None:
    led = trade_ledger()
    lc = issue(led)  # expires 2026-01-31: still open 30 days after genesis
    t0 = led.now_ms + 1000
    r = led.ok("exporter", T, "consent_cancel", lc_id=lc)
    assert r["until_ms"] == t0 + CANCEL_CONSENT_DAYS * DAY_MS
    rec = led.get(T, "lc/" + lc)
    assert rec["cancel_consent"] is True and rec["cancel_consent_ms"] == t0
    at(led, t0 + after)
    if ok:
        led.ok("bank_c", T, "cancel_lc", lc_id=lc)
        return
    r2 = refused(led, "consent_required", "bank_c", "cancel_lc", lc_id=lc)
    assert "lapsed" in (r2.error_message or "")
    led.ok("exporter", T, "consent_cancel", lc_id=lc)  # consenting again renews it
    led.ok("bank_c", T, "cancel_lc", lc_id=lc)


def test_a_presentation_voids_a_consent_given_before_it(L: Ledger) -> None:
    ids = open_trade(L)
    lc = issue(L, ids["trade"])
    L.ok("exporter", T, "consent_cancel", lc_id=lc)
    pres = L.ok("exporter", T, "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                amount=INVOICE_AMOUNT)["presentation_id"]
    assert "lc_cancel_consent_void" in events(L)
    assert L.get(T, "lc/" + lc)["cancel_consent"] is False
    L.ok("bank_c", T, "refuse_presentation", presentation_id=pres, discrepancies=["other"])
    # the bank refused: it cannot now cancel on the old consent, before a corrected presentation
    refused(L, "consent_required", "bank_c", "cancel_lc", lc_id=lc)


def test_an_accepted_amendment_voids_a_consent_given_before_it(L: Ledger) -> None:
    lc = issue(L)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 90_000_00})
    L.ok("exporter", T, "consent_cancel", lc_id=lc)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 80_000_00})  # a proposal: none
    assert L.get(T, "lc/" + lc)["cancel_consent"] is True
    L.ok("exporter", T, "accept_amendment", lc_id=lc)
    assert events(L) == ["lc_cancel_consent_void", "lc_amended"]
    refused(L, "consent_required", "bank_c", "cancel_lc", lc_id=lc)
    # a consent given after the amendment stands
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 70_000_00})
    L.ok("exporter", T, "accept_amendment", lc_id=lc)
    L.ok("exporter", T, "consent_cancel", lc_id=lc)
    L.ok("bank_c", T, "cancel_lc", lc_id=lc)


def test_a_consent_recorded_before_it_lapsed_is_lapsed(L: Ledger) -> None:
    lc = issue(L)
    rec = L.get(T, "lc/" + lc)
    rec["cancel_consent"] = True  # as consent_cancel wrote it before decision 138: no time
    L.state.apply({storage_key(T, "lc/" + lc): codec.encode(rec)})
    refused(L, "consent_required", "bank_c", "cancel_lc", lc_id=lc)
    L.ok("exporter", T, "consent_cancel", lc_id=lc)
    L.ok("bank_c", T, "cancel_lc", lc_id=lc)


def test_the_trade_view_shows_a_consent_while_it_holds(L: Ledger) -> None:
    ids = presented(L, day(THURSDAY))  # the LC joins the trade
    L.ok("bank_c", T, "refuse_presentation", presentation_id=ids["presentation"],
         discrepancies=["other"])
    until = L.ok("exporter", T, "consent_cancel", lc_id=ids["lc"])["until_ms"]

    def fetch(key: str) -> object:
        return L.get(T, key)

    text = render(trade_report(fetch, ids["trade"], now_ms=until - 1))
    assert "(cancellation consented, lapses 2026-01-03 00:00 UTC)" in text
    assert "cancellation consented" not in render(trade_report(fetch, ids["trade"],
                                                               now_ms=until))
