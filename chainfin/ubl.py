"""UBL 2.1 invoices (OASIS UBL 2.1 ``Invoice``: the syntax of Peppol BIS Billing 3.0 and EN 16931)
read into the key fields of a chainfin ``invoice`` (docs/documents-ingest.md).

Safe reading: the file is refused unread above :data:`MAX_UBL_BYTES`; it is parsed by lxml with
no entity resolution, no DTD loading, no network and libxml2's default size limits; a document
with a DTD (``<!DOCTYPE ...>``, whatever it declares) or an entity reference is refused.

Amounts are read as decimal text (``Decimal``, never a float) and written as integer minor units
of the document currency, with that currency's exponent from the node (a value with more
non-zero decimals than the currency has is refused). The amount registered is
``LegalMonetaryTotal/PayableAmount`` (EN 16931 BT-115, what the buyer still owes: the
receivable a bank finances), after the totals are checked to add up (EN 16931 BR-CO-10, 13,
15, 16). This module knows nothing of the ledger's rules: the CLI checks the fields with the
contract's own normaliser before anything is signed.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chainfin.errors import ChainfinError

#: A Peppol invoice with embedded attachments (base64 PDFs) is a few MB; a larger file is
#: refused before it is parsed (lxml takes several bytes of memory per byte of XML).
MAX_UBL_BYTES = 20 * 1024 * 1024

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_NS = {"cac": NS_CAC, "cbc": NS_CBC}

#: xsd:decimal as UBL amounts write it (no exponent, no separators), at most 30 digits
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})", re.ASCII)
#: xsd:date, with an optional zone (dropped: a calendar date names no instant)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?", re.ASCII)
_CCY = re.compile(r"[A-Z]{3}", re.ASCII)
#: an HS code as written: digits, perhaps grouped by dots or spaces ("8539.50", "8539 50 00")
_HS = re.compile(r"[0-9](?:[0-9]|[. ](?=[0-9]))*", re.ASCII)


class UblError(ChainfinError):
    """The file is not a UBL 2.1 invoice chainfin can read; the text says which element and why."""


@dataclass(frozen=True)
class UblInvoice:
    """What chainfin reads of a UBL invoice (amounts in the document currency, as decimals)."""

    number: str  # cbc:ID (BT-1)
    issue_date: str  # cbc:IssueDate (BT-2), YYYY-MM-DD
    seller: str  # AccountingSupplierParty: RegistrationName (BT-27), else PartyName (BT-28)
    buyer: str  # AccountingCustomerParty: RegistrationName (BT-44), else PartyName (BT-45)
    currency: str  # cbc:DocumentCurrencyCode (BT-5)
    payable: Decimal  # LegalMonetaryTotal/PayableAmount (BT-115)
    tax_inclusive: Decimal  # LegalMonetaryTotal/TaxInclusiveAmount (BT-112)
    prepaid: Decimal  # LegalMonetaryTotal/PrepaidAmount (BT-113), 0 when absent
    due_date: str | None = None  # cbc:DueDate (BT-9), else PaymentMeans/PaymentDueDate
    hs_codes: tuple[str, ...] = ()  # Item/CommodityClassification listID="HS" (BT-158)
    type_code: str | None = None  # cbc:InvoiceTypeCode (BT-3)
    customization: str | None = None  # cbc:CustomizationID (BT-24)
    tax_currency: str | None = None  # cbc:TaxCurrencyCode (BT-6)
    lines: int = 0
    notes: tuple[str, ...] = field(default=())


def content_hash(data: bytes) -> str:
    """SHA-256 of the file's bytes, hex: the ``content_hash`` a registration carries (the same
    file registered twice is one document, whatever its fields say)."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- XML


def _read_xml(data: bytes) -> Any:
    """Parse ``data`` with entities unresolved, no DTD, no network.

    Raises:
        UblError: too large, not well-formed, a DTD or an entity reference.
    """
    if len(data) > MAX_UBL_BYTES:
        raise UblError(f"the file is {len(data):,} bytes; a UBL invoice above "
                       f"{MAX_UBL_BYTES:,} bytes is refused unread")
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, dtd_validation=False, remove_comments=True,
                             remove_pis=True)
    try:
        root: Any = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise UblError(f"not well-formed XML: {e}") from None
    if root is None:
        raise UblError("not well-formed XML: no root element")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UblError("a document with a DTD (<!DOCTYPE ...>) is refused: UBL invoices have "
                       "none, and a DTD can declare entities that read files or expand without "
                       "bound")
    if any(isinstance(e, etree._Entity) for e in root.iter()):
        raise UblError("a document with an entity reference (&name;) is refused")
    return root


def _el(parent: Any, path: str) -> Any:
    return None if parent is None else parent.find(path, _NS)


def _text(parent: Any, path: str) -> str | None:
    el = _el(parent, path)
    if el is None or el.text is None:
        return None
    t = " ".join(el.text.split())
    return t or None


def _required(parent: Any, path: str, what: str) -> str:
    t = _text(parent, path)
    if t is None:
        raise UblError(f"{what}: Invoice/{path} is missing or empty")
    return t


def parse_amount(text: str | None, where: str) -> Decimal:
    """An xsd:decimal amount's text -> Decimal (exact; no float, no exponent, no separators).

    Raises:
        UblError: anything else.
    """
    t = (text or "").strip()
    if not _DECIMAL.fullmatch(t):
        raise UblError(f"{where} {t[:40]!r} is not a decimal amount")
    return Decimal(t)


def to_minor(amount: Decimal, exponent: int, where: str) -> int:
    """Decimal units -> integer minor units of a currency with ``exponent`` decimals.

    Raises:
        UblError: more non-zero decimals than the currency has, or not above zero.
    """
    q = amount.scaleb(exponent)
    if q != q.to_integral_value():
        raise UblError(f"{where} {amount} has more decimals than the currency's {exponent}")
    if q <= 0:
        raise UblError(f"{where} {amount} is not above zero: nothing is owed, nothing to "
                       "finance")
    return int(q)


def _date(text: str | None, where: str) -> str | None:
    if text is None:
        return None
    m = _DATE.fullmatch(text)
    if not m:
        raise UblError(f"{where} {text[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise UblError(f"{where} {text!r} is not a calendar date") from None


def _party_name(root: Any, role: str) -> str:
    party = _el(root, f"cac:{role}/cac:Party")
    where = f"{role}/Party"
    if party is None:
        raise UblError(f"{where} is missing: the invoice names no "
                       f"{'seller' if 'Supplier' in role else 'buyer'}")
    name = (_text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
            or _text(party, "cac:PartyName/cbc:Name"))
    if name is None:
        raise UblError(f"{where} has neither PartyLegalEntity/RegistrationName nor "
                       "PartyName/Name")
    return name


def _hs_codes(root: Any) -> tuple[str, ...]:
    """The HS codes of the goods, each once, in order of first appearance, digits only."""
    out: list[str] = []
    for i, line in enumerate(root.findall("cac:InvoiceLine", _NS), 1):
        for code in line.findall("cac:Item/cac:CommodityClassification/"
                                 "cbc:ItemClassificationCode", _NS):
            if (code.get("listID") or "").strip().upper() != "HS":
                continue
            t = (code.text or "").strip()
            digits = t.replace(".", "").replace(" ", "")
            if not _HS.fullmatch(t):
                raise UblError(f"InvoiceLine[{i}] ItemClassificationCode listID=\"HS\" "
                               f"{t[:20]!r} is not an HS code (6 to 10 digits)")
            if not 6 <= len(digits) <= 10:
                raise UblError(f"InvoiceLine[{i}] HS code {t!r} has {len(digits)} digits; an HS "
                               "code has 6 (a national tariff number up to 10)")
            if digits not in out:
                out.append(digits)
    return tuple(out)


def _check_currencies(root: Any, currency: str, tax_currency: str | None) -> None:
    """Every amount is in the document currency, but the VAT total in the tax currency
    (EN 16931 BT-111: a ``TaxTotal/TaxAmount`` in ``TaxCurrencyCode``, when one is given)."""
    for el in root.iter():
        cid = el.get("currencyID")
        if cid is None or cid == currency:
            continue
        parent = el.getparent()
        local = el.tag.split("}")[-1]
        in_tax_total = (parent is not None and parent.tag == f"{{{NS_CAC}}}TaxTotal"
                        and parent.getparent() is root)
        if tax_currency is not None and cid == tax_currency and local == "TaxAmount" \
                and in_tax_total:
            continue
        raise UblError(f"{local} is in {cid!r}; the invoice's currency (DocumentCurrencyCode) "
                       f"is {currency}: an invoice in mixed currencies is refused")


def _tax_amount(root: Any, currency: str) -> Decimal:
    """The invoice's VAT total in the document currency (BT-110), 0 without one."""
    found = [t for t in root.findall("cac:TaxTotal", _NS)
             if (_el(t, "cbc:TaxAmount") is not None
                 and _el(t, "cbc:TaxAmount").get("currencyID") == currency)]
    if len(found) > 1:
        raise UblError(f"more than one TaxTotal in {currency}: EN 16931 allows one per currency")
    if not found:
        return Decimal(0)
    return parse_amount(_text(found[0], "cbc:TaxAmount"), "TaxTotal/TaxAmount")


def _check_totals(root: Any, totals: Any, currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """EN 16931's sums (BR-CO-10, 13, 15, 16): (payable, tax inclusive, prepaid)."""
    def amt(name: str, required: bool = False) -> Decimal:
        t = _text(totals, f"cbc:{name}")
        if t is None:
            if required:
                raise UblError(f"LegalMonetaryTotal/{name} is missing")
            return Decimal(0)
        return parse_amount(t, f"LegalMonetaryTotal/{name}")

    lines = root.findall("cac:InvoiceLine", _NS)
    if not lines:
        raise UblError("the invoice has no InvoiceLine (EN 16931 BR-16: at least one)")
    line_sum = sum((parse_amount(_text(ln, "cbc:LineExtensionAmount"),
                                 f"InvoiceLine[{i}]/LineExtensionAmount")
                    for i, ln in enumerate(lines, 1)), Decimal(0))
    line_ext = amt("LineExtensionAmount", True)
    tax_excl = amt("TaxExclusiveAmount", True)
    tax_incl = amt("TaxInclusiveAmount", True)
    payable = amt("PayableAmount", True)
    prepaid = amt("PrepaidAmount")
    rules = (
        ("BR-CO-10", "LineExtensionAmount", line_ext, "the sum of the lines' amounts", line_sum),
        ("BR-CO-13", "TaxExclusiveAmount", tax_excl,
         "LineExtensionAmount - AllowanceTotalAmount + ChargeTotalAmount",
         line_ext - amt("AllowanceTotalAmount") + amt("ChargeTotalAmount")),
        ("BR-CO-15", "TaxInclusiveAmount", tax_incl, "TaxExclusiveAmount + the VAT total",
         tax_excl + _tax_amount(root, currency)),
        ("BR-CO-16", "PayableAmount", payable,
         "TaxInclusiveAmount - PrepaidAmount + PayableRoundingAmount",
         tax_incl - prepaid + amt("PayableRoundingAmount")),
    )
    for rule, name, got, how, want in rules:
        if got != want:
            raise UblError(f"the totals do not add up (EN 16931 {rule}): {name} is {got}, "
                           f"{how} is {want}")
    return payable, tax_incl, prepaid


def parse_invoice(data: bytes) -> UblInvoice:
    """Read a UBL 2.1 ``Invoice`` (Peppol BIS Billing 3.0, EN 16931).

    Raises:
        UblError: too large, not XML, a DTD or an entity, another document (a credit note, an
            order), a missing party, number or date, a malformed amount or date, amounts in
            another currency than the document's, totals that do not add up.
    """
    root = _read_xml(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if ns == NS_CREDIT_NOTE:
        raise UblError("this is a UBL CreditNote, not an Invoice: a credit note is no "
                       "receivable and is not registered")
    if (ns, local) != (NS_INVOICE, "Invoice"):
        raise UblError(f"expected a UBL 2.1 Invoice (root Invoice in {NS_INVOICE}), got "
                       f"{local or tag!r} in namespace {ns or '(none)'}")
    notes: list[str] = []
    version = _text(root, "cbc:UBLVersionID")
    if version is not None and version not in ("2.1", "2.2", "2.3"):
        raise UblError(f"UBLVersionID {version!r}: chainfin reads UBL 2.1 (2.2 and 2.3 are "
                       "compatible supersets)")
    currency = _required(root, "cbc:DocumentCurrencyCode", "the currency")
    if not _CCY.fullmatch(currency):
        raise UblError(f"DocumentCurrencyCode {currency!r} is not an ISO 4217 code")
    tax_currency = _text(root, "cbc:TaxCurrencyCode")
    if tax_currency is not None and not _CCY.fullmatch(tax_currency):
        raise UblError(f"TaxCurrencyCode {tax_currency!r} is not an ISO 4217 code")
    _check_currencies(root, currency, tax_currency)
    totals = _el(root, "cac:LegalMonetaryTotal")
    if totals is None:
        raise UblError("LegalMonetaryTotal is missing: the invoice has no total")
    payable, tax_incl, prepaid = _check_totals(root, totals, currency)
    if payable != tax_incl:
        notes.append(f"the amount registered is PayableAmount {payable} {currency}, what the "
                     f"buyer still owes; TaxInclusiveAmount is {tax_incl}"
                     + (f" (PrepaidAmount {prepaid})" if prepaid else ""))
    issue = _date(_required(root, "cbc:IssueDate", "the issue date"), "IssueDate")
    assert issue is not None
    due = _date(_text(root, "cbc:DueDate") or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate"),
                "DueDate")
    type_code = _text(root, "cbc:InvoiceTypeCode")
    if type_code in ("381", "396", "532"):  # credit notes written as invoices
        raise UblError(f"InvoiceTypeCode {type_code} is a credit note: no receivable")
    return UblInvoice(
        number=_required(root, "cbc:ID", "the invoice number"), issue_date=issue,
        seller=_party_name(root, "AccountingSupplierParty"),
        buyer=_party_name(root, "AccountingCustomerParty"), currency=currency,
        payable=payable, tax_inclusive=tax_incl, prepaid=prepaid, due_date=due,
        hs_codes=_hs_codes(root), type_code=type_code,
        customization=_text(root, "cbc:CustomizationID"), tax_currency=tax_currency,
        lines=len(root.findall("cac:InvoiceLine", _NS)), notes=tuple(notes))


def invoice_fields(inv: UblInvoice, exponent: int, accepted: Collection[str] = ()
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``invoice`` key fields to register, and what was read but is not sent because the
    ledger's invoice has no such field (``accepted``: the field names it takes, from
    ``contracts.trade.norm``; ``due_date`` and ``hs_codes`` are sent only when it takes them).

    Raises:
        UblError: the payable amount has more decimals than the currency's ``exponent``.
    """
    fields: dict[str, Any] = {
        "seller": inv.seller, "buyer": inv.buyer, "number": inv.number,
        "issue_date": inv.issue_date,
        "amount": to_minor(inv.payable, exponent, "LegalMonetaryTotal/PayableAmount"),
        "currency": inv.currency}
    not_sent: dict[str, Any] = {}
    for name, value in (("due_date", inv.due_date), ("hs_codes", list(inv.hs_codes))):
        if not value:
            continue
        if name in accepted:
            fields[name] = value
        else:
            not_sent[name] = value
    return fields, not_sent
