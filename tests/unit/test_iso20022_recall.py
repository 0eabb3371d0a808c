"""camt.056 in, pacs.004 in, camt.029 out, and returns in pacs.002 / camt.053
(chainfin/iso20022: ``chainfin iso20022 recall | return | answer``): the readers against hostile
and wrong messages, the camt.056 and camt.029 against the official XSDs, a statement's return
entry with its ISO reason; then the commands against an in-process cluster: a recall answered by
a return, a recall rejected, an over-return refused, a third bank and an outsider refused."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from chainfin import iso20022 as iso
from chainfin.client import Client
from contracts.testing import Ledger
from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin

A, B = "a" * 64, "b" * 64
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"
UETR2 = "0b6d7a1e-2f3c-4d5e-8f9a-1b2c3d4e5f60"
NS056 = "urn:iso:std:iso:20022:tech:xsd:camt.056.001.12"
NS004 = "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.11"


def _acct(tag: str, key: str | None) -> str:
    if key is None:
        return ""
    return (f"<{tag}><Id><Othr><Id>{key[:32]}</Id><SchmeNm><Prtry>CHAINFIN-PK32</Prtry>"
            f"</SchmeNm></Othr></Id><Prxy><Tp><Prtry>CHAINFIN</Prtry></Tp><Id>{key}</Id>"
            f"</Prxy></{tag}>")


def camt056(*txs: dict[str, Any], ns: str = NS056) -> bytes:
    """A camt.056 with one TxInf per dict: uetr, e2e, amount, ccy, reason, info, payer, payee."""
    body = []
    for t in txs:
        parts = [f"<CxlId>CXL-{len(body)}</CxlId>"]
        if t.get("e2e"):
            parts.append(f"<OrgnlEndToEndId>{t['e2e']}</OrgnlEndToEndId>")
        if t.get("uetr"):
            parts.append(f"<OrgnlUETR>{t['uetr']}</OrgnlUETR>")
        if t.get("amount"):
            parts.append(f"<OrgnlIntrBkSttlmAmt Ccy=\"{t.get('ccy', 'USD')}\">{t['amount']}"
                         "</OrgnlIntrBkSttlmAmt>")
        if t.get("reason"):
            info = "".join(f"<AddtlInf>{i}</AddtlInf>" for i in t.get("info", []))
            parts.append(f"<CxlRsnInf><Rsn><Cd>{t['reason']}</Cd></Rsn>{info}</CxlRsnInf>")
        if t.get("payer") or t.get("payee"):
            parts.append(f"<OrgnlTxRef>{_acct('DbtrAcct', t.get('payer'))}"
                         f"{_acct('CdtrAcct', t.get('payee'))}</OrgnlTxRef>")
        body.append("<TxInf>" + "".join(parts) + "</TxInf>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><FIToFIPmtCxlReq>'
            "<Assgnmt><Id>ASG-1</Id><Assgnr><Agt><FinInstnId><BICFI>BANKGB22</BICFI>"
            "</FinInstnId></Agt></Assgnr><Assgne><Agt><FinInstnId><BICFI>BANKUS33</BICFI>"
            "</FinInstnId></Agt></Assgne><CreDtTm>2026-12-07T10:00:00+00:00</CreDtTm>"
            "</Assgnmt><Case><Id>CASE-1</Id><Cretr><Agt><FinInstnId><BICFI>BANKGB22</BICFI>"
            "</FinInstnId></Agt></Cretr></Case><Undrlyg>" + "".join(body)
            + "</Undrlyg></FIToFIPmtCxlReq></Document>").encode()


def pacs004(*txs: dict[str, Any], ns: str = NS004, nb: int | None = None) -> bytes:
    """A pacs.004 with one TxInf per dict: uetr, e2e, amount, ccy, reason, rtr_id, payer,
    payee, orig_amount."""
    body = []
    for t in txs:
        parts = []
        if t.get("rtr_id"):
            parts.append(f"<RtrId>{t['rtr_id']}</RtrId>")
        if t.get("e2e"):
            parts.append(f"<OrgnlEndToEndId>{t['e2e']}</OrgnlEndToEndId>")
        if t.get("uetr"):
            parts.append(f"<OrgnlUETR>{t['uetr']}</OrgnlUETR>")
        if t.get("orig_amount"):
            parts.append(f"<OrgnlIntrBkSttlmAmt Ccy=\"{t.get('ccy', 'USD')}\">"
                         f"{t['orig_amount']}</OrgnlIntrBkSttlmAmt>")
        if t.get("amount"):
            parts.append(f"<RtrdIntrBkSttlmAmt Ccy=\"{t.get('ccy', 'USD')}\">{t['amount']}"
                         "</RtrdIntrBkSttlmAmt>")
        if t.get("reason"):
            parts.append(f"<RtrRsnInf><Rsn><Cd>{t['reason']}</Cd></Rsn></RtrRsnInf>")
        if t.get("payer") or t.get("payee"):
            parts.append(f"<OrgnlTxRef>{_acct('DbtrAcct', t.get('payer'))}"
                         f"{_acct('CdtrAcct', t.get('payee'))}</OrgnlTxRef>")
        body.append("<TxInf>" + "".join(parts) + "</TxInf>")
    n = len(txs) if nb is None else nb
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><PmtRtr><GrpHdr>'
            f"<MsgId>RTR-MSG-1</MsgId><CreDtTm>2026-12-07T10:00:00+00:00</CreDtTm>"
            f"<NbOfTxs>{n}</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>"
            + "".join(body) + "</PmtRtr></Document>").encode()


# ---------------------------------------------------------------------------- camt.056 in


def test_a_camt056_reads_as_the_ledgers_recall() -> None:
    xml = camt056({"uetr": UETR, "e2e": "E2E-1", "amount": "600.00", "reason": "DUPL",
                   "info": ["sent", "twice"], "payer": A, "payee": B})
    iso.validate("camt.056", xml)  # the official XSD
    msg = iso.parse_camt056(xml)
    (r,) = msg.requests
    assert (msg.version, msg.assignment_id) == ("camt.056.001.12", "ASG-1")
    assert (r.uetr, r.end_to_end_id, r.amount, r.currency, r.reason) == (
        UETR, "E2E-1", Decimal("600.00"), "USD", "DUPL")
    assert (r.info, r.debtor, r.creditor, r.case_id) == ("sent / twice", A, B, "CASE-1")


@pytest.mark.parametrize("tx,match", [
    ({"uetr": UETR}, "Rsn/Cd is required"),
    ({"uetr": UETR, "reason": "dupl"}, "not an ISO reason code"),
    ({"reason": "DUPL"}, "OrgnlUETR or OrgnlEndToEndId is required"),
    ({"uetr": UETR.upper(), "reason": "DUPL"}, "UUIDv4"),
    ({"uetr": UETR, "reason": "DUPL", "amount": "1.5e3"}, "not an amount"),
])
def test_a_camt056_the_ledger_cannot_take_is_refused(tx: dict[str, Any], match: str) -> None:
    with pytest.raises(iso.Iso20022Error, match=match):
        iso.parse_camt056(camt056(tx, ns="urn:iso:std:iso:20022:tech:xsd:camt.056.001.08"))


def test_a_camt056_is_checked_against_its_schema_and_refuses_a_dtd() -> None:
    bad = camt056({"uetr": UETR, "reason": "TOOLONG"})  # Cd is at most 4 characters
    with pytest.raises(iso.Iso20022Error, match="does not validate"):
        iso.parse_camt056(bad)
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "1">]>' + camt056(
        {"uetr": UETR, "reason": "DUPL"}).split(b"?>", 1)[1]
    with pytest.raises(iso.Iso20022Error, match="DTD"):
        iso.parse_camt056(dtd)
    with pytest.raises(iso.Iso20022Error, match="expected a camt.056"):
        iso.parse_camt056(pacs004({"uetr": UETR, "amount": "1.00", "reason": "FOCR"}))


# ---------------------------------------------------------------------------- pacs.004 in


def test_a_pacs004_reads_as_the_ledgers_return() -> None:
    msg = iso.parse_pacs004(pacs004({"uetr": UETR, "amount": "250.00", "reason": "AC04",
                                     "rtr_id": "RTR-1", "payer": A, "payee": B,
                                     "orig_amount": "600.00"}),
                            today=date(2026, 12, 7))
    (r,) = msg.returns
    assert (r.amount, r.currency, r.reason, r.return_id, r.debtor, r.creditor) == (
        Decimal("250.00"), "USD", "AC04", "RTR-1", A, B)
    assert r.original_amount == Decimal("600.00")


@pytest.mark.parametrize("tx,nb,match", [
    ({"uetr": UETR, "reason": "FOCR"}, None, "RtrdIntrBkSttlmAmt with a Ccy is required"),
    ({"uetr": UETR, "amount": "1.00"}, None, "RtrRsnInf/Rsn/Cd is required"),
    ({"amount": "1.00", "reason": "FOCR"}, None, "OrgnlUETR or OrgnlEndToEndId"),
    ({"uetr": UETR, "amount": "1.00", "reason": "FOCR", "ccy": "usd"}, None, "ISO 4217"),
    ({"uetr": UETR, "amount": "1.00", "reason": "FOCR"}, 2, "NbOfTxs"),
])
def test_a_pacs004_the_ledger_cannot_take_is_refused(tx: dict[str, Any], nb: int | None,
                                                     match: str) -> None:
    with pytest.raises(iso.Iso20022Error, match=match):
        iso.parse_pacs004(pacs004(tx, nb=nb))


# ---------------------------------------------------------------------------- camt.029 out


def _answer(status: str, **more: Any) -> iso.RecallAnswer:
    base: dict[str, Any] = dict(
        recall_id="c" * 64, original_tx="d" * 64, status=status,
        answerer=iso.Party(B, "Bank B", "BANKUS33", bank=True),
        requester=iso.Party(A, "Alice\x00Imports"), currency="USD", exponent=2,
        amount=60_000, uetr=UETR, end_to_end_id="E2E-1", case_id="CASE-1")
    return iso.RecallAnswer(**{**base, **more})


@pytest.mark.parametrize("status,conf,tx_sts", [("rejected", "RJCR", "RJCR"),
                                                ("returned", "CNCL", "ACCR"),
                                                ("open", "PECR", "PDCR")])
def test_a_camt029_answers_a_recall_and_validates(status: str, conf: str, tx_sts: str) -> None:
    xml = iso.build_camt029(_answer(status, reason="CUST", returned=60_000,
                                    answer_tx="e" * 64, info="the customer refused"))
    iso.validate("camt.029", xml)
    doc = etree.fromstring(xml)
    assert doc.find(".//{*}Sts/{*}Conf").text == conf
    assert doc.find(".//{*}TxCxlSts").text == tx_sts
    assert doc.find(".//{*}OrgnlUETR").text == UETR
    assert doc.find(".//{*}RslvdCase/{*}Id").text == "CASE-1"
    notes = [e.text for e in doc.iterfind(".//{*}CxlStsRsnInf/{*}AddtlInf")]
    assert f"chainfin payment {'d' * 64}" in notes
    codes = [e.text for e in doc.iterfind(".//{*}CxlStsRsnInf/{*}Rsn/{*}Cd")]
    assert codes == (["CUST"] if status == "rejected" else [])
    if status == "returned":
        assert "returned 600.00 USD of 600.00" in notes
    assert doc.find(".//{*}Assgne/{*}Pty/{*}Nm").text == "Alice Imports"


# ---------------------------------------------------------------------------- statements


def _blocks() -> tuple[Ledger, list[dict[str, Any]], str]:
    led = Ledger()
    blocks: list[dict[str, Any]] = []

    def run(who: str, method: str, **args: Any) -> Any:
        r = led.tx(who, "settlement", method, **args)
        assert r.status == "committed", (method, r.error_code, r.error_message)
        blocks.append({"height": led.height, "header": {"timestamp_ms": led.now_ms},
                       "receipts": [r.to_json()]})
        return r

    imp, exp = led.pk("importer"), led.pk("exporter")
    run("usd_issuer", "issue", currency="USD", to=imp, amount=100_000)
    tx = run("importer", "transfer", to=exp, currency="USD", amount=60_000, uetr=UETR,
             end_to_end_id="E2E-1").tx_id.hex()
    run("importer", "recall", original_tx=tx, uetr=UETR, reason="DUPL")
    run("exporter", "return_payment", original_tx=tx, payer=imp, uetr=UETR, currency="USD",
        amount=45_000, reason="FOCR")
    run("exporter", "return_payment", original_tx=tx, payer=imp, uetr=UETR, currency="USD",
        amount=15_000, reason="AM05")
    return led, blocks, tx


def test_the_statement_shows_each_return_with_its_iso_reason() -> None:
    led, blocks, tx = _blocks()
    for who, credit, family in (("importer", True, "ICDT"), ("exporter", False, "RCDT")):
        acct = led.pk(who)
        moves = iso.movements(blocks, acct, "USD")
        assert sum(m.amount if m.credit else -m.amount for m in moves) == led.balance(who, "USD")
        s = iso.StatementInput(acct, "USD", 2, date(2025, 1, 1), date(2030, 1, 1), 0, moves)
        doc = etree.fromstring(iso.build_camt053(s))  # validated against the official XSD
        returns = [n for n in doc.iterfind(".//{*}Ntry") if n.find(".//{*}RtrInf") is not None]
        assert [r.find(".//{*}RtrInf/{*}Rsn/{*}Cd").text for r in returns] == ["FOCR", "AM05"]
        for r in returns:
            assert r.find("{*}CdtDbtInd").text == ("CRDT" if credit else "DBIT")
            assert r.find(".//{*}Domn/{*}Fmly/{*}Cd").text == family
            assert r.find(".//{*}SubFmlyCd").text == "RRTN"
            assert r.find(".//{*}Refs/{*}EndToEndId").text == "E2E-1"  # the original's
            assert r.find(".//{*}Refs/{*}UETR").text == UETR
            assert tx in r.find(".//{*}RtrInf/{*}AddtlInf").text
        camt054 = etree.fromstring(iso.build_camt054(acct, "USD", 2, moves[-1:]))
        assert camt054.find(".//{*}RtrInf/{*}Rsn/{*}Cd").text == "AM05"


def test_a_pacs002_says_what_came_back() -> None:
    xml = iso.build_pacs002([iso.TxStatus("f" * 64, "committed", "E2E-1", UETR, 3,
                                          note="returned 60000 of 60000 minor units")])
    assert b"<AddtlInf>returned 60000 of 60000 minor units</AddtlInf>" in xml
    assert b"<TxSts>ACSC</TxSts>" in xml


# ---------------------------------------------------------------------------- on a cluster


def _url(d: Desk) -> str:
    return str(d.http.make_url("")).rstrip("/")


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str
               ) -> tuple[int, list[dict[str, Any]], str]:
    rc, out, err = await _chainfin(capsys, "iso20022", *argv)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    return rc, lines, err


async def test_recall_return_answer_and_statement_through_the_commands(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, _url(desk)
    alice = await d.register("alice", "importer", by="bank_a")
    bob = await d.register("bob", "exporter", by="bank_b")
    await d.register("carol", "exporter", by="bank_c")
    a, b = alice.public_key.hex(), bob.public_key.hex()
    out = await d.commit(d.tx("usd_issuer", "settlement", "issue",
                              {"currency": "USD", "to": a, "amount": 100_000}))
    assert out["status"] == "committed", out
    k = {n: key_file(d.ids[n], tmp_path) for n in ("alice", "bob", "carol", "bank_a",
                                                   "bank_b", "bank_c", "auditor")}

    # alice pays bob twice with a pacs.008
    p008 = tmp_path / "p008.xml"
    p008.write_bytes(iso.build_pacs008([
        iso.OutgoingTransfer("E2E-1", "600.00", "USD", a, b, uetr=UETR),
        iso.OutgoingTransfer("E2E-2", "100.00", "USD", a, b, uetr=UETR2)]))
    rc, lines, err = await _cli(capsys, "submit", str(p008), "--key", k["alice"], "--node", url)
    assert rc == 0, err
    tx1, tx2 = lines[0]["tx_id"], lines[1]["tx_id"]

    # a camt.056 whose amount is not the payment's is refused whole, nothing sent
    bad = tmp_path / "bad056.xml"
    bad.write_bytes(camt056({"uetr": UETR, "amount": "601.00", "reason": "DUPL", "payer": a}))
    rc, lines, err = await _cli(capsys, "recall", str(bad), "--key", k["bank_a"], "--node", url)
    assert rc == 2 and not lines and "nothing was sent" in err, err

    # alice's bank recalls the first (DUPL) on its customer's behalf
    c056 = tmp_path / "c056.xml"
    c056.write_bytes(camt056({"uetr": UETR, "e2e": "E2E-1", "amount": "600.00",
                              "reason": "DUPL", "payer": a, "payee": b}))
    rc, lines, err = await _cli(capsys, "recall", str(c056), "--key", k["bank_a"],
                                "--node", url)
    assert rc == 0 and lines[0]["status"] == "committed", (lines, err)
    rid = lines[0]["result"]["recall_id"]
    # a second recall of it while it is open: refused by the ledger
    rc, lines, _ = await _cli(capsys, "recall", str(c056), "--key", k["alice"], "--node", url)
    assert rc == 1 and lines[0]["error"] == "recall_open"

    # the recall record: the parties' banks read it, a third bank and an outsider do not
    async with Client(url, identity=d.ids["carol"]) as c:
        assert await c.state_value("settlement", f"recall/{tx1}") is None
    async with Client(url, identity=d.ids["bank_c"]) as c:
        assert await c.state_value("settlement", f"recall/{tx1}") is None
    async with Client(url, identity=d.ids["bob"]) as c:  # its bank answers for it
        assert await c.state_value("settlement", f"recall/{tx1}") is None
    async with Client(url, identity=d.ids["bank_b"]) as c:
        assert (await c.state_value("settlement", f"recall/{tx1}"))["recall"]["status"] == "open"
    # a third bank can neither read the recall's standing nor answer it
    rc, _, err = await _cli(capsys, "answer", "--recall", rid, "--key", k["bank_c"],
                            "--node", url)
    assert rc == 2 and "may not read" in err, err
    rc, lines, _ = await _cli(capsys, "answer", "--recall", rid, "--reject", "CUST", "--key",
                              k["bank_c"], "--node", url)
    assert rc == 1 and lines[0]["error"] == "forbidden"

    # bob returns it with a pacs.004 (finding it by its UETR and payer)
    p004 = tmp_path / "p004.xml"
    p004.write_bytes(pacs004({"uetr": UETR, "amount": "600.00", "reason": "FOCR",
                              "rtr_id": "RTR-1", "payer": a, "payee": b}))
    rc, lines, err = await _cli(capsys, "return", str(p004), "--key", k["bob"], "--node", url)
    assert rc == 0 and lines[0]["result"]["recall_id"] == rid, (lines, err)
    assert await d.usd("alice") == 100_000 - 10_000 and await d.usd("bob") == 10_000
    # once more: more than was paid, refused by the ledger
    rc, lines, _ = await _cli(capsys, "return", str(p004), "--key", k["bob"], "--node", url)
    assert rc == 1 and lines[0]["error"] == "over_return"
    # a return signed by someone else than the payee is refused before anything is sent
    rc, lines, err = await _cli(capsys, "return", str(p004), "--key", k["bank_b"], "--node",
                                url)
    assert rc == 2 and "signed by the payee" in err, err

    # bob's bank reports the outcome: a camt.029 that validates
    c029 = tmp_path / "c029.xml"
    rc, _, err = await _cli(capsys, "answer", "--recall", rid, "--key", k["bank_b"], "--node",
                            url, "--out", str(c029))
    assert rc == 0, err
    iso.validate("camt.029", c029.read_bytes())
    doc = etree.parse(str(c029))
    assert doc.find(".//{*}Conf").text == "CNCL" and doc.find(".//{*}TxCxlSts").text == "ACCR"
    assert doc.find(".//{*}OrgnlEndToEndId").text == "E2E-1"

    # the second payment: alice's bank recalls it by its tx id alone; bob's bank says no
    c056b = tmp_path / "c056b.xml"
    c056b.write_bytes(camt056({"e2e": "E2E-2", "reason": "CUST", "info": ["please"]}))
    rc, lines, err = await _cli(capsys, "recall", str(c056b), "--key", k["bank_a"], "--node",
                                url, "--original-tx", tx2)
    assert rc == 0, (lines, err)
    rid2 = lines[0]["result"]["recall_id"]
    rc, _, err = await _cli(capsys, "answer", "--recall", rid2, "--reject", "CUST", "--info",
                            "the customer refused", "--key", k["bank_b"], "--node", url,
                            "--out", str(c029))
    assert rc == 0, err
    doc = etree.parse(str(c029))
    assert doc.find(".//{*}Conf").text == "RJCR"
    assert doc.find(".//{*}CxlStsRsnInf/{*}Rsn/{*}Cd").text == "CUST"
    assert await d.usd("bob") == 10_000  # a rejection moves nothing

    # pacs.002 of the first payment says it came back; of the return, what it returned
    rc, out, err = await _chainfin(capsys, "iso20022", "status", "--tx", tx1, "--key",
                                   k["alice"], "--node", url)
    assert rc == 0 and "returned 60000 of 60000 minor units" in out, (out, err)
    assert "recall DUPL returned" in out

    # the auditor's camt.053 of alice: the return entry with its ISO reason, balances agree
    today = datetime.now(UTC).date().isoformat()
    c053 = tmp_path / "c053.xml"
    rc, out, err = await _chainfin(capsys, "iso20022", "statement", "--account", a,
                                   "--currency", "USD", "--from", today, "--to", today,
                                   "--key", k["auditor"], "--node", url, "--out", str(c053))
    assert rc == 0, err
    doc = etree.parse(str(c053))
    (entry,) = [n for n in doc.iterfind(".//{*}Ntry") if n.find(".//{*}RtrInf") is not None]
    assert entry.find(".//{*}RtrInf/{*}Rsn/{*}Cd").text == "FOCR"
    assert entry.find("{*}CdtDbtInd").text == "CRDT"
    assert entry.find("{*}Amt").text == "600.00"


def test_the_commands_are_listed() -> None:
    from chainfin.cli import build_parser

    p = build_parser()
    for cmd in ("recall", "return", "answer"):
        with pytest.raises(SystemExit) as e:
            p.parse_args(["iso20022", cmd, "--help"])
        assert e.value.code == 0
