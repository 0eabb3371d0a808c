"""DCSA Transport Documents 3.x read into chainfin bill_of_lading fields (chainfin/dcsa.py), and
``chainfin trade register --dcsa`` refusing files it cannot use with one clear line, exit 2, no
traceback, nothing sent (docs/documents-ingest.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import dcsa
from chainfin.cli import main
from contracts.trade.norm import KEY_FIELDS, OPTIONAL_FIELDS, normalise_fields

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dcsa_transport_document.json"
RAW = FIXTURE.read_bytes()
TD: dict[str, Any] = json.loads(RAW)
BL_ACCEPTS = (frozenset(KEY_FIELDS["bill_of_lading"])
              | frozenset(OPTIONAL_FIELDS.get("bill_of_lading", {})))


def read(doc: Any) -> dcsa.BillOfLading:
    return dcsa.parse_transport_document(json.dumps(doc).encode())


def changed(**paths: Any) -> dict[str, Any]:
    """The fixture with ``a__b=value`` set at a.b (None deletes it)."""
    doc = copy.deepcopy(TD)
    for path, value in paths.items():
        *parents, last = path.split("__")
        d = doc
        for p in parents:
            d = d[p]
        if value is None:
            d.pop(last, None)
        else:
            d[last] = value
    return doc


def error_of(data: bytes | dict[str, Any]) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(dcsa.DcsaError) as e:
        bl = dcsa.parse_transport_document(raw)
        dcsa.bl_fields(bl, BL_ACCEPTS)
    return str(e.value)


def test_a_transport_document_maps_to_the_ledgers_bill_of_lading_fields() -> None:
    bl = dcsa.parse_transport_document(RAW)
    fields, not_sent = dcsa.bl_fields(bl, {"port_of_loading_locode", "port_of_discharge_locode"})
    assert fields == {
        "carrier": "MAEU", "bl_number": "MAEU260417881", "shipper": "ACME Exports Ltd",
        "consignee": "Globex Corp", "vessel": "Maersk Essen",
        # the main (ocean) carriage's ports, not the place of receipt (pre-carriage by truck)
        "port_of_loading": "Yantian", "port_of_discharge": "Dublin",
        "port_of_loading_locode": "CNYTN", "port_of_discharge_locode": "IEDUB"}
    assert not_sent == {
        "shipped_on_board_date": "2026-11-22", "later_vessels": ["Maersk Horsburgh"],
        "place_of_receipt": {"name": "Dongguan", "locode": "CNDGG"},
        "hs_codes": ["853952", "850440"],
        # decisions 258, 259: the box, voyage and weight read (the ledger's fields not
        # accepted here); the fixture's box MSKU7712342 has its ISO 6346 check digit right
        # since decision 267 (it was MSKU7712345, listed as not sent)
        "containers": ["MSKU7712342"], "voyage": "447W", "gross_weight_kg": 4210}
    # with every field the ledger's B/L takes today, its own normaliser takes what is sent
    fields, _ = dcsa.bl_fields(bl, BL_ACCEPTS)
    norm = normalise_fields("bill_of_lading", fields, lambda code: 2)
    assert norm["port_of_loading_locode"] == "CNYTN" and norm["carrier"] == "MAEU"


def test_hs_codes_go_only_where_the_ledger_takes_them() -> None:
    bl = dcsa.parse_transport_document(RAW)
    fields, not_sent = dcsa.bl_fields(bl, {"hs_codes"})
    assert fields["hs_codes"] == ["853952", "850440"] and "hs_codes" not in not_sent


def test_coded_ports_are_sent_only_where_the_ledger_takes_them() -> None:
    fields, not_sent = dcsa.bl_fields(dcsa.parse_transport_document(RAW), ())
    assert "port_of_loading_locode" not in fields
    assert not_sent["port_of_loading_locode"] == "CNYTN"


def test_port_names_fall_back_to_the_displayed_name_then_the_locode() -> None:
    doc = changed(transports__portOfLoading={"UNLocationCode": "CNYTN"})
    assert dcsa.bl_fields(read(doc))[0]["port_of_loading"] == "YANTIAN, CHINA"
    doc = changed(transports__portOfLoading={"UNLocationCode": "CNYTN"},
                  displayedNameForPortOfLoad=None)
    assert dcsa.bl_fields(read(doc))[0]["port_of_loading"] == "CNYTN"
    assert "neither locationName nor UNLocationCode" in error_of(
        changed(transports__portOfDischarge={}, displayedNameForPortOfDischarge=None))


def test_an_issuance_request_and_extra_properties_are_read() -> None:
    doc = {"document": changed(carrierExtension={"anything": [1, 2, 3]}),
           "issueTo": {"partyName": "Bank"}}
    bl = read(doc)
    assert bl.td.transportDocumentReference == "MAEU260417881"
    assert any("issuance request" in n for n in bl.notes)


def test_a_to_order_bill_without_consignee_reads_to_order() -> None:
    doc = changed(isToOrder=True, documentParties__consignee=None)
    assert dcsa.bl_fields(read(doc))[0]["consignee"] == dcsa.TO_ORDER
    assert "a straight bill of lading names its consignee" in error_of(
        changed(documentParties__consignee=None))


def test_an_smdg_carrier_code_needs_the_scac() -> None:
    doc = changed(carrierCode="MSK", carrierCodeListProvider="SMDG")
    assert "an SMDG code, not the carrier's SCAC" in error_of(doc)
    assert dcsa.bl_fields(read(doc), carrier="MAEU")[0]["carrier"] == "MAEU"


def test_documents_that_are_no_issued_bill_of_lading() -> None:
    for status in ("DRAFT", "APPROVED", "VOIDED"):
        assert f"transportDocumentStatus is {status}" in error_of(
            changed(transportDocumentStatus=status))
    bl = read(changed(transportDocumentTypeCode="SWB", isShippedOnBoardType=False))
    assert any("sea waybill" in n for n in bl.notes)
    assert any("received-for-shipment" in n for n in bl.notes)


@pytest.mark.parametrize("doc, needle", [
    (changed(transportDocumentReference=None), "transportDocumentReference: Field required"),
    (changed(documentParties__shipper=None), "documentParties.shipper: Field required"),
    (changed(documentParties__shipper={"partyName": "  "}), "documentParties.shipper.partyName"),
    (changed(transports__portOfLoading__UNLocationCode="cnytn"),
     "transports.portOfLoading.UNLocationCode: String should match pattern"),
    (changed(transportDocumentReference="X" * 21), "at most 20 characters"),
    (changed(transports__vesselVoyages=[]), "no vessel"),
    (changed(shippedOnBoardDate="22/11/2026"), "shippedOnBoardDate"),
    (changed(transports=[{"transportPlanStage": "MNC"}]), "DCSA eBL 2.x"),
])
def test_shapes_chainfin_cannot_use_are_named(doc: dict[str, Any], needle: str) -> None:
    assert needle in error_of(doc)


@pytest.mark.parametrize("raw, needle", [
    (b'{"transportDocumentReference": "A", ', "malformed JSON"),
    (b"", "malformed JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"transportDocumentReference": "A", "transportDocumentReference": "B"}', "appears twice"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[]", "a JSON object"),
    (b" " * (dcsa.MAX_DCSA_BYTES + 1), "refused unread"),
])
def test_bad_json_is_refused(raw: bytes, needle: str) -> None:
    assert needle in error_of(raw)


# ---------------------------------------------------------------------------- the command


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["trade", "register", *argv, "--node", "http://127.0.0.1:9", "--dry-run"])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("content, needle", [
    (b'{"transportDocumentReference": ', "malformed JSON"),
    (b"[" * 100_000, "malformed JSON"),
    (json.dumps(changed(transportDocumentStatus="DRAFT")).encode(), "DRAFT"),
])
def test_the_command_refuses_bad_files_with_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
        needle: str) -> None:
    f = tmp_path / "td.json"
    f.write_bytes(content)
    rc, out, err = run_cli(capsys, "--dcsa", str(f))
    assert rc == 2 and out == "" and needle in err
    assert err.startswith("chainfin: error: ") and "Traceback" not in err


def test_the_command_refuses_a_50_mb_file_unread(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    rc, out, err = run_cli(capsys, "--dcsa", str(big))
    assert rc == 2 and "refused unread" in err and "Traceback" not in err
