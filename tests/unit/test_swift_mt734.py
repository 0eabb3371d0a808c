"""SWIFT MT734 Advice of Refusal and MT756 Advice of Reimbursement or Payment
(chainfin/swift/mt734.py, mt756.py, cli_mt734.py, docs/swift.md): reading an issuing bank's
refusal strictly into ``refuse_presentation``'s terms, the :77J: wording table (several
problems are several codes; wording it does not hold is refused, not guessed), render -> parse
round trips, the contract's answer to a refusal of an honoured presentation, and ``chainfin lc
mt734 submit | export`` and ``chainfin lc mt756 export`` end to end against an in-process
4-validator cluster."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin.client import ClientError
from chainfin.swift import mt734, mt756
from chainfin.swift.mt700 import MtError
from contracts.testing import Ledger
from contracts.trade.letters_of_credit import DISCREPANCY_CODES
from contracts.trade_documents import CONTRACT
from tests.fixtures import Desk, key_file, trade_hash
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.test_swift_mt700 import _chainfin, _with, swift_desk  # noqa: F401
from tests.unit.trade_cases import INVOICE, T, open_trade, refused, trade_ledger

PID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

#: An MT734 as an issuing bank's back office sends it to the presenting bank (input message,
#: blocks 1, 2, 3 and 5, CRLF): Bank of China New York refuses presentation 9F86D081884C7D65
#: of USD 100,000.00 for three numbered discrepancies, the second naming two problems, and
#: holds the documents pending the presenter's instructions.
MESSAGE = "\r\n".join([
    "{1:F01BKCHUS33AXXX0000000000}{2:I734DEUTDEFFXXXXN}{3:{108:REF734001}}{4:",
    ":20:BOC734-0001",
    ":21:9F86D081884C7D65",
    ":32A:261204USD100000,00",
    ":73A:/COMM/USD75,00",
    ":33B:USD75,00",
    ":77J:1. LATE PRESENTATION",
    "2. INVOICE AMOUNT EXCEEDS CREDIT AMOUNT AND",
    "DESCRIPTION OF GOODS ON INVOICE DIFFERS FROM",
    "CREDIT TERMS",
    "3. BILL OF LADING NOT SIGNED BY THE CARRIER",
    ":77B:/HOLD/PENDING YOUR INSTRUCTIONS",
    "-}{5:{CHK:123456789ABC}}",
])

CODES = ["amount_mismatch", "description_mismatch", "late_presentation", "unsigned_document"]


def _problems(text: str) -> str:
    with pytest.raises(MtError) as e:
        mt734.parse(text)
    return str(e.value)


# ---------------------------------------------------------------------------- reading


def test_a_back_office_mt734_reads_into_refuse_presentation_terms() -> None:
    msg = mt734.parse(MESSAGE)
    assert msg.header == mt734.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert (msg.reference, msg.presentation_ref, msg.disposal) == (
        "BOC734-0001", "9F86D081884C7D65", "HOLD")
    assert mt734.utilisation(msg, 2) == (datetime.date(2026, 12, 4), "USD", 100_000_00)
    assert [codes for _, codes in msg.discrepancies] == [
        ("late_presentation",), ("amount_mismatch", "description_mismatch"),
        ("unsigned_document",)]
    args = {"presentation_id": PID, "discrepancies": mt734.refusal_codes(msg)}
    assert args["discrepancies"] == CODES
    assert CONTRACT.methods["refuse_presentation"].parse_args(args) is not None
    # what the ledger does not keep is said, not dropped silently
    assert any(":33B:" in n and ":73A:" in n and ":20:" in n for n in msg.notes)
    assert any(":77B: /HOLD/" in n and "holds the documents" in n for n in msg.notes)
    assert any(":77B: only the code is kept" in n for n in msg.notes)


def test_lf_line_ends_and_a_bare_text_block_read_the_same() -> None:
    want = mt734.terms(mt734.parse(MESSAGE), 2)
    lf = MESSAGE.replace("\r\n", "\n")
    bare = "\n".join(lf.split("\n")[1:-1])
    assert mt734.terms(mt734.parse(lf), 2) == want
    assert mt734.terms(mt734.parse(bare), 2) == want
    assert mt734.parse(bare).header is None


@pytest.mark.parametrize("tag", mt734.MANDATORY)
def test_each_missing_mandatory_field_is_named(tag: str) -> None:
    assert f"mandatory fields missing: :{tag}:" in _problems(_with(MESSAGE, tag, None))


def test_every_missing_mandatory_field_is_listed_together() -> None:
    text = MESSAGE
    for tag in mt734.MANDATORY:
        text = _with(text, tag, None)
    assert "mandatory fields missing: :20:, :21:, :32A:, :77J:, :77B:" in _problems(text)


@pytest.mark.parametrize(("tag", "value", "needle"), [
    ("32A", "261204USD100000.00", "decimal comma"),
    ("32A", "261332USD100,00", ":32A: '261332' is not a calendar date"),
    ("32A", "261204100,00", ":32A: '261204100,00' has no currency code"),
    ("20", "BOC//734", ":20: 'BOC//734' must not start or end with '/'"),
    ("21", "9F86D081884C7D659A", ":21: line 1 has 18 characters; at most 16"),
    ("77B", "/KEEP/", ":77B: /KEEP/ is none of HOLD, NOTIFY, RETURN, PREVINST"),
    ("77B", "HOLD", ":77B: line 1 'HOLD' is not /CODE/[text]"),
    ("77B", "/HOLD/\nSEE BELOW", ":77B: line 2 does not continue line 1 with '//'"),
    ("33B", "EUR75,00", ":33B: 'EUR': the amount claimed is in the currency of :32A: (USD)"),
    ("77J", "+LATE PRESENTATION " + "X" * 40, ":77J: line 1 has 59 characters; at most 50"),
    ("77J", "+DOCUMENTS INCONSISTENT ~", "outside the SWIFT Z set: '~'"),
])
def test_bad_fields_name_their_tag(tag: str, value: str, needle: str) -> None:
    assert needle in _problems(_with(MESSAGE, tag, value))


def test_charges_need_the_total_claimed_and_options_are_exclusive() -> None:
    assert "(rule C1)" in _problems(_with(MESSAGE, "33B", None))
    both = MESSAGE.replace(":33B:USD75,00", ":33B:USD75,00\r\n:33A:261204USD75,00")
    assert ":33A:, :33B: together" in _problems(both)
    assert ":50: is not an MT734 field" in _problems(
        MESSAGE.replace(":20:BOC734-0001", ":20:BOC734-0001\r\n:50:GLOBEX CORP"))


# ---------------------------------------------------------------------------- :77J:


def test_the_table_maps_to_the_contracts_codes_and_each_label_reads_back() -> None:
    assert mt734.LEDGER_CODES == DISCREPANCY_CODES
    assert [d.code for d in mt734.DISCREPANCIES] == list(DISCREPANCY_CODES)
    for d in mt734.DISCREPANCIES:
        assert mt734.codes_of(d.label) == (d.code,), d


@pytest.mark.parametrize(("wording", "codes"), [
    ("LATE PRESENTATION", ("late_presentation",)),
    ("DOCUMENTS PRESENTED AFTER 21 DAYS FROM SHIPMENT", ("late_presentation",)),
    ("CREDIT EXPIRED", ("late_presentation",)),
    ("AMOUNT EXCEEDS CREDIT", ("amount_mismatch",)),
    ("L/C OVERDRAWN BY USD 1.200,00", ("amount_mismatch",)),
    ("DOCUMENTS INCONSISTENT", ("inconsistent_documents",)),
    ("PACKING LIST WEIGHT CONFLICTS WITH B/L", ("inconsistent_documents",)),
    ("INVOICE NOT ISSUED BY THE BENEFICIARY", ("party_mismatch",)),
    ("CERTIFICATE OF ORIGIN NOT PRESENTED", ("missing_document",)),
    ("DESCRIPTION OF GOODS DIFFERS", ("description_mismatch",)),
    ("INSURANCE POLICY UNSIGNED", ("unsigned_document",)),
    ("LATE PRESENTATION AND CREDIT OVERDRAWN, B/L NOT SIGNED",
     ("late_presentation", "amount_mismatch", "unsigned_document")),
])
def test_the_usual_wording_maps_to_its_codes(wording: str, codes: tuple[str, ...]) -> None:
    assert mt734.codes_of(wording) == codes
    assert mt734.codes_of(wording.lower()) == codes


def test_a_discrepancy_naming_several_problems_maps_to_several_codes() -> None:
    msg = mt734.parse(_with(MESSAGE, "77J", "+CREDIT EXPIRED, AMOUNT EXCEEDS CREDIT AND\n"
                                            "DOCUMENTS INCONSISTENT"))
    assert len(msg.discrepancies) == 1  # one item over two lines
    assert mt734.refusal_codes(msg) == ["amount_mismatch", "inconsistent_documents",
                                        "late_presentation"]


def test_an_unmarked_discrepancy_over_lines_is_one_item() -> None:
    msg = mt734.parse(_with(MESSAGE, "77J", "BILL OF LADING SHOWS SHIPMENT FROM NINGBO, CREDIT\n"
                                            "CALLS FOR SHANGHAI: DATA INCONSISTENT"))
    assert [c for _, c in msg.discrepancies] == [("inconsistent_documents",)]


def test_an_unmappable_discrepancy_is_refused_unless_its_code_is_given() -> None:
    msg = mt734.parse(_with(MESSAGE, "77J", "+LATE PRESENTATION\n+LATE SHIPMENT\n"
                                            "+INSURANCE COVER LESS THAN 110 PCT"))
    assert msg.unmapped == ["+LATE SHIPMENT", "+INSURANCE COVER LESS THAN 110 PCT"]
    with pytest.raises(MtError) as e:
        mt734.refusal_codes(msg)
    p = str(e.value)
    assert "'+LATE SHIPMENT'" in p and "'+INSURANCE COVER LESS THAN 110 PCT'" in p
    assert "--code" in p
    assert mt734.refusal_codes(msg, ["other"]) == ["late_presentation", "other"]
    with pytest.raises(MtError, match="no ledger discrepancy code"):
        mt734.refusal_codes(msg, ["late_shipment"])


def test_words_inside_longer_words_are_not_a_second_code() -> None:
    # "INCONSISTENT" is inside "DOCUMENTS INCONSISTENT"; "MISSING" alone names nothing
    assert mt734.codes_of("+DOCUMENTS INCONSISTENT") == ("inconsistent_documents",)
    assert mt734.codes_of("SIGNATURE MISSING ON DRAFT") == ("unsigned_document",)
    assert mt734.codes_of("UNPRESENTABLE") == ()


# ---------------------------------------------------------------------------- writing


def _refusal(**kw: Any) -> mt734.Refusal:
    base: dict[str, Any] = dict(
        sender_bic="BKCHUS33", receiver_bic="DEUTDEFFXXX", reference="LC-2026-000123",
        presentation_ref=mt734.presentation_reference(PID),
        utilisation_date=datetime.date(2026, 12, 4), currency="USD", exponent=2,
        amount=100_000_00, discrepancies=("late_presentation",))
    base.update(kw)
    return mt734.Refusal(**base)


@pytest.mark.parametrize("kw", [
    {"discrepancies": tuple(DISCREPANCY_CODES)},
    {"discrepancies": ("amount_mismatch", "party_mismatch"), "disposal": "NOTIFY"},
    {"currency": "JPY", "exponent": 0, "amount": 15_000_000, "disposal": "PREVINST"},
    {"currency": "KWD", "exponent": 3, "amount": 1_234_567, "disposal": "HOLD"},
])
def test_render_then_parse_gives_the_terms_back(kw: dict[str, Any]) -> None:
    r = _refusal(**kw)
    text = mt734.render(r)
    assert text.startswith("{1:F01BKCHUS33AXXX0000000000}{2:I734DEUTDEFFXXXXN}{4:\r\n")
    assert mt734.terms(mt734.parse(text), r.exponent) == {
        "presentation_ref": PID[:16].upper(), "utilisation_date": r.utilisation_date,
        "currency": r.currency, "amount": r.amount,
        "discrepancies": sorted(r.discrepancies), "disposal": r.disposal}


def test_render_refuses_what_an_mt734_cannot_carry() -> None:
    with pytest.raises(MtError) as e:
        mt734.render(_refusal(discrepancies=("late_shipment",), disposal="KEEP",
                              amount=10**17, utilisation_date=datetime.date(2101, 1, 1)))
    p = str(e.value)
    for needle in (":77J: 'late_shipment' is no ledger discrepancy code", ":77B: 'KEEP'",
                   ":32A: USD 1000000000000000,00 has more than 15", ":32A: 2101-01-01"):
        assert needle in p, (needle, p)
    with pytest.raises(MtError, match="names no discrepancy"):
        mt734.render(_refusal(discrepancies=()))


# ---------------------------------------------------------------------------- MT756


def _advice(**kw: Any) -> mt756.Advice:
    base: dict[str, Any] = dict(
        sender_bic="BKCHUS33", receiver_bic="DEUTDEFF", reference="LC-2026-000123",
        presentation_ref=mt734.presentation_reference(PID), currency="USD", exponent=2,
        claimed=70_000_00, paid=70_000_00, value_date=datetime.date(2026, 12, 7))
    base.update(kw)
    return mt756.Advice(**base)


def test_an_mt756_reads_back_what_was_written() -> None:
    text = mt756.render(_advice())
    assert text == "\r\n".join([
        "{1:F01BKCHUS33AXXX0000000000}{2:I756DEUTDEFFXXXXN}{4:", ":20:LC-2026-000123",
        ":21:9F86D081884C7D65", ":32B:USD70000,00", ":33A:261207USD70000,00", "-}"])
    msg = mt756.parse(text)
    assert msg.header == mt734.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert mt756.terms(msg, 2) == {"presentation_ref": "9F86D081884C7D65", "currency": "USD",
                                   "claimed": 70_000_00, "paid": 70_000_00,
                                   "value_date": datetime.date(2026, 12, 7)}
    jpy = mt756.render(_advice(currency="JPY", exponent=0, claimed=15_000_000, paid=15_000_000))
    assert mt756.terms(mt756.parse(jpy), 0)["paid"] == 15_000_000


def test_an_mt756_is_read_strictly() -> None:
    text = mt756.render(_advice()).replace(":33A:261207USD", ":33A:261207EUR")
    with pytest.raises(MtError, match=r":33A: 'EUR': the amount paid is in the currency"):
        mt756.parse(text)
    with pytest.raises(MtError, match="mandatory fields missing: :21:, :33A:"):
        mt756.parse(_with(_with(mt756.render(_advice()), "21", None), "33A", None))
    with pytest.raises(MtError, match="has 3 decimals"):
        mt756.terms(mt756.parse(mt756.render(_advice()).replace("70000,00", "70000,001")), 2)


# ---------------------------------------------------------------------------- the contract


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def _presented(L: Ledger) -> tuple[str, str]:
    ids = open_trade(L)
    lc = issue(L, ids["trade"], partial_drawings=True, required_docs=["invoice"],
               expiry_date="2099-12-31")
    pres = L.ok("exporter", T, "present", lc_id=lc, doc_ids=[ids["invoice"]],
                amount=100_000_00)["presentation_id"]
    return lc, str(pres)


def test_the_messages_terms_refuse_the_presentation(L: Ledger) -> None:
    _, pid = _presented(L)
    msg = mt734.parse(_with(MESSAGE, "21", mt734.presentation_reference(pid)))
    r = L.ok("bank_c", T, "refuse_presentation", presentation_id=pid,
             discrepancies=mt734.refusal_codes(msg))
    assert r["discrepancies"] == CODES
    assert L.get(T, "pres/" + pid)["status"] == "refused"


def test_a_refusal_of_an_honoured_presentation_gets_the_contracts_error(L: Ledger) -> None:
    _, pid = _presented(L)
    L.ok("bank_c", T, "accept_presentation", presentation_id=pid)
    msg = mt734.parse(_with(MESSAGE, "21", mt734.presentation_reference(pid)))
    refused(L, "presentation_closed", "bank_c", "refuse_presentation", presentation_id=pid,
            discrepancies=mt734.refusal_codes(msg))


@pytest.mark.parametrize(("pres", "chain_ms", "needle"), [
    ({"status": "presented", "examination_deadline_ms": 1_765_497_600_000}, 1_765_497_600_000,
     "ended with 2025-12-11 (UTC), so a refusal is too late (refusal_too_late)"),
    ({"status": "presented", "examination_deadline_ms": 1_765_497_600_000}, 1_765_497_599_999,
     "refuse it first"),
    ({"status": "paid", "claimed": {"height": 9, "timestamp_ms": 1}}, None,
     "claimed honour after the examination period, when a refusal was too late"),
    ({"status": "accepted"}, None, "it was honoured (its payment is an MT756"),
])
def test_an_export_of_what_is_not_a_refusal_says_why(pres: dict[str, Any], chain_ms: int | None,
                                                     needle: str) -> None:
    from chainfin.swift.cli_mt734 import _not_refused

    assert needle in _not_refused(PID, pres, chain_ms)


class _NoTxReads:
    """A client whose key reads no transaction whole (an issuing bank that is neither the
    beneficiary's home bank nor a supervisor)."""

    async def tx(self, tx_id: str, envelope: bool = False) -> dict[str, Any]:
        raise ClientError("not_found", "unknown transaction", 404)


async def test_a_key_that_cannot_read_the_presentation_date_must_give_it() -> None:
    from chainfin.swift.cli_mt734 import SwiftError, _utilisation_date

    c: Any = _NoTxReads()
    with pytest.raises(SwiftError, match="pass --utilisation-date YYMMDD"):
        await _utilisation_date(c, PID, None, [])
    day = datetime.date(2026, 12, 4)
    assert await _utilisation_date(c, PID, day, []) == day


class _OneLc:
    """A client whose key reads one LC, with no presentation under the reference asked."""

    LC = "ab" * 32

    async def state_value(self, contract: str, key: str) -> Any:
        return {"presentations": []} if key == "lc/" + self.LC else None


@pytest.mark.parametrize(("lc", "ref", "needle"), [
    ("ab" * 8, "DEUT/BC-0001", "--lc 'abababababababab' is not an LC id (64 hex digits"),
    ("ab" * 31 + "ac", "DEUT/BC-0001", "--lc: no LC " + "ab" * 31 + "ac that this key may read"),
    ("ab" * 31 + "ac", "9F86D081884C7D65", "--lc: no LC "),
    ("AB" * 32, "DEUT/BC-0001", "LC abababababababab… has no presentation with the reference"),
    ("ab" * 32, "9F86D081884C7D65", "has no presentation 9F86D081884C7D65"),
])
async def test_a_mistyped_lc_id_is_named_as_such(lc: str, ref: str, needle: str) -> None:
    """A user's typo in --lc (a short id, one digit off) is said to be the LC's, not reported
    as an LC without the presentation :21: names."""
    from chainfin.swift.cli_mt734 import SwiftError, find_presentation

    c: Any = _OneLc()
    with pytest.raises(SwiftError) as e:
        await find_presentation(c, ref, None, lc)
    assert needle in str(e.value)


# ---------------------------------------------------------------------------- end to end


async def _presentation(d: Desk, lc_id: str, doc_id: str) -> tuple[str, datetime.date]:
    pid = str((await d.send("exporter", "present", lc_id=lc_id, doc_ids=[doc_id],
                            amount=100_000_00))["presentation_id"])
    _, out = await d.get(f"/v1/tx/{pid}?tx=1")  # the auditor reads the block time
    when = datetime.datetime.fromtimestamp(out["timestamp_ms"] / 1000, tz=datetime.UTC).date()
    return pid, when


async def test_refuse_export_and_advise_payment(swift_desk: Any, tmp_path: Path,  # noqa: F811
                                                capsys: pytest.CaptureFixture[str]) -> None:
    d: Desk = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    out = await d.commit(d.issue(1_000_000_00, to="bank_a"))
    assert out["status"] == "committed", out
    lc_id = (await d.send("bank_a", "issue_lc", applicant=d.ids["importer"].public_key.hex(),
                          beneficiary=d.ids["exporter"].public_key.hex(), amount=200_000_00,
                          currency="USD", expiry_date="2099-12-31", lc_number="LC-2026-000123",
                          partial_drawings=True, required_docs=["invoice"]))["lc_id"]
    inv = (await d.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                        content_hash=trade_hash("inv")))["doc_id"]
    pid, day = await _presentation(d, lc_id, inv)
    text = _with(_with(MESSAGE, "21", mt734.presentation_reference(pid)), "32A",
                 day.strftime("%y%m%d") + "USD100000,00")

    # wording the table does not hold: refused, nothing sent; so is a message naming no
    # presentation the command can find
    (tmp_path / "odd.fin").write_text(_with(text, "77J", "+LATE SHIPMENT"))
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "odd.fin"), "--lc", lc_id, "--key", bank,
                                   "--node", url)
    assert rc == 2 and "'+LATE SHIPMENT'" in err and "--code" in err and not out
    (tmp_path / "r.fin").write_text(text)
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "r.fin"), "--key", bank, "--node", url)
    assert rc == 2 and "--presentation" in err and not out
    assert (await d.value("pres/" + pid))["status"] == "presented"

    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "r.fin"), "--lc", lc_id, "--key", bank,
                                   "--node", url)
    assert rc == 0, err
    res = json.loads(out)
    assert (res["status"], res["presentation_id"], res["discrepancies"], res["disposal"]) == (
        "committed", pid, CODES, "HOLD")
    assert "/HOLD/" in err and "holds the documents" in err
    rec = await d.value("pres/" + pid)
    assert (rec["discrepancies"], rec["status"], rec["refused"]["disposal"]) == (
        CODES, "held", "HOLD")

    # the refusal on the ledger, written as an MT734, reads back to the message's terms
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "export", "--presentation", pid,
                                   "--disposal", "HOLD", "--utilisation-date", "000101",
                                   "--key", bank, "--node", url,
                                   "--out", str(tmp_path / "out.fin"))
    assert rc == 0, err
    assert "--utilisation-date 2000-01-01 is not used" in err  # the ledger's date wins
    sent = mt734.parse((tmp_path / "out.fin").read_text())
    assert sent.header == mt734.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert sent.reference == "LC-2026-000123"
    assert mt734.terms(sent, 2) == mt734.terms(mt734.parse(text), 2)

    # the documents returned on the beneficiary's instruction, presented again, honoured at
    # sight
    await d.send("exporter", "return_documents", presentation_id=pid)
    pid2, _ = await _presentation(d, lc_id, inv)
    paid = await d.commit(d.tx("bank_a", T, "accept_presentation", {"presentation_id": pid2}))
    assert paid["status"] == "committed", paid
    _, tx = await d.get(f"/v1/tx/{paid['tx_id']}?tx=1")
    paid_day = datetime.datetime.fromtimestamp(tx["timestamp_ms"] / 1000, tz=datetime.UTC).date()

    # an MT734 for it: the ledger's refusal, shown with its code
    (tmp_path / "late.fin").write_text(_with(text, "21", mt734.presentation_reference(pid2)))
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "late.fin"), "--presentation", pid2,
                                   "--key", bank, "--node", url)
    assert rc == 1 and "is paid: the ledger refuses its refusal" in err
    res = json.loads(out)
    assert (res["status"], res["error"]) == ("rejected", "presentation_closed")
    assert "paid" in res["reason"]
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "export", "--presentation", pid2,
                                   "--key", bank, "--node", url)
    assert rc == 2 and "is paid, not refused" in err and "MT756" in err

    # its payment as an MT756: the date is the paying block's, which the record keeps; the
    # paying transaction, given, is checked against it
    rc, out, err = await _chainfin(capsys, "lc", "mt756", "export", "--presentation", pid2,
                                   "--payment-tx", paid["tx_id"], "--key", bank, "--node", url,
                                   "--out", str(tmp_path / "756.fin"))
    assert rc == 0, err
    advice = mt756.parse((tmp_path / "756.fin").read_text())
    assert advice.header == mt734.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert mt756.terms(advice, 2) == {
        "presentation_ref": mt734.presentation_reference(pid2), "currency": "USD",
        "claimed": 100_000_00, "paid": 100_000_00, "value_date": paid_day}
    rc, out, err = await _chainfin(capsys, "lc", "mt756", "export", "--presentation", pid2,
                                   "--payment-tx", (await d.commit(d.issue(1)))["tx_id"],
                                   "--key", bank, "--node", url)
    assert rc == 2 and "not the payment of presentation" in err
    rc, out, err = await _chainfin(capsys, "lc", "mt756", "export", "--presentation", pid,
                                   "--key", bank, "--node", url)
    assert rc == 2 and "refused: nothing was paid" in err


async def test_an_mt734_names_a_presentation_by_its_reference_and_keeps_its_disposal(
        swift_desk: Any, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """Decision 144: the presenter's reference in :21: finds the presentation under --lc with
    one read; :77B: /NOTIFY/ holds the documents; export writes :21:, :77B: and :32A:'s date
    from the record; after the applicant's waiver the bank honours it and the MT756 needs no
    --payment-tx."""
    d: Desk = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    issued = await d.commit(d.issue(1_000_000_00, to="bank_a"))
    assert issued["status"] == "committed", issued
    lc_id = (await d.send("bank_a", "issue_lc", applicant=d.ids["importer"].public_key.hex(),
                          beneficiary=d.ids["exporter"].public_key.hex(), amount=200_000_00,
                          currency="USD", expiry_date="2099-12-31", lc_number="LC-2026-000777",
                          partial_drawings=True, required_docs=["invoice"]))["lc_id"]
    inv = (await d.send("exporter", "register", doc_type="invoice", fields=INVOICE,
                        content_hash=trade_hash("inv-ref")))["doc_id"]
    pid = str((await d.send("exporter", "present", lc_id=lc_id, doc_ids=[inv],
                            amount=100_000_00, reference="DEUT/BC-0001"))["presentation_id"])
    rec = await d.value("pres/" + pid)
    day = datetime.datetime.fromtimestamp(rec["presented_ms"] / 1000, tz=datetime.UTC).date()
    text = _with(_with(_with(MESSAGE, "21", "deut/bc-0001"), "32A",
                       day.strftime("%y%m%d") + "USD100000,00"), "77B", "/NOTIFY/")
    (tmp_path / "r.fin").write_text(text)

    # --presentation of another presentation than :21: names: refused, nothing sent
    other = _with(text, "21", "DEUT/BC-0002")
    (tmp_path / "other.fin").write_text(other)
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "other.fin"), "--presentation", pid,
                                   "--key", bank, "--node", url)
    assert rc == 2 and "'DEUT/BC-0001'" in err and not out
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "other.fin"), "--lc", lc_id,
                                   "--key", bank, "--node", url)
    assert rc == 2 and "no presentation with the reference 'DEUT/BC-0002'" in err

    rc, out, err = await _chainfin(capsys, "lc", "mt734", "submit", "--file",
                                   str(tmp_path / "r.fin"), "--lc", lc_id, "--key", bank,
                                   "--node", url)
    assert rc == 0, err
    res = json.loads(out)
    assert (res["presentation_id"], res["disposal"]) == (pid, "NOTIFY")
    rec = await d.value("pres/" + pid)
    assert (rec["status"], rec["refused"]["disposal"]) == ("held", "NOTIFY")

    # export: :21: the reference, :77B: as recorded (--disposal of another code is not used),
    # :32A: the recorded date of presentation
    rc, out, err = await _chainfin(capsys, "lc", "mt734", "export", "--presentation", pid,
                                   "--disposal", "RETURN", "--key", bank, "--node", url,
                                   "--out", str(tmp_path / "out.fin"))
    assert rc == 0, err
    assert "--disposal RETURN is not used" in err and "documents are held" in err
    sent = mt734.parse((tmp_path / "out.fin").read_text())
    assert (sent.presentation_ref, sent.disposal) == ("DEUT/BC-0001", "NOTIFY")
    assert mt734.terms(sent, 2) == {**mt734.terms(mt734.parse(text), 2),
                                    "presentation_ref": "DEUT/BC-0001"}

    # the applicant waives, the bank honours: MT756 from the record, no --payment-tx
    await d.send("importer", "waive_discrepancies", presentation_id=pid)
    paid = await d.commit(d.tx("bank_a", T, "accept_presentation", {"presentation_id": pid}))
    assert paid["status"] == "committed", paid
    rec = await d.value("pres/" + pid)
    assert rec["paid"]["tx_id"] == paid["tx_id"]
    paid_day = datetime.datetime.fromtimestamp(rec["paid"]["timestamp_ms"] / 1000,
                                               tz=datetime.UTC).date()
    rc, out, err = await _chainfin(capsys, "lc", "mt756", "export", "--presentation", pid,
                                   "--key", bank, "--node", url,
                                   "--out", str(tmp_path / "756.fin"))
    assert rc == 0, err
    assert mt756.terms(mt756.parse((tmp_path / "756.fin").read_text()), 2) == {
        "presentation_ref": "DEUT/BC-0001", "currency": "USD", "claimed": 100_000_00,
        "paid": 100_000_00, "value_date": paid_day}
