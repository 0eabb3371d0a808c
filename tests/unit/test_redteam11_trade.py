"""Red-team round 11 over "one trade is financed only once, however its documents are dressed
up" (docs/redteam-trade.md "Round 11"; decisions 228-231): the same shipment under a re-issued
transport document. Round 10 left "a transport document re-issued under new digits: no voyage,
flight, container or weight on the ledger to match it by" -- the way one cargo was pledged
several times over in Qingdao. A bill of lading now carries its containers (ISO 6346, the check
digit verified), its voyage and its gross weight; a container under the live shipment of another
trade makes the second transport document a ``suspected_duplicate`` (decision 228).

Each ``test_f<n>_...`` fails on the code before (there a B/L had no ``containers``: the field was
``unknown_field``, so the re-issued B/L under new digits joined the second trade with nothing to
meet). The ``test_held_...`` tests pin what held, and what honest trade must still do.
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import Ledger
from contracts.trade.documents import CONTAINER_DAYS
from contracts.trade.norm import MAX_CONTAINERS, container_check_digit
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    MOVED,
    POOL,
    T,
    finance,
    h,
    open_trade,
    reg,
    register,
    trade_ledger,
)

#: three real-format containers (ISO 6346 check digits right)
BOX_A, BOX_B, BOX_C = "CSQU3054383", "MSKU9070323", "MAEU1234567"
DAY_MS = 86_400_000

#: the shipment's B/L with its boxes, voyage and weight
BL_BOXES = {**BILL_OF_LADING, "containers": [BOX_A, BOX_B], "voyage": "0123W",
            "gross_weight_kg": 24_000}
#: the same cargo re-issued: another carrier's B/L under new digits, another vessel
REISSUED = {**BILL_OF_LADING, "carrier": "MSCU", "bl_number": "MSCU-5550001",
            "vessel": "MSC Oscar", "voyage": "FE512", "gross_weight_kg": 23_950}


def shipment(led: Ledger, bl: dict[str, Any] | None = None) -> dict[str, str]:
    """Trade 1: its invoice, its attested declaration and its B/L with containers."""
    trade = register(led, "invoice", INVOICE)["trade_id"]
    decl = register(led, "customs_declaration", DECLARATION, trade_id=trade)["doc_id"]
    led.ok("customs", T, "attest", doc_id=decl, result="match", declared_amount=POOL)
    boxes = register(led, "bill_of_lading", bl or BL_BOXES, trade_id=trade)["doc_id"]
    return {"trade": trade, "boxes": boxes}


def second_trade(led: Ledger) -> str:
    """A second trade opened by an invoice under new digits, moved out of the window."""
    return str(reg(led, {**INVOICE, "number": "INV-2025-077", **MOVED}).result["trade_id"])


def by_container(r: Any, box: str) -> None:
    assert r.error_code == "suspected_duplicate", (r.status, r.error_code, r.error_message)
    assert f"container {box}" in (r.error_message or ""), r.error_message


@pytest.fixture(name="L")
def _ledger() -> Ledger:
    led = trade_ledger()
    ids = shipment(led)
    finance(led, "bank_a", POOL, trade_id=ids["trade"])
    return led


# ---------------------------------------------------------------------------- found and fixed


def test_f1_a_reissued_bill_of_lading_with_the_shipments_container_is_suspected(
        L: Ledger) -> None:
    """Another carrier's B/L under new digits (no core, no identity in common) for the same
    boxes, into a second trade."""
    trade = second_trade(L)
    by_container(reg(L, {**REISSUED, "containers": [BOX_B]}, "bill_of_lading",
                     trade_id=trade), BOX_B)


@pytest.mark.parametrize("written", ["msku9070323", "MSKU 907032-3", "MSKU-907032-3",
                                     "msku.907032.3", " MSKU907032 3 "])
def test_f2_the_container_written_otherwise_is_the_same_container(
        L: Ledger, written: str) -> None:
    trade = second_trade(L)
    by_container(reg(L, {**REISSUED, "containers": [written]}, "bill_of_lading",
                     trade_id=trade), BOX_B)


@pytest.mark.parametrize("typo", ["MSKU9070324", "MSKU 907032-0", "CSQU3054384"])
def test_f3_a_container_with_a_wrong_check_digit_is_refused_naming_it(
        L: Ledger, typo: str) -> None:
    """A typo'd check digit would be another box (the shipment's passing unmatched): refused,
    not guessed, naming the container and the digit ISO 6346 gives."""
    trade = second_trade(L)
    r = reg(L, {**REISSUED, "containers": [BOX_C, typo]}, "bill_of_lading", trade_id=trade)
    assert r.error_code == "bad_container", (r.error_code, r.error_message)
    digits = typo.replace(" ", "").replace("-", "")
    assert f"{digits[:10]}-{digits[10]}" in (r.error_message or "")
    assert f"gives {digits[:10]}-{container_check_digit(digits)}" in (r.error_message or "")


@pytest.mark.parametrize("bad", ["CSQU305438", "CSQX3054383", "1SQU3054383", "CSQU30543833"])
def test_f3_a_container_that_is_no_iso_6346_number_is_refused(L: Ledger, bad: str) -> None:
    r = reg(L, {**REISSUED, "containers": [bad]}, "bill_of_lading")
    assert r.error_code == "bad_container" and repr(bad) in (r.error_message or "")


def test_f4_the_shipments_containers_split_across_two_bills_of_lading(L: Ledger) -> None:
    """BOX_A and BOX_B under one B/L; each alone, or beside a new box, under another."""
    trade = second_trade(L)
    by_container(reg(L, {**REISSUED, "containers": [BOX_C, BOX_A]}, "bill_of_lading",
                     trade_id=trade), BOX_A)
    by_container(reg(L, {**REISSUED, "bl_number": "MSCU-5550002", "containers": [BOX_B]},
                     "bill_of_lading", trade_id=trade), BOX_B)
    # and the other way: the boxes first in two B/Ls of trade 2, then one B/L of them all
    led = trade_ledger(financing_requires_attestation=False)
    t2 = second_trade(led)
    for n, box in enumerate((BOX_A, BOX_B)):
        assert reg(led, {**REISSUED, "bl_number": f"MSCU-555000{n}", "containers": [box]},
                   "bill_of_lading", trade_id=t2).status == "committed"
    ids = open_trade(led)  # its B/L MAEU-778899 without containers
    by_container(reg(led, {**BL_BOXES, "bl_number": "MAEU-778900"}, "bill_of_lading",
                     trade_id=ids["trade"]), BOX_A)


def test_f5_a_second_trade_at_another_bank_needs_the_reason_read() -> None:
    """Where attestation is not required (the parameter's default), bank B financed the second
    trade whose B/L carried the first's boxes; now the B/L is suspected, and declared distinct
    it is financed only by a bank that read why."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    finance(led, "bank_a", POOL, trade_id=ids["trade"])
    trade = second_trade(led)
    bl = {**REISSUED, "containers": [BOX_A, BOX_B]}
    by_container(reg(led, bl, "bill_of_lading", trade_id=trade), BOX_A)
    assert reg(led, bl, "bill_of_lading", trade_id=trade,
               declare_distinct="the boxes came back empty").status == "committed"
    r = led.tx("bank_b", T, "request_financing", trade_id=trade, amount=90_000_00,
               currency="USD", maturity_date="2026-02-28")
    assert r.error_code == "distinct_not_acknowledged", r.error_message
    assert "the boxes came back empty" in (r.error_message or "")


def test_f6_an_air_waybill_for_goods_under_the_bill_of_lading(L: Ledger) -> None:
    """The ledger has one transport document type: an air waybill is registered as a
    ``bill_of_lading`` (airline "LH", AWB "020-12345675", the flight as its voyage). Naming the
    shipment's containers it is suspected like any re-issued B/L."""
    trade = second_trade(L)
    awb = {**REISSUED, "carrier": "LH", "bl_number": "020-12345675", "vessel": "Lufthansa Cargo",
           "voyage": "LH 8400", "containers": [BOX_A]}
    by_container(reg(L, awb, "bill_of_lading", trade_id=trade), BOX_A)


def test_f7_a_bill_of_lading_outside_any_trade_to_be_linked_later(L: Ledger) -> None:
    """Registered outside a trade (``link`` joins it later): no trade to be the shipment's, so
    the container is a conflict already."""
    by_container(reg(L, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading"), BOX_A)


def test_f8_closing_the_first_bill_of_lading_does_not_free_its_containers() -> None:
    """Before trade 1 is financed its owner may close its B/L; the boxes stay with it for the
    window (closing does not stop trade 1 being financed on its invoice)."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    led.ok("exporter", T, "close", doc_id=ids["boxes"])
    trade = second_trade(led)
    by_container(reg(led, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading",
                     trade_id=trade), BOX_A)


def test_f9_past_the_window_while_the_first_trade_owes_financing(L: Ledger) -> None:
    """Waiting out the window is not enough while the first financing is outstanding."""
    L.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    by_container(reg(L, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading"), BOX_A)


def test_f10_declared_distinct_from_a_look_alike_the_container_was_said_nowhere(
        L: Ledger) -> None:
    """The re-issued B/L numbered as a copy of a harmless B/L of the exporter's ("HLCU-4440001"
    with box C) meets that one by its digits first; declared distinct from it ("the second
    original of order 4440001"), the shipment's box under trade 1 was named nowhere: not in the
    reason the bank acknowledges, not on trade 1's B/L. Now both say it."""
    L.ok("exporter", T, "register", doc_type="bill_of_lading", content_hash=h("harmless"),
         fields={**REISSUED, "carrier": "HLCU", "bl_number": "HLCU-4440001",
                 "containers": [BOX_C]})
    trade = second_trade(L)
    r = reg(L, {**REISSUED, "carrier": "HLCU", "bl_number": "HLCU-4440001-2",
                "containers": [BOX_A]}, "bill_of_lading", trade_id=trade,
            declare_distinct="the second original of order 4440001")
    assert r.status == "committed", r.error_message
    note = L.get(T, "doc/" + r.result["doc_id"])["declared_distinct"]
    assert note["container"] == BOX_A
    boxes = L.get(T, "doc/" + note["container_of"])
    assert boxes["fields"]["containers"] == [BOX_A, BOX_B]
    assert [c["doc_id"] for c in boxes["distinct_copies"]] == [r.result["doc_id"]]


def test_f11_another_exporters_document_is_not_named(L: Ledger) -> None:
    """A co-loader (another exporter) whose B/L names a box of the shipment learnt the id of
    the shipment's B/L from the refusal; the exporter's own is still named."""
    boxes = next(k.decode().split("/")[-1] for k in L.state.data
                 if k.startswith(f"{T}/doc/".encode())
                 and L.get(T, k.decode().split("/", 1)[1]).get("fields", {}).get("containers"))
    r = L.tx("exporter2", T, "register", doc_type="bill_of_lading", content_hash=h("co"),
             fields={**REISSUED, "shipper": "Borealis Trading Co", "containers": [BOX_A]})
    by_container(r, BOX_A)
    assert boxes not in (r.error_message or "") and "another exporter" in r.error_message
    own = reg(L, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading")
    assert boxes in (own.error_message or "")


# ---------------------------------------------------------------------------- held


def test_held_the_same_trade_takes_the_shipments_containers_again() -> None:
    """A second B/L of the same trade (a switch B/L, the on-carriage leg) names the boxes with
    no note; a numbered copy of the B/L is suspected by its number as before (decision 203),
    not by its boxes."""
    led = trade_ledger()
    ids = shipment(led)
    finance(led, "bank_a", POOL, trade_id=ids["trade"])
    r = reg(led, {**REISSUED, "containers": [BOX_A, BOX_B]}, "bill_of_lading",
            trade_id=ids["trade"])
    assert r.status == "committed", r.error_message
    assert led.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    copy = reg(led, {**BL_BOXES, "bl_number": "MAEU-778899/2"}, "bill_of_lading",
               trade_id=ids["trade"])
    assert copy.error_code == "suspected_duplicate" and "same digits" in copy.error_message


def test_held_a_container_reused_after_its_voyage() -> None:
    """Past the window, the first trade owing nothing (unfinanced, or repaid), the box carries
    other goods with no note and the new document takes its key."""
    led = trade_ledger(financing_requires_attestation=False)
    ids = shipment(led)
    fin = finance(led, "bank_a", POOL, trade_id=ids["trade"])
    led.now_ms += (CONTAINER_DAYS + 1) * DAY_MS
    led.ok("exporter", T, "repay", financing_id=fin["financing_id"], amount=POOL)
    trade = second_trade(led)
    r = reg(led, {**REISSUED, "containers": [BOX_A]}, "bill_of_lading", trade_id=trade)
    assert r.status == "committed", r.error_message
    assert led.get(T, "doc/" + r.result["doc_id"])["declared_distinct"] is None
    by_container(reg(led, {**REISSUED, "bl_number": "MSCU-5550009", "containers": [BOX_A]},
                     "bill_of_lading"), BOX_A)


def test_held_documents_without_containers_as_before() -> None:
    """A B/L without the new fields registers as before and writes no container key; one per
    container otherwise, however many documents name it."""
    led = trade_ledger()
    open_trade(led)
    assert not [k for k in led.state.data if k.startswith(f"{T}/ctr/".encode())]
    shipment_led = trade_ledger()
    shipment(shipment_led)
    keys = [k for k in shipment_led.state.data if k.startswith(f"{T}/ctr/".encode())]
    assert len(keys) == 2


def test_held_the_new_fields_normalised_and_bounded(L: Ledger) -> None:
    trade = second_trade(L)
    r = reg(L, {**REISSUED, "containers": [BOX_C, "maeu 123456-7"], "voyage": "fe 512-e"},
            "bill_of_lading", trade_id=trade)
    assert r.status == "committed", r.error_message
    f = L.get(T, "doc/" + r.result["doc_id"])["fields"]
    assert f["containers"] == [BOX_C] and f["voyage"] == "FE512E"
    assert f["gross_weight_kg"] == 23_950
    for fields, code in (
            ({**REISSUED, "gross_weight_kg": "23950"}, "bad_field"),
            ({**REISSUED, "gross_weight_kg": 0}, "bad_field"),
            ({**REISSUED, "gross_weight_kg": "24,000 kg"}, "bad_field"),
            ({**REISSUED, "gross_weight_kg": True}, "bad_field"),
            ({**REISSUED, "containers": []}, "bad_field"),
            ({**REISSUED, "containers": BOX_C}, "bad_field"),
            ({**REISSUED, "containers": [BOX_C] * (MAX_CONTAINERS + 1)}, "bad_field"),
            ({**REISSUED, "voyage": "--"}, "bad_field"),
            ({**INVOICE, "containers": [BOX_C]}, "unknown_field")):
        doc_type = "invoice" if "seller" in fields else "bill_of_lading"
        assert reg(L, fields, doc_type).error_code == code, fields


def test_held_another_shipper_in_the_same_box_declares_it() -> None:
    """A consolidated (LCL) box carries several shippers' goods under several B/Ls: the second
    is suspected, registers declared distinct, and its bank reads why."""
    led = trade_ledger(financing_requires_attestation=False)
    shipment(led)
    lcl = {**REISSUED, "shipper": "Borealis Trading Co", "containers": [BOX_A]}
    r = led.tx("exporter2", T, "register", doc_type="bill_of_lading", content_hash=h("lcl"),
               fields=lcl)
    by_container(r, BOX_A)
    r = led.tx("exporter2", T, "register", doc_type="bill_of_lading", content_hash=h("lcl"),
               fields=lcl, declare_distinct="LCL: our 4 pallets in the box")
    assert r.status == "committed", r.error_message


@pytest.mark.parametrize("dressed, code", [
    ("ＣＳＱＵ３０５４３８３", None),       # full-width: NFKC makes it the same box
    ("CSQU\u00a03054383", None),          # a no-break space
    ("СSQU3054383", "bad_container"),      # a Cyrillic С: refused, not another box
    ("CSQU_305438_3", "bad_container"),
])
def test_held_a_container_dressed_in_other_characters(
        L: Ledger, dressed: str, code: str | None) -> None:
    r = reg(L, {**REISSUED, "containers": [dressed]}, "bill_of_lading")
    if code is None:
        by_container(r, BOX_A)
    else:
        assert r.error_code == code, r.error_message
