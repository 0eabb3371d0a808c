"""SWIFT MT707 amendments (chainfin/swift/mt707.py, cli_mt707.py, docs/swift.md; decision
135): reading strictly, what the ledger can and cannot amend, render -> parse round trips, the
contract's amendment numbers (a file sent twice proposes once; a beneficiary accepts the
amendment it read, not one that replaced it), and ``chainfin lc mt707 submit | export | accept``
end to end against an in-process 4-validator cluster."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import codec
from chainfin.execution import storage_key
from chainfin.swift import mt707
from chainfin.swift.mt700 import MtError
from contracts.testing import Ledger
from tests.fixtures import key_file
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.test_swift_mt700 import MESSAGE, _chainfin, _with, swift_desk  # noqa: F401
from tests.unit.trade_cases import T, open_trade, refused, trade_ledger

#: An amendment as the issuing bank's back office sends it: amendment 1 of LC-2026-000123,
#: the amount up by USD 10,000.00, the expiry moved, partial shipments now allowed.
AMENDMENT = "\r\n".join([
    "{1:F01BKCHUS33AXXX0000000000}{2:I707DEUTDEFFXXXXN}{4:",
    ":27:1/1",
    ":20:LC-2026-000123",
    ":21:NONREF",
    ":31C:261201",
    ":26E:1",
    ":30:261207",
    ":22A:ISSU",
    ":31D:270930ROTTERDAM NETHERLANDS",
    ":32B:USD10000,00",
    ":43P:ALLOWED",
    ":44C:270831",
    ":71N:BENE",
    "-}",
])


def _problems(text: str) -> str:
    with pytest.raises(MtError) as e:
        mt707.parse(text)
    return str(e.value)


# ---------------------------------------------------------------------------- reading


def test_an_amendment_reads_into_the_ledgers_changes() -> None:
    msg = mt707.parse(AMENDMENT)
    assert (msg.lc_number, msg.number, msg.issue_date, msg.amendment_date, msg.purpose) == (
        "LC-2026-000123", 1, datetime.date(2026, 12, 1), datetime.date(2026, 12, 7), "ISSU")
    assert msg.header == mt707.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert mt707.ledger_changes(msg, 100_000_00, "USD", 2) == {
        "amount": 110_000_00, "expiry_date": "2027-09-30", "partial_drawings": True}
    assert any(":44C:" in n and ":71N:" in n for n in msg.notes)  # not kept, said so
    assert any("ROTTERDAM" in n for n in msg.notes)


def test_a_decrease_and_the_other_terms() -> None:
    text = _with(_with(AMENDMENT, "32B", None), "31D", None)
    text = text.replace(":43P:ALLOWED", ":33B:USD25000,50\r\n:39A:10/10\r\n"
                                        ":42C:AT 60 DAYS AFTER SIGHT\r\n:42A:BKCHUS33")
    msg = mt707.parse(text)
    assert mt707.ledger_changes(msg, 100_000_00, "USD", 2) == {
        "amount": 74_999_50, "tolerance_bps": 1000, "usance_days": 60}
    assert not any("42A" in n for n in msg.notes)  # the tenor's drawee is not "unkept"


def test_mandatory_fields_are_listed() -> None:
    p = _problems(_with(_with(AMENDMENT, "26E", None), "30", None))
    assert "mandatory fields missing: :26E:, :30:" in p


@pytest.mark.parametrize(("tag", "value", "needle"), [
    ("26E", "0", ":26E: '0' is not a number of amendment from 1 to 999"),
    ("26E", "1000", ":26E: line 1 has 4 characters; at most 3"),
    ("30", "261332", ":30: '261332' is not a calendar date"),
    ("22A", "XXXX", ":22A: 'XXXX' is none of ISSU, ADVI, ACNF"),
    ("27", "1/2", "MT708"),
    ("32B", "USD10000.00", "decimal comma"),
    ("39A", "10/05", "asymmetric"),
    ("43P", "CONDITIONAL", ":43P: 'CONDITIONAL' is none of ALLOWED, NOT ALLOWED"),
])
def test_bad_fields_name_their_tag(tag: str, value: str, needle: str) -> None:
    text = _with(AMENDMENT, tag, value) if f":{tag}:" in AMENDMENT else AMENDMENT.replace(
        ":43P:ALLOWED", f":43P:ALLOWED\r\n:{tag}:{value}")
    assert needle in _problems(text)


def test_what_the_ledger_cannot_amend_is_refused_and_listed() -> None:
    text = AMENDMENT.replace(":43P:ALLOWED", ":43P:ALLOWED\r\n:59:OTHER EXPORTS LTD\r\n"
                                            ":46B:/ADD/+INSURANCE POLICY\r\n:33B:USD1,00")
    p = _problems(text)
    assert ":59: the ledger cannot amend the beneficiary" in p
    assert ":46B: the ledger cannot amend the documents required" in p
    assert ":32B: and :33B: together" in p


def test_an_amendment_that_changes_nothing_on_the_ledger_is_refused() -> None:
    text = _with(_with(_with(AMENDMENT, "32B", None), "31D", None), "43P", None)
    assert "changes nothing the ledger holds" in _problems(text)


def test_a_cancellation_request_amends_nothing_else() -> None:
    bare = _with(_with(_with(AMENDMENT, "32B", None), "31D", None), "43P", None)
    msg = mt707.parse(bare.replace(":22A:ISSU", ":22A:ISSU\r\n:23S:CANCEL"))
    assert msg.cancel
    with pytest.raises(MtError, match="not an amendment of terms"):
        mt707.ledger_changes(msg, 1, "USD", 2)
    p = _problems(AMENDMENT.replace(":22A:ISSU", ":22A:ISSU\r\n:23S:CANCEL"))
    assert "a cancellation request amends nothing else" in p and ":32B:" in p


@pytest.mark.parametrize(("delta", "why"), [
    (("32B", "EUR10,00"), "the credit is in USD"),
    (("33B", "USD100000,00"), "cancel it instead"),
    (("32B", "USD10,001"), "has 3 decimals"),
])
def test_amounts_the_credit_cannot_take_are_refused(delta: tuple[str, str], why: str) -> None:
    tag, value = delta
    text = _with(AMENDMENT, "32B", None).replace(":43P:ALLOWED", f":43P:ALLOWED\r\n:{tag}:{value}")
    with pytest.raises(MtError, match=why):
        mt707.ledger_changes(mt707.parse(text), 100_000_00, "USD", 2)


def _amendment(**kw: Any) -> mt707.Amendment:
    base: dict[str, Any] = dict(
        sender_bic="BKCHUS33", receiver_bic="DEUTDEFFXXX", lc_number="LC-2026-000123",
        issue_date=datetime.date(2026, 12, 1), number=2, amendment_date=datetime.date(2026, 12, 7),
        currency="JPY", exponent=0, amount=15_000_000, expiry_place="TOKYO")
    base.update(kw)
    return mt707.Amendment(**base)


@pytest.mark.parametrize("changes", [
    {"amount": 16_500_000, "expiry_date": "2027-01-31"},
    {"amount": 1, "tolerance_bps": 0, "usance_days": 0},
    {"usance_days": 180, "partial_drawings": False, "tolerance_bps": 1500},
])
def test_render_then_parse_gives_the_changes_back(changes: dict[str, Any]) -> None:
    text = mt707.render(_amendment(changes=changes))
    assert text.startswith("{1:F01BKCHUS33AXXX0000000000}{2:I707DEUTDEFFXXXXN}{4:\r\n")
    msg = mt707.parse(text)
    assert msg.number == 2 and msg.lc_number == "LC-2026-000123"
    assert mt707.ledger_changes(msg, 15_000_000, "JPY", 0) == changes


def test_render_refuses_what_an_mt707_cannot_carry() -> None:
    with pytest.raises(MtError) as e:
        mt707.render(_amendment(number=1000, changes={"tolerance_bps": 250,
                                                       "expiry_date": "2101-01-01"}))
    p = str(e.value)
    for needle in (":26E: amendment number 1000", ":39A: a tolerance of 250", ":31D: 2101-01-01"):
        assert needle in p, (needle, p)
    with pytest.raises(MtError, match="changes nothing"):
        mt707.render(_amendment(changes={"amount": 15_000_000}))


# ---------------------------------------------------------------------------- the contract


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def test_an_amendment_sent_twice_is_proposed_once(L: Ledger) -> None:
    lc = issue(L, open_trade(L)["trade"], amount=50_000_00)
    r = L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 60_000_00}, number=1)
    assert r["number"] == 1
    refused(L, "amendment_number", "bank_c", "amend_lc", lc_id=lc,
            changes={"amount": 60_000_00}, number=1)
    refused(L, "amendment_number", "bank_c", "amend_lc", lc_id=lc,
            changes={"amount": 60_000_00}, number=3)
    L.ok("exporter", T, "accept_amendment", lc_id=lc, number=1)
    assert L.get(T, "lc/" + lc)["amount"] == 60_000_00
    # the next is number 2, accepted or not; unnumbered proposals count too
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 70_000_00})
    assert L.get(T, "lc/" + lc)["amendment"]["number"] == 2
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 80_000_00}, number=3)


def test_a_beneficiary_accepts_the_amendment_it_read_not_its_replacement(L: Ledger) -> None:
    lc = issue(L, open_trade(L)["trade"], amount=50_000_00)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 60_000_00})
    # the exporter reads amendment 1 (more money); the bank replaces it with a shorter expiry
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"expiry_date": "2025-11-26"})
    refused(L, "amendment_changed", "exporter", "accept_amendment", lc_id=lc, number=1)
    assert L.get(T, "lc/" + lc)["amount"] == 50_000_00
    r = L.ok("exporter", T, "accept_amendment", lc_id=lc, number=2)
    assert r["number"] == 2 and r["applied"] == {"expiry_date": "2025-11-26"}


def test_an_lc_recorded_before_numbers_counts_its_accepted_amendments(L: Ledger) -> None:
    lc = issue(L, open_trade(L)["trade"], amount=50_000_00)
    L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 60_000_00})
    L.ok("exporter", T, "accept_amendment", lc_id=lc)
    rec = L.get(T, "lc/" + lc)
    del rec["proposals"]  # as an LC written before decision 135
    L.state.apply({storage_key(T, "lc/" + lc): codec.encode(rec)})
    assert L.ok("bank_c", T, "amend_lc", lc_id=lc, changes={"amount": 70_000_00},
                number=2)["number"] == 2


# ---------------------------------------------------------------------------- end to end


async def test_submit_export_accept_an_mt707(swift_desk: Any, tmp_path: Path,  # noqa: F811
                                             capsys: pytest.CaptureFixture[str]) -> None:
    d = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    exporter = key_file(d.ids["exporter"], tmp_path)
    (tmp_path / "lc.fin").write_text(_with(MESSAGE, "31D", "991231ROTTERDAM NETHERLANDS"))
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "submit", str(tmp_path / "lc.fin"),
                                   "--key", bank, "--node", url)
    assert rc == 0, err
    lc_id = json.loads(out)["lc_id"]

    # another credit's number: refused, nothing sent
    (tmp_path / "other.fin").write_text(_with(AMENDMENT, "20", "LC-2026-999999"))
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "submit", str(tmp_path / "other.fin"),
                                   "--lc", lc_id, "--key", bank, "--node", url)
    assert rc == 2 and "'LC-2026-999999'" in err and not out

    (tmp_path / "a1.fin").write_text(AMENDMENT)
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "submit", str(tmp_path / "a1.fin"),
                                   "--lc", lc_id, "--key", bank, "--node", url)
    assert rc == 0, err
    res = json.loads(out)
    assert res["status"] == "committed" and res["number"] == 1
    assert res["changes"] == {"amount": 110_000_00, "expiry_date": "2027-09-30",
                              "partial_drawings": True}
    lc = await d.value(f"lc/{lc_id}")
    assert lc["amount"] == 100_000_00 and lc["amendment"]["number"] == 1  # pending, not applied

    # the same file again: the ledger refuses the second proposal of amendment 1
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "submit", str(tmp_path / "a1.fin"),
                                   "--lc", lc_id, "--key", bank, "--node", url)
    assert rc == 1 and json.loads(out)["error"] == "amendment_number"
    assert "amendment 1 is already pending" in err and "replaces it" not in err

    # the issuing bank exports the pending amendment to the exporter's bank
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "export", "--lc", lc_id, "--key", bank,
                                   "--node", url, "--out", str(tmp_path / "out.fin"))
    assert rc == 0, err
    sent = mt707.parse((tmp_path / "out.fin").read_text())
    assert sent.header == mt707.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert (sent.lc_number, sent.number) == ("LC-2026-000123", 1)
    assert mt707.ledger_changes(sent, 100_000_00, "USD", 2) == res["changes"]

    # a message that is not the pending amendment is not accepted
    (tmp_path / "wrong.fin").write_text(_with(AMENDMENT, "32B", "USD20000,00"))
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "accept", str(tmp_path / "wrong.fin"),
                                   "--lc", lc_id, "--key", exporter, "--node", url)
    assert rc == 2 and "not the message's" in err and "amount" in err
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "accept", str(tmp_path / "out.fin"),
                                   "--lc", lc_id, "--key", bank, "--node", url)
    assert rc == 2 and "only the LC's beneficiary" in err

    rc, out, err = await _chainfin(capsys, "lc", "mt707", "accept", str(tmp_path / "out.fin"),
                                   "--lc", lc_id, "--key", exporter, "--node", url)
    assert rc == 0, err
    assert json.loads(out)["number"] == 1 and json.loads(out)["lc_number"] == "LC-2026-000123"
    lc = await d.value(f"lc/{lc_id}")
    assert (lc["amount"], lc["expiry_date"], lc["partial_drawings"], lc["amendment"]) == (
        110_000_00, "2027-09-30", True, None)
    rc, out, err = await _chainfin(capsys, "lc", "mt707", "export", "--lc", lc_id, "--key", bank,
                                   "--node", url)
    assert rc == 2 and "no amendment pending" in err
