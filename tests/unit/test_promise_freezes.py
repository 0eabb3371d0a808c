"""Decision 215: a freeze holds at every door where money is promised, not only where it moves.
Each door through the execution layer: a frozen identity, or an account frozen in the currency,
is refused ``account_frozen`` at the promise (an LC issued, raised or extended; a deferred
payment undertaken), as at payment, and the refusal says no more than a payment's."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from tests.unit.trade_cases import INVOICE_AMOUNT, T, finance, open_trade, trade_ledger

#: what a payment to a frozen counterparty says (``risk._frozen``): neither which nor why
PAYMENT_REFUSAL = "a party cannot take part in this payment (frozen)"
REASON, ORDER = "court order 2026/77 (confidential)", "FRZ-0001"


def lc_args(led: Ledger, **over: Any) -> dict[str, Any]:
    return {"applicant": led.pk("importer"), "beneficiary": led.pk("exporter"),
            "amount": INVOICE_AMOUNT, "currency": "USD", "expiry_date": "2026-01-31",
            "lc_number": "LC-F1", "required_docs": ["invoice"], **over}


def freeze(led: Ledger, who: str, whole: bool) -> None:
    """A regulator freezes ``who``: the whole identity, or its USD account."""
    if whole:
        led.ok("regulator", "governance", "freeze_identity", pubkey=led.pk(who),
               reason=REASON, order_ref=ORDER)
    else:
        led.ok("regulator", "risk", "freeze_account", account=led.pk(who), currency="USD",
               reason=REASON, order_ref=ORDER)


def refused(led: Ledger, who: str, method: str, **args: Any) -> None:
    """Refused ``account_frozen`` with the words of a payment's refusal: no reason, no order."""
    r = led.fails("account_frozen", who, T, method, **args)
    assert r.error_message == PAYMENT_REFUSAL
    assert not r.events


@pytest.fixture
def led() -> Ledger:
    return trade_ledger()


@pytest.mark.parametrize(("who", "whole"), [("importer", False), ("exporter", False),
                                            ("importer", True), ("exporter", True)])
def test_an_lc_for_a_frozen_party_is_neither_issued_nor_raised_nor_extended(
        led: Ledger, who: str, whole: bool) -> None:
    """The applicant (on whose behalf) or the beneficiary (to whom) frozen: no credit is issued,
    no proposal raises its amount or ceiling or puts its expiry later; lowering it still can."""
    lc = led.ok("bank_c", T, "issue_lc", **lc_args(led))["lc_id"]
    freeze(led, who, whole)
    refused(led, "bank_c", "issue_lc", **lc_args(led, lc_number="LC-F2"))
    for changes in ({"amount": INVOICE_AMOUNT + 1}, {"tolerance_bps": 500},
                    {"expiry_date": "2026-03-31"}, {"amount": 1, "expiry_date": "2026-03-31"}):
        refused(led, "bank_c", "amend_lc", lc_id=lc, changes=changes)
    assert led.get(T, "lc/" + lc)["amendment"] is None
    # what brings the credit down or changes no money is not screened
    led.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": INVOICE_AMOUNT - 1})
    led.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"expiry_date": "2026-01-15",
                                                        "usance_days": 30})
    # a credit in another currency is no promise in the frozen USD account
    if not whole:
        led.ok("bank_c", T, "issue_lc", **lc_args(led, lc_number="LC-F3", currency="JPY"))


def test_an_amendment_proposed_before_the_freeze_is_not_accepted_after_it(led: Ledger) -> None:
    lc = led.ok("bank_c", T, "issue_lc", **lc_args(led))["lc_id"]
    n = led.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"expiry_date": "2026-06-30"})
    freeze(led, "importer", False)
    refused(led, "exporter", "accept_amendment", lc_id=lc, number=n["number"])
    assert led.get(T, "lc/" + lc)["expiry_date"] == "2026-01-31"
    led.ok("regulator", "risk", "unfreeze_account", account=led.pk("importer"), currency="USD",
           reason="lifted", order_ref=ORDER)
    led.ok("exporter", T, "accept_amendment", lc_id=lc, number=n["number"])
    assert led.get(T, "lc/" + lc)["expiry_date"] == "2026-06-30"


@pytest.mark.parametrize("claimed", [False, True])
def test_no_deferred_payment_is_undertaken_for_a_frozen_applicant(led: Ledger,
                                                                  claimed: bool) -> None:
    """A usance credit's acceptance is the bank's undertaking to pay at maturity (UCP 600
    art. 7 a iii): refused while the applicant is frozen, by the bank or on the beneficiary's
    claim, as a sight payment is; the presentation stays presented."""
    ids = open_trade(led)
    lc = led.ok("bank_c", T, "issue_lc", **lc_args(led, usance_days=30, trade_id=ids["trade"],
                                                   required_docs=["invoice"]))["lc_id"]
    pres = led.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]],
                  amount=INVOICE_AMOUNT)["presentation_id"]
    freeze(led, "importer", False)
    if claimed:
        led.now_ms += 30 * 86_400_000
        refused(led, "exporter", "claim_honour", presentation_id=pres)
    else:
        refused(led, "bank_c", "accept_presentation", presentation_id=pres)
    assert led.get(T, "pres/" + pres)["status"] == "presented"
    assert led.get(T, "lc/" + lc)["drawn"] == 0


def test_the_doors_that_move_money_at_once_held_already(led: Ledger) -> None:
    """Financing, a PvP offer and its acceptance, a return: each pays at once through
    ``settlement.pay`` / ``risk.check_payment``, so a freeze held there before decision 215."""
    ids = open_trade(led)
    freeze(led, "exporter", False)
    r = led.fails("account_frozen", "bank_a", T, "request_financing", amount=1_00,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert r.error_message == PAYMENT_REFUSAL
    led.ok("jpy_issuer", "settlement", "issue", currency="JPY", to=led.pk("bank_a"),
           amount=100_00)
    give, get = {"currency": "USD", "amount": 10_00}, {"currency": "JPY", "amount": 900}
    exp = led.now_ms + 86_400_000
    r = led.fails("account_frozen", "bank_a", "settlement", "offer_pvp",
                  counterparty=led.pk("exporter"), give=give, get=get, expires_at=exp)
    assert r.error_message == PAYMENT_REFUSAL
    # an offer made before the freeze of its offerer is not accepted after it
    led.ok("regulator", "risk", "unfreeze_account", account=led.pk("exporter"), currency="USD",
           reason="lifted", order_ref=ORDER)
    oid = led.ok("bank_b", "settlement", "offer_pvp", counterparty=led.pk("bank_a"),
                 give=give, get=get, expires_at=exp)["offer_id"]
    freeze(led, "bank_b", False)
    r = led.fails("account_frozen", "bank_a", "settlement", "accept_pvp", offer_id=oid)
    assert r.error_message == PAYMENT_REFUSAL
    # a financing disbursed before the freeze: the buyer's repayment of it is refused
    fin = finance(led, "bank_a", 1_00, trade_id=ids["trade"])["financing_id"]
    freeze(led, "exporter", False)
    led.ok("usd_issuer", "settlement", "issue", currency="USD", to=led.pk("importer"),
           amount=1_00)
    r = led.fails("account_frozen", "importer", T, "repay", financing_id=fin, amount=1_00)
    assert r.error_message == PAYMENT_REFUSAL
