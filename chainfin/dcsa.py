"""DCSA electronic Transport Documents (the Digital Container Shipping Association's eBL standard,
Transport Document JSON, version 3.x) read into the key fields of a chainfin ``bill_of_lading``
(docs/documents-ingest.md).

Only the properties chainfin uses are modelled (pydantic, every other property ignored), so a
carrier's extensions and the parts of the document the ledger does not hold pass through
unread. The file is refused unread above :data:`MAX_DCSA_BYTES`; JSON with a repeated key, or
NaN / Infinity, is refused (two readers could see two documents in it).

Ports: the B/L's ``port_of_loading`` and ``port_of_discharge`` are the main (ocean) carriage's,
``transports.portOfLoading`` and ``transports.portOfDischarge``, as UCP 600 art. 20 reads a
bill of lading; the place of receipt (pre-carriage) and the place of delivery (on-carriage) are
not ports of the B/L and are not mapped. The vessel is the first of ``vesselVoyages``: the one
loaded at the port of loading; a later vessel (transshipment, the mother vessel) is listed as
not sent. Its ``carrierExportVoyageNumber`` is the B/L's ``voyage``.

Containers (decision 258): each ``utilizedTransportEquipments[].equipment.equipmentReference``
(else the cargo items' ``equipmentReference``) that is an ISO 6346 number with its check digit
right; another reference (a swap body, a trailer plate, a wrong digit) is listed as not sent,
with why. Gross weight (decision 259): the
sum of the cargo items' ``cargoGrossWeight`` (``{"value", "unit"}``; 3.0 Beta's number beside
``cargoGrossWeightUnit`` too), read exactly (JSON numbers as decimals, never floats), in
kilograms (KGM) or pounds (LBR, exactly 0.45359237 kg), the total rounded once to the nearest
whole kilogram, a half up; another unit, a weight that is no JSON number, zero or negative is
refused; a cargo item without a weight leaves the weight unsent (a part is not the whole).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chainfin.errors import ChainfinError

#: A Transport Document is tens of KB; a large one with many containers well under 1 MB.
MAX_DCSA_BYTES = 4 * 1024 * 1024
#: transportDocumentStatus values whose document is an issued B/L (absent: taken as issued)
ISSUED_STATUSES = frozenset({"ISSUED", "PENDING_SURRENDER_FOR_AMENDMENT",
                             "SURRENDERED_FOR_AMENDMENT", "PENDING_SURRENDER_FOR_DELIVERY",
                             "SURRENDERED_FOR_DELIVERY"})
#: the name a to-order B/L with no named consignee shows in its consignee box
TO_ORDER = "TO ORDER"
#: kilograms in one unit of cargoGrossWeight (DCSA 3.0: KGM or LBR; the international pound is
#: exactly 0.45359237 kg since 1959)
WEIGHT_UNITS_KG = {"KGM": Fraction(1), "LBR": Fraction(45359237, 10**8)}
#: an ISO 6346 container number once spaces, hyphens, dots and slashes are dropped (the check
#: digit is the ledger's to verify: ``contracts.trade.norm.norm_container``)
_ISO6346 = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")

_Str = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
_LoCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")]


class DcsaError(ChainfinError):
    """The file is not a DCSA Transport Document chainfin can read; the text says why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Location(_Model):
    locationName: _Str | None = None
    UNLocationCode: _LoCode | None = None


class Party(_Model):
    partyName: _Str


class DocumentParties(_Model):
    shipper: Party
    consignee: Party | None = None


class VesselVoyage(_Model):
    vesselName: _Str
    carrierExportVoyageNumber: _Str | None = None


class Equipment(_Model):
    equipmentReference: _Str


class UtilizedTransportEquipment(_Model):
    equipment: Equipment


class CargoItem(_Model):
    equipmentReference: _Str | None = None
    #: 3.0: ``{"value": n, "unit": "KGM" | "LBR"}``; 3.0 Beta: a number beside
    #: ``cargoGrossWeightUnit``. Read by :func:`gross_weight_kg` (never as a float)
    cargoGrossWeight: Any = None
    cargoGrossWeightUnit: _Str | None = None


class Transports(_Model):
    portOfLoading: Location
    portOfDischarge: Location
    placeOfReceipt: Location | None = None
    placeOfDelivery: Location | None = None
    preCarriageBy: _Str | None = None
    onCarriageBy: _Str | None = None
    vesselVoyages: list[VesselVoyage] | None = Field(default=None, max_length=100)
    vesselName: _Str | None = None  # 3.0 Beta 1: one vessel, on Transports itself
    carrierExportVoyageNumber: _Str | None = None  # 3.0 Beta 1: its voyage beside it


class ConsignmentItem(_Model):
    HSCodes: list[_Str] | None = Field(default=None, max_length=1000)
    cargoItems: list[CargoItem] | None = Field(default=None, max_length=10_000)


class TransportDocument(_Model):
    """The properties of a DCSA Transport Document 3.x that chainfin reads."""

    transportDocumentReference: Annotated[str, StringConstraints(
        strip_whitespace=True, min_length=1, max_length=20)]
    transportDocumentStatus: _Str | None = None
    transportDocumentTypeCode: _Str | None = None
    isShippedOnBoardType: bool | None = None
    isToOrder: bool | None = None
    shippedOnBoardDate: datetime.date | None = None
    receivedForShipmentDate: datetime.date | None = None
    issueDate: datetime.date | None = None
    carrierCode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=4)]
    carrierCodeListProvider: _Str | None = None
    documentParties: DocumentParties
    transports: Transports
    displayedNameForPortOfLoad: list[_Str] | None = Field(default=None, max_length=5)
    displayedNameForPortOfDischarge: list[_Str] | None = Field(default=None, max_length=5)
    consignmentItems: list[ConsignmentItem] | None = Field(default=None, max_length=10_000)
    utilizedTransportEquipments: list[UtilizedTransportEquipment] | None = Field(
        default=None, max_length=10_000)


@dataclass(frozen=True)
class BillOfLading:
    """A Transport Document and the notes on what was read."""

    td: TransportDocument
    notes: tuple[str, ...]


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DcsaError(f"the key {k[:40]!r} appears twice in one object: refused (readers "
                            "differ on which one counts)")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise DcsaError(f"{name} is not a JSON number")


def load_json(data: bytes) -> Any:
    """Strict JSON: UTF-8, no repeated keys, no NaN / Infinity, bounded size and depth; a
    number with a fraction or an exponent is a :class:`~decimal.Decimal` (exact).

    Raises:
        DcsaError: anything else.
    """
    if len(data) > MAX_DCSA_BYTES:
        raise DcsaError(f"the file is {len(data):,} bytes; a DCSA Transport Document above "
                        f"{MAX_DCSA_BYTES:,} bytes is refused unread")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DcsaError(f"not UTF-8 text (byte {e.start}): JSON is UTF-8") from None
    text = text.removeprefix("\ufeff")
    try:
        # a number with a fraction or exponent as the exact decimal written, never a float
        # (a weight: decision 259)
        return json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_no_constant,
                          parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise DcsaError(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise DcsaError("malformed JSON: nested too deeply") from None


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the document)"


def parse_transport_document(data: bytes) -> BillOfLading:
    """Read a DCSA Transport Document 3.x (the TD itself, or an issuance request carrying it as
    ``document``).

    Raises:
        DcsaError: too large, malformed JSON, another shape (a 2.x document, no reference,
            shipper or ports), a document that is no issued bill of lading (a draft, a voided
            one).
    """
    doc = load_json(data)
    if not isinstance(doc, dict):
        raise DcsaError("a Transport Document is a JSON object")
    notes: list[str] = []
    if "transportDocumentReference" not in doc and isinstance(doc.get("document"), dict):
        doc = doc["document"]  # the eBL issuance request: {"document": TD, "issueTo": ...}
        notes.append("read the Transport Document in the issuance request's 'document'")
    if isinstance(doc.get("transports"), list) or isinstance(doc.get("documentParties"), list):
        raise DcsaError("transports / documentParties are lists: this is a DCSA eBL 2.x "
                        "document; chainfin reads Transport Documents 3.x")
    try:
        td = TransportDocument.model_validate(doc)
    except ValidationError as e:
        problems = [f"{_where(err['loc'])}: {err['msg']}" for err in e.errors()[:10]]
        more = f" (and {e.error_count() - 10} more)" if e.error_count() > 10 else ""
        raise DcsaError("not a usable DCSA Transport Document: " + "; ".join(problems)
                        + more) from None
    status = td.transportDocumentStatus
    if status is not None and status not in ISSUED_STATUSES:
        raise DcsaError(f"transportDocumentStatus is {status}: only an issued transport "
                        "document is registered (a draft's number would keep the issued B/L "
                        "out as a duplicate)")
    if status is not None and status.startswith("SURRENDERED"):
        notes.append(f"the document is {status}: it was surrendered to the carrier")
    if status is None:
        notes.append("no transportDocumentStatus: taken as issued")
    if td.transportDocumentTypeCode == "SWB":
        notes.append("a sea waybill (SWB), not a bill of lading: no document of title; "
                     "registered as bill_of_lading (UCP 600 art. 21)")
    if td.isShippedOnBoardType is False:
        notes.append("a received-for-shipment B/L: no on-board date on it (UCP 600 art. 20 "
                     "a ii asks for one)")
    return BillOfLading(td, tuple(notes))


def _port_name(loc: Location, displayed: list[str] | None) -> str | None:
    """The port's name: its locationName, else the first line displayed for it, else its
    UN/LOCODE (the ledger reads a name written as a UN/LOCODE too)."""
    return loc.locationName or (displayed[0] if displayed else None) or loc.UNLocationCode


def bl_fields(bl: BillOfLading, accepted: Collection[str] = (), carrier: str | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``bill_of_lading`` key fields to register, and what was read but is not sent
    (``accepted``: the field names the ledger's B/L takes, from ``contracts.trade.norm``; the
    UN/LOCODE fields and ``hs_codes`` are sent only when it takes them). ``carrier``: the carrier's SCAC, for a
    document whose ``carrierCode`` is an SMDG code.

    Raises:
        DcsaError: no SCAC, no port name, no vessel, a straight B/L with no consignee.
    """
    td = bl.td
    tr = td.transports
    if carrier is None:
        provider = (td.carrierCodeListProvider or "").upper()
        if provider and provider != "NMFTA":
            raise DcsaError(f"carrierCode {td.carrierCode!r} is an {provider} code, not the "
                            "carrier's SCAC (NMFTA), which the ledger's B/L identity uses: "
                            "pass --carrier SCAC")
        carrier = td.carrierCode
    vessels = [v.vesselName for v in tr.vesselVoyages or []]
    if not vessels and tr.vesselName:
        vessels = [tr.vesselName]
    if not vessels:
        raise DcsaError("transports.vesselVoyages is missing or empty: no vessel")
    consignee = td.documentParties.consignee
    if consignee is not None:
        consignee_name = consignee.partyName
    elif td.isToOrder:
        consignee_name = TO_ORDER
    else:
        raise DcsaError("documentParties.consignee is missing and isToOrder is not true: a "
                        "straight bill of lading names its consignee")
    ports = {}
    for field, loc, displayed in (
            ("port_of_loading", tr.portOfLoading, td.displayedNameForPortOfLoad),
            ("port_of_discharge", tr.portOfDischarge, td.displayedNameForPortOfDischarge)):
        name = _port_name(loc, displayed)
        if name is None:
            where = "portOfLoading" if field == "port_of_loading" else "portOfDischarge"
            raise DcsaError(f"transports.{where} has neither locationName nor UNLocationCode")
        ports[field] = name
    fields: dict[str, Any] = {
        "carrier": carrier, "bl_number": td.transportDocumentReference,
        "shipper": td.documentParties.shipper.partyName, "consignee": consignee_name,
        "vessel": vessels[0], **ports}
    not_sent: dict[str, Any] = {}
    for field, loc in (("port_of_loading_locode", tr.portOfLoading),
                       ("port_of_discharge_locode", tr.portOfDischarge)):
        if loc.UNLocationCode is None:
            continue
        if field in accepted:
            fields[field] = loc.UNLocationCode
        else:
            not_sent[field] = loc.UNLocationCode
    on_board = td.shippedOnBoardDate
    if on_board is not None:
        not_sent["shipped_on_board_date"] = on_board.isoformat()
    if len(vessels) > 1:
        not_sent["later_vessels"] = vessels[1:]
    for field, place in (("place_of_receipt", tr.placeOfReceipt),
                         ("place_of_delivery", tr.placeOfDelivery)):
        if place is not None:
            not_sent[field] = {k: v for k, v in (("name", place.locationName),
                                                 ("locode", place.UNLocationCode)) if v}
    hs = list(dict.fromkeys(c for item in td.consignmentItems or [] for c in item.HSCodes or []))
    if hs:
        if "hs_codes" in accepted:
            fields["hs_codes"] = hs
        else:
            not_sent["hs_codes"] = hs
    voyage = (tr.vesselVoyages[0].carrierExportVoyageNumber if tr.vesselVoyages
              else tr.carrierExportVoyageNumber)
    boxes, not_boxes = containers(td)
    if not_boxes:
        not_sent["equipment"] = not_boxes
    weight, why_not = gross_weight_kg(td)
    if why_not is not None:
        not_sent["gross_weight"] = why_not
    for field, value in (("containers", boxes or None), ("voyage", voyage),
                         ("gross_weight_kg", weight)):
        if value is None:
            continue
        if field in accepted:
            fields[field] = value
        else:
            not_sent[field] = value
    return fields, not_sent


def container_check_digit(code: str) -> int:
    """ISO 6346's check digit of a container number's first ten characters (A=10, multiples
    of 11 skipped; each value times 2**position, summed, mod 11, 10 read as 0): the ledger's
    rule (``contracts.trade.norm.container_check_digit``, which chainfin cannot import; a test
    keeps the two the same)."""
    values = [v for v in range(10, 39) if v % 11]
    total = sum((int(c) if c.isdigit() else values[ord(c) - ord("A")]) << i
                for i, c in enumerate(code[:10]))
    return total % 11 % 10


def containers(td: TransportDocument) -> tuple[list[str], list[dict[str, str]]]:
    """The B/L's containers: each equipment's ``equipmentReference`` (the cargo items' when the
    document lists no ``utilizedTransportEquipments``), once each, in the document's order, as
    ISO 6346 numbers (upper case, separators dropped); and the references not sent, each with
    why: no ISO 6346 number (a swap body, a trailer plate), or a wrong check digit — the
    carrier's document cannot be corrected by its holder, so it registers without that box
    rather than not at all (the ledger refuses a wrong digit typed by hand: decision 258)."""
    refs = [u.equipment.equipmentReference for u in td.utilizedTransportEquipments or []]
    if not refs:
        refs = [c.equipmentReference for item in td.consignmentItems or []
                for c in item.cargoItems or [] if c.equipmentReference is not None]
    boxes: list[str] = []
    not_sent: list[dict[str, str]] = []
    for ref in dict.fromkeys(refs):
        compact = re.sub(r"[\s./-]", "", ref.upper())
        if not (_ISO6346.fullmatch(compact) and compact.isascii()):
            not_sent.append({"reference": ref, "why": "not an ISO 6346 container number"})
        elif container_check_digit(compact) != int(compact[10]):
            not_sent.append({"reference": ref, "why": "its check digit is wrong (ISO 6346 "
                             f"gives {compact[:10]}-{container_check_digit(compact)})"})
        elif compact not in boxes:
            boxes.append(compact)
    return boxes, not_sent


def _weight_value(v: Any, where: str) -> Fraction:
    """A cargoGrossWeight value as an exact fraction: a JSON integer or decimal (read as
    :class:`~decimal.Decimal`), above zero.

    Raises:
        DcsaError: a string, a boolean, zero or negative.
    """
    if isinstance(v, bool) or not isinstance(v, int | Decimal):
        raise DcsaError(f"{where} is {v!r}: a weight is a JSON number (refused, not guessed)")
    if not v > 0:
        raise DcsaError(f"{where} is {v}: a weight is above zero")
    return Fraction(v)


def gross_weight_kg(td: TransportDocument) -> tuple[int | None, str | None]:
    """The B/L's gross weight in whole kilograms: the sum of its cargo items'
    ``cargoGrossWeight``, each converted exactly (:data:`WEIGHT_UNITS_KG`), the total rounded
    once to the nearest kilogram, a half up (4210.5 kg -> 4211; 1 lb -> 0 refused below).
    ``(None, why)`` when a cargo item has no weight (a part is not the gross weight); ``(None,
    None)`` when none has one (decision 259).

    Raises:
        DcsaError: a unit other than KGM or LBR, a weight that is no JSON number or not above
            zero, a total below one kilogram.
    """
    items = [c for item in td.consignmentItems or [] for c in item.cargoItems or []]
    weighed = [c for c in items if c.cargoGrossWeight is not None]
    if not weighed:
        return None, None
    if len(weighed) < len(items):
        return None, (f"{len(items) - len(weighed)} of {len(items)} cargo items have no "
                      "cargoGrossWeight: no gross weight sent")
    total = Fraction(0)
    for i, c in enumerate(weighed):
        where = f"cargoItems[{i}].cargoGrossWeight"
        w = c.cargoGrossWeight
        if isinstance(w, dict):
            value, unit = w.get("value"), w.get("unit")
            where += ".value"
        else:
            value, unit = w, c.cargoGrossWeightUnit
        factor = WEIGHT_UNITS_KG.get(unit) if isinstance(unit, str) else None
        if factor is None:
            raise DcsaError(f"{where}: the unit {unit!r} is not KGM or LBR: the weight is "
                            "refused, not guessed")
        total += _weight_value(value, where) * factor
    kg = int((total + Fraction(1, 2)) // 1)
    if kg < 1:
        raise DcsaError(f"the cargo items' gross weight is {total.numerator}/"
                        f"{total.denominator} kg: below one kilogram")
    return kg, None
