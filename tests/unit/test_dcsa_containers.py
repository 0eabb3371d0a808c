"""A DCSA eBL's equipment, voyage and gross weight mapped into the ledger's ``bill_of_lading``
``containers``, ``voyage`` and ``gross_weight_kg`` (chainfin/dcsa.py, decisions 258 and 259;
docs/documents-ingest.md). Before, ``chainfin trade register --dcsa`` sent none of them, so a
re-issued B/L read from an eBL met no container of the shipment (red-team round 11's "left").

Every test here but the check digit's agreement with the ledger's fails on the code before (no
``containers``, ``voyage`` or ``gross_weight_kg`` was read; a weight with a fraction was a float).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from chainfin import dcsa
from contracts.trade.norm import container_check_digit, normalise_fields
from tests.unit.test_dcsa import BL_ACCEPTS, TD
from tests.unit.trade_cases import INVOICE, T, h, register, trade_ledger

BOX_1, BOX_2 = "MSKU7712342", "APZU4812090"  # ISO 6346 check digits right


def td_with(equipment: list[str] | None = None,
            weights: list[Any] | None = None) -> dict[str, Any]:
    """The fixture with these equipment references and one cargo item per weight (each
    ``{"value", "unit"}`` or a Beta ``(number, unit)`` pair)."""
    doc = copy.deepcopy(TD)
    if equipment is not None:
        doc["utilizedTransportEquipments"] = [
            {"equipment": {"equipmentReference": e, "ISOEquipmentCode": "42G1"}}
            for e in equipment]
    if weights is not None:
        items = []
        for w in weights:
            if isinstance(w, tuple):
                items.append({"equipmentReference": BOX_1, "cargoGrossWeight": w[0],
                              "cargoGrossWeightUnit": w[1]})
            else:
                items.append({"equipmentReference": BOX_1, "cargoGrossWeight": w})
        doc["consignmentItems"][0]["cargoItems"] = items
    return doc


def fields_of(doc: dict[str, Any], raw: str | None = None,
              accepted: Any = BL_ACCEPTS) -> tuple[dict[str, Any], dict[str, Any]]:
    data = (raw or json.dumps(doc)).encode()
    return dcsa.bl_fields(dcsa.parse_transport_document(data), accepted)


def refused(doc: dict[str, Any] | None = None, raw: str | None = None) -> str:
    with pytest.raises(dcsa.DcsaError) as e:
        fields_of(doc or {}, raw)
    return str(e.value)


def test_the_equipment_voyage_and_weight_are_sent_as_the_ledger_takes_them() -> None:
    fields, not_sent = fields_of(td_with([BOX_1, "apzu 481209-0", "MSKU-771234-2"]))
    assert fields["containers"] == [BOX_1, BOX_2]  # once each, separators dropped
    assert fields["voyage"] == "447W"  # the first vessel's (the one loaded at the POL)
    assert fields["gross_weight_kg"] == 4210
    assert "equipment" not in not_sent
    norm = normalise_fields("bill_of_lading", fields, lambda code: 2)
    assert norm["containers"] == sorted([BOX_1, BOX_2]) and norm["gross_weight_kg"] == 4210


def test_not_sent_where_the_ledger_does_not_take_them() -> None:
    fields, not_sent = fields_of(td_with([BOX_1]), accepted=())
    assert not {"containers", "voyage", "gross_weight_kg"} & set(fields)
    assert not_sent["containers"] == [BOX_1] and not_sent["voyage"] == "447W"
    assert not_sent["gross_weight_kg"] == 4210


def test_a_reference_that_is_no_valid_iso_6346_number_is_listed_not_sent() -> None:
    """MSKU7712345 has a wrong check digit (ISO 6346 gives 2: the fixture's box until decision
    267); a swap body's plate is no container number: each listed with why, the valid box
    sent."""
    fields, not_sent = fields_of(td_with(["MSKU7712345"]))
    assert "containers" not in fields
    assert not_sent["equipment"] == [{"reference": "MSKU7712345", "why": (
        "its check digit is wrong (ISO 6346 gives MSKU771234-2)")}]
    fields, not_sent = fields_of(TD)  # the fixture's own box, right since decision 267
    assert fields["containers"] == [BOX_1] and "equipment" not in not_sent
    fields, not_sent = fields_of(td_with([BOX_2, "SWAP-BODY-77"]))
    assert fields["containers"] == [BOX_2]
    assert not_sent["equipment"][0]["reference"] == "SWAP-BODY-77"


def test_the_cargo_items_equipment_when_no_utilized_equipment_is_listed() -> None:
    doc = td_with(weights=[{"value": 4210, "unit": "KGM"}])
    doc.pop("utilizedTransportEquipments")
    assert fields_of(doc)[0]["containers"] == [BOX_1]


def test_the_chainfin_check_digit_is_the_ledgers() -> None:
    for code in ("MSKU771234", "APZU481209", "CSQU305438", "TSTU000017", "ZZZJ999999"):
        assert dcsa.container_check_digit(code) == container_check_digit(code), code


@pytest.mark.parametrize(("weights", "kg"), [
    ([{"value": 4210, "unit": "KGM"}], 4210),
    ([{"value": 4210.5, "unit": "KGM"}], 4211),  # a half up
    ([{"value": 4210.49, "unit": "KGM"}], 4210),
    ([{"value": 0.25, "unit": "KGM"}, {"value": 0.25, "unit": "KGM"}, {"value": 1, "unit": "KGM"}],
     2),  # summed exactly, then rounded once: 1.5 -> 2
    ([{"value": 10_000, "unit": "LBR"}], 4536),  # 4535.9237 kg
    ([{"value": 1, "unit": "LBR"}, {"value": 1, "unit": "LBR"}], 1),  # 0.90718474 kg
    ([{"value": 2000, "unit": "KGM"}, {"value": 5000, "unit": "LBR"}], 4268),  # 4267.96185
    ([(9281.5, "LBR")], 4210),  # 3.0 Beta: a number beside cargoGrossWeightUnit; 4209.99 kg
])
def test_the_gross_weight_is_exact_in_kilograms(weights: list[Any], kg: int) -> None:
    assert fields_of(td_with([BOX_1], weights))[0]["gross_weight_kg"] == kg


def test_a_weight_is_read_as_the_decimal_written_never_a_float() -> None:
    """0.3 + 1.9 + 0.3 kg is 2.5 kg, rounded up to 3; summed as floats it is
    2.4999999999999996, which rounds to 2: the JSON numbers are read as the decimals written."""
    assert dcsa.load_json(b'{"w": 0.1}') == {"w": Decimal("0.1")}
    assert 0.3 + 1.9 + 0.3 < 2.5
    weights = [{"value": 0.3, "unit": "KGM"}, {"value": 1.9, "unit": "KGM"},
               {"value": 0.3, "unit": "KGM"}]
    assert fields_of(td_with([BOX_1], weights))[0]["gross_weight_kg"] == 3


@pytest.mark.parametrize(("weight", "said"), [
    ({"value": 4210, "unit": "TNE"}, "the unit 'TNE' is not KGM or LBR"),
    ({"value": 4210}, "the unit None is not KGM or LBR"),
    ({"value": "4210", "unit": "KGM"}, "a weight is a JSON number"),
    ({"value": True, "unit": "KGM"}, "a weight is a JSON number"),
    ({"value": 0, "unit": "KGM"}, "a weight is above zero"),
    ({"value": -5, "unit": "KGM"}, "a weight is above zero"),
    ({"value": 0.4, "unit": "KGM"}, "below one kilogram"),
])
def test_a_weight_that_cannot_be_read_exactly_is_refused(weight: Any, said: str) -> None:
    assert said in refused(td_with([BOX_1], [weight]))


def test_a_weight_missing_on_one_cargo_item_is_not_sent() -> None:
    doc = td_with([BOX_1], [{"value": 4210, "unit": "KGM"}, {"value": 10, "unit": "KGM"}])
    doc["consignmentItems"][0]["cargoItems"][1].pop("cargoGrossWeight")
    fields, not_sent = fields_of(doc)
    assert "gross_weight_kg" not in fields
    assert "1 of 2 cargo items have no cargoGrossWeight" in not_sent["gross_weight"]


def test_the_beta_shape_voyage_beside_its_vessel() -> None:
    doc = td_with([BOX_1])
    doc["transports"].pop("vesselVoyages")
    doc["transports"] |= {"vesselName": "Maersk Essen", "carrierExportVoyageNumber": "447W"}
    assert fields_of(doc)[0]["voyage"] == "447W"


def test_a_reissued_ebl_naming_the_shipments_box_is_suspected_on_the_ledger() -> None:
    """End to end on the contract: the eBL's boxes registered with trade 1; another eBL (new
    number, another carrier's voyage) for the same box into a second trade is suspected by the
    container rule (decision 228) — what the ingest could not say before."""
    led = trade_ledger(financing_requires_attestation=False)
    t1 = register(led, "invoice", INVOICE)["trade_id"]
    fields, _ = fields_of(td_with([BOX_1, BOX_2]))
    register(led, "bill_of_lading", fields, trade_id=t1)
    t2 = register(led, "invoice", {**INVOICE, "number": "INV-2025-077",
                                   "issue_date": "2025-11-27",
                                   "amount": INVOICE["amount"] * 97 // 100})["trade_id"]
    again = td_with([BOX_2])
    again["transportDocumentReference"] = "MAEU261299999"
    fields2, _ = fields_of(again)
    r = led.tx("exporter", T, "register", doc_type="bill_of_lading", fields=fields2,
               content_hash=h("reissued eBL"), trade_id=t2)
    assert r.error_code == "suspected_duplicate", (r.status, r.error_message)
    assert f"container {BOX_2}" in (r.error_message or "")
