"""Risk controls inside trade finance: document parties and LC parties screened against the watch
list, financing screened again and held to the bank's exposure limits, repayments releasing
exposure."""

from __future__ import annotations

import pytest

from contracts import risk
from contracts.testing import Ledger
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    BUYER,
    INVOICE,
    T,
    finance,
    h,
    open_trade,
    register,
    state_without_receipts,
    trade_ledger,
)

R = "risk"


def watch_name(led: Ledger, name: str) -> None:
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    led.ok("regulator", R, "add_watch", entries=[risk.watch_digest(key, "name", name)])


def alerts_of(receipt) -> list[dict]:
    return [e.data for e in receipt.events if e.name == "alert"]


def test_an_invoice_naming_a_watched_buyer_is_refused_whatever_its_punctuation() -> None:
    led = trade_ledger()
    watch_name(led, "Globex Corp.")  # the regulator's spelling; the invoice writes "GLOBEX corp"
    before = state_without_receipts(led)
    r = led.fails("sanctioned_party", "exporter", T, "register", doc_type="invoice",
                  fields=INVOICE, content_hash=h("inv"))
    assert "buyer" in r.error_message and "globex" not in r.error_message.lower()
    (alert,) = alerts_of(r)
    assert alert["rule"] == "sanctioned_party"
    after = state_without_receipts(led)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed and all(k.startswith(b"risk/") for k in changed)  # only the alert is kept
    assert not any(k.startswith(b"trade_documents/") for k in changed)


def test_financing_is_refused_once_the_buyer_is_watch_listed_after_registration() -> None:
    led = trade_ledger()
    ids = open_trade(led)
    watch_name(led, BUYER)
    r = led.fails("sanctioned_party", "bank_a", T, "request_financing", amount=1000,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert "buyer" in r.error_message
    assert led.get(T, "trade/" + ids["trade"])["financed"] == 0


def test_a_letter_of_credit_for_a_watched_applicant_is_refused() -> None:
    led = trade_ledger()
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    led.ok("regulator", R, "add_watch",
           entries=[risk.watch_digest(key, "id", led.pk("importer"))])
    led.fails("sanctioned_party", "bank_b", T, "issue_lc", applicant=led.pk("importer"),
              beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
              expiry_date="2026-03-31", lc_number="LC-1")


def test_financing_beyond_the_banks_exposure_to_the_buyer_is_refused_and_repayment_frees_it(
) -> None:
    led = trade_ledger()
    first = open_trade(led)
    led.ok("bank_a", R, "set_exposure_limit", side="buyer", party=BUYER, currency="USD",
           max=50_000_00)
    fin = finance(led, "bank_a", 50_000_00, trade_id=first["trade"])  # at the limit
    # a second trade with the same buyer: one cent over the bank's exposure
    inv2 = register(led, "invoice", {**INVOICE, "number": "INV-2025-002", "amount": 90_000_00},
                    tag="inv2")
    decl2 = register(led, "customs_declaration",
                     {"declaration_number": "CD/2025/000999", "exporter": "ACME Exports Ltd",
                      "amount": 90_000_00, "currency": "USD"}, trade_id=inv2["trade_id"])
    led.ok("customs", T, "attest", doc_id=decl2["doc_id"], result="match",
           declared_amount=90_000_00)
    r = led.fails("limit_exceeded", "bank_a", T, "request_financing", amount=1,
                  currency="USD", maturity_date="2026-02-28", trade_id=inv2["trade_id"])
    assert "exposure:buyer" in r.error_message
    # bank B has no such limit
    finance(led, "bank_b", 1000, trade_id=inv2["trade_id"])
    # the exporter repays 20,000.00 of bank A's financing: that much exposure is free again
    led.ok("exporter", T, "repay", financing_id=fin["financing_id"], amount=20_000_00)
    finance(led, "bank_a", 20_000_00, trade_id=inv2["trade_id"])
    led.fails("limit_exceeded", "bank_a", T, "request_financing", amount=1, currency="USD",
              maturity_date="2026-02-28", trade_id=inv2["trade_id"])


@pytest.mark.parametrize("buyer", [
    "Glöbex Corp", "Globex-Corp", "Globex_Corp", "Globex (Corp)", "Globex' Corp",
    "Glo\u200bbex Corp", "Glo\u00adbex Corp", "Gl\u043ebex Corp", "Corp Globex",
    "Globex Corporation", "Globex Corp Ltd", "Globex",
])
def test_a_watched_buyer_written_with_accents_lookalikes_or_another_legal_form_is_refused(
        buyer: str) -> None:
    """Red-team F6: the watch list compares name skeletons, not spellings."""
    led = trade_ledger()
    watch_name(led, "Globex Corp")
    r = led.fails("sanctioned_party", "exporter", T, "register", doc_type="invoice",
                  fields={**INVOICE, "buyer": buyer}, content_hash=h(buyer))
    assert "buyer" in r.error_message


@pytest.mark.parametrize(("field", "name"), [("vessel", "Dark Star"),
                                              ("port_of_loading", "Bandar Abbas"),
                                              ("port_of_discharge", "BANDAR-ABBAS")])
def test_a_bill_of_lading_naming_a_watched_vessel_or_port_is_refused(field: str,
                                                                      name: str) -> None:
    """Red-team F8a: vessels and ports are screened like parties."""
    led = trade_ledger()
    watch_name(led, {"vessel": "Dark Star"}.get(field, "Bandar Abbas"))
    trade = register(led, "invoice", INVOICE)["trade_id"]
    r = led.fails("sanctioned_party", "exporter", T, "register", doc_type="bill_of_lading",
                  fields={**BILL_OF_LADING, field: name}, content_hash=h(field),
                  trade_id=trade)
    assert field.replace("_", " ") in r.error_message or field in r.error_message


@pytest.mark.parametrize("field", ["vessel", "port_of_discharge"])
def test_financing_re_screens_every_document_of_the_trade(field: str) -> None:
    """Red-team F8b: a vessel or port of the trade's B/L watch-listed after registration stops
    the financing (it used to re-screen only the seller and the buyer)."""
    led = trade_ledger()
    ids = open_trade(led)
    watch_name(led, BILL_OF_LADING[field])
    r = led.fails("sanctioned_party", "bank_a", T, "request_financing", amount=1000,
                  currency="USD", maturity_date="2026-02-28", trade_id=ids["trade"])
    assert field in r.error_message


def test_an_lc_does_not_pay_for_an_applicant_watched_or_frozen_since_issue() -> None:
    """Red-team F8c: the credit is re-screened when it pays."""
    for how in ("watch", "freeze"):
        led = trade_ledger()
        inv = register(led, "invoice", INVOICE)
        lc = led.ok("bank_c", T, "issue_lc", applicant=led.pk("importer"),
                    beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
                    expiry_date="2026-01-31", lc_number="LC-1",
                    required_docs=["invoice"])["lc_id"]
        if how == "watch":
            key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
            led.ok("regulator", R, "add_watch",
                   entries=[risk.watch_digest(key, "id", led.pk("importer"))])
        else:
            led.ok("regulator", "governance", "freeze_identity", pubkey=led.pk("importer"),
                   reason="sanctions", order_ref="OFAC-1")
        pres = led.ok("exporter", T, "present", lc_id=lc, doc_ids=[inv["doc_id"]],
                      amount=100_000_00)["presentation_id"]
        code = "sanctioned_party" if how == "watch" else "account_frozen"
        led.fails(code, "bank_c", T, "accept_presentation", presentation_id=pres)


@pytest.mark.parametrize("written", ["G lobex Corp", "Glo\u200abex Corp", "Glo\u2800bex Corp",
                                     "GLOBEX CORPORATION"])
def test_a_name_split_inside_a_word_is_screened_by_its_joined_form(written: str) -> None:
    """Red-team rounds 1 and 2: a space (or a near-invisible separator) put inside a word
    changed the name's skeleton; the regulator's entries hold the joined form too."""
    led = trade_ledger()
    key = risk.watch_key(bytes.fromhex(led.genesis.fingerprint_key))
    led.ok("regulator", R, "add_watch", entries=risk.watch_entries(key, "Globex Corp"))
    refused_ = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h(written),
                      fields={**INVOICE, "buyer": written})
    assert refused_.error_code == "sanctioned_party"
