"""A consortium that requires a bill of lading's containers (decisions 265-267).

Decision 231 left containers optional: a re-issued B/L that simply leaves them off met none of
the container rules (decisions 228, 256). ``bill_of_lading_requires_containers`` (genesis
``params``, default false, on in ``chainfin testnet init``) refuses such a B/L as
``missing_field`` naming the parameter; a cargo in no container declares ``cargo_type``
``bulk`` or ``break_bulk`` with its voyage instead. The DCSA fixture's box has its ISO 6346 check
digit right (MSKU7712342, was MSKU7712345), so its eBL registers with its box on such a network.

Every test here fails on the code before (checked on ``git archive`` of 15e40db): a genesis
setting the parameter was refused as an unknown field, ``cargo_type`` was ``unknown_field``, the
fixture's box was dropped as not sent, the demo had no boxes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import dcsa
from chainfin.crypto import Identity
from chainfin.execution import genesis_state
from chainfin.genesis import Genesis, GenesisParams
from contracts.testing import make_genesis
from contracts.trade.norm import container_check_digit
from testnet import launch
from tests.unit.test_dcsa import BL_ACCEPTS
from tests.unit.trade_cases import BILL_OF_LADING, INVOICE, T, h, register, trade_ledger

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dcsa_transport_document.json"
BOXES = ["CSQU3054383", "MSKU9070323"]  # round 11's shipment, check digits right
PARAM = "bill_of_lading_requires_containers"


def required() -> Any:
    """A trade ledger whose consortium requires containers (attestation off: not this rule)."""
    return trade_ledger(financing_requires_attestation=False, **{PARAM: True})


def bl_refused(led: Any, code: str, fields: dict[str, Any], tag: object = None) -> str:
    trade = register(led, "invoice", INVOICE)["trade_id"]
    r = led.tx("exporter", T, "register", doc_type="bill_of_lading", fields=fields,
               content_hash=h(tag or ("bl", sorted(fields))), trade_id=trade)
    assert (r.status, r.error_code) == ("rejected", code), (r.status, r.error_message)
    return r.error_message or ""


# ---------------------------------------------------------------------------- the parameter


def test_a_bill_of_lading_without_containers_is_refused_where_the_consortium_requires_them(
        ) -> None:
    led = required()
    said = bl_refused(led, "missing_field", BILL_OF_LADING)
    assert "this consortium requires a bill of lading's containers" in said
    assert PARAM in said and "cargo_type bulk or break_bulk with its voyage" in said
    # a voyage or a weight alone is no box
    bl_refused(required(), "missing_field", {**BILL_OF_LADING, "voyage": "0123W",
                                             "gross_weight_kg": 24_000})


def test_with_valid_containers_it_registers_and_a_wrong_check_digit_is_still_refused() -> None:
    led = required()
    trade = register(led, "invoice", INVOICE)["trade_id"]
    doc_id = register(led, "bill_of_lading", {**BILL_OF_LADING, "containers": BOXES},
                      trade_id=trade)["doc_id"]
    assert led.get(T, "doc/" + doc_id)["fields"]["containers"] == BOXES
    said = bl_refused(required(), "bad_container",
                      {**BILL_OF_LADING, "containers": ["MSKU9070324"]})
    assert "ISO 6346 gives MSKU907032-3" in said


def test_an_existing_network_registers_as_before() -> None:
    """Default false: a B/L without containers registers (no consortium is changed under its
    feet), and other documents never need them."""
    led = trade_ledger(financing_requires_attestation=False)
    trade = register(led, "invoice", INVOICE)["trade_id"]
    register(led, "bill_of_lading", BILL_OF_LADING, trade_id=trade)
    led = required()
    register(led, "invoice", {**INVOICE, "number": "INV-2025-900"})  # not a transport document


# ---------------------------------------------------------------------------- bulk and break-bulk


@pytest.mark.parametrize(("written", "stored"), [("bulk", "bulk"), ("Break-Bulk", "break_bulk"),
                                                 ("BREAK BULK", "break_bulk")])
def test_a_cargo_in_no_container_declares_itself_with_its_voyage(written: str,
                                                                 stored: str) -> None:
    led = required()
    trade = register(led, "invoice", INVOICE)["trade_id"]
    doc_id = register(led, "bill_of_lading", {**BILL_OF_LADING, "cargo_type": written,
                                              "voyage": "0123W"}, trade_id=trade)["doc_id"]
    fields = led.get(T, "doc/" + doc_id)["fields"]
    assert (fields["cargo_type"], fields["voyage"]) == (stored, "0123W")


def test_a_cargo_type_without_its_voyage_or_beside_containers_is_refused() -> None:
    said = bl_refused(required(), "missing_field", {**BILL_OF_LADING, "cargo_type": "bulk"})
    assert "a bulk bill of lading needs its voyage" in said
    said = bl_refused(required(), "bad_field", {**BILL_OF_LADING, "cargo_type": "bulk",
                                                "voyage": "0123W", "containers": BOXES})
    assert "leave cargo_type out" in said
    said = bl_refused(required(), "bad_field", {**BILL_OF_LADING, "cargo_type": "containers",
                                                "voyage": "0123W"})
    assert "must be one of break_bulk, bulk" in said
    # the same rules where containers are optional: the field means the same everywhere
    bl_refused(trade_ledger(financing_requires_attestation=False), "missing_field",
               {**BILL_OF_LADING, "cargo_type": "bulk"})


# ---------------------------------------------------------------------------- genesis and testnet


def test_the_genesis_parameter_is_stored_only_when_the_file_sets_it() -> None:
    """A genesis file without it writes the same ``governance/params`` as before (its chain's
    genesis state and hash unchanged); set, it is stored and read."""
    assert GenesisParams().bill_of_lading_requires_containers is False
    assert PARAM not in GenesisParams().consortium()
    assert GenesisParams.model_validate({PARAM: False}).consortium()[PARAM] is False
    before = make_genesis()
    assert PARAM not in before.document()["params"]
    stored = genesis_state(make_genesis(params={PARAM: True}))
    assert any(b"params" in k and PARAM.encode() in v for k, v in stored.items())
    with pytest.raises(ValueError):
        GenesisParams.model_validate({PARAM: "yes please"})


def test_testnet_init_requires_containers() -> None:
    nodes = [Identity.from_seed_text(f"h10/node{i}", f"node{i}") for i in range(4)]
    clients = launch.testnet_clients(4, 0)
    ids = {c[0]: Identity.from_seed_text("h10/" + c[0], c[0]) for c in clients}
    g = launch.testnet_genesis("chainfin-testnet-h10", 1_764_129_600_000, nodes, clients, ids,
                        "11" * 32, {})
    assert g.params.bill_of_lading_requires_containers is True
    assert g.params.financing_requires_attestation is True
    doc = Genesis.model_validate(g.document())
    assert doc.params.consortium()[PARAM] is True
    # a consortium may still start a testnet without the rule
    assert launch.testnet_genesis("chainfin-testnet-h10", 1_764_129_600_000, nodes, clients, ids,
                           "11" * 32, {PARAM: False}).params.consortium()[PARAM] is False


def test_the_demos_boxes_have_their_check_digits_right_and_differ_per_run() -> None:
    from testnet.demo import containers_of  # here: the module's other tests run without it

    boxes = containers_of("MSKU", "A1B2C3")
    assert len(boxes) == 2 and len(set(boxes)) == 2
    for b in boxes + containers_of("MRKU", "testnet-9f8e7d", 1):
        assert len(b) == 11 and container_check_digit(b) == int(b[10]), b
    assert containers_of("MSKU", "A1B2C4") != boxes


def test_the_dcsa_fixture_registers_with_its_box_where_containers_are_required() -> None:
    """The fixture's MSKU7712345 had a wrong check digit: dropped as not sent, its eBL was
    refused on a network requiring containers. MSKU7712342 is ISO 6346's."""
    raw = FIXTURE.read_bytes()
    assert b"MSKU7712345" not in raw
    fields, not_sent = dcsa.bl_fields(dcsa.parse_transport_document(raw), BL_ACCEPTS)
    assert fields["containers"] == ["MSKU7712342"] and "equipment" not in not_sent
    led = required()
    trade = register(led, "invoice", INVOICE)["trade_id"]
    doc_id = register(led, "bill_of_lading", fields,
                      tag=json.loads(raw)["transportDocumentReference"], trade_id=trade)["doc_id"]
    assert led.get(T, "doc/" + doc_id)["fields"]["containers"] == ["MSKU7712342"]
