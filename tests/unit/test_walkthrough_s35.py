"""Session 35's walkthrough, as a back office and an exporter met the new features on a real
testnet: what they tripped on, pinned. Each test fails on the code before.

* ``chainfin iso20022 answer --recall OLD --reject R``, OLD a recall already answered and
  followed by a newer one, rejected the **newer** recall (``reject_recall`` answers the
  payment's open recall, whichever it is) and wrote a camt.029 for OLD; now refused before
  anything is sent, naming the recall to answer. Without ``--reject``, the payer reading OLD was
  told its key may not read the record.
* ``answer --recall`` given the payment's id, a return's or a rejection's: the return's was
  taken for a recall ("this key may not read the record of recall …: answer it with
  --reject"); now each is named for what it is, the payment with its latest recall.
* ``recall`` finding a payment by its EndToEndId with a key that reads no blocks said
  "statements and notifications are built from every block": now the recall's own words, as a
  problem of the message (nothing sent), and the block reads still running are cancelled (they
  opened a session after the client closed: "Unclosed client session").
* ``recall_expired`` gave the deadline as a block time in ms; now a UTC date too, and what is
  left (a longer-window reason until its date, else off the ledger).
* ``notify --follow`` with a key that reads no blocks followed the events and died at the first
  block ("no block at height H"); without a key it printed the node's JSON raw.
* The camt.056 and pacs.004 written by hand in docs/iso20022.md read as shown.
* ``suspected_duplicate`` said "carrier code or copy number" of an invoice and "another sale" of
  a B/L, and not how to pass ``declare_distinct`` (an exporter put it in ``fields``) nor that a
  bank must acknowledge it.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from chainfin import iso20022 as iso
from chainfin.client import ClientError
from chainfin.iso20022 import cli as iso_cli
from contracts.testing import Ledger
from tests.fixtures import Desk, key_file
from tests.unit.test_iso20022_recall import UETR, camt056
from tests.unit.test_settlement_recall import DAY, Pay, S
from tests.unit.test_swift_mt700 import _chainfin
from tests.unit.trade_cases import (
    BILL_OF_LADING,
    DECLARATION,
    INVOICE,
    INVOICE_AMOUNT,
    T,
    h,
    open_trade,
    trade_ledger,
)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str
               ) -> tuple[int, list[dict[str, Any]], str]:
    rc, out, err = await _chainfin(capsys, "iso20022", *argv)
    return rc, [json.loads(x) for x in out.splitlines() if x.startswith("{")], err


# ---------------------------------------------------------------------------- answer


async def test_answer_never_rejects_a_newer_recall_than_the_one_it_names(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, str(desk.http.make_url("")).rstrip("/")
    alice = await d.register("alice", "importer", by="bank_a")
    bob = await d.register("bob", "exporter", by="bank_b")
    a, b = alice.public_key.hex(), bob.public_key.hex()
    out = await d.commit(d.tx("usd_issuer", "settlement", "issue",
                              {"currency": "USD", "to": a, "amount": 100_000}))
    assert out["status"] == "committed", out
    k = {n: key_file(d.ids[n], tmp_path) for n in ("alice", "bob", "bank_b")}
    p008 = tmp_path / "p008.xml"
    p008.write_bytes(iso.build_pacs008([iso.OutgoingTransfer("E2E-1", "600.00", "USD", a, b,
                                                             uetr=UETR)]))
    rc, lines, err = await _cli(capsys, "submit", str(p008), "--key", k["alice"], "--node", url)
    assert rc == 0, err
    paid = lines[0]["tx_id"]
    c056 = tmp_path / "c056.xml"
    c056.write_bytes(camt056({"uetr": UETR, "amount": "600.00", "reason": "CUST", "payer": a}))

    # the first recall, rejected by the payee's bank; the payer recalls again
    rc, lines, err = await _cli(capsys, "recall", str(c056), "--key", k["alice"], "--node", url)
    assert rc == 0, err
    old = lines[0]["result"]["recall_id"]
    rc, _, err = await _cli(capsys, "answer", "--recall", old, "--reject", "CUST", "--key",
                            k["bank_b"], "--node", url)
    assert rc == 0, err
    rc, lines, err = await _cli(capsys, "recall", str(c056), "--key", k["alice"], "--node", url)
    assert rc == 0, err
    new = lines[0]["result"]["recall_id"]

    # the rejection file processed twice names the old recall: refused, nothing sent
    out029 = tmp_path / "c029.xml"
    rc, lines, err = await _cli(capsys, "answer", "--recall", old, "--reject", "LEGL", "--key",
                                k["bank_b"], "--node", url, "--out", str(out029))
    assert rc == 2 and not lines and not out029.exists(), (lines, err)
    assert f"--recall {new}" in err and "nothing was sent" in err, err
    status, rec = await d.get(f"/v1/state/settlement/recall/{paid}")
    assert status == 200 and rec["value"]["recall"]["recall_id"] == new
    assert rec["value"]["recall"]["status"] == "open"  # the newer recall stays open

    # the payer asks where the old one stands: history, not a key it may not use
    rc, _, err = await _cli(capsys, "answer", "--recall", old, "--key", k["alice"], "--node",
                            url)
    assert rc == 2 and "is history" in err and "may not read" not in err, err
    assert f"--recall {new}" in err

    # the newer one is answered as named
    rc, _, err = await _cli(capsys, "answer", "--recall", new, "--reject", "LEGL", "--key",
                            k["bank_b"], "--node", url, "--out", str(out029))
    assert rc == 0, err
    assert etree.parse(str(out029)).find(".//{*}CxlStsRsnInf/{*}Rsn/{*}Cd").text == "LEGL"

    # a payment's, a return's and a rejection's id are named for what they are
    rc, _, err = await _cli(capsys, "answer", "--recall", paid, "--key", k["alice"], "--node",
                            url)
    assert rc == 2 and "is a payment, not a recall" in err, err
    assert f"latest recall is {new} (rejected)" in err
    p004 = tmp_path / "p004.xml"
    p004.write_bytes(
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{iso_ns("pacs.004.001.11")}">'
        "<PmtRtr><GrpHdr><MsgId>R-1</MsgId><CreDtTm>2026-12-07T10:00:00+00:00</CreDtTm>"
        "<NbOfTxs>1</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr><TxInf>"
        f"<OrgnlUETR>{UETR}</OrgnlUETR><RtrdIntrBkSttlmAmt Ccy=\"USD\">1.00"
        "</RtrdIntrBkSttlmAmt><RtrRsnInf><Rsn><Cd>MS02</Cd></Rsn></RtrRsnInf><OrgnlTxRef>"
        f"<DbtrAcct><Prxy><Tp><Prtry>CHAINFIN</Prtry></Tp><Id>{a}</Id></Prxy></DbtrAcct>"
        "</OrgnlTxRef></TxInf></PmtRtr></Document>".encode())
    rc, lines, err = await _cli(capsys, "return", str(p004), "--key", k["bob"], "--node", url)
    assert rc == 0, err
    rc, _, err = await _cli(capsys, "answer", "--recall", lines[0]["tx_id"], "--key", k["bob"],
                            "--node", url)
    assert rc == 2 and "is a return (pacs.004), not a recall" in err, err
    assert "may not read" not in err


def iso_ns(name: str) -> str:
    return f"urn:iso:std:iso:20022:tech:xsd:{name}"


# ---------------------------------------------------------------------------- recall by E2E


async def test_a_recall_by_end_to_end_id_with_a_key_that_reads_no_blocks_says_so(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, str(desk.http.make_url("")).rstrip("/")
    alice = await d.register("alice", "importer", by="bank_a")
    bob = await d.register("bob", "exporter", by="bank_b")
    a, b = alice.public_key.hex(), bob.public_key.hex()
    await d.commit(d.tx("usd_issuer", "settlement", "issue",
                        {"currency": "USD", "to": a, "amount": 100_000}))
    ka = key_file(d.ids["alice"], tmp_path)
    p008 = tmp_path / "p008.xml"
    p008.write_bytes(iso.build_pacs008([iso.OutgoingTransfer("E2E-9", "5.00", "USD", a, b)]))
    rc, _, err = await _cli(capsys, "submit", str(p008), "--key", ka, "--node", url)
    assert rc == 0, err
    c056 = tmp_path / "c056.xml"
    c056.write_bytes(camt056({"e2e": "E2E-9", "reason": "CUST"}))
    rc, lines, err = await _cli(capsys, "recall", str(c056), "--key", ka, "--node", url)
    assert rc == 2 and not lines, err
    assert "statement" not in err, err  # not the statement's words
    assert "EndToEndId 'E2E-9' alone reads every block" in err and "OrgnlUETR" in err
    assert "nothing was sent" in err


async def test_a_refused_block_scan_leaves_no_read_running() -> None:
    """The first 404 ends the scan; the other reads are cancelled, not left to reopen the
    client's session after it closed."""
    started: list[int] = []
    finished: list[int] = []

    class Reader:
        async def block(self, h: int) -> dict[str, Any]:
            started.append(h)
            if h == 1:
                raise ClientError("not_found", "no block", 404)
            await asyncio.sleep(0.2)
            finished.append(h)
            return {"height": h}

    with pytest.raises(iso_cli.ChainfinError, match="may not read block 1"):
        await iso_cli._blocks(Reader(), 1, 5)  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    assert started and not finished


# ---------------------------------------------------------------------------- recall_expired


def test_an_expired_recall_says_until_when_in_utc_and_what_is_left() -> None:
    P = Pay()
    paid_at = P.L.get(S, f"uetr/{P.L.pk('alice')}/{UETR}")["time_ms"]
    P.L.now_ms = paid_at + 20 * DAY
    r = P.L.fails("recall_expired", "alice", S, "recall", original_tx=P.tx, uetr=UETR,
                  reason="DUPL")
    msg = r.error_message or ""
    assert str(paid_at + 14 * DAY) in msg  # the block time, as before
    assert iso_day(paid_at + 14 * DAY) in msg and "UTC" in msg
    assert "AC03, AM09 or CUST" in msg and iso_day(paid_at + 395 * DAY) in msg
    # the longer window over too: only the way off the ledger
    P.L.now_ms = paid_at + 400 * DAY
    r = P.L.fails("recall_expired", "alice", S, "recall", original_tx=P.tx, uetr=UETR,
                  reason="CUST")
    assert "off the ledger" in (r.error_message or "") and "may still" not in (
        r.error_message or "")


def iso_day(ms: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


# ---------------------------------------------------------------------------- trade


@pytest.fixture
def L() -> Ledger:
    led = trade_ledger()
    open_trade(led)
    return led


def test_suspected_duplicate_says_how_to_declare_distinct_and_that_banks_acknowledge(
        L: Ledger) -> None:
    r = L.fails("suspected_duplicate", "exporter", T, "register", doc_type="invoice",
                fields={**INVOICE, "number": "CI-2025-001", "issue_date": "2025-11-27",
                        "amount": INVOICE_AMOUNT * 97 // 100}, content_hash=h("ci"))
    msg = r.error_message or ""
    assert "another sale" in msg and "carrier code" not in msg, msg
    assert "an argument of register beside fields" in msg and "acknowledge_distinct" in msg


@pytest.mark.parametrize("doc_type,fields,words", [
    ("bill_of_lading", {**BILL_OF_LADING, "carrier": "MSKU", "bl_number": "MSKU-778899"},
     ("a bill of lading of the same shipper", "carrier code", "another shipment")),
    ("customs_declaration", {**DECLARATION, "declaration_number": "MRN CD/2025/000123"},
     ("a customs declaration of the same exporter", "part or copy number", "another shipment")),
])
def test_suspected_duplicate_words_fit_the_document(
        L: Ledger, doc_type: str, fields: dict[str, Any], words: tuple[str, ...]) -> None:
    r = L.fails("suspected_duplicate", "exporter", T, "register", doc_type=doc_type,
                fields=fields, content_hash=h((doc_type, "dressed")))
    msg = r.error_message or ""
    assert all(w in msg for w in words), msg
    assert "another sale" not in msg
    if doc_type == "customs_declaration":
        assert "carrier" not in msg


# ---------------------------------------------------------------------------- the docs


def _doc_messages() -> list[bytes]:
    """The ```xml examples of docs/iso20022.md, "Writing them by hand"."""
    import re
    text = (Path(__file__).resolve().parents[2] / "docs" / "iso20022.md").read_text()
    part = text.split("**Writing them by hand.**", 1)[1].split("**`answer`**", 1)[0]
    return [m.encode() for m in re.findall(r"```xml\n(.*?)```", part, re.S)]


def test_the_docs_hand_written_recall_and_return_read_as_shown() -> None:
    a = "e5995b972819f8fa9c118879f18b3d9dfd91fc9d7509748a8d63bb51afd7cbff"
    c056, p004 = (m.replace(b"DEBTOR-KEY-HEX", a.encode()) for m in _doc_messages())
    (r,) = iso.parse_camt056(c056).requests  # validated against the official XSD
    assert (r.reason, r.uetr, r.amount, r.currency, r.debtor, r.case_id) == (
        "DUPL", "490e0826-8880-40e1-83ee-d2d0d8bdc1a3", Decimal("12.34"), "USD", a, "ASSGN-1")
    (t,) = iso.parse_pacs004(p004).returns
    assert (t.reason, t.amount, t.currency, t.debtor, t.return_id) == (
        "FOCR", Decimal("12.34"), "USD", a, "RTR-1-1")
    # a byte order mark and Windows line ends read the same; another version is refused
    assert iso.parse_camt056(b"\xef\xbb\xbf" + c056.replace(b"\n", b"\r\n")).requests == (r,)
    with pytest.raises(iso.Iso20022Error, match="camt.056.001.12 or camt.056.001.08"):
        iso.parse_camt056(c056.replace(b"camt.056.001.12", b"camt.056.001.10"))


# ---------------------------------------------------------------------------- notify --follow


async def test_notify_follow_with_a_key_that_reads_no_blocks_says_so_at_once(desk: Desk) -> None:
    """It followed the events and died at the first block with "no block at height H"; now it
    says why before waiting, in the statement's words."""
    url = str(desk.http.make_url("")).rstrip("/")
    exporter = desk.ids["exporter"]
    with pytest.raises(iso_cli.ChainfinError, match="this key may not read block"):
        await asyncio.wait_for(iso_cli.notify(url, exporter.public_key.hex(), "USD",
                                              start_height=None, follow=True, limit=None,
                                              identity=exporter), 10)


async def test_notify_follow_without_a_key_says_to_pass_one(desk: Desk) -> None:
    """Without a key it printed the node's JSON body raw (``/v1/events answered 401: {...}``)."""
    url = str(desk.http.make_url("")).rstrip("/")
    with pytest.raises(ClientError) as e:
        await asyncio.wait_for(iso_cli.notify(url, "a" * 64, "USD", start_height=None,
                                              follow=True, limit=None, identity=None), 10)
    assert e.value.status == 401 and "--key FILE" in e.value.message
    assert "{" not in e.value.message, e.value.message


# ---------------------------------------------------------------------------- statement


async def test_a_statement_with_a_validators_key_is_not_a_false_mismatch(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bank's validator node key (docs/iso20022.md's key for a statement) reads blocks, not
    an account's balance: its 404 was read as a balance of 0, so every statement of an account
    with money warned "not the ledger's balance 0" and exited 1."""
    from datetime import UTC, datetime
    d, url = desk, str(desk.http.make_url("")).rstrip("/")
    ex = d.ids["exporter"].public_key.hex()
    out = await d.commit(d.tx("usd_issuer", "settlement", "issue",
                              {"currency": "USD", "to": ex, "amount": 12_345}))
    assert out["status"] == "committed", out
    today = datetime.now(UTC).date().isoformat()
    args = ("statement", "--account", ex, "--currency", "USD", "--from", today, "--to", today,
            "--node", url, "--key")
    rc, out_, err = await _chainfin(capsys, "iso20022", *args, key_file(d.ids["bank_c"], tmp_path))
    assert rc == 0 and "<Ntry>" in out_, err
    assert "not the ledger's balance" not in err and "not checked" in err, err
    # the auditor reads the balance: the check stands, and holds
    rc, _, err = await _chainfin(capsys, "iso20022", *args, key_file(d.ids["auditor"], tmp_path))
    assert rc == 0 and not err, err


def test_a_register_argument_put_inside_fields_is_pointed_to_its_place() -> None:
    """declare_distinct inside fields was refused as 'not a key field', which did not say that
    it is an argument of register itself (walk-through R7)."""
    from chainfin.errors import ContractError
    from contracts.trade import norm

    fields = {"seller": "Globex Ltd", "buyer": "Initech LLC", "number": "INV-1",
              "issue_date": "2026-11-20", "amount": "100.00", "currency": "USD",
              "declare_distinct": "a second shipment"}
    with pytest.raises(ContractError) as e:
        norm.normalise_fields("invoice", fields, lambda code: 2)
    assert e.value.code == "unknown_field"
    assert "an argument of register, beside fields" in str(e.value)
