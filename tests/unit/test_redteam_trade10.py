"""Red-team round 10 over "one trade is financed only once, however its documents are dressed up"
(docs/redteam-trade.md "Red-team round 10"; decisions 202-203). A dishonest exporter (alone, or
with its buyer) tried again to finance one shipment twice. Findings (each test named
``test_r10_...`` fails on the code before):

* R10-1 -- a number's digits written in another numeral system: "INV-二〇二五-〇〇一" (Chinese
  numerals) or "INV-MMXXV-001" (the year in Roman numerals) for "INV-2025-001" kept none or
  only some of its digits, so the number core (decision 153) missed the copy; dated a week later
  at 3 % less it opened a second trade that a second bank financed. Decision 202.
  A part so written ("INV-MMXXV-001-PART-1-OF-2") met its whole in neither order.
* R10-2 -- the shipment's declaration or bill of lading with a copy numbered in two groups
  ("CD/2025/000123 PART 1 OF 2", "MAEU-778899 ORIGINAL 1 OF 3"): decision 153 read one copy
  group off a set's number, so these were other declarations and B/Ls, customs attested its own
  declaration again and the second trade (its invoice under new digits) was financed even where
  attestation is required. Decision 203.

The ``test_held_...`` tests pin what held (or must still go through).
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    MOVED,
    POOL,
    T,
    finance,
    financed_trade,
    h,
    open_trade,
    refused,
    reg,
    trade_ledger,
)

L = pytest.fixture(financed_trade, name="L")


def suspected(r: Any) -> None:
    assert r.error_code == "suspected_duplicate", (r.status, r.error_code, r.error_message)
    assert "same digits" in (r.error_message or ""), r.error_message


# ---------------------------------------------------------------------------- R10-1


@pytest.mark.parametrize("number", [
    "INV-二〇二五-〇〇一",          # Chinese numerals
    "发票 二〇二五〇〇一",            # "invoice" in Chinese, the digits run together
    "INV-MMXXV-001",              # the year in Roman numerals
    "INV-ⅯⅯⅩⅩⅤ-001",              # in the Roman numeral characters
])
def test_r10_an_invoice_number_in_another_numeral_system_is_suspected(
        L: Ledger, number: str) -> None:
    suspected(reg(L, {**INVOICE, "number": number, **MOVED}))


def test_r10_the_whole_attack_without_attestation_and_in_either_order() -> None:
    """Where attestation is not required (the parameter's default) bank B financed the copy in
    Roman numerals as another sale; the copy registered first meets the plain number too."""
    led = trade_ledger(financing_requires_attestation=False)
    first = led.ok("exporter", T, "register", doc_type="invoice",
                   fields={**INVOICE, "number": "INV-MMXXV-001"}, content_hash=h("roman"))
    finance(led, "bank_a", POOL, trade_id=first["trade_id"])
    suspected(reg(led, {**INVOICE, **MOVED}))
    suspected(reg(led, {**INVOICE, "number": "INV-二〇二五-〇〇一", **MOVED}))
    copy = reg(led, {**INVOICE, **MOVED}, declare_distinct="another order")
    assert copy.status == "committed"
    refused(led, "distinct_not_acknowledged", "bank_b", "request_financing",
            trade_id=copy.result["trade_id"], amount=90_000_00, currency="USD",
            maturity_date="2026-02-28")


def test_r10_a_part_in_roman_numerals_meets_its_whole_in_either_order(L: Ledger) -> None:
    """Half the sale again as a part ("-PART-1-OF-2") whose year is in Roman numerals; and
    the whole registered after such a part."""
    r = reg(L, {**INVOICE, "number": "INV-MMXXV-001-PART-1-OF-2", **MOVED})
    assert r.error_code == "suspected_duplicate" and "extends" in (r.error_message or "")
    L.ok("exporter", T, "register", doc_type="invoice", content_hash=h("part"),
         fields={**INVOICE, "number": "INV-MMXXV-009 PART 1 OF 2", "issue_date": "2025-12-20"})
    r = reg(L, {**INVOICE, "number": "INV-2025-009", "issue_date": "2026-01-20"})
    assert r.error_code == "suspected_duplicate" and "part invoice" in (r.error_message or "")


def test_r10_a_bill_of_lading_in_chinese_numerals_is_suspected(L: Ledger) -> None:
    trade = reg(L, {**INVOICE, "number": "INV-2025-077", **MOVED}).result["trade_id"]
    suspected(reg(L, {**BILL_OF_LADING, "bl_number": "MAEU-七七八八九九"}, "bill_of_lading",
                  trade_id=trade))


def test_held_not_overblocked_numbers_with_roman_or_chinese_words(L: Ledger) -> None:
    """The seller's next numbers written so, and Roman numerals that are not a year ("MIX",
    "CIVIL"), register with no note; a prefix read as a year ("MMX-") keeps the number's core
    as written (the copy "MMX-2025-001" is still suspected)."""
    for i, number in enumerate(("INV-二〇二五-〇〇二", "INV-MMXXV-003", "MIX-2025-004",
                                "CIVIL-2025-005", "统一-2025-006")):
        r = reg(L, {**INVOICE, "number": number, "issue_date": f"2025-12-{10 + 5 * i}"})
        assert r.status == "committed", (number, r.error_message)
        assert L.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    suspected(reg(L, {**INVOICE, "number": "MMX-2025-001", **MOVED}))


# ---------------------------------------------------------------------------- R10-2


@pytest.mark.parametrize("doc_type, fields", [
    ("customs_declaration", {**DECLARATION, "declaration_number": "CD/2025/000123 PART 1 OF 2"}),
    ("customs_declaration", {**DECLARATION, "declaration_number": "CD/2025/000123/01/02"}),
    ("bill_of_lading", {**BILL_OF_LADING, "bl_number": "MAEU-778899 ORIGINAL 1 OF 3"}),
    ("bill_of_lading", {**BILL_OF_LADING, "bl_number": "778899 FULL SET 3/3"}),
])
def test_r10_a_set_copy_numbered_in_two_groups_is_suspected(
        L: Ledger, doc_type: str, fields: dict[str, Any]) -> None:
    trade = reg(L, {**INVOICE, "number": "INV-2025-077", **MOVED}).result["trade_id"]
    suspected(reg(L, fields, doc_type, trade_id=trade))


def test_r10_the_declarations_copy_no_longer_finances_a_second_trade() -> None:
    """Attestation required: the second trade (its invoice under new digits) took the
    declaration "… PART 1 OF 2", customs attested it against its records, and bank B financed.
    Now the copy, registered first or after, meets the whole and its sibling."""
    led = trade_ledger()
    ids = open_trade(led)
    finance(led, "bank_a", POOL, trade_id=ids["trade"])
    trade = reg(led, {**INVOICE, "number": "INV-2025-077", **MOVED}).result["trade_id"]
    copy = {**DECLARATION, "declaration_number": "CD/2025/000123 PART 1 OF 2"}
    suspected(reg(led, copy, "customs_declaration", trade_id=trade))
    # the copies first: a sibling meets the first copy, the whole meets both
    led2 = trade_ledger()
    led2.ok("exporter", T, "register", doc_type="customs_declaration",
            fields={**DECLARATION, "declaration_number": "CD/2025/000555 PART 1 OF 2"},
            content_hash=h("p1"))
    suspected(reg(led2, {**DECLARATION, "declaration_number": "CD/2025/000555 PART 2 OF 2"},
                  "customs_declaration"))
    suspected(reg(led2, {**DECLARATION, "declaration_number": "CD/2025/000555"},
                  "customs_declaration"))


def test_held_serials_of_one_exporter_are_not_copies(L: Ledger) -> None:
    """Other declarations and B/Ls of the exporter register with no note: the next serial, a
    serial whose last groups are not copy numbers, and the whole's digits with more digits."""
    trade = reg(L, {**INVOICE, "number": "INV-2025-002",
                      "issue_date": "2025-12-20"}).result["trade_id"]
    for doc_type, fields in (
            ("customs_declaration", {**DECLARATION, "declaration_number": "CD/2025/000124"}),
            ("bill_of_lading", {**BILL_OF_LADING, "bl_number": "MAEU-778900 ORIGINAL 1 OF 3"}),
            ("bill_of_lading", {**BILL_OF_LADING, "bl_number": "MAEU-778899-123-45",
                                "carrier": "MSCU"})):
        r = reg(L, fields, doc_type, trade_id=trade)
        assert r.status == "committed", (fields, r.error_message)


# ---------------------------------------------------------------------------- held


@pytest.mark.parametrize("number", [
    "INV-२०२५-००१",                     # Devanagari digits
    "INV-๒๐๒๕-๐๐๑",                     # Thai digits
    "INV-②⓪②⑤-⓪⓪①",                     # circled digits
    "INV-20\U000e003225-001",          # a tag character inside
    "INV-20\u280025-001",              # the braille blank inside
    "INV\u22122025\u2212001",          # minus signs for hyphens
])
def test_held_the_same_number_in_other_digits_or_with_invisible_characters(
        L: Ledger, number: str) -> None:
    r = reg(L, {**INVOICE, "number": number, **MOVED})
    assert r.error_code in ("duplicate_document", "suspected_duplicate"), r.error_message


def test_held_another_seller_entitys_copy_of_the_shipments_transport_document(
        L: Ledger) -> None:
    """A second entity of the exporter's group (another legal name) cannot bring the
    shipment's B/L or air waybill number into its trade: a transport document's identity is
    (carrier, number), whoever the shipper."""
    r = L.tx("exporter2", T, "register", doc_type="bill_of_lading",
             fields={**BILL_OF_LADING, "shipper": "Borealis Trading Co"},
             content_hash=h("group entity"))
    assert r.error_code == "duplicate_document", r.error_message
