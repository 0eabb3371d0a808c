"""SWIFT MT760 in and out: a guarantee written and read back to the same ledger terms, and bad
messages refused with every problem named (a misplaced field by its block-4 line)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from chainfin import cli
from chainfin.swift import mt760
from chainfin.swift.mt700 import MtError

TERMS = mt760.GuaranteeTerms(
    sender_bic="BKAAGB22", receiver_bic="BKBBDEFF", guarantee_number="PG-2025-001",
    issue_date=datetime.date(2025, 11, 26), form="DGAR", guarantee_type="performance",
    expiry_date=datetime.date(2026, 6, 30), expiry_event=None, applicant="ACME Exports Ltd",
    beneficiary="Globex Corp", currency="EUR", exponent=2, amount=125_000_05,
    underlying_ref="CONTRACT 77/2025", advising_bic="BKBBDEFFXXX")


def test_a_written_guarantee_reads_back_to_the_same_terms() -> None:
    text = mt760.render(TERMS)
    assert text.startswith("{1:F01BKAAGB22AXXX") and "{2:I760BKBBDEFFXXXXN}" in text
    msg = mt760.parse(text)
    assert (msg.applicant, msg.beneficiary, msg.issuer_bic, msg.advising_bic) == (
        ("ACME Exports Ltd",), ("Globex Corp",), "BKAAGB22XXX", "BKBBDEFFXXX")
    assert mt760.terms(msg, 2) == {
        "amount": 125_000_05, "currency": "EUR", "form": "DGAR",
        "guarantee_type": "performance", "guarantee_number": "PG-2025-001",
        "underlying_ref": "CONTRACT 77/2025", "expiry_date": "2026-06-30"}
    standby = mt760.parse(mt760.render(TERMS.__class__(**{
        **{f: getattr(TERMS, f) for f in TERMS.__slots__},  # type: ignore[attr-defined]
        "form": "STBY", "expiry_event": "DELIVERY OF THE TAKING-OVER CERTIFICATE",
        "currency": "JPY", "exponent": 0, "amount": 7_000_000})))
    assert mt760.terms(standby, 0)["amount"] == 7_000_000
    assert standby.expiry_event == "DELIVERY OF THE TAKING-OVER CERTIFICATE"
    assert "\r\n:40C:ISPR\r\n:23B:COND\r\n" in mt760.render(TERMS.__class__(**{
        **{f: getattr(TERMS, f) for f in TERMS.__slots__},  # type: ignore[attr-defined]
        "form": "STBY", "expiry_event": "EVENT"}))


GOOD = """:15A:
:27:1/1
:22A:ISSU
:15B:
:20:PG-1
:30:251126
:22D:DGAR
:40C:URDG
:23B:FIXD
:31E:260630
:50:ACME EXPORTS LTD
:52A:BKAAGB22
:59:GLOBEX CORP
:32B:USD100000,50
:77U:CONTRACT 77
:44J:GB/ENGLISH LAW"""


def problems(text: str) -> list[str]:
    with pytest.raises(MtError) as e:
        mt760.parse(text)
    return e.value.problems


def test_the_text_block_alone_is_read_with_its_amount_exact() -> None:
    msg = mt760.parse(GOOD)
    assert mt760.terms(msg, 2)["amount"] == 100_000_50
    assert msg.notes == ("not kept on the ledger (checked for shape only): :44J:",)
    with pytest.raises(MtError, match="3 decimals"):
        mt760.terms(mt760.parse(GOOD.replace("100000,50", "100000,505")), 2)


@pytest.mark.parametrize("change, want", [
    ((":20:PG-1\n", ""), "mandatory fields missing: :20:"),
    ((":27:1/1\n", ""), "mandatory fields missing: :27:"),
    ((":22A:ISSU\n:15B:\n", ":15B:\n:22A:ISSU\n"), "block 4 line 4: :22A: belongs to sequence A"),
    ((":31E:260630\n", ":31E:260630\n:72Z:HELLO\n"),
     "block 4 line 11: :72Z: belongs to sequence A"),
    ((":44J:GB/ENGLISH LAW", ":44J:GB\n:15C:"), "block 4 line 17: :15C: sequence C"),
    (("DGAR", "DEPU"), ":22D: 'DEPU' is not one of DGAR, STBY"),
    (("URDG", "ISPR"), ":40C: 'ISPR': a DGAR on this ledger is subject to URDG"),
    (("FIXD", "OPEN"), "OPEN, an undertaking without expiry, is not supported"),
    (("FIXD", "COND"), ":23B: COND needs :35G:"),
    (("100000,50", "100000.50"), ":32B: 'USD100000.50' is not a currency code"),
    (("260630", "261331"), ":31E: '261331' is not a calendar date"),
    (("ISSU", "ICCO"), "counter-undertaking"),
    ((":50:ACME EXPORTS LTD", ":50:ACME EXPORTS LTD\n:50:X"), ":50: appears twice"),
    ((":15A:\n", ":15A:\n:99Z:X\n"), ":99Z: is not an MT760 field"),
    ((":59:GLOBEX CORP", ":59:GLOBEX CORP\n:59A:BKBBDEFF"), ":59:, :59A: together"),
])
def test_bad_input_names_every_problem(change: tuple[str, str], want: str) -> None:
    found = problems(GOOD.replace(*change))
    assert any(want in p for p in found), found


def test_a_line_before_the_first_tag_gives_its_line() -> None:
    assert "block 4 line 1: text before the first field tag" in problems("junk\n" + GOOD)


def test_the_cli_refuses_a_bad_mt760_before_signing_and_dry_runs_an_issue(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(GOOD.replace(":22A:ISSU\n:15B:\n", ":15B:\n:22A:ISSU\n"))
    key = "ab" * 32
    rc = cli.main(["guarantee", "mt760", str(bad), "--applicant", key, "--beneficiary", key,
                   "--node", "http://127.0.0.1:9", "--key", str(tmp_path / "none")])
    assert rc == 2
    assert "block 4 line 4: :22A: belongs to sequence A" in capsys.readouterr().err
    rc = cli.main(["guarantee", "issue", "--applicant", key, "--beneficiary", key,
                   "--amount", "100", "--currency", "USD", "--number", "PG-1",
                   "--underlying-ref", "C 1", "--expiry-date", "2026-06-30",
                   "--reduction", "2026-03-01:50", "--dry-run",
                   "--node", "http://127.0.0.1:9", "--key", "k"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["method"] == "issue_guarantee"
    assert out["args"]["reductions"] == [{"date": "2026-03-01", "amount": 50}]
