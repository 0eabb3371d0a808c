"""What a presentation records for back offices and UCP 600 (decision 146): the presenter's
reference (SWIFT :21:, unique under its LC), the date of presentation, the refusal with the
disposal of its documents (art. 16 c iii: returned, or held for the applicant's waiver or the
presenter's instructions, for at most ``HOLD_DAYS``), the applicant's waiver and the bank's
honour after it (art. 16 b), the return of held documents, and the payment (when, by which
transaction) on every path that pays.

Block time is the test's: the next block is stamped ``L.now_ms + 1000`` (``at`` sets it)."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin.swift import mt700, mt734
from contracts.testing import Ledger
from contracts.trade import letters_of_credit as lcs
from contracts.trade.letters_of_credit import HOLD_DAYS, reference_key
from contracts.trade.state import DAY_MS
from contracts.trade.view import render, trade_report
from tests.unit.test_contract_lc_deadlines import NEXT_THURSDAY_ENDS, THURSDAY, at, day
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.trade_cases import (
    INVOICE_AMOUNT,
    T,
    finance,
    open_trade,
    refused,
    trade_ledger,
)

PRESENTED = day(THURSDAY) + 3600_000  # Thu 2025-12-04 01:00 UTC; examined through Thu 11


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def setup(led: Ledger, financed: int = 0, **terms: Any) -> dict[str, Any]:
    """A trade (its invoice financed by bank A for ``financed``) and an LC of bank C for it."""
    ids: dict[str, Any] = open_trade(led)
    if financed:
        ids["financing"] = finance(led, "bank_a", financed, doc_id=ids["invoice"])["financing_id"]
    ids["lc"] = issue(led, ids["trade"], **terms)
    ids["docs"] = [ids["invoice"], ids["bill_of_lading"]]
    return ids


def present(led: Ledger, ids: dict[str, Any], when: int = PRESENTED, **extra: Any) -> str:
    at(led, when)
    r = led.ok("exporter", T, "present", lc_id=ids["lc"], doc_ids=ids["docs"],
               amount=INVOICE_AMOUNT, **extra)
    return str(r["presentation_id"])


def refuse(led: Ledger, pid: str, disposal: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"presentation_id": pid, "discrepancies": ["description_mismatch"]}
    if disposal is not None:
        args["disposal"] = disposal
    return led.ok("bank_c", T, "refuse_presentation", **args)


def pres(led: Ledger, pid: str) -> dict[str, Any]:
    return led.get(T, "pres/" + pid)  # type: ignore[no-any-return]


def reserved(led: Ledger, ids: dict[str, Any]) -> int:
    return int(led.get(T, "lc/" + ids["lc"])["reserved"])


# ---------------------------------------------------------------------------- reference, date


def test_a_presentation_records_its_reference_and_date(L: Ledger) -> None:
    ids = setup(L)
    pid = present(L, ids, reference="BKREF/2025-001")
    p = pres(L, pid)
    assert (p["reference"], p["presented_ms"]) == ("BKREF/2025-001", PRESENTED)
    assert L.get(T, reference_key(ids["lc"], "bkref/2025-001")) == {
        "presentation_id": pid, "lc_id": ids["lc"], "issuer": L.pk("bank_c"),
        "applicant": L.pk("importer"), "beneficiary": L.pk("exporter")}
    assert L.last is not None and L.last.events[0].data["reference"] == "BKREF/2025-001"


def test_a_presentation_without_a_reference_still_records_its_date(L: Ledger) -> None:
    pid = present(L, setup(L))
    assert (pres(L, pid)["reference"], pres(L, pid)["presented_ms"]) == (None, PRESENTED)


@pytest.mark.parametrize("reference", [
    "", "12345678901234567", "/REF1", "REF1/", "REF//1", ":REF", "-REF", " REF", "REF ",
    "REF_1", "RÉF1", "REF\n1", 7])
def test_a_reference_is_swifts_16x(L: Ledger, reference: Any) -> None:
    ids = setup(L)
    at(L, PRESENTED)
    refused(L, "bad_field", "exporter", "present", lc_id=ids["lc"], doc_ids=ids["docs"],
            amount=INVOICE_AMOUNT, reference=reference)


@pytest.mark.parametrize("reference", ["R", "1234567890123456", "A/B-C?D:(E).F,'+G H"[:16],
                                       "lower-case ref"])
def test_references_of_the_x_set_are_taken(L: Ledger, reference: str) -> None:
    pid = present(L, setup(L), reference=reference)
    assert pres(L, pid)["reference"] == reference


def test_the_contracts_reference_rules_are_swifts() -> None:
    assert lcs.REFERENCE_CHARS == mt700.X_CHARS
    assert lcs.REFERENCE_LENGTH == mt734.REFERENCE_LENGTH == mt734.FIELDS["21"].width
    assert set(lcs.DISPOSALS) == set(mt734.DISPOSALS)
    assert lcs.HELD_DISPOSALS == mt734.HELD
    assert lcs.reference_key("ab" * 32, "Ref 1/A") == mt734.reference_key("ab" * 32, "Ref 1/A")


def test_a_reference_names_one_presentation_of_its_lc_for_good(L: Ledger) -> None:
    ids = setup(L, partial_drawings=True)
    pid = present(L, ids, reference="REF-1")
    refuse(L, pid)  # refused and returned: the documents are free, the reference is not
    at(L, PRESENTED + 2000)
    refused(L, "duplicate_reference", "exporter", "present", lc_id=ids["lc"],
            doc_ids=ids["docs"], amount=INVOICE_AMOUNT, reference="ref-1")
    present(L, ids, PRESENTED + 3000, reference="REF-2")


def test_another_lc_may_carry_the_same_reference(L: Ledger) -> None:
    ids = setup(L, partial_drawings=True)
    other = issue(L, None, lc_number="LC-2", required_docs=["invoice"], partial_drawings=True)
    pid = present(L, ids, reference="REF-1")
    refuse(L, pid)
    at(L, PRESENTED + 2000)
    L.ok("exporter", T, "present", lc_id=other, doc_ids=[ids["invoice"]], amount=1_00,
         reference="REF-1")


# ---------------------------------------------------------------------------- disposals


@pytest.mark.parametrize("disposal", [None, "RETURN", "PREVINST"])
def test_returned_documents_are_free_again(L: Ledger, disposal: str | None) -> None:
    ids = setup(L)
    pid = present(L, ids)
    at(L, PRESENTED + DAY_MS)
    r = refuse(L, pid, disposal)
    p = pres(L, pid)
    assert (r["status"], p["status"]) == ("refused", "refused")
    assert p["refused"] == {"height": L.height, "timestamp_ms": PRESENTED + DAY_MS,
                            "disposal": disposal or "RETURN"}
    assert reserved(L, ids) == 0
    present(L, ids, PRESENTED + 2 * DAY_MS)


@pytest.mark.parametrize("disposal", ["HOLD", "NOTIFY"])
def test_held_documents_stay_under_the_refused_presentation(L: Ledger, disposal: str) -> None:
    ids = setup(L, partial_drawings=True, amount=2 * INVOICE_AMOUNT)
    other = issue(L, None, lc_number="LC-2", required_docs=["invoice"], partial_drawings=True)
    pid = present(L, ids)
    r = refuse(L, pid, disposal)
    until = PRESENTED + 1000 + HOLD_DAYS * DAY_MS
    assert (r["status"], r["disposal"], r["held_until_ms"]) == ("held", disposal, until)
    assert pres(L, pid)["refused"]["held_until_ms"] == until
    assert reserved(L, ids) == INVOICE_AMOUNT  # it may still be honoured
    # not presented again, under this LC or another, nor closed, while held
    refused(L, "document_in_use", "exporter", "present", lc_id=ids["lc"],
            doc_ids=ids["docs"], amount=1_00)
    refused(L, "document_in_use", "exporter", "present", lc_id=other,
            doc_ids=[ids["invoice"]], amount=1_00)
    refused(L, "document_in_use", "exporter", "close", doc_id=ids["bill_of_lading"])
    refused(L, "lc_in_use", "bank_c", "cancel_lc", lc_id=ids["lc"])


def test_a_disposal_is_one_of_the_mt734_codes(L: Ledger) -> None:
    pid = present(L, setup(L))
    refused(L, "bad_field", "bank_c", "refuse_presentation", presentation_id=pid,
            discrepancies=["other"], disposal="KEEP")


# ---------------------------------------------------------------------------- waiver, honour


def held(led: Ledger, financed: int = 0, **terms: Any) -> tuple[dict[str, Any], str]:
    ids = setup(led, financed, **terms)
    pid = present(led, ids)
    refuse(led, pid, "NOTIFY")
    return ids, pid


def test_only_the_applicant_waives(L: Ledger) -> None:
    _, pid = held(L)
    for who in ("exporter", "bank_c", "bank_a"):
        refused(L, "forbidden", who, "waive_discrepancies", presentation_id=pid)
    r = L.ok("importer", T, "waive_discrepancies", presentation_id=pid)
    assert r == {"presentation_id": pid, "status": "held", "waived": True}
    assert pres(L, pid)["waiver"] == {"height": L.height, "timestamp_ms": L.now_ms}
    refused(L, "already_waived", "importer", "waive_discrepancies", presentation_id=pid)


@pytest.mark.parametrize("state", ["presented", "refused", "paid"])
def test_only_a_held_refusal_is_waived(L: Ledger, state: str) -> None:
    ids = setup(L)
    pid = present(L, ids)
    if state == "refused":
        refuse(L, pid, "RETURN")
    elif state == "paid":
        L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    refused(L, "not_held", "importer", "waive_discrepancies", presentation_id=pid)


def test_a_held_refusal_is_honoured_only_after_a_waiver(L: Ledger) -> None:
    _, pid = held(L)
    refused(L, "no_waiver", "bank_c", "accept_presentation", presentation_id=pid)


def test_honour_after_a_waiver_pays_the_financing_banks_first(L: Ledger) -> None:
    ids, pid = held(L, financed=60_000_00)
    L.ok("importer", T, "waive_discrepancies", presentation_id=pid)
    a0, c0, e0 = (L.balance(n, "USD") for n in ("bank_a", "bank_c", "exporter"))
    at(L, PRESENTED + 20 * DAY_MS)  # long after the examination period: the bank's choice
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    assert r["payments"] == [
        {"to": L.pk("bank_a"), "amount": 60_000_00, "financing_id": ids["financing"]},
        {"to": L.pk("exporter"), "amount": 40_000_00, "financing_id": None}]
    assert (L.balance("bank_a", "USD") - a0, c0 - L.balance("bank_c", "USD"),
            L.balance("exporter", "USD") - e0) == (60_000_00, INVOICE_AMOUNT, 40_000_00)
    p = pres(L, pid)
    assert p["status"] == "paid" and p["discrepancies"] == ["description_mismatch"]
    assert p["paid"]["timestamp_ms"] == PRESENTED + 20 * DAY_MS
    lc = L.get(T, "lc/" + ids["lc"])
    assert (lc["reserved"], lc["drawn"], lc["status"]) == (0, INVOICE_AMOUNT, "drawn")


def test_honour_after_a_waiver_of_a_usance_credit_is_deferred(L: Ledger) -> None:
    _, pid = held(L, usance_days=30)
    L.ok("importer", T, "waive_discrepancies", presentation_id=pid)
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    assert r["status"] == "accepted" and "paid" not in pres(L, pid)
    at(L, r["due_ms"])
    L.ok("bank_c", T, "pay_deferred", presentation_id=pid)
    assert pres(L, pid)["paid"]["timestamp_ms"] == r["due_ms"]


# ---------------------------------------------------------------------------- return


@pytest.mark.parametrize(("who", "by"), [("exporter", "beneficiary"), ("bank_c", "issuing_bank")])
def test_returned_held_documents_are_free_and_the_refusal_final(L: Ledger, who: str,
                                                                 by: str) -> None:
    ids, pid = held(L)
    L.ok("importer", T, "waive_discrepancies", presentation_id=pid)  # a waiver binds nobody
    r = L.ok(who, T, "return_documents", presentation_id=pid)
    assert r == {"presentation_id": pid, "status": "refused", "returned_by": by}
    p = pres(L, pid)
    assert (p["status"], p["returned"]["by"]) == ("refused", by)
    assert reserved(L, ids) == 0
    refused(L, "presentation_closed", "bank_c", "accept_presentation", presentation_id=pid)
    refused(L, "not_held", "exporter", "return_documents", presentation_id=pid)
    present(L, ids, L.now_ms + 1000)  # the documents go to a new presentation


def test_only_the_beneficiary_or_the_issuing_bank_returns_documents(L: Ledger) -> None:
    _, pid = held(L)
    for who in ("importer", "bank_a"):
        refused(L, "forbidden", who, "return_documents", presentation_id=pid)


def test_only_held_documents_are_returned(L: Ledger) -> None:
    pid = present(L, setup(L))
    refused(L, "not_held", "exporter", "return_documents", presentation_id=pid)


# ---------------------------------------------------------------------------- the bound


def test_a_hold_lapses_after_hold_days(L: Ledger) -> None:
    ids, pid = held(L)
    until = pres(L, pid)["refused"]["held_until_ms"]
    at(L, until - 1)
    L.ok("importer", T, "waive_discrepancies", presentation_id=pid)
    at(L, until)
    r = refused(L, "hold_lapsed", "bank_c", "accept_presentation", presentation_id=pid)
    assert f"{HOLD_DAYS} days" in (r.error_message or "")
    L.ok("exporter", T, "return_documents", presentation_id=pid)
    assert reserved(L, ids) == 0


def test_no_waiver_once_the_hold_lapsed(L: Ledger) -> None:
    _, pid = held(L)
    at(L, pres(L, pid)["refused"]["held_until_ms"])
    refused(L, "hold_lapsed", "importer", "waive_discrepancies", presentation_id=pid)


# ---------------------------------------------------------------------------- deadlines


def test_a_held_refusal_in_time_keeps_the_beneficiary_from_claiming_honour(L: Ledger) -> None:
    _, pid = held(L)
    at(L, NEXT_THURSDAY_ENDS + DAY_MS)
    refused(L, "presentation_closed", "exporter", "claim_honour", presentation_id=pid)


def test_a_late_refusal_is_too_late_whatever_its_disposal(L: Ledger) -> None:
    pid = present(L, setup(L))
    at(L, NEXT_THURSDAY_ENDS)
    for disposal in ("HOLD", "NOTIFY", "RETURN"):
        refused(L, "refusal_too_late", "bank_c", "refuse_presentation", presentation_id=pid,
                discrepancies=["other"], disposal=disposal)


# ---------------------------------------------------------------------------- paid


def test_payment_at_sight_records_when_and_by_which_transaction(L: Ledger) -> None:
    pid = present(L, setup(L))
    L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    assert L.last is not None
    assert pres(L, pid)["paid"] == {"height": L.height, "timestamp_ms": L.now_ms,
                                    "tx_id": L.last.receipts[0].tx_id.hex()}


def test_a_claim_of_honour_records_the_payment(L: Ledger) -> None:
    pid = present(L, setup(L))
    at(L, NEXT_THURSDAY_ENDS)
    L.ok("exporter", T, "claim_honour", presentation_id=pid)
    assert L.last is not None
    p = pres(L, pid)
    assert p["paid"] == {"height": L.height, "timestamp_ms": NEXT_THURSDAY_ENDS,
                         "tx_id": L.last.receipts[0].tx_id.hex()}
    assert p["claimed"]["timestamp_ms"] == NEXT_THURSDAY_ENDS


def test_a_deferred_payment_records_its_payment_not_its_acceptance(L: Ledger) -> None:
    pid = present(L, setup(L, usance_days=60))
    r = L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    assert "paid" not in pres(L, pid)
    at(L, r["due_ms"] + 5000)
    L.ok("bank_c", T, "pay_deferred", presentation_id=pid)
    assert L.last is not None
    assert pres(L, pid)["paid"] == {"height": L.height, "timestamp_ms": r["due_ms"] + 5000,
                                    "tx_id": L.last.receipts[0].tx_id.hex()}


# ---------------------------------------------------------------------------- the report


def test_the_trade_report_shows_reference_refusal_hold_waiver_and_payment(L: Ledger) -> None:
    ids, pid = held(L, financed=60_000_00)
    L.ok("importer", T, "waive_discrepancies", presentation_id=pid)

    def report(now_ms: int) -> tuple[dict[str, Any], str]:
        rep = trade_report(lambda k: L.get(T, k), ids["trade"], now_ms)
        return rep["letters_of_credit"][ids["lc"]]["presentation_records"][pid], render(rep)

    p, text = report(L.now_ms)
    assert p["hold_lapsed_now"] is False and p["status"] == "held"
    assert "documents held until the applicant waives" in text
    assert "discrepancies waived by the applicant" in text and "presented 2025-12-04" in text
    p, text = report(p["refused"]["held_until_ms"])
    assert p["hold_lapsed_now"] is True and "hold lapsed" in text
    L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    p, text = report(L.now_ms)
    assert "paid" in p and "  paid 20" in text


def test_an_old_presentation_record_reports_as_before(L: Ledger) -> None:
    ids = setup(L)
    pid = present(L, ids)
    old = {k: v for k, v in pres(L, pid).items() if k not in ("reference", "presented_ms")}
    rep = trade_report(lambda k: old if k == "pres/" + pid else L.get(T, k), ids["trade"],
                       L.now_ms)
    assert "hold_lapsed_now" not in rep["letters_of_credit"][ids["lc"]][
        "presentation_records"][pid]
    assert " ref " not in render(rep) and "presented 20" not in render(rep)
