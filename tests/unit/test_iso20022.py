"""chainfin.iso20022 without a node: amounts, the reader's refusals, pacs.009, movements from
settlement events (transfers, issue/redeem, PvP), statements across days (opening balance) read
back by the independent reader, and the official schemas doing their job."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from chainfin import iso20022 as iso
from tests.unit.iso_cases import pacs009

A, B, C = "aa" * 32, "bb" * 32, "cc" * 32
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"


def test_amounts() -> None:
    assert iso.to_minor(Decimal("12.50"), 2) == 1250
    assert iso.to_minor(Decimal("7"), 0) == 7
    assert iso.from_minor(1250, 2) == "12.50" and iso.from_minor(5, 0) == "5"
    assert iso.from_minor(5, 3) == "0.005"
    for bad in ("1.001", "0", "-1"):
        with pytest.raises(iso.Iso20022Error):
            iso.to_minor(Decimal(bad), 2)


def _pacs008(**kw: Any) -> bytes:
    return iso.build_pacs008([iso.OutgoingTransfer("E2E-1", "10.00", "USD", A, B, uetr=UETR,
                                                   remittance_info="INV 7", **kw)])


def _edit(xml: bytes, fn: Any) -> bytes:
    root = etree.fromstring(xml)
    fn(root, {"d": root.nsmap[None]})
    return etree.tostring(root)


def test_reader_refusals() -> None:
    good = _pacs008()
    m = iso.parse_payment(good)
    (t,) = m.transfers
    assert (t.end_to_end_id, t.uetr, t.remittance_info, t.debtor, t.creditor) == (
        "E2E-1", UETR, "INV 7", A, B)
    with pytest.raises(iso.Iso20022Error, match="well-formed"):
        iso.parse_payment(b"<Document")
    with pytest.raises(iso.Iso20022Error, match="pacs.008.001.08 or pacs.009.001.08"):
        iso.parse_payment(good.replace(b"pacs.008.001.08", b"pacs.008.001.09"))
    with pytest.raises(iso.Iso20022Error, match="NbOfTxs"):
        iso.parse_payment(good.replace(b"<NbOfTxs>1<", b"<NbOfTxs>2<"))
    two = iso.build_pacs008([iso.OutgoingTransfer("SAME", "1.00", "USD", A, B)] * 2)
    with pytest.raises(iso.Iso20022Error, match="repeats"):
        iso.parse_payment(two)

    # an account named by IBAN: needs the account table
    def iban(root: Any, ns: dict[str, str]) -> None:
        acct = root.find(".//d:CdtrAcct", ns)
        for c in list(acct):
            acct.remove(c)
        ident = etree.SubElement(acct, f"{{{ns['d']}}}Id")
        etree.SubElement(ident, f"{{{ns['d']}}}IBAN").text = "GB29NWBK60161331926819"

    by_iban = _edit(good, iban)
    with pytest.raises(iso.Iso20022Error, match="--accounts"):
        iso.parse_payment(by_iban)
    assert iso.parse_payment(by_iban, {"GB29NWBK60161331926819": C}).transfers[0].creditor == C
    with pytest.raises(iso.Iso20022Error, match="Prxy/Id must be a chainfin public key"):
        iso.parse_payment(good.replace(B.encode(), b"B" * 64))
    # the official XSD catches what the reader does not look at
    with pytest.raises(iso.Iso20022Error, match="does not validate"):
        iso.parse_payment(good.replace(b"<ChrgBr>SLEV</ChrgBr>", b"<ChrgBr>FREE</ChrgBr>"))


def test_pacs009_is_read_without_a_schema() -> None:
    m = iso.parse_payment(pacs009(B, "250.00", "CNY", creditor_bank="Bank B"))
    assert m.kind == "pacs.009" and m.msg_id == "M9"
    (t,) = m.transfers
    assert (t.currency, t.amount, t.creditor, t.debtor, t.creditor_name) == (
        "CNY", Decimal("250.00"), B, None, "Bank B")
    assert t.transfer_args(2) == {"to": B, "currency": "CNY", "amount": 25000,
                                  "end_to_end_id": "FI-1"}


def _block(h: int, ts: datetime, events: list[tuple[str, dict[str, Any]]],
           status: str = "committed") -> dict[str, Any]:
    tx = f"{h:064x}"
    return {"height": h, "header": {"timestamp_ms": int(ts.timestamp() * 1000)},
            "receipts": [{"tx_id": tx, "status": status, "events": [
                {"tx_id": tx, "contract": "settlement", "name": n, "data": d}
                for n, d in events]}]}


DAY1 = datetime(2026, 12, 1, 10, tzinfo=UTC)
DAY2 = datetime(2026, 12, 2, 9, tzinfo=UTC)
BLOCKS = [
    _block(1, DAY1, [("issued", {"currency": "USD", "to": A, "amount": 10_000})]),
    _block(2, DAY1, [("transferred", {"from": A, "to": B, "currency": "USD", "amount": 1_000,
                                      "end_to_end_id": "E1", "uetr": UETR,
                                      "remittance_info": "INV 1"})]),
    _block(3, DAY2, [("transferred", {"from": B, "to": A, "currency": "USD", "amount": 250})]),
    _block(4, DAY2, [("pvp_offered", {"offer_id": "o1", "offerer": A, "counterparty": C,
                                      "give": {"currency": "USD", "amount": 500},
                                      "get": {"currency": "CNY", "amount": 3_500}})]),
    _block(5, DAY2, [("pvp_settled", {"offer_id": "o1", "offerer": A, "counterparty": C,
                                      "give": {"currency": "USD", "amount": 500},
                                      "get": {"currency": "CNY", "amount": 3_500}})]),
    _block(6, DAY2, [("redeemed", {"currency": "USD", "from": A, "amount": 100})]),
    _block(7, DAY2, [("transferred", {"from": A, "to": B, "currency": "USD", "amount": 9})],
           status="rejected"),
]


def test_movements_from_settlement_events() -> None:
    usd = iso.movements(BLOCKS, A, "USD")
    assert [(m.height, m.credit, m.amount, m.event) for m in usd] == [
        (1, True, 10_000, "issued"), (2, False, 1_000, "transferred"),
        (3, True, 250, "transferred"), (4, False, 500, "pvp_offered"),
        (6, False, 100, "redeemed")]
    assert usd[1].end_to_end_id == "E1" and usd[1].counterparty == B
    assert [(m.credit, m.amount, m.currency) for m in iso.movements(BLOCKS, A, "CNY")] == [
        (True, 3_500, "CNY")]
    assert [(m.credit, m.amount, m.currency) for m in iso.movements(BLOCKS, C)] == [
        (False, 3_500, "CNY"), (True, 500, "USD")]


def test_statement_of_day_two_opens_with_day_one(tmp_path: Path) -> None:
    moves = iso.movements(BLOCKS, A, "USD")
    opening = sum(m.amount if m.credit else -m.amount for m in moves
                  if m.time.date() < date(2026, 12, 2))
    entries = [m for m in moves if m.time.date() == date(2026, 12, 2)]
    s = iso.StatementInput(A, "USD", 2, date(2026, 12, 2), date(2026, 12, 2), opening, entries,
                           "exporter", {B: "importer"}, "c")
    assert (s.opening, s.closing) == (9_000, 8_650)
    xml = iso.build_camt053(s)  # validates against the official XSD
    p = tmp_path / "s.xml"
    p.write_bytes(xml)
    from ofxstatement.plugins.iso20022 import Iso20022Parser

    st = Iso20022Parser(str(p), iban="X").parse()
    assert (st.start_balance, st.end_balance) == (Decimal("90.00"), Decimal("86.50"))
    assert [line.amount for line in st.lines] == [Decimal("2.50"), Decimal("-5.00"),
                                                   Decimal("-1.00")]
    # one entry altered by hand: the reader's totals no longer close, the XSD still holds
    doc = etree.fromstring(xml)
    assert doc.find(".//{*}Ntry/{*}BkTxCd/{*}Domn/{*}Fmly/{*}Cd").text == "RCDT"
    bad = xml.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>", b"<CdtDbtInd>CREDIT</CdtDbtInd>", 1)
    with pytest.raises(iso.Iso20022Error, match="does not validate"):
        iso.validate("camt.053", bad)


def test_camt054_and_pacs002() -> None:
    moves = iso.movements(BLOCKS, B, "USD")
    xml = iso.build_camt054(B, "USD", 2, moves, account_name="importer")
    assert xml.count(b"<Ntry>") == 2 and b"<EndToEndId>E1</EndToEndId>" in xml
    st = [iso.TxStatus("ab" * 32, "committed", "E1", UETR, 2, time=DAY1),
          iso.TxStatus("cd" * 32, "rejected", "E2", None, 3, "insufficient_funds", "low"),
          iso.TxStatus("ef" * 32, "unknown")]
    doc = etree.fromstring(iso.build_pacs002(st, original_msg_id="M1"))
    assert [e.text for e in doc.iterfind(".//{*}TxSts")] == ["ACSC", "RJCT", "PDNG"]
    assert [e.text for e in doc.iterfind(".//{*}Rsn/{*}Prtry")] == ["insufficient_funds",
                                                                    "unknown"]
    assert doc.find(".//{*}OrgnlUETR").text == UETR
