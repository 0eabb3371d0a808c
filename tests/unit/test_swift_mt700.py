"""SWIFT MT700 in and out (chainfin/swift, docs/swift.md): reading a bank's message strictly,
the amount and tolerance rules, the :46A: document mapping, render -> parse round trips, and
one end-to-end run of ``chainfin lc mt700 submit | export | copy`` against an in-process
4-validator cluster."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chainfin import cli
from chainfin.crypto import Identity
from chainfin.exec_args import MAX_AMOUNT
from chainfin.genesis import Genesis
from chainfin.swift import mt700
from contracts.trade.norm import DOC_TYPES
from node import api
from tests.fixtures import (
    TRADE_ROLES,
    Desk,
    SigningClient,
    key_file,
    start_cluster,
    stop_cluster,
    trade_genesis,
)

#: An MT700 as an issuing bank's trade back office sends it (input message, CRLF line ends):
#: Bank of China New York issues, for Globex Corp, a credit in favour of ACME Exports Ltd,
#: advised through Deutsche Bank Frankfurt.
MESSAGE = "\r\n".join([
    "{1:F01BKCHUS33AXXX0000000000}{2:I700DEUTDEFFXXXXN}{3:{108:MT700LC0001}}{4:",
    ":27:1/1",
    ":40A:IRREVOCABLE",
    ":20:LC-2026-000123",
    ":31C:261201",
    ":40E:UCP LATEST VERSION",
    ":31D:270630ROTTERDAM NETHERLANDS",
    ":50:GLOBEX CORP",
    "12 HARBOUR ROAD",
    "3011 ROTTERDAM NL",
    ":59:/NL91ABNA0417164300",
    "ACME EXPORTS LTD.",
    "88 INDUSTRIAL PARK, BAO'AN",
    "SHENZHEN CN",
    ":32B:USD100000,00",
    ":39A:05/05",
    ":41D:ANY BANK",
    "BY ACCEPTANCE",
    ":42C:AT 90 DAYS AFTER SIGHT",
    "FOR 100 PCT OF INVOICE VALUE",
    ":42A:BKCHUS33",
    ":43P:NOT ALLOWED",
    ":43T:ALLOWED",
    ":44E:SHANGHAI",
    ":44F:ROTTERDAM",
    ":44C:270531",
    ":45A:+5000 PCS LED LAMPS MODEL BL-40",
    "CIF ROTTERDAM INCOTERMS 2020",
    ":46A:+SIGNED COMMERCIAL INVOICE IN 3 ORIGINALS AND 2 COPIES",
    "+FULL SET OF CLEAN ON BOARD OCEAN BILLS OF LADING MADE OUT TO",
    "ORDER OF BKCHUS33 MARKED FREIGHT PREPAID NOTIFY APPLICANT",
    "+PACKING LIST IN 3 COPIES",
    "+CERTIFICATE OF ORIGIN ISSUED BY THE CHAMBER OF COMMERCE",
    ":47A:+ALL DOCUMENTS MUST INDICATE THIS CREDIT NUMBER",
    ":71D:ALL BANKING CHARGES OUTSIDE ISSUING",
    "BANK ARE FOR ACCOUNT OF BENEFICIARY",
    ":48:21/DAYS AFTER DATE OF SHIPMENT",
    ":49:WITHOUT",
    ":78:ON RECEIPT OF COMPLYING DOCUMENTS WE SHALL PAY AT MATURITY",
    ":57A:DEUTDEFF",
    "-}{5:{CHK:123456789ABC}}",
])


def _with(msg: str, tag: str, value: str | None) -> str:
    """``msg`` with field ``tag``'s content replaced (None: the field removed)."""
    lines = msg.split("\r\n")
    out, skipping = [], False
    for ln in lines:
        if ln.startswith(f":{tag}:"):
            skipping = True
            if value is not None:
                out.extend(f":{tag}:{value}".split("\n"))
            continue
        if skipping and (ln.startswith(":") or ln.startswith("-}")):
            skipping = False
        if not skipping:
            out.append(ln)
    return "\r\n".join(out)


def _problems(text: str) -> str:
    with pytest.raises(mt700.Mt700Error) as e:
        mt700.parse(text)
    return str(e.value)


# ---------------------------------------------------------------------------- reading


def test_a_bank_back_office_mt700_reads_into_ledger_terms() -> None:
    msg = mt700.parse(MESSAGE)
    assert msg.header == mt700.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert (msg.lc_number, msg.issue_date, msg.expiry_date, msg.expiry_place) == (
        "LC-2026-000123", datetime.date(2026, 12, 1), datetime.date(2027, 6, 30),
        "ROTTERDAM NETHERLANDS")
    assert msg.applicant[0] == "GLOBEX CORP" and msg.beneficiary[0] == "ACME EXPORTS LTD."
    assert msg.beneficiary_account == "NL91ABNA0417164300"
    assert mt700.ledger_terms(msg, 2) == {
        "lc_number": "LC-2026-000123", "amount": 100_000_00, "currency": "USD",
        "expiry_date": "2027-06-30", "tolerance_bps": 500, "partial_drawings": False,
        "usance_days": 90,
        "required_docs": ["bill_of_lading", "certificate_of_origin", "invoice", "packing_list"]}
    assert msg.unmapped_documents == []


def test_lf_line_ends_and_a_bare_text_block_read_the_same() -> None:
    lf = mt700.parse(MESSAGE.replace("\r\n", "\n"))
    body = MESSAGE.split("{4:\r\n", 1)[1].split("\r\n-}", 1)[0]
    bare = mt700.parse(body + "\n-")
    want = mt700.ledger_terms(mt700.parse(MESSAGE), 2)
    assert mt700.ledger_terms(lf, 2) == want == mt700.ledger_terms(bare, 2)
    assert bare.header is None


def test_an_output_message_names_the_issuing_bank_in_block_2() -> None:
    out = MESSAGE.replace("{1:F01BKCHUS33AXXX0000000000}{2:I700DEUTDEFFXXXXN}",
                          "{1:F01DEUTDEFFAXXX1234567890}"
                          "{2:O7001200261201BKCHUS33AXXX12345678902612011201N}")
    assert mt700.parse(out).header == mt700.Header("O", "BKCHUS33XXX", "DEUTDEFFXXX")


def test_missing_20_is_named() -> None:
    assert "mandatory fields missing: :20:" in _problems(_with(MESSAGE, "20", None))


def test_every_missing_mandatory_field_is_listed() -> None:
    text = MESSAGE
    for tag in ("31C", "32B", "49", "41D"):
        text = _with(text, tag, None)
    assert "mandatory fields missing: :31C:, :32B:, :41a:, :49:" in _problems(text)


@pytest.mark.parametrize("value", ["271331ROTTERDAM", "2706ROTTERDAM", "270230ROTTERDAM"])
def test_a_bad_expiry_date_names_31d(value: str) -> None:
    assert ":31D:" in _problems(_with(MESSAGE, "31D", value))


def test_a_bad_issue_date_names_31c() -> None:
    assert ":31C: '261301' is not a calendar date" in _problems(_with(MESSAGE, "31C", "261301"))


def test_an_amount_with_a_dot_is_refused() -> None:
    p = _problems(_with(MESSAGE, "32B", "USD100000.00"))
    assert ":32B:" in p and "decimal comma, not a dot" in p


@pytest.mark.parametrize("value", ["USD100000", "USD1,000,00", "US100000,00", "USD,50",
                                   "USD1234567890123456,"])
def test_malformed_amounts_name_32b(value: str) -> None:
    assert ":32B:" in _problems(_with(MESSAGE, "32B", value))


def test_an_asymmetric_tolerance_is_refused() -> None:
    p = _problems(_with(MESSAGE, "39A", "10/05"))
    assert ":39A: +10%/-5% is asymmetric" in p


def test_a_tolerance_is_whole_percentages_in_basis_points() -> None:
    assert mt700.parse(_with(MESSAGE, "39A", "10/10")).tolerance_bps == 1000
    assert mt700.parse(_with(MESSAGE, "39A", None)).tolerance_bps == 0
    assert ":39A:" in _problems(_with(MESSAGE, "39A", "5%"))


def test_an_unknown_46a_document_is_listed_not_dropped() -> None:
    docs = ("+SIGNED COMMERCIAL INVOICE IN 3 ORIGINALS\n"
            "+INSURANCE POLICY OR CERTIFICATE IN DUPLICATE\n"
            "FOR 110 PCT OF CIF VALUE\n"
            "+BENEFICIARY'S CERTIFICATE THAT A COPY OF THE COMMERCIAL INVOICE\n"
            "HAS BEEN SENT TO THE APPLICANT\n"
            "+SURVEY REPORT BY SGS")
    msg = mt700.parse(_with(MESSAGE, "46A", docs))
    assert msg.required_docs == ["invoice"]
    assert msg.unmapped_documents == [
        "+INSURANCE POLICY OR CERTIFICATE IN DUPLICATE FOR 110 PCT OF CIF VALUE",
        "+BENEFICIARY'S CERTIFICATE THAT A COPY OF THE COMMERCIAL INVOICE HAS BEEN SENT TO "
        "THE APPLICANT",
        "+SURVEY REPORT BY SGS"]


def test_numbered_46a_items_and_customs_documents_map() -> None:
    docs = ("1. COMMERCIAL INVOICE\n2. EXPORT CUSTOMS DECLARATION\n3. CUSTOMS INVOICE")
    msg = mt700.parse(_with(MESSAGE, "46A", docs))
    assert msg.documents == (("1. COMMERCIAL INVOICE", "invoice"),
                             ("2. EXPORT CUSTOMS DECLARATION", "customs_declaration"),
                             ("3. CUSTOMS INVOICE", None))


def test_the_document_table_names_only_ledger_document_types() -> None:
    targets = {d.doc_type for d in mt700.DOCUMENTS if d.doc_type is not None}
    assert targets <= set(DOC_TYPES)
    for d in mt700.DOCUMENTS:  # every label written reads back as its own type
        if d.label is not None:
            assert mt700.parse(_with(MESSAGE, "46A", d.label)).required_docs == [d.doc_type]


@pytest.mark.parametrize(("tenor", "days"), [
    ("AT SIGHT", 0), ("AT 90 DAYS AFTER SIGHT", 90), ("60 DAYS AFTER B/L DATE", 60),
    ("AT 120 DAYS FROM INVOICE DATE\nFOR FULL INVOICE VALUE", 120)])
def test_tenors_read_as_usance_days(tenor: str, days: int) -> None:
    assert mt700.parse(_with(MESSAGE, "42C", tenor)).usance_days == days


def test_a_tenor_it_cannot_read_names_42c() -> None:
    assert ":42C: cannot read a tenor" in _problems(_with(MESSAGE, "42C", "AT 90 DAYS"))


def test_partial_shipments_map_to_partial_drawings() -> None:
    assert mt700.parse(_with(MESSAGE, "43P", "ALLOWED")).partial_drawings is True
    assert mt700.parse(_with(MESSAGE, "43P", None)).partial_drawings is True  # UCP 600 31 a
    assert ":43P: CONDITIONAL" in _problems(_with(MESSAGE, "43P", "CONDITIONAL"))


def test_field_lengths_characters_and_repeats_are_checked() -> None:
    assert ":50: (Applicant) has 5 lines; at most 4" in _problems(
        _with(MESSAGE, "50", "GLOBEX CORP\nA\nB\nC\nD"))
    assert ":20: line 1 has 17 characters; at most 16" in _problems(
        _with(MESSAGE, "20", "LC-2026-000123456"))
    assert "outside the SWIFT X set: 'Ö'" in _problems(_with(MESSAGE, "50", "GLÖBEX CORP"))
    assert ":49: appears twice" in _problems(MESSAGE.replace(":49:WITHOUT",
                                                             ":49:WITHOUT\r\n:49:CONFIRM"))
    assert ":99Z: is not an MT700 field" in _problems(MESSAGE.replace(":49:WITHOUT",
                                                                      ":49:WITHOUT\r\n:99Z:X"))


def test_terms_the_ledger_cannot_hold_are_refused() -> None:
    assert "MT701" in _problems(_with(MESSAGE, "27", "1/2"))
    assert ":40A:" in _problems(_with(MESSAGE, "40A", "IRREVOCABLE TRANSFERABLE"))
    assert ":40E:" in _problems(_with(MESSAGE, "40E", "ISP LATEST VERSION"))
    assert "BY MIXED PYMT" in _problems(_with(MESSAGE, "41D", "ANY BANK\nBY MIXED PYMT"))


# ---------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(("amount", "exponent", "minor"), [
    ("100000,00", 2, 100_000_00), ("100000,", 2, 100_000_00), ("100000,5", 2, 100_000_50),
    ("0,01", 2, 1),
    ("15000000,", 0, 15_000_000),  # JPY: exponent 0
    ("1234,567", 3, 1_234_567), ("1234,5", 3, 1_234_500),  # KWD: exponent 3
])
def test_amounts_become_minor_units_by_exponent(amount: str, exponent: int, minor: int) -> None:
    assert mt700.amount_to_minor(amount, exponent) == minor
    back = mt700.minor_to_amount(minor, exponent)
    assert mt700.amount_to_minor(back, exponent) == minor


def test_minor_units_are_written_with_the_currencys_decimals() -> None:
    assert mt700.minor_to_amount(100_000_00, 2) == "100000,00"
    assert mt700.minor_to_amount(15_000_000, 0) == "15000000,"
    assert mt700.minor_to_amount(1_234_005, 3) == "1234,005"


@pytest.mark.parametrize(("amount", "exponent", "why"), [
    ("100,5", 0, "1 decimals; the currency has 0"),       # JPY has no decimals
    ("100,00", 0, "2 decimals; the currency has 0"),      # not even zeros (SWIFT C03)
    ("1,1234", 3, "4 decimals; the currency has 3"),
    ("0,00", 2, "zero"),
])
def test_amounts_the_currency_cannot_have_are_refused(amount: str, exponent: int,
                                                      why: str) -> None:
    with pytest.raises(mt700.Mt700Error, match=why):
        mt700.amount_to_minor(amount, exponent)


def test_amounts_above_the_ledgers_maximum_are_refused() -> None:
    # 15 characters of SWIFT amount in a currency of exponent 5 pass 10^18 - 1 minor units
    with pytest.raises(mt700.Mt700Error, match="largest amount"):
        mt700.amount_to_minor("99999999999999,", 5)
    msg = mt700.parse(_with(MESSAGE, "32B", "USD9999999999999,"))
    with pytest.raises(mt700.Mt700Error, match="largest amount"):
        mt700.ledger_terms(msg, 5)
    assert mt700.amount_to_minor("9999999999999,", 5) < MAX_AMOUNT


# ---------------------------------------------------------------------------- writing


def _terms(**kw: Any) -> mt700.LcTerms:
    base: dict[str, Any] = dict(
        sender_bic="BKCHUS33XXX", receiver_bic="DEUTDEFF", lc_number="LC-2026-000123",
        issue_date=datetime.date(2026, 12, 1), expiry_date=datetime.date(2027, 6, 30),
        expiry_place="ON CHAINFIN UTC", applicant="Globex Corp",
        beneficiary="ACME Exports Ltd", currency="USD", exponent=2, amount=100_000_00,
        tolerance_bps=500, partial_drawings=False, usance_days=90,
        required_docs=("bill_of_lading", "invoice", "packing_list"))
    return mt700.LcTerms(**{**base, **kw})


@pytest.mark.parametrize("changes", [
    {}, {"usance_days": 0, "tolerance_bps": 0, "partial_drawings": True, "required_docs": ()},
    {"currency": "JPY", "exponent": 0, "amount": 15_000_000},
    {"currency": "KWD", "exponent": 3, "amount": 1_234_567},
    {"applicant": "Shenzhen Bright Lamps Manufacturing and Trading Company Limited"},
    {"required_docs": tuple(d.doc_type for d in mt700.DOCUMENTS if d.doc_type)},
])
def test_render_then_parse_gives_the_terms_back(changes: dict[str, Any]) -> None:
    t = _terms(**changes)
    text = mt700.render(t)
    assert text.startswith("{1:F01BKCHUS33AXXX0000000000}{2:I700DEUTDEFFXXXXN}{4:\r\n")
    assert text.endswith("\r\n-}")
    msg = mt700.parse(text)
    assert msg.header == mt700.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert mt700.ledger_terms(msg, t.exponent) == {
        "lc_number": t.lc_number, "amount": t.amount, "currency": t.currency,
        "expiry_date": t.expiry_date.isoformat(), "tolerance_bps": t.tolerance_bps,
        "partial_drawings": t.partial_drawings, "usance_days": t.usance_days,
        **({"required_docs": sorted(t.required_docs)} if t.required_docs else {})}
    assert msg.issue_date == t.issue_date
    assert " ".join(mt700.name_candidates(msg.applicant)[-1:]) == t.applicant.replace("  ", " ")
    assert msg.notes == ()  # nothing read differently from what was written


def test_render_writes_the_mandatory_fields_in_order() -> None:
    text = mt700.render(_terms())
    tags = [ln.split(":")[1] for ln in text.split("\r\n") if ln.startswith(":")]
    assert tags == ["27", "40A", "20", "31C", "40E", "31D", "50", "59", "32B", "39A", "41A",
                    "42C", "42A", "43P", "46A", "49"]


def test_render_refuses_what_an_mt700_cannot_carry() -> None:
    with pytest.raises(mt700.Mt700Error) as e:
        mt700.render(_terms(applicant="Glöbex Corp", lc_number="LC/2026/0001234567",
                            amount=MAX_AMOUNT, tolerance_bps=250, sender_bic="BANK0US33XXX"))
    p = str(e.value)
    for needle in ("header: the sender 'BANK0US33XXX' is not a BIC", ":50: line 1",
                   "'ö'", ":20: line 1 has 18 characters; at most 16",
                   ":32B: USD 9999999999999999,99 has more than 15 characters",
                   ":39A: a tolerance of 250 basis points"):
        assert needle in p, (needle, p)


def test_render_refuses_a_name_of_more_than_four_lines() -> None:
    with pytest.raises(mt700.Mt700Error, match=":59: the name"):
        mt700.render(_terms(beneficiary="WORD " * 40))


# ---------------------------------------------------------------------------- end to end

BICS = ("BKCHUS33XXX", "DEUTDEFFXXX", "BNPAFRPPXXX", "HSBCHKHHXXX")


def _swift_genesis(validators: list[Identity], clients: dict[str, Identity]) -> Genesis:
    """The trade cluster's genesis with real-looking BICs: node0 (bank_a) is BKCHUS33, the
    exporter banks with DEUTDEFF; JPY (exponent 0) besides USD."""
    doc = trade_genesis(validators, clients).document()
    for i, v in enumerate(doc["validators"]):
        v["bank"] = BICS[i]
    for ident in doc["identities"]:
        if ident["name"].startswith("node"):
            ident["bank"] = BICS[int(ident["name"][4:])]
        if ident["name"] == "exporter":
            ident["bank"] = "DEUTDEFFXXX"
    doc["currencies"].append({"code": "JPY", "exponent": 0,
                              "issuer": clients["usd_issuer"].public_key.hex()})
    return Genesis.model_validate(doc)


@pytest.fixture
async def swift_desk() -> AsyncIterator[Desk]:
    genesis, nodes, ids = await start_cluster(roles=TRADE_ROLES, outsider=False,
                                              genesis=_swift_genesis)
    for i, nd in enumerate(nodes[:3]):
        ids["bank_" + "abc"[i]] = nd.identity
    http = SigningClient(TestServer(api.make_app(nodes[0])), ids["auditor"])
    await http.start_server()
    try:
        yield Desk(genesis, nodes, ids, http)
    finally:
        await http.close()
        await stop_cluster(nodes)


async def _chainfin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


async def test_submit_an_mt700_then_export_and_copy_it(swift_desk: Desk, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    d = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    bank = key_file(d.ids["bank_a"], tmp_path)
    exporter = key_file(d.ids["exporter"], tmp_path)
    (tmp_path / "lc.fin").write_text(_with(MESSAGE, "31D", "991231ROTTERDAM NETHERLANDS"))

    # an insurance document the ledger does not hold: refused unless --unmapped-ok
    unmapped = _with(MESSAGE, "31D", "991231ROTTERDAM").replace(
        "+PACKING LIST IN 3 COPIES", "+INSURANCE POLICY FOR 110 PCT OF CIF VALUE")
    (tmp_path / "ins.fin").write_text(unmapped)
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "submit", str(tmp_path / "ins.fin"),
                                   "--key", bank, "--node", url)
    assert rc == 2 and "+INSURANCE POLICY FOR 110 PCT OF CIF VALUE" in err and not out

    # the named beneficiary must be the identity given
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "submit", str(tmp_path / "lc.fin"),
                                   "--key", bank, "--node", url, "--beneficiary",
                                   d.ids["exporter2"].public_key.hex())
    assert rc == 2 and ":59: the message names" in err and "Borealis Trading Co" in err

    rc, out, err = await _chainfin(capsys, "lc", "mt700", "submit", str(tmp_path / "lc.fin"),
                                   "--key", bank, "--node", url)
    assert rc == 0, err
    res = json.loads(out)
    assert res["status"] == "committed" and res["beneficiary"] == \
        d.ids["exporter"].public_key.hex()
    lc_id = res["lc_id"]
    lc = await d.value(f"lc/{lc_id}")
    assert (lc["amount"], lc["currency"], lc["expiry_date"], lc["tolerance_bps"],
            lc["partial_drawings"], lc["usance_days"], lc["required_docs"],
            lc["applicant"]) == (
        100_000_00, "USD", "2099-12-31", 500, False, 90,
        ["bill_of_lading", "certificate_of_origin", "invoice", "packing_list"],
        d.ids["importer"].public_key.hex())

    # the same credit number again: the ledger's refusal, printed
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "submit", str(tmp_path / "lc.fin"),
                                   "--key", bank, "--node", url)
    assert rc == 1 and json.loads(out)["error"] == "duplicate_lc"

    # export with the issuing bank's key: to the exporter's bank, the same terms
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "export", "--lc", lc_id,
                                   "--key", bank, "--node", url, "--out",
                                   str(tmp_path / "out.fin"))
    assert rc == 0, err
    text = (tmp_path / "out.fin").read_text()
    back = mt700.parse(text)
    assert back.header == mt700.Header("I", "BKCHUS33XXX", "DEUTDEFFXXX")
    assert mt700.ledger_terms(back, 2) == mt700.ledger_terms(
        mt700.parse((tmp_path / "lc.fin").read_text()), 2)
    assert back.applicant == ("Globex Corp",) and back.beneficiary == ("ACME Exports Ltd",)

    # the exporter cannot export (its key may not read the issuing transaction)
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "export", "--lc", lc_id,
                                   "--key", exporter, "--node", url)
    assert rc == 2 and "issuing bank" in err

    # the beneficiary registers the exported message as its copy; another exporter cannot
    other = key_file(d.ids["exporter2"], tmp_path)
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "copy", str(tmp_path / "out.fin"),
                                   "--key", other, "--node", url)
    assert rc == 2 and "only the beneficiary registers its copy" in err
    rc, out, err = await _chainfin(capsys, "lc", "mt700", "copy", str(tmp_path / "out.fin"),
                                   "--key", exporter, "--node", url)
    assert rc == 0, err
    res = json.loads(out)
    assert res["status"] == "committed" and res["issuing_bank"] == "BKCHUS33XXX"
    doc = await d.value(f"doc/{res['doc_id']}")
    assert doc["doc_type"] == "letter_of_credit" and doc["fingerprint"] == lc["fingerprint"]
