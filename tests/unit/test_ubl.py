"""UBL 2.1 / Peppol BIS 3 invoices read into chainfin invoice fields (chainfin/ubl.py), and the
``chainfin trade register --ubl`` command's refusals of files it cannot use: each a clear
one-line error, exit 2, no traceback, nothing sent (docs/documents-ingest.md)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from chainfin import ubl
from chainfin.cli import main
from contracts.trade.norm import KEY_FIELDS, OPTIONAL_FIELDS, normalise_fields

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ubl_peppol_invoice.xml"
XML = FIXTURE.read_bytes()
INVOICE_ACCEPTS = frozenset(KEY_FIELDS["invoice"]) | frozenset(OPTIONAL_FIELDS.get("invoice", {}))


def variant(*pairs: tuple[str, str]) -> bytes:
    """The fixture with each (old, new) replaced once (the old text must be there)."""
    s = XML.decode()
    for old, new in pairs:
        assert old in s, old
        s = s.replace(old, new, 1)
    return s.encode()


def error_of(data: bytes) -> str:
    with pytest.raises(ubl.UblError) as e:
        ubl.parse_invoice(data)
    return str(e.value)


def test_a_peppol_invoice_maps_to_the_ledgers_invoice_fields() -> None:
    inv = ubl.parse_invoice(XML)
    assert (inv.number, inv.issue_date, inv.due_date) == ("INV-2026-0417", "2026-11-20",
                                                          "2026-12-20")
    # the legal name (RegistrationName), not the trading name (PartyName)
    assert (inv.seller, inv.buyer) == ("ACME Exports Ltd", "Globex Corp")
    assert inv.currency == "EUR" and inv.payable == Decimal("14673.90") and inv.lines == 2
    # listID="HS" only (the STI code is another list), dots dropped, each once
    assert inv.hs_codes == ("853952", "850440")
    fields, not_sent = ubl.invoice_fields(inv, 2)
    assert fields == {"seller": "ACME Exports Ltd", "buyer": "Globex Corp",
                      "number": "INV-2026-0417", "issue_date": "2026-11-20",
                      "amount": 14_673_90, "currency": "EUR"}
    assert not_sent == {"due_date": "2026-12-20", "hs_codes": ["853952", "850440"]}
    # the ledger's own normaliser takes exactly what the mapping sends today
    sent, _ = ubl.invoice_fields(inv, 2, INVOICE_ACCEPTS)
    norm = normalise_fields("invoice", sent, lambda code: 2)
    assert norm["amount"] == 14_673_90 and norm["currency"] == "EUR"


def test_optional_fields_go_only_where_the_ledger_takes_them() -> None:
    inv = ubl.parse_invoice(XML)
    fields, not_sent = ubl.invoice_fields(inv, 2, {"hs_codes"})
    assert fields["hs_codes"] == ["853952", "850440"] and "hs_codes" not in not_sent
    assert not_sent == {"due_date": "2026-12-20"}


def test_the_content_hash_is_the_files_sha256() -> None:
    assert ubl.content_hash(XML) == hashlib.sha256(XML).hexdigest()


def test_amounts_are_exact_decimals_in_the_currencys_minor_units() -> None:
    inv = ubl.parse_invoice(XML)
    assert ubl.invoice_fields(inv, 3)[0]["amount"] == 14_673_900  # a 3-decimal currency
    with pytest.raises(ubl.UblError, match="more decimals than the currency's 0"):
        ubl.invoice_fields(inv, 0)  # JPY-like: 14673.90 is not whole
    # trailing zeros are no decimals: 0.1 + 0.2 is exactly 0.3 here
    assert ubl.to_minor(Decimal("0.1") + Decimal("0.2"), 2, "x") == 30
    assert ubl.to_minor(Decimal("1000.000"), 2, "x") == 100_000
    with pytest.raises(ubl.UblError, match="not above zero"):
        ubl.to_minor(Decimal("0.00"), 2, "x")
    for bad in ("1e5", "1,000.00", "NaN", "١٠٠", "Infinity", " "):
        with pytest.raises(ubl.UblError, match="not a decimal amount"):
            ubl.parse_amount(bad, "x")


def test_an_amount_with_more_decimals_than_the_currency_is_refused() -> None:
    data = variant(
        ('<cbc:PayableAmount currencyID="EUR">14673.90</cbc:PayableAmount>',
         '<cbc:PayableAmount currencyID="EUR">14673.905</cbc:PayableAmount>'),
        ("</cbc:ChargeTotalAmount>", '</cbc:ChargeTotalAmount>\n    <cbc:PayableRoundingAmount '
                                     'currencyID="EUR">0.005</cbc:PayableRoundingAmount>'))
    inv = ubl.parse_invoice(data)  # the totals add up (BR-CO-16) ...
    with pytest.raises(ubl.UblError, match="14673.905 has more decimals than the currency's 2"):
        ubl.invoice_fields(inv, 2)  # ... but a euro has two decimals


def test_payable_amount_is_registered_and_a_prepayment_is_noted() -> None:
    data = variant(
        ("</cbc:ChargeTotalAmount>", "</cbc:ChargeTotalAmount>\n    <cbc:PrepaidAmount "
                                     'currencyID="EUR">4673.90</cbc:PrepaidAmount>'),
        ('<cbc:PayableAmount currencyID="EUR">14673.90</cbc:PayableAmount>',
         '<cbc:PayableAmount currencyID="EUR">10000.00</cbc:PayableAmount>'))
    inv = ubl.parse_invoice(data)
    assert ubl.invoice_fields(inv, 2)[0]["amount"] == 10_000_00
    assert any("PayableAmount 10000.00" in n and "PrepaidAmount 4673.90" in n
               for n in inv.notes)


def test_totals_that_do_not_add_up_are_refused() -> None:
    msg = error_of(variant(('<cbc:PayableAmount currencyID="EUR">14673.90',
                            '<cbc:PayableAmount currencyID="EUR">15673.90')))
    assert "BR-CO-16" in msg and "PayableAmount is 15673.90" in msg
    msg = error_of(variant(('<cbc:LineExtensionAmount currencyID="EUR">2400.00',
                            '<cbc:LineExtensionAmount currencyID="EUR">2500.00')))
    assert "BR-CO-10" in msg


def test_mixed_currencies_are_refused() -> None:
    msg = error_of(variant(('<cbc:Amount currencyID="EUR">150.00',
                            '<cbc:Amount currencyID="USD">150.00')))
    assert "Amount is in 'USD'" in msg and "mixed currencies" in msg


def test_the_vat_total_may_be_in_the_tax_currency() -> None:
    data = variant(
        ("<cbc:BuyerReference>", "<cbc:TaxCurrencyCode>GBP</cbc:TaxCurrencyCode>\n  "
                                 "<cbc:BuyerReference>"),
        ("<cac:LegalMonetaryTotal>", '<cac:TaxTotal>\n    <cbc:TaxAmount currencyID="GBP">'
                                     '2381.71</cbc:TaxAmount>\n  </cac:TaxTotal>\n  '
                                     "<cac:LegalMonetaryTotal>"))
    inv = ubl.parse_invoice(data)
    assert inv.tax_currency == "GBP" and inv.payable == Decimal("14673.90")
    # but nothing else in it
    bad = data.replace(b'<cbc:Amount currencyID="EUR">150.00', b'<cbc:Amount currencyID="GBP">150.00')
    assert "mixed currencies" in error_of(bad)


@pytest.mark.parametrize("doctype", [
    b'<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
    b'<!DOCTYPE Invoice SYSTEM "http://attacker.example/x.dtd">\n',
    b'<!DOCTYPE Invoice [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n',
    b"<!DOCTYPE Invoice>\n",
])
def test_a_dtd_is_refused_and_no_entity_is_resolved(doctype: bytes) -> None:
    data = XML.replace(b"<Invoice ", doctype + b"<Invoice ", 1)
    if b"xxe" in doctype:
        data = data.replace(b"<cbc:Note>Goods", b"<cbc:Note>&xxe;Goods", 1)
    msg = error_of(data)
    assert "DTD" in msg or "entity" in msg
    assert "root:" not in msg


def test_the_wrong_root_or_a_credit_note_is_refused() -> None:
    assert "CreditNote, not an Invoice" in error_of(
        XML.replace(b"xsd:Invoice-2", b"xsd:CreditNote-2").replace(b"<Invoice ", b"<CreditNote ")
        .replace(b"</Invoice>", b"</CreditNote>"))
    msg = error_of(XML.replace(b"<Invoice ", b"<Order ").replace(b"</Invoice>", b"</Order>"))
    assert "expected a UBL 2.1 Invoice" in msg and "'Order'" in msg
    msg = error_of(b"<Invoice><ID>1</ID></Invoice>")
    assert "namespace (none)" in msg
    assert "InvoiceTypeCode 381 is a credit note" in error_of(
        variant(("<cbc:InvoiceTypeCode>380", "<cbc:InvoiceTypeCode>381")))


def test_missing_parties_number_and_dates_are_named() -> None:
    s = XML.decode()
    start = s.index("<cac:AccountingSupplierParty>")
    end = s.index("</cac:AccountingSupplierParty>") + len("</cac:AccountingSupplierParty>")
    assert "AccountingSupplierParty/Party is missing: the invoice names no seller" in error_of(
        (s[:start] + s[end:]).encode())
    no_names = variant(("<cbc:RegistrationName>ACME Exports Ltd</cbc:RegistrationName>", ""),
                       ("<cbc:Name>ACME Lighting</cbc:Name>", ""))
    assert "AccountingSupplierParty/Party has neither" in error_of(no_names)
    # no RegistrationName: the trading name
    inv = ubl.parse_invoice(variant(
        ("<cbc:RegistrationName>ACME Exports Ltd</cbc:RegistrationName>", "")))
    assert inv.seller == "ACME Lighting"
    assert "the invoice number: Invoice/cbc:ID is missing" in error_of(
        variant(("<cbc:ID>INV-2026-0417</cbc:ID>", "")))
    assert "IssueDate '20/11/2026' is not a date" in error_of(
        variant(("<cbc:IssueDate>2026-11-20", "<cbc:IssueDate>20/11/2026")))
    assert "is not a calendar date" in error_of(
        variant(("<cbc:IssueDate>2026-11-20", "<cbc:IssueDate>2026-02-30")))


def test_malformed_xml_and_bad_hs_codes_are_refused() -> None:
    assert "not well-formed XML" in error_of(XML[:-30])
    assert "not well-formed XML" in error_of(b"")
    assert "is not an HS code" in error_of(variant(('listVersionID="2022">8539.52',
                                                    'listVersionID="2022">lamps')))
    assert "has 5 digits" in error_of(variant(('listVersionID="2022">8539.52',
                                               'listVersionID="2022">8539.5')))
    nine = ubl.parse_invoice(variant(('listVersionID="2022">8539.52',
                                      'listVersionID="2022">8539 52 001')))
    assert nine.hs_codes == ("853952001", "850440")


def test_a_file_too_large_is_refused_unread() -> None:
    assert "refused unread" in error_of(b" " * (ubl.MAX_UBL_BYTES + 1))


# ---------------------------------------------------------------------------- the command


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["trade", "register", *argv, "--node", "http://127.0.0.1:9", "--dry-run"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_command_refuses_a_50_mb_file_unread(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.xml"
    with big.open("wb") as f:  # sparse: 50 MB without writing them
        f.truncate(50 * 1024 * 1024)
    rc, out, err = run_cli(capsys, "--ubl", str(big))
    assert rc == 2 and out == ""
    assert "more than 20,971,520 bytes: refused unread" in err and "Traceback" not in err


@pytest.mark.parametrize("content, needle", [
    (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DTD"),
    (b"<Invoice", "not well-formed XML"),
    (b"{}", "not well-formed XML"),
])
def test_the_command_refuses_bad_files_with_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
        needle: str) -> None:
    f = tmp_path / "bad.xml"
    f.write_bytes(content)
    rc, out, err = run_cli(capsys, "--ubl", str(f))
    assert rc == 2 and out == "" and needle in err
    assert err.startswith("chainfin: error: ") and "Traceback" not in err


def test_the_command_refuses_a_missing_file_and_an_invoice_with_a_trade(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "--ubl", str(tmp_path / "none.xml"))
    assert rc == 2 and "No such file" in err
    rc, _, err = run_cli(capsys, "--ubl", str(FIXTURE), "--trade", "00" * 32)
    assert rc == 2 and "an invoice opens its own trade" in err
