"""One trade is financed once however its documents are dressed up: the red-team's evasions
(re-numbered copies, part invoices, alias seller names, letters of credit routed to a copy,
one LC issued twice) each refused."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import codec
from contracts.testing import Ledger
from contracts.trade.view import render, trade_report
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    T,
    finance,
    h,
    open_trade,
    refused,
    register,
    trade_ledger,
)

# ---------------------------------------------------------------------------- re-numbered copies

#: The red-team's copies of the financed trade: (invoice changes, declaration number, B/L number)
COPIES: dict[str, tuple[dict[str, Any], str, str]] = {
    "zero-width space in the numbers, Cyrillic o in the buyer":
        ({"number": "INV-2025\u200b-001", "buyer": "Gl\u043ebex Corp"},
         "CD/2025/\u200b000123", "MAEU-\u200b778899"),
    "leading zero, buyer 'Corporation' for 'Corp'":
        ({"number": "INV-2025-0001", "buyer": "Globex Corporation"},
         "CD/2025/0000123", "MAEU-0778899"),
    "en dash for hyphen, zero-width joiner in the buyer":
        ({"number": "INV\u20132025\u2013001", "buyer": "Globex\u200d Corp"},
         "CD\u20132025\u2013000123", "MAEU\u2013778899"),
    "'No.' prefix, amount one cent lower":
        ({"number": "No. INV-2025-001", "amount": 99_999_99},
         "No. CD/2025/000123", "No. MAEU-778899"),
    "'#' separators, issue date one day later":
        ({"number": "INV#2025#001", "issue_date": "2025-11-21"}, "CD#2025#000123", "MAEU#778899"),
    "soft hyphen, restated in CNY":
        ({"number": "INV-2025\u00ad-001", "currency": "CNY", "amount": 720_000_00},
         "CD/2025/\u00ad000123", "MAEU-\u00ad778899"),
}


@pytest.mark.parametrize("case", sorted(COPIES))
def test_a_cosmetically_renumbered_copy_of_a_financed_trade_is_refused(case: str) -> None:
    led = trade_ledger()
    ids = open_trade(led)
    finance(led, "bank_a", 98_000_00, trade_id=ids["trade"])
    inv, decl_no, bl_no = COPIES[case]
    refused(led, "duplicate_document", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, **inv}, content_hash=h(("copy", case)))
    refused(led, "duplicate_document", "exporter", "register", doc_type="customs_declaration",
            fields={**DECLARATION, "declaration_number": decl_no}, content_hash=h(("d", case)))
    refused(led, "duplicate_document", "exporter", "register", doc_type="bill_of_lading",
            fields={**BILL_OF_LADING, "bl_number": bl_no}, content_hash=h(("b", case)))


@pytest.mark.parametrize("change", [
    {"amount": 99_999_99}, {"amount": 100_900_00}, {"amount": 99_100_00},
    {"issue_date": "2025-11-23"}, {"issue_date": "2025-11-17"},
    {"buyer": "Gl\u043ebex Corporation", "issue_date": "2025-11-21", "amount": "99,950.00"},
    {},  # the exact copy is the special case
])
def test_a_renumbered_invoice_near_a_registered_one_is_a_suspected_duplicate(
        change: dict[str, Any]) -> None:
    led = trade_ledger()
    first = register(led, "invoice", INVOICE)["doc_id"]
    r = refused(led, "suspected_duplicate", "exporter", "register", doc_type="invoice",
                fields={**INVOICE, "number": "INV-2025-777", **change}, content_hash=h("near"))
    assert first in r.error_message


@pytest.mark.parametrize("change", [
    {"amount": 102_500_00}, {"amount": 97_500_00}, {"issue_date": "2025-11-24"},
    {"issue_date": "2025-11-16"}, {"buyer": "Initech"}, {"currency": "CNY"},
])
def test_an_invoice_further_away_is_another_sale(change: dict[str, Any]) -> None:
    led = trade_ledger()
    register(led, "invoice", INVOICE)
    register(led, "invoice", {**INVOICE, "number": "INV-2025-777", **change})


def test_a_near_invoice_declared_distinct_is_registered_and_disclosed() -> None:
    led = trade_ledger()
    first = register(led, "invoice", INVOICE)["doc_id"]
    r = register(led, "invoice", {**INVOICE, "number": "INV-2025-777", "issue_date": "2025-11-22"},
                 declare_distinct="second shipment of the same order")
    doc = led.get(T, "doc/" + r["doc_id"])
    assert doc["declared_distinct"] == {"reason": "second shipment of the same order",
                                        "similar_to": first}
    assert led.get(T, "doc/" + first)["distinct_copies"] == [
        {"doc_id": r["doc_id"], "reason": "second shipment of the same order"}]


def test_the_similarity_memory_keeps_the_last_64_invoices_of_a_seller_to_a_buyer() -> None:
    """One read and one write per invoice: the list of a seller's invoices to one buyer is
    bounded, and a copy of one still remembered is caught however many came between."""
    import datetime

    from contracts.trade.norm import SIMILAR_KEEP

    led = trade_ledger()
    day = datetime.date(2025, 1, 1)
    for i in range(SIMILAR_KEEP + 6):
        register(led, "invoice", {**INVOICE, "number": f"INV-S-{i}",
                                  "issue_date": (day + datetime.timedelta(days=10 * i)).isoformat()})
    lists = [codec.decode(v) for _, v in led.state.items_with_prefix(f"{T}/sim/".encode())]
    assert [len(v) for v in lists] == [SIMILAR_KEEP]
    for i, code in ((SIMILAR_KEEP + 5, "suspected_duplicate"), (0, None)):  # the first is gone
        near = (day + datetime.timedelta(days=10 * i + 1)).isoformat()
        r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h(("copy", i)),
                   fields={**INVOICE, "number": f"INV-S-COPY-{1000 + i}",  # digits of its own
                           "issue_date": near})
        assert r.error_code == code, r.error_message


# ---------------------------------------------------------------------------- part invoices


@pytest.mark.parametrize("number", ["INV-2025-001/1", "INV-2025-001-A", "INV 2025 001 2 B"])
def test_a_part_invoice_of_a_financed_invoice_is_a_suspected_duplicate(number: str) -> None:
    """Red-team r2: the 100,000.00 sale re-invoiced as 60,000.00 + 40,000.00 parts."""
    led = trade_ledger(financing_requires_attestation=False)
    inv = register(led, "invoice", INVOICE)
    finance(led, "bank_a", 100_000_00, trade_id=inv["trade_id"])
    r = refused(led, "suspected_duplicate", "exporter", "register", doc_type="invoice",
                fields={**INVOICE, "number": number, "amount": 60_000_00}, content_hash=h(number))
    assert inv["doc_id"] in r.error_message and "part" in r.error_message


def test_the_whole_invoice_after_a_part_is_a_suspected_duplicate() -> None:
    led = trade_ledger()
    part = register(led, "invoice", {**INVOICE, "number": "INV-2025-001/1",
                                     "amount": 60_000_00})["doc_id"]
    r = refused(led, "suspected_duplicate", "exporter", "register", doc_type="invoice",
                fields=INVOICE, content_hash=h("whole"))
    assert part in r.error_message and "part" in r.error_message
    whole = register(led, "invoice", INVOICE, declare_distinct="the order, invoiced in full")
    assert led.get(T, "doc/" + whole["doc_id"])["declared_distinct"]["similar_to"] == part
    # the whole invoice's number is now registered: a copy of it is a duplicate, not a part
    refused(led, "duplicate_document", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, "number": "INV-2025-0001"}, content_hash=h("again"))


def test_numbers_of_a_series_are_not_parts_of_each_other() -> None:
    led = trade_ledger()
    register(led, "invoice", {**INVOICE, "number": "INV-2025-001"})
    for i, number in enumerate(("INV-2025-0011", "INV-2025-002", "INV-2025-010")):
        register(led, "invoice", {**INVOICE, "number": number, "amount": 10_000_00 * (i + 2)})


# ---------------------------------------------------------------------------- alias sellers


@pytest.mark.parametrize("alias", ["ACME Exports Limited", "\u0410CME Exports Ltd",
                                   "ACME\u200b Exports Ltd"])
def test_an_alias_identity_of_the_seller_cannot_register_the_same_invoice(alias: str) -> None:
    """Red-team r3: a second identity whose name differs only cosmetically is the same seller."""
    led = trade_ledger()
    ids = open_trade(led)
    finance(led, "bank_a", 98_000_00, trade_id=ids["trade"])
    alt = led.add_identity("acme_alias")
    led.ok("bank_a", "governance", "register_identity", pubkey=alt.public_key.hex(), name=alias,
           role="exporter")
    refused(led, "duplicate_document", "acme_alias", "register", doc_type="invoice",
            fields={**INVOICE, "seller": alias}, content_hash=h(("alias", alias)))


# ---------------------------------------------------------------------------- letters of credit

LC_COPY = {"issuing_bank": "BKCHUS33", "lc_number": "LC-7781", "applicant": "Globex Corp",
           "beneficiary": "ACME Exports Ltd", "amount": 100_000_00, "currency": "USD",
           "expiry_date": "2026-06-30"}


def _bic_bank(led: Ledger, name: str, bic: str) -> None:
    ident = led.add_identity(name)
    led.ok("bank_a", "governance", "register_identity", pubkey=ident.public_key.hex(),
           name="Bank of China NY " + name, role="bank", bank=bic)


def _issue(led: Ledger, bank: str, number: str = "LC-7781", **extra: Any) -> Any:
    return led.tx(bank, T, "issue_lc", applicant=led.pk("importer"),
                  beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
                  expiry_date="2026-06-30", lc_number=number, **extra)


def _other_trade(led: Ledger) -> dict[str, Any]:
    return register(led, "invoice", {**INVOICE, "number": "INV-2025-500", "amount": 40_000_00,
                                     "issue_date": "2025-11-10"})


def test_an_lc_copy_joining_a_trade_attaches_the_issued_lc_to_it() -> None:
    """Red-team r4: the LC whose copy a bank financed against cannot pay another trade."""
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33XXX")
    r = _issue(led, "bkch")
    assert r.status == "committed"
    lc_id = r.result["lc_id"]
    ids = open_trade(led)
    register(led, "letter_of_credit", {**LC_COPY, "lc_number": "lc 07781"}, trade_id=ids["trade"])
    assert led.get(T, "lc/" + lc_id)["trade_id"] == ids["trade"]
    assert led.get(T, "trade/" + ids["trade"])["lcs"] == [lc_id]
    finance(led, "bank_a", 98_000_00, trade_id=ids["trade"])
    other = _other_trade(led)
    refused(led, "document_mismatch", "exporter", "present", lc_id=lc_id,
            doc_ids=[other["doc_id"]], amount=40_000_00)
    led.ok("exporter", T, "present", lc_id=lc_id, doc_ids=[ids["invoice"]], amount=100_000_00)


def test_an_lc_copy_linked_to_a_trade_later_attaches_the_issued_lc() -> None:
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    lc_id = _issue(led, "bkch").result["lc_id"]
    ids = open_trade(led)
    copy = register(led, "letter_of_credit", LC_COPY)["doc_id"]
    assert led.get(T, "lc/" + lc_id)["trade_id"] is None
    led.ok("exporter", T, "link", trade_id=ids["trade"], doc_id=copy)
    assert led.get(T, "lc/" + lc_id)["trade_id"] == ids["trade"]
    assert led.get(T, "trade/" + ids["trade"])["lcs"] == [lc_id]


def test_an_lc_issued_after_its_copy_joined_a_trade_is_attached_to_that_trade() -> None:
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    ids = open_trade(led)
    register(led, "letter_of_credit", LC_COPY, trade_id=ids["trade"])
    r = _issue(led, "bkch")
    assert r.status == "committed"
    lc_id = r.result["lc_id"]
    assert led.get(T, "lc/" + lc_id)["trade_id"] == ids["trade"]
    other = _other_trade(led)
    refused(led, "document_mismatch", "exporter", "present", lc_id=lc_id,
            doc_ids=[other["doc_id"]], amount=40_000_00)


def test_an_lc_copy_cannot_join_another_trade_than_its_lc() -> None:
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    ids = open_trade(led)
    assert _issue(led, "bkch", trade_id=ids["trade"]).status == "committed"
    other = _other_trade(led)
    r = refused(led, "document_mismatch", "exporter", "register", doc_type="letter_of_credit",
                fields=LC_COPY, content_hash=h("copy"), trade_id=other["trade_id"])
    assert "another trade" in r.error_message


@pytest.mark.parametrize(("bank", "number"), [
    ("bkch_branch", "LC-7781"), ("bkch", "LC-07781"), ("bkch", "LC-\u200b7781"),
    ("bkch_branch", "No. LC 7781"),
])
def test_one_bank_issues_an_lc_number_once_whatever_its_bic_form(bank: str, number: str) -> None:
    """Red-team r5: 'BKCHUS33' and 'BKCHUS33XXX' are one bank; 'LC-07781' is 'LC-7781'."""
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    _bic_bank(led, "bkch_branch", "BKCHUS33XXX")
    assert _issue(led, "bkch").status == "committed"
    r = _issue(led, bank, number)
    assert (r.status, r.error_code) == ("rejected", "duplicate_lc")


# ---------------------------------------------------------------------------- fields


@pytest.mark.parametrize("text", ["INV-2025-001\x00", "INV\x1b[2J-2025", "INV\x85-1"])
def test_control_characters_in_a_document_field_are_refused(text: str) -> None:
    led = trade_ledger()
    refused(led, "bad_field", "exporter", "register", doc_type="invoice",
            fields={**INVOICE, "number": text}, content_hash=h(text))


def test_a_bank_cannot_join_a_trade_by_issuing_an_lc_for_it() -> None:
    """Red-team (privacy #5): an LC naming a trade made its issuer a party of the trade (its
    records, documents and the other banks' financings). It joins only when the beneficiary
    presents under it (or registers its copy in the trade)."""
    led = trade_ledger()
    ids = open_trade(led)
    r = led.tx("bank_c", T, "issue_lc", applicant=led.pk("importer"),
               beneficiary=led.pk("exporter"), amount=100_000_00, currency="USD",
               expiry_date="2026-06-30", lc_number="LC-9", trade_id=ids["trade"],
               partial_drawings=True)
    lc_id = r.result["lc_id"]
    assert led.get(T, "trade/" + ids["trade"])["lcs"] == []
    lc = led.get(T, "lc/" + lc_id)
    assert lc["trade_id"] is None and lc["for_trade"] == ids["trade"]
    inv = led.get(T, "trade/" + ids["trade"])["invoice"]
    led.ok("exporter", T, "present", lc_id=lc_id, doc_ids=[inv], amount=50_000_00)
    assert led.get(T, "trade/" + ids["trade"])["lcs"] == [lc_id]
    other = _other_trade(led)  # and it cannot be drawn with another trade's documents
    r = led.tx("exporter", T, "present", lc_id=lc_id, doc_ids=[other["doc_id"]],
               amount=1_00)
    assert r.error_code == "document_mismatch"


def _squat(led: Ledger) -> dict[str, Any]:
    """Another exporter registers a copy of BKCHUS33's LC-7781 before the bank issues it, into
    a trade of its own. Returns its trade and copy ids."""
    inv = register(led, "invoice", {**INVOICE, "seller": "Borealis Trading Co", "number": "BT-1",
                                    "amount": 50_000_00}, who="exporter2")
    copy = register(led, "letter_of_credit", {**LC_COPY, "beneficiary": "Borealis Trading Co"},
                    who="exporter2", trade_id=inv["trade_id"])
    return {"trade": inv["trade_id"], "copy": copy["doc_id"]}


@pytest.mark.parametrize("for_trade", [True, False])
def test_a_copy_of_an_lc_number_registered_by_another_exporter_is_disputed(
        for_trade: bool) -> None:
    """Red-team r6: a copy registered first by an exporter other than the beneficiary blocked
    the real LC's issue (``document_mismatch`` either way). Now the LC is issued, the copy is
    disputed (its trade is not financed; it gives the number up), the supervisors are alerted."""
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    ids = open_trade(led)
    squat = _squat(led)
    extra = {"trade_id": ids["trade"]} if for_trade else {}
    r = _issue(led, "bkch", **extra)
    assert r.status == "committed", r.error_message
    lc_id = r.result["lc_id"]
    lc = led.get(T, "lc/" + lc_id)
    assert lc["trade_id"] is None and lc.get("for_trade") == extra.get("trade_id")
    assert led.get(T, "trade/" + squat["trade"])["lcs"] == []
    assert led.get(T, "doc/" + squat["copy"])["disputed"]["reason"] == \
        "lc_issued_to_another_beneficiary"
    alerts = [e for e in r.events if e.name == "alert"]
    assert [(e.data["rule"], e.data["accounts"], e.data["doc_id"]) for e in alerts] == \
        [("lc_copy_disputed", [], squat["copy"])]
    r = refused(led, "document_disputed", "bank_a", "request_financing", amount=10_000_00,
                currency="USD", maturity_date="2026-02-28", trade_id=squat["trade"])
    assert "Borealis" not in r.error_message
    shown = render(trade_report(lambda k: led.get(T, k), squat["trade"], now_ms=led.now_ms))
    assert "DISPUTED" in shown  # what the credit officer sees (chainfin trade show)
    # the beneficiary registers its own copy in its trade, which the LC then joins and pays
    register(led, "letter_of_credit", LC_COPY, trade_id=ids["trade"])
    assert led.get(T, "lc/" + lc_id)["trade_id"] == ids["trade"]
    finance(led, "bank_a", 98_000_00, trade_id=ids["trade"])
    led.ok("exporter", T, "present", lc_id=lc_id, doc_ids=[ids["invoice"]], amount=100_000_00)


def test_the_beneficiarys_own_copy_in_another_trade_still_stops_the_issue() -> None:
    led = trade_ledger()
    _bic_bank(led, "bkch", "BKCHUS33")
    ids = open_trade(led)
    other = _other_trade(led)
    register(led, "letter_of_credit", LC_COPY, trade_id=other["trade_id"])
    r = _issue(led, "bkch", trade_id=ids["trade"])
    assert r.error_code == "document_mismatch" and "another trade" in r.error_message


def test_an_exact_copy_is_caught_however_many_invoices_came_between() -> None:
    """Red-team round 2: 64 small invoices to the same buyer flushed the first from the
    similarity list; the exact content copy is remembered for good (cfp/)."""
    import datetime

    from contracts.trade.norm import SIMILAR_KEEP

    led = trade_ledger()
    first = register(led, "invoice", INVOICE)["doc_id"]
    day = datetime.date(2024, 1, 1)
    for i in range(SIMILAR_KEEP + 1):
        register(led, "invoice", {**INVOICE, "number": f"INV-F-{i}", "amount": 100 + 7 * i,
                                  "issue_date": (day + datetime.timedelta(days=10 * i))
                                  .isoformat()})
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h("flush-copy"),
               fields={**INVOICE, "number": "INV-9999-777"})
    assert r.error_code == "suspected_duplicate" and first in r.error_message


def test_copies_declared_distinct_are_kept_as_the_last_16_and_a_count() -> None:
    led = trade_ledger()
    first = register(led, "invoice", INVOICE)["doc_id"]
    for i in range(20):
        register(led, "invoice", {**INVOICE, "number": f"INV-2025-001/{i}"},
                 declare_distinct=f"instalment {i}")
    doc = led.get(T, "doc/" + first)
    assert len(doc["distinct_copies"]) == 16 and doc["distinct_count"] == 20


def test_deeper_part_invoices_are_suspected_in_either_order() -> None:
    """Red-team round 2: three-token parts ("-P1/2") after the whole, and two-token parts
    ("/1/2") before it, went through."""
    led = trade_ledger(financing_requires_attestation=False)
    register(led, "invoice", INVOICE)
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h("p3"),
               fields={**INVOICE, "number": "INV-2025-001-P1/2", "amount": 49_000_00,
                       "issue_date": "2025-12-20"})
    assert r.error_code == "suspected_duplicate"
    led = trade_ledger(financing_requires_attestation=False)
    for i, part in enumerate(("1/2", "2/2")):
        register(led, "invoice", {**INVOICE, "number": f"INV-2025-001/{part}",
                                  "amount": 49_000_00 + i, "issue_date": f"2025-12-{10 + 9 * i}"},
                 declare_distinct="instalments" if i else None)
    r = led.tx("exporter", T, "register", doc_type="invoice", content_hash=h("whole"),
               fields={**INVOICE, "issue_date": "2026-02-01"})
    assert r.error_code == "suspected_duplicate"
