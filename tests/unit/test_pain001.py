"""pain.001 in, pain.002 out (chainfin/iso20022/pain001.py, ``chainfin iso20022 pain001``):
the reader against wrong files (each refusal with its ISO reason, at the file's, the block's or
the transaction's level), the pain.002 against the official XSD; then the command against an
in-process cluster: a file booked per transaction (ACSC, AM04, AC03: PART), the same MsgId
again (DU01, nothing sent) and a dry run (ACCP, nothing sent)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from chainfin.iso20022 import pain001 as p1
from contracts.settlement import CONTRACT
from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin

A, B, C = "a" * 64, "b" * 64, "c" * 64
EXPONENTS = {"USD": 2, "JPY": 0}
PARSE = CONTRACT.methods["transfer"].parse_args
NS002 = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12"}


def _file(*amounts: str, ccy: str = "USD", **kw: Any) -> bytes:
    return p1.build_pain001(A, [p1.Instruction(f"E2E-{i}", a, ccy, B, remittance_info=f"inv {i}")
                                for i, a in enumerate(amounts)], msg_id="MSG-1", **kw)


def _read(xml: bytes, signer: str = A, **kw: Any) -> p1.Initiation:
    return p1.parse_pain001(xml, signer=signer, exponents=EXPONENTS, parse_args=PARSE, **kw)


def _refused(xml: bytes, **kw: Any) -> p1.FileRefused:
    with pytest.raises(p1.FileRefused) as e:
        _read(xml, **kw)
    return e.value


def _report(r: p1.Report) -> Any:
    return etree.fromstring(p1.build_pain002(r))  # build_pain002 validates against the XSD


def _x(doc: Any, path: str) -> list[str]:
    return [str(v) for v in doc.xpath(path, namespaces=NS002)]


def test_a_good_file_becomes_one_transfer_per_transaction_in_minor_units() -> None:
    ini = _read(_file("1000.00", "0.10", "0.20", batch_booking=True))
    assert [t.args["amount"] for t in ini.transfers if t.args] == [100_000, 10, 20]
    t = ini.transfers[0]
    assert t.args == {"to": B, "currency": "USD", "amount": 100_000, "end_to_end_id": "E2E-0",
                      "uetr": t.uetr, "remittance_info": "inv 0"}
    # a UETR derived from the debtor, the MsgId and the place: the same MsgId asks for the
    # same UETRs again, which the ledger books once
    assert t.uetr == p1.derived_uetr(A, "MSG-1", 0) == _read(_file(
        "5.00", pmt_inf_id="OTHER")).transfers[0].uetr
    assert ini.blocks[0].batch_booking is True
    doc = _report(p1.Report(ini, dry_run=True))
    assert _x(doc, "//p:GrpSts/text()") == ["ACCP"] and _x(doc, "//p:OrgnlMsgId/text()") == \
        ["MSG-1"]


def test_the_control_sum_is_compared_exactly_never_as_floats() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point: 0.30 here
    assert _read(_file("0.10", "0.20", ctrl_sum="0.30")).ctrl_sum == "0.30"
    e = _refused(_file("0.10", "0.20", ctrl_sum="0.30000000000000004"))
    assert e.refusal.code == "AM16" and "add up to 0.3 USD" in str(e)
    e = _refused(_file("0.10", "0.20", ctrl_sum="0.31"))
    assert e.refusal.code == "AM16" and "add up to 0.3 USD" in str(e)
    doc = _report(p1.Report(None, e))
    assert _x(doc, "//p:GrpSts/text()") == ["RJCT"]
    assert _x(doc, "//p:OrgnlGrpInfAndSts/p:StsRsnInf/p:Rsn/p:Cd/text()") == ["AM16"]
    # 10,000 amounts of 18 digits add up exactly, in integers
    amounts = [("9999999999999.99999", "EUR")] * 10_000
    assert p1._group_sum(amounts, "99999999999999999.9", "CtrlSum") is None
    assert p1._group_sum(amounts, "99999999999999999.8", "CtrlSum") is not None


def test_what_is_read_is_what_is_validated() -> None:
    # a comment inside an amount is dropped before the schema and the reader see it
    xml = _file("1000.00").replace(b">1000.00</InstdAmt>", b">1<!-- x -->000.00</InstdAmt>")
    assert _read(xml).transfers[0].args["amount"] == 100_000
    # an element twice, or one in another namespace: the schema refuses the file
    xml = _file("1.00")
    twice = xml.replace(b"<EndToEndId>E2E-0</EndToEndId>",
                        b"<EndToEndId>E2E-0</EndToEndId><EndToEndId>E2E-9</EndToEndId>")
    assert _refused(twice).refusal.code == "FF01"
    foreign = xml.replace(b"<RmtInf>", b'<x:RmtInf xmlns:x="urn:other"><x:Ustrd>a</x:Ustrd>'
                                       b"</x:RmtInf><RmtInf>")
    assert _refused(foreign).refusal.code == "FF01"


def test_a_wrong_number_of_transactions_refuses_the_file() -> None:
    xml = _file("1.00", "2.00").replace(b"<NbOfTxs>2</NbOfTxs>", b"<NbOfTxs>3</NbOfTxs>", 1)
    assert _refused(xml).refusal.code == "AM19"
    xml = _file("1.00", "2.00")
    i = xml.rindex(b"<NbOfTxs>2</NbOfTxs>")  # the block's
    bad = xml[:i] + b"<NbOfTxs>1</NbOfTxs>" + xml[i + len(b"<NbOfTxs>2</NbOfTxs>"):]
    ini = _read(bad)
    assert ini.blocks[0].refusal.code == "AM20" and all(t.args is None for t in ini.transfers)
    doc = _report(p1.Report(ini, dry_run=True))
    assert _x(doc, "//p:PmtInfSts/text()") == ["RJCT"]


def test_an_amount_with_more_decimals_than_its_currency_is_refused_alone() -> None:
    ini = _read(_file("12.345", "1.00", ctrl_sum="13.345"))
    bad, good = ini.transfers
    assert bad.refusal.code == "AM12" and bad.args is None and good.args is not None
    doc = _report(p1.Report(ini, dry_run=True))
    assert _x(doc, "//p:GrpSts/text()") == ["PART"]
    assert _x(doc, "//p:TxInfAndSts[p:TxSts='RJCT']/p:StsRsnInf/p:Rsn/p:Cd/text()") == ["AM12"]
    # JPY has none: 100.00 is 100 yen, 100.5 is refused
    yen = _read(_file("100.00", "100.5", ccy="JPY", ctrl_sum="200.5")).transfers
    assert yen[0].args["amount"] == 100 and yen[1].refusal.code == "AM12"
    assert _read(_file("0.00", "1.00", ctrl_sum="1.00")).transfers[0].refusal.code == "AM01"


def test_a_float_printed_amount_is_an_invalid_file() -> None:
    # what str(0.1 + 0.2) prints: 17 decimals, more than any ISO 20022 amount (5)
    xml = _file("0.30", ctrl_sum="0.30").replace(b">0.30</InstdAmt>",
                                                  b">0.30000000000000004</InstdAmt>")
    e = _refused(xml)
    assert e.refusal.code == "FF01" and e.msg_id == "MSG-1"
    xml = _file("0.30").replace(b">0.30</InstdAmt>", b">3E-1</InstdAmt>")
    assert _refused(xml).refusal.code == "FF01"


def test_a_doctype_or_entity_is_refused_and_still_answered() -> None:
    xml = _file("1.00").replace(b"?>\n", b'?>\n<!DOCTYPE d [<!ENTITY x "1.00">]>\n', 1)
    e = _refused(xml)
    assert e.refusal.code == "FF01" and "DTD" in str(e)
    doc = _report(p1.Report(None, e))
    assert _x(doc, "//p:OrgnlMsgId/text()") == ["NOTPROVIDED"]
    assert _refused(b"not xml").refusal.code == "FF01"
    other = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>'
    assert _refused(other).refusal.code == "FF01"


def test_an_unknown_creditor_or_another_debtor_is_refused_with_its_reason() -> None:
    xml = _file("1.00", "2.00")
    # the second creditor named by an IBAN no account table maps
    i = xml.rindex(b"<CdtrAcct>")
    j = xml.index(b"</CdtrAcct>", i) + len(b"</CdtrAcct>")
    iban = b"<CdtrAcct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id></CdtrAcct>"
    ini = _read(xml[:i] + iban + xml[j:])
    assert ini.transfers[0].args is not None and ini.transfers[1].refusal.code == "AC03"
    ini = _read(xml[:i] + iban + xml[j:], accounts={"GB29NWBK60161331926819": C})
    assert ini.transfers[1].args["to"] == C
    # a file whose debtor account is not the signing key's: its block is refused
    ini = _read(xml, signer=C)
    assert ini.blocks[0].refusal.code == "AC02"
    assert {t.refusal.code for t in ini.transfers if t.refusal} == {"AC02"}


def test_an_execution_date_after_tomorrow_is_refused() -> None:
    today = date(2026, 12, 7)
    ini = _read(_file("1.00", execution_date=today + timedelta(days=2)), today=today)
    assert ini.blocks[0].refusal.code == "CH03"
    assert _read(_file("1.00", execution_date=today + timedelta(days=1)),
                 today=today).blocks[0].refusal is None


def test_the_ledgers_refusals_map_to_iso_reasons() -> None:
    assert p1.ledger_reason("insufficient_funds") == ("AM04", None)
    assert p1.ledger_reason("duplicate_payment") == ("AM05", None)
    assert p1.ledger_reason("unknown_identity") == ("AC03", None)
    assert p1.ledger_reason("sanctioned_party") == ("RR04", None)
    assert p1.ledger_reason("account_frozen") == ("AC06", None)
    assert p1.ledger_reason("not_sent") == (None, "not_sent")


# ---------------------------------------------------------------------------- on a cluster


async def test_a_pain001_is_booked_per_transaction_and_answered_with_a_pain002(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    url = str(d.http.make_url("")).rstrip("/")
    alice = await d.register("alice", "importer", by="bank_a")
    bob = await d.register("bob", "exporter", by="bank_b")
    a, b = alice.public_key.hex(), bob.public_key.hex()
    out = await d.commit(d.tx("usd_issuer", "settlement", "issue",
                              {"currency": "USD", "to": a, "amount": 100_000}))
    assert out["status"] == "committed", out
    key = key_file(d.ids["alice"], tmp_path)

    def instr(e2e: str, amount: str, to: str) -> p1.Instruction:
        return p1.Instruction(e2e, amount, "USD", to, remittance_info=f"invoice {e2e}")

    f = tmp_path / "pain001.xml"
    f.write_bytes(p1.build_pain001(a, [
        instr("INV-1", "600.00", b), instr("INV-2", "300.00", b),
        instr("INV-3", "200.00", b),  # more than is left: AM04
        instr("INV-4", "1.00", "d" * 64)],  # a key that is no identity: AC03
        msg_id="ERP-2026-12-07-1", batch_booking=True))

    # a dry run: every transaction accepted, nothing sent
    rc, _, err = await _chainfin(capsys, "iso20022", "pain001", str(f), "--key", key,
                                 "--node", url, "--dry-run", "--out", str(tmp_path / "dry.xml"))
    assert rc == 0, err
    dry = etree.fromstring((tmp_path / "dry.xml").read_bytes())
    assert _x(dry, "//p:GrpSts/text()") == ["ACCP"] and await d.usd("bob") == 0

    rc, out_, err = await _chainfin(capsys, "iso20022", "pain001", str(f), "--key", key,
                                    "--node", url, "--out", str(tmp_path / "pain002.xml"))
    assert rc == 1, err
    lines = [json.loads(x) for x in out_.splitlines()]
    assert [(x["status"], x["reason"]) for x in lines] == [
        ("ACSC", None), ("ACSC", None), ("RJCT", "insufficient_funds"),
        ("RJCT", "unknown_identity")]
    assert await d.usd("bob") == 90_000 and await d.usd("alice") == 10_000
    doc = etree.fromstring((tmp_path / "pain002.xml").read_bytes())
    p1.validate("pain.002", doc)
    assert _x(doc, "//p:GrpSts/text()") == ["PART"] and _x(doc, "//p:PmtInfSts/text()") == \
        ["PART"]
    assert _x(doc, "//p:TxInfAndSts/p:TxSts/text()") == ["ACSC", "ACSC", "RJCT", "RJCT"]
    assert _x(doc, "//p:TxInfAndSts/p:StsRsnInf/p:Rsn/p:Cd/text()") == ["AM04", "AC03"]
    assert "booked per transaction" in " ".join(_x(
        doc, "//p:OrgnlPmtInfAndSts/p:StsRsnInf/p:AddtlInf/text()"))
    committed = lines[0]["tx_id"]
    assert _x(doc, "//p:TxInfAndSts[1]/p:AcctSvcrRef/text()") == [committed[:35]]
    # the ledger kept the file's references
    tx = (await d.get(f"/v1/tx/{committed}?tx=1"))[1]
    assert tx["tx"]["args"]["end_to_end_id"] == "INV-1"

    # the same MsgId again: DU01, nothing sent (the ledger's payment index says it was booked)
    rc, out_, err = await _chainfin(capsys, "iso20022", "pain001", str(f), "--key", key,
                                    "--node", url)
    assert rc == 1 and "DU01" in err, err
    doc = etree.fromstring(out_.encode())
    assert _x(doc, "//p:GrpSts/text()") == ["RJCT"]
    assert _x(doc, "//p:StsRsnInf/p:Rsn/p:Cd/text()") == ["DU01"]
    assert await d.usd("bob") == 90_000
    # another file under the same MsgId (another block, other amounts): DU01 too
    g = tmp_path / "again.xml"
    g.write_bytes(p1.build_pain001(a, [instr("INV-9", "1.00", b)], msg_id="ERP-2026-12-07-1",
                                   pmt_inf_id="OTHER"))
    rc, out_, err = await _chainfin(capsys, "iso20022", "pain001", str(g), "--key", key,
                                    "--node", url)
    assert rc == 1 and "DU01" in err, err
    # a new MsgId whose first transaction carries a UETR this debtor already paid under: AM05,
    # not sent; the other is booked
    h = tmp_path / "new.xml"
    h.write_bytes(p1.build_pain001(a, [
        p1.Instruction("INV-1", "600.00", "USD", b, uetr=lines[0]["uetr"]),
        instr("INV-5", "1.00", b)], msg_id="ERP-2026-12-07-2"))
    rc, out_, err = await _chainfin(capsys, "iso20022", "pain001", str(h), "--key", key,
                                    "--node", url, "--out", str(tmp_path / "new002.xml"))
    assert rc == 1, err
    assert [(x["status"], x["reason"]) for x in map(json.loads, out_.splitlines())] == [
        ("RJCT", "AM05"), ("ACSC", None)]
    assert await d.usd("bob") == 90_100


# ------------------------------------------------------- an ERP's file, as ERPs write them

ERP_FILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
 <CstmrCdtTrfInitn>
  <GrpHdr><MsgId>F110-20261207-0001</MsgId><CreDtTm>2026-12-07T16:20:00</CreDtTm>
   <NbOfTxs>3</NbOfTxs><CtrlSum>1750.50</CtrlSum>
   <InitgPty><Nm>ACME IMPORT GMBH</Nm><Id><OrgId><Othr><Id>ACME001</Id></Othr></OrgId></Id>
   </InitgPty></GrpHdr>
  <PmtInf><PmtInfId>F110-USD</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg>
   <NbOfTxs>2</NbOfTxs><PmtTpInf><InstrPrty>NORM</InstrPrty></PmtTpInf>
   <ReqdExctnDt><Dt>2026-12-07</Dt></ReqdExctnDt><Dbtr><Nm>ACME IMPORT GMBH</Nm></Dbtr>
   <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>USD</Ccy></DbtrAcct>
   <DbtrAgt><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></DbtrAgt><ChrgBr>SHAR</ChrgBr>
   <CdtTrfTxInf><PmtId><InstrId>F110-1</InstrId><EndToEndId>5100000123</EndToEndId></PmtId>
    <Amt><InstdAmt Ccy="USD">1000.50</InstdAmt></Amt><Cdtr><Nm>Globex Exports Ltd</Nm></Cdtr>
    <CdtrAcct><Id><IBAN>GB29NWBK60161331926819</IBAN></Id></CdtrAcct>
    <RmtInf><Ustrd>INV 2026-0042 / 2026-0043</Ustrd></RmtInf></CdtTrfTxInf>
   <CdtTrfTxInf><PmtId><EndToEndId>NOTPROVIDED</EndToEndId></PmtId>
    <Amt><InstdAmt Ccy="USD">500</InstdAmt></Amt><Cdtr><Nm>Globex Exports Ltd</Nm></Cdtr>
    <CdtrAcct><Id><Othr><Id>4711-EXP-USD</Id></Othr></Id></CdtrAcct>
    <RmtInf><Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp><Nb>2026-0044</Nb>
     <RltdDt>2026-11-30</RltdDt></RfrdDocInf>
     <RfrdDocAmt><DuePyblAmt Ccy="USD">500.00</DuePyblAmt></RfrdDocAmt></Strd>
     <Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CREN</Cd></CdOrPrtry></Tp><Nb>CN-7</Nb></RfrdDocInf>
      <AddtlRmtInf>less credit note</AddtlRmtInf></Strd></RmtInf></CdtTrfTxInf></PmtInf>
  <PmtInf><PmtInfId>F110-SEPA</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg>
   <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl><CtgyPurp><Cd>SUPP</Cd></CtgyPurp></PmtTpInf>
   <ReqdExctnDt><Dt>2026-12-07</Dt></ReqdExctnDt><Dbtr><Nm>ACME IMPORT GMBH</Nm></Dbtr>
   <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct>
   <DbtrAgt><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></DbtrAgt><ChrgBr>SLEV</ChrgBr>
   <CdtTrfTxInf><PmtId><EndToEndId>5100000124</EndToEndId></PmtId>
    <Amt><InstdAmt Ccy="EUR">250.00</InstdAmt></Amt><Cdtr><Nm>Banque Un</Nm></Cdtr>
    <CdtrAcct><Id><IBAN>FR1420041010050500013M02606</IBAN></Id></CdtrAcct>
    <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>
     <Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf></CdtTrfTxInf></PmtInf>
 </CstmrCdtTrfInitn>
</Document>
"""
ERP_ACCOUNTS = {"DE89370400440532013000": A, "GB29NWBK60161331926819": B,
                "4711-EXP-USD": B, "FR1420041010050500013M02606": C}


def test_an_erps_structured_remittance_reaches_the_creditor() -> None:
    """An ERP writes invoice numbers and the creditor's reference in RmtInf/Strd, not Ustrd:
    they were dropped, and the creditor was paid USD 500 with nothing to match it to."""
    ini = _read(ERP_FILE, accounts=ERP_ACCOUNTS)
    t0, t1, t2 = ini.transfers
    assert t0.args and t0.args["remittance_info"] == "INV 2026-0042 / 2026-0043"
    assert t1.args and t1.args["remittance_info"] == \
        "/INV/2026-0044 2026-11-30 / /CREN/CN-7 / less credit note"
    assert t2.refusal and t2.refusal.code == "AM03"  # no EUR on this ledger
    # an ISO 11649 creditor reference as it is, another one as SWIFT's /RFB/
    rmt = etree.fromstring(ERP_FILE).xpath("//*[local-name()='RmtInf']")[2]
    assert p1.structured_remittance(rmt) == ["RF18539007547034"]
    ref = rmt.xpath(".//*[local-name()='Ref']")[0]
    ref.text = "ACME-4711"
    assert p1.structured_remittance(rmt) == ["/RFB/ACME-4711"]


def test_a_block_with_nothing_taken_carries_no_batch_booking_note() -> None:
    """The 'booked per transaction' note of a BtchBookg block read as the reason of its RJCT
    when none of its transactions was taken (the SEPA block all in EUR)."""
    ini = _read(ERP_FILE, accounts=ERP_ACCOUNTS)
    notes = {b.index: "booked per transaction" for b in ini.blocks}
    doc = _report(p1.Report(ini, dry_run=True, notes=notes))
    blocks = doc.xpath("//p:OrgnlPmtInfAndSts", namespaces=NS002)
    assert _x(blocks[0], "p:PmtInfSts/text()") == ["ACCP"]
    assert _x(blocks[0], "p:StsRsnInf/p:AddtlInf/text()") == ["booked per transaction"]
    assert _x(blocks[1], "p:PmtInfSts/text()") == ["RJCT"]
    assert _x(blocks[1], "p:StsRsnInf/p:AddtlInf/text()") == []


def test_an_older_pain001_version_is_named_and_answered_under_its_msgid() -> None:
    """SAP and other ERPs still export pain.001.001.03: the refusal said only 'expected a
    pain.001.001.09 Document, got Document in namespace …' and the pain.002 answered
    NOTPROVIDED, which the ERP cannot match to its file."""
    xml = ERP_FILE.replace(b"pain.001.001.09", b"pain.001.001.03")
    e = _refused(xml, accounts=ERP_ACCOUNTS)
    assert e.refusal.code == "FF01" and e.msg_id == "F110-20261207-0001"
    assert e.refusal.text.startswith("a pain.001.001.03 file: this ledger reads "
                                     "pain.001.001.09 only")
    doc = _report(p1.Report(None, e))
    assert _x(doc, "//p:OrgnlMsgId/text()") == ["F110-20261207-0001"]
    assert _x(doc, "//p:GrpSts/text()") == ["RJCT"]
