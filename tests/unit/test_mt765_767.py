"""SWIFT MT765 (demand) and MT767 (amendment) in and out: written and read back to the same
ledger terms, amounts exact by the currency's exponent (1 minor unit, JPY, KWD, BHD), bad
messages refused with each problem's block-4 line; a demand above what is available refused
by the contract; a decided demand names its deciding transaction (decision 234); end to end
through ``chainfin guarantee mt765 | mt767 | export``, checked against the guarantee on the
ledger (decisions 232, 233)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin.swift import mt765, mt767
from chainfin.swift.mt700 import MtError
from contracts.testing import Ledger
from tests.fixtures import Desk, key_file
from tests.unit.test_guarantees import demand, issue
from tests.unit.test_mt760 import GOOD as MT760
from tests.unit.test_swift_mt700 import BICS, _chainfin, swift_desk  # noqa: F401
from tests.unit.trade_cases import T, trade_ledger

DEMAND = mt765.DemandTerms(
    sender_bic="BKBBDEFF", receiver_bic="BKAAGB22", reference="CLAIM-1",
    guarantee_number="PG-2025-001", issuer_bic="BKAAGB22", beneficiary="Globex Corp",
    demand_date=datetime.date(2026, 1, 5), currency="USD", exponent=2, amount=1,
    statement="The applicant failed to deliver lot 2 by 2025-12-31 as clause 4 requires")

AMEND = mt767.AmendmentTerms(
    sender_bic="BKAAGB22", receiver_bic="BKBBDEFF", guarantee_number="PG-2025-001", number=1,
    amendment_date=datetime.date(2026, 1, 5), currency="USD", exponent=2, in_force=50_000_00,
    amount=50_000_01, expiry_date=datetime.date(2026, 12, 31), expiry_type="FIXD")


def _with(t: Any, **over: Any) -> Any:
    return t.__class__(**{**{f: getattr(t, f) for f in t.__slots__}, **over})


@pytest.mark.parametrize(("ccy", "exp", "minor", "written"), [
    ("USD", 2, 1, "USD0,01"), ("JPY", 0, 7_000_000, "JPY7000000,"),
    ("KWD", 3, 1_250_125, "KWD1250,125"), ("BHD", 3, 1, "BHD0,001")])
def test_a_written_demand_reads_back_to_the_same_amount_exactly(
        ccy: str, exp: int, minor: int, written: str) -> None:
    text = mt765.render(_with(DEMAND, currency=ccy, exponent=exp, amount=minor))
    assert text.startswith("{1:F01BKBBDEFFAXXX") and "{2:I765BKAAGB22XXXXN}" in text
    assert f"\r\n:32B:{written}\r\n" in text and "\r\n:22G:PAYM\r\n" in text
    msg = mt765.parse(text)
    assert (msg.related_reference, msg.issuer_bic, msg.beneficiary, msg.statement_code) == (
        "PG-2025-001", "BKAAGB22XXX", ("Globex Corp",), "COMP")
    assert mt765.terms(msg, exp, "g1") == {"guarantee_id": "g1", "amount": minor,
                                          "supporting_statement": DEMAND.statement}
    # one decimal more than the currency has is refused, not rounded
    with pytest.raises(MtError, match="decimals; the currency has"):
        mt765.terms(mt765.parse(text.replace(written, written + "1" if exp else written +
                                             "5")), exp, "g1")


def test_an_extend_or_pay_demand_carries_the_date_asked_for() -> None:
    msg = mt765.parse(mt765.render(_with(DEMAND, extend_to=datetime.date(2027, 3, 31))))
    assert msg.demand_type == "PAEX"
    assert mt765.terms(msg, 2, "g")["extend_or_pay"] == "2027-03-31"


GOOD_765 = """:20:CLAIM-1
:21:PG-2025-001
:52A:BKAAGB22
:22G:PAYM
:32B:USD100,00
:49A:COMP
The applicant failed to deliver lot 2"""


def test_a_bad_mt765_names_each_problem_with_its_block_4_line() -> None:
    bad = (GOOD_765.replace(":22G:PAYM", ":22G:PAYD").replace("USD100,00", "USD100.00")
           .replace(":49A:COMP", ":49A:DONE") + "\n:31E:271340")
    with pytest.raises(MtError) as e:
        mt765.parse(bad)
    assert e.value.problems == [
        "block 4 line 4: :22G: 'PAYD' is not one of PAYM, PAEX (PAYM pay, PAEX pay or extend)",
        "block 4 line 8: :31E: '271340' is not a calendar date (YYMMDD)",
        "block 4 line 5: :32B: 'USD100.00' is not a currency code and a SWIFT amount "
        "(EUR125000,00)",
        "block 4 line 6: :49A: the first line 'DONE' is not a code: COMP or INCP"]
    with pytest.raises(MtError) as e:
        mt765.parse(GOOD_765.replace(":22G:PAYM", ":22G:PAEX").replace(":52A:BKAAGB22\n", ""))
    assert e.value.problems == [
        "mandatory fields missing: :52a:",
        "block 4 line 3: :22G: PAEX (pay or extend) needs :31E:, the expiry date asked for"]
    assert mt765.parse(GOOD_765).statement == "The applicant failed to deliver lot 2"


@pytest.mark.parametrize(("in_force", "amount", "tag", "ccy", "exp"), [
    (50_000_00, 50_000_01, "32B", "USD", 2), (7_000_000, 6_999_999, "33B", "JPY", 0),
    (1_000_000, 999_999, "33B", "KWD", 3)])
def test_a_written_amendment_reads_back_to_the_same_changes(
        in_force: int, amount: int, tag: str, ccy: str, exp: int) -> None:
    text = mt767.render(_with(AMEND, currency=ccy, exponent=exp, in_force=in_force,
                              amount=amount))
    assert f"\r\n:{tag}:{ccy}" in text and "\r\n:22A:ISUA\r\n" in text
    msg = mt767.parse(text)
    assert (msg.guarantee_number, msg.number, msg.issuer_bic) == ("PG-2025-001", 1,
                                                                  "BKAAGB22XXX")
    assert mt767.changes(msg, exp, ccy, in_force) == {"amount": amount,
                                                      "expiry_date": "2026-12-31"}
    with pytest.raises(MtError, match=f"the amount is in {ccy}; the guarantee is in EUR"):
        mt767.changes(msg, 2, "EUR", in_force)
    event = mt767.parse(mt767.render(_with(AMEND, amount=None, expiry_date=None,
                                           expiry_event="TAKING-OVER CERTIFICATE",
                                           expiry_type="COND")))
    assert mt767.changes(event, 2, "USD", 1) == {"expiry_event": "TAKING-OVER CERTIFICATE"}


def test_a_bad_mt767_names_each_problem_with_its_block_4_line() -> None:
    text = mt767.render(AMEND).replace("{1:", "").split("{4:\r\n")[1].removesuffix("\r\n-}")
    bad = (text.replace(":22A:ISUA", ":22A:ADVA").replace(":26E:1", ":26E:X")
           + "\r\n:33B:USD1,00\r\n:77U:ALSO THE GOVERNING LAW")
    with pytest.raises(MtError) as e:
        mt767.parse(bad)
    assert e.value.problems == [
        "block 4 line 10: :32B:, :33B: together: a message holds one of them",
        "block 4 line 4: :22A: 'ADVA': only ISUA (issue of an amendment) is read (a "
        "counter-undertaking's or an advice's amendment is not supported)",
        "block 4 line 7: :26E: 'X' is not an amendment number (1 to 999)",
        "block 4 line 14: :77U: the ledger does not amend terms in words (other amendments) by "
        "an MT767"]
    with pytest.raises(MtError, match="block 4 line 3: :20: belongs to sequence B"):
        mt767.parse(text.replace(":15A:\r\n:27:1/1\r\n", ":15A:\r\n:27:1/1\r\n:20:X\r\n", 1))
    with pytest.raises(MtError, match="amends nothing"):
        mt767.parse(text.split("\r\n:32B:")[0])
    with pytest.raises(MtError, match="leaves nothing of the amount in force"):
        mt767.changes(mt767.parse(text.replace(":32B:USD0,01", ":33B:USD1,00")), 2, "USD", 100)


def test_a_demand_read_from_an_mt765_above_what_is_available_is_refused() -> None:
    led = trade_ledger()
    gid = issue(led)
    msg = mt765.parse(mt765.render(_with(DEMAND, amount=50_000_01)))
    r = led.fails("amount_exceeds_guarantee", "importer", T, "demand",
                  **mt765.terms(msg, 2, gid))
    assert "not USD 50,000.01 (5000001 minor units)" in str(r.error_message), r.error_message
    assert led.ok("importer", T, "demand",
                  **mt765.terms(mt765.parse(mt765.render(DEMAND)), 2, gid))


def test_a_decided_demand_names_the_transaction_that_decided_it() -> None:
    """``decided: {height, timestamp_ms, tx_id}`` on every path that closes a demand: paid,
    rejected, withdrawn by an extension (decision 234); the record lacked the id before."""
    led: Ledger = trade_ledger()
    gid = issue(led)
    paid = demand(led, gid)["demand_id"]
    r = led.tx("bank_a", T, "pay_demand", demand_id=paid)
    assert r.status == "committed", r.error_message
    assert led.get(T, f"gdem/{paid}")["decided"] == {
        "height": led.height, "timestamp_ms": led.now_ms, "tx_id": r.tx_id.hex()}
    rejected = demand(led, gid)["demand_id"]
    r = led.tx("bank_a", T, "reject_demand", demand_id=rejected,
               discrepancies=[{"code": "missing_document"}])
    assert led.get(T, f"gdem/{rejected}")["decided"]["tx_id"] == r.tx_id.hex()
    extend = demand(led, gid, extend_or_pay="2026-12-31")["demand_id"]
    r = led.tx("bank_a", T, "extend_guarantee", demand_id=extend)
    assert r.status == "committed", r.error_message
    assert led.get(T, f"gdem/{extend}")["decided"]["tx_id"] == r.tx_id.hex()


async def test_mt765_and_mt767_from_the_cli_are_checked_against_the_guarantee(
        swift_desk: Desk, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """On an in-process cluster, through ``chainfin.cli.main``: an MT765 in another currency,
    or for another guarantee's number, is refused before signing (also with --dry-run), with
    its field's line; one above what is available is the contract's refusal; the demand
    commits and is exported back; `show` names the paying transaction; an MT767 with the
    wrong amendment number or currency is refused, then proposes the increase, exported
    back."""
    d = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    pk = {n: d.ids[n].public_key.hex() for n in ("exporter", "importer")}
    bank, imp = key_file(d.ids["bank_a"], tmp_path), key_file(d.ids["importer"], tmp_path)
    fin = tmp_path / "g.fin"
    fin.write_text(MT760.replace(":31E:260630", ":31E:991231").replace("BKAAGB22", BICS[0]))
    net = ["--node", url]

    async def run(*argv: str) -> tuple[int, str, str]:
        return await _chainfin(capsys, "guarantee", *argv, *net)

    rc, out, err = await run("mt760", str(fin), "--applicant", pk["exporter"],
                             "--beneficiary", pk["importer"], "--key", bank)
    assert rc == 0, err
    gid = json.loads(out)["result"]["guarantee_id"]
    good = GOOD_765.replace("PG-2025-001", "PG-1").replace("BKAAGB22", BICS[0])
    f765 = tmp_path / "d.fin"
    for text, says in ((good.replace("USD100,00", "EUR100,00"),
                        "block 4 line 5: :32B: the demand is in EUR; the guarantee is in USD"),
                       (good.replace(":21:PG-1", ":21:PG-2"),
                        "block 4 line 2: :21: 'PG-2' is not the guarantee's number, 'PG-1'")):
        f765.write_text(text)
        rc, _, err = await run("mt765", str(f765), "--guarantee", gid, "--key", imp,
                               "--dry-run")
        assert rc == 2 and "the MT765 is refused" in err and says in err, err
    f765.write_text(good.replace("USD100,00", "USD200000,00"))
    rc, _, err = await run("mt765", str(f765), "--guarantee", gid, "--key", imp)
    assert rc == 1 and "available now USD 100,000.50" in err, err
    f765.write_text(good)
    rc, out, err = await run("mt765", str(f765), "--guarantee", gid, "--key", imp,
                             "--dry-run")
    assert rc == 0 and json.loads(out)["args"] == {
        "guarantee_id": gid, "amount": 100_00,
        "supporting_statement": "The applicant failed to deliver lot 2"}, out
    rc, out, err = await run("mt765", str(f765), "--guarantee", gid, "--key", imp)
    assert rc == 0, err
    did = json.loads(out)["result"]["demand_id"]
    rc, out, err = await run("export", "--demand", did, "--sender", BICS[1], "--key", bank)
    assert rc == 0, err
    back = mt765.parse(out)
    assert (back.related_reference, back.currency, back.amount, back.statement) == (
        "PG-1", "USD", "100,00", "The applicant failed to deliver lot 2")
    out_ = await d.commit(d.tx("usd_issuer", "settlement", "issue", {
        "currency": "USD", "to": d.ids["bank_a"].public_key.hex(), "amount": 1_000_000}))
    assert out_["status"] == "committed", out_
    rc, out, err = await run("pay", "--demand", did, "--key", bank)
    assert rc == 0, err
    pay_tx = json.loads(out)["tx_id"]
    rc, out, _ = await run("show", "--guarantee", gid, "--key", imp)
    assert json.loads(out)["demands"][0]["decided"]["tx_id"] == pay_tx

    f767 = tmp_path / "a.fin"
    amend = mt767.render(_with(AMEND, sender_bic=BICS[0], guarantee_number="PG-1",
                               in_force=100_000_50, amount=100_100_50,
                               expiry_date=datetime.date(2098, 12, 31)))
    for text, says in ((amend.replace(":26E:1", ":26E:2"),
                        ":26E: amendment 2; the guarantee's next is 1 (0 accepted)"),
                       (amend.replace(":32B:USD", ":32B:EUR"),
                        ":32B: the amount is in EUR; the guarantee is in USD")):
        f767.write_text(text)
        rc, _, err = await run("mt767", str(f767), "--guarantee", gid, "--key", bank,
                               "--dry-run")
        assert rc == 2 and "the MT767 is refused" in err and says in err, err
    f767.write_text(amend)
    rc, out, err = await run("mt767", str(f767), "--guarantee", gid, "--key", bank)
    assert rc == 0, err
    assert json.loads(out)["result"]["pending"] == {"amount": 100_100_50,
                                                   "expiry_date": "2098-12-31"}
    rc, out, err = await run("export", gid, "--amendment", "--receiver", BICS[1],
                             "--key", bank)
    assert rc == 0, err
    assert mt767.changes(mt767.parse(out), 2, "USD", 100_000_50) == {
        "amount": 100_100_50, "expiry_date": "2098-12-31"}
