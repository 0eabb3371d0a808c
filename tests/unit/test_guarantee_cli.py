"""``chainfin guarantee`` and ``chainfin alerts str`` as their users meet them (walk-through
2026-12-07b, docs/walkthrough-2026-12-07b.md): amounts also as decimals of the currency, times
also in ISO 8601 UTC, what to do after a refusal, MT760 parties checked against the message,
export's receiver, the commands a beneficiary and a guarantor were missing (reduce, claim,
suspend, extend, expire), the goAML report's names and reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli, cli_guarantee
from tests.fixtures import Desk, key_file
from tests.unit.test_goaml import alerts_of, config, customer, pay
from tests.unit.test_mt760 import GOOD as MT760
from tests.unit.test_swift_mt700 import BICS, _chainfin, swift_desk  # noqa: F401

DAY_MS = 86_400_000


def test_a_guarantee_reads_in_decimals_of_its_currency_and_utc_times() -> None:
    g: dict[str, Any] = {
        "guarantor": "aa" * 32, "applicant": "bb" * 32, "beneficiary": "cc" * 32,
        "advising_bank": None, "amount": 5_000_000, "currency": "JPY", "paid": 1_000_000,
        "reserved": 500_000, "issued_ms": 1_796_669_650_478, "status": "issued",
        "reductions": [{"date": "2026-12-01", "amount": 3_000_000},
                       {"date": "2027-03-01", "amount": 2_000_000}],
        "amendment": {"changes": {"amount": 4_000_000}, "timestamp_ms": 1_796_669_700_000},
        "demands": [{"demand_id": "d1", "amount": 500_000, "presented_ms": 1_796_669_681_120,
                     "examination_deadline_ms": 1_797_292_800_000, "status": "presented"},
                    {"demand_id": "d2", "amount": 1_000_000, "status": "paid",
                     "presented_ms": 1_796_600_000_000,
                     "examination_deadline_ms": 1_797_200_000_000,
                     "suspended_until_ms": 1_797_400_000_000,
                     "decided": {"height": 9, "timestamp_ms": 1_796_669_690_000}}]}
    now = 1_796_669_700_000  # 2026-12-07: the first reduction is in force, not the second
    out = cli_guarantee.readable(g, 0, now, {"aa" * 32: "Bank A", "bb" * 32: "ACME"})
    assert (out["amount_in_force"], out["available"]) == (3_000_000, 1_500_000)
    assert (out["amount_decimal"], out["available_decimal"], out["paid_decimal"]) == (
        "5000000", "1500000", "1000000")  # JPY has no decimals
    assert out["issued_at"] == "2026-12-07T18:54:10Z"
    assert (out["guarantor_name"], out["applicant_name"], out["beneficiary_name"]) == (
        "Bank A", "ACME", "cc" * 8)
    d1, d2 = out["demands"]
    assert (d1["presented_at"], d1["examination_deadline_at"], d1["decide_through"]) == (
        "2026-12-07T18:54:41Z", "2026-12-15T00:00:00Z", "2026-12-14")
    assert "decide_through" not in d2  # decided: when and by which transaction instead
    open_d2 = cli_guarantee.readable({**g, "demands": [{**g["demands"][1], "status": "presented",
                                                        "decided": None}]}, 0, now, {})
    assert open_d2["demands"][0]["decide_through"] == "2026-12-16T05:46:40Z"  # a suspension's
    # end, when later
    assert d2["decided"]["at"] == "2026-12-07T18:54:50Z"
    assert out["amendment"]["at"] == "2026-12-07T18:55:00Z"
    usd = cli_guarantee.readable({**g, "currency": "USD"}, 2, now, {})
    assert (usd["amount_decimal"], usd["reductions"][0]["amount_decimal"]) == (
        "50000.00", "30000.00")
    assert [cli_guarantee.decimal(m, e) for m, e in ((5, 2), (1250, 3), (7, 0))] == [
        "0.05", "1.250", "7"]


@pytest.mark.parametrize(("argv", "method", "args"), [
    (["reduce", "--guarantee", "g1", "--amount", "500"], "reduce",
     {"guarantee_id": "g1", "amount": 500}),
    (["claim", "--demand", "d1"], "claim_demand_payment", {"demand_id": "d1"}),
    (["suspend", "--demand", "d1", "--days", "10"], "suspend_demand",
     {"demand_id": "d1", "days": 10}),
    (["extend", "--demand", "d1"], "extend_guarantee", {"demand_id": "d1"}),
    (["expire", "--guarantee", "g1", "--event-evidence", "taking-over certificate"],
     "expire_guarantee", {"guarantee_id": "g1", "event_evidence": "taking-over certificate"}),
    (["withdraw-amendment", "--guarantee", "g1", "--proposal", "2"], "withdraw_amendment",
     {"guarantee_id": "g1", "proposal": 2}),
    (["reject-amendment", "--guarantee", "g1", "--proposal", "3"], "reject_amendment",
     {"guarantee_id": "g1", "proposal": 3}),
])
def test_the_beneficiarys_and_guarantors_other_methods_have_commands(
        argv: list[str], method: str, args: dict[str, Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["guarantee", *argv, "--dry-run", "--node", "http://127.0.0.1:9",
                   "--key", "k"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and (out["method"], out["args"]) == (method, args)


def test_help_says_whose_key_signs_and_what_an_amount_is(
        capsys: pytest.CaptureFixture[str]) -> None:
    for action, who in (("pay", "the guarantor bank's"), ("demand", "the beneficiary's")):
        with pytest.raises(SystemExit):
            cli.main(["guarantee", action, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"--key KEY {who} identity key file" in text and "regulator" not in text
    with pytest.raises(SystemExit):
        cli.main(["guarantee", "issue", "--help"])
    assert "USD 50,000.00 is 5000000" in " ".join(capsys.readouterr().out.split())
    assert "accept --proposal" in cli_guarantee.HINTS["amendment_changed"]
    assert "reject-amendment" in cli_guarantee.HINTS["amendment_binding"]
    with pytest.raises(SystemExit):
        cli.main(["guarantee", "reject-amendment", "--help"])
    assert "--key KEY the beneficiary's identity key file" in " ".join(
        capsys.readouterr().out.split())


async def test_a_guarantee_walked_from_the_cli_says_what_to_do(
        swift_desk: Desk, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    """On an in-process cluster, through ``chainfin.cli.main``: an MT760 whose parties' keys
    are swapped is refused before signing; refusals say what to do, amounts as decimals; show
    reads in decimals and UTC; reduce and release by the beneficiary; export needs a receiver
    and notes a guarantee no longer live."""
    d = swift_desk
    url = str(d.http.make_url("")).rstrip("/")
    pk = {n: d.ids[n].public_key.hex() for n in ("exporter", "importer")}
    bank, imp = key_file(d.ids["bank_a"], tmp_path), key_file(d.ids["importer"], tmp_path)
    fin = tmp_path / "g.fin"
    fin.write_text(MT760.replace(":31E:260630", ":31E:991231").replace("BKAAGB22", BICS[0]))
    net = ["--node", url]

    async def run(*argv: str) -> tuple[int, str, str]:
        return await _chainfin(capsys, "guarantee", *argv, *net)

    rc, _, err = await run("mt760", str(fin), "--applicant", pk["importer"],
                           "--beneficiary", pk["exporter"], "--key", bank)
    assert rc == 2 and ":50: the message names 'ACME EXPORTS LTD', but --applicant" in err
    advised = tmp_path / "advised.fin"
    advised.write_text(fin.read_text().replace(":59:", f":56A:{BICS[1]}\n:59:"))
    parties = ["--applicant", pk["exporter"], "--beneficiary", pk["importer"], "--key", bank]
    for extra, says in (([], "give its identity key with --advising-bank"),
                        (["--advising-bank", d.ids["bank_c"].public_key.hex()],
                         f"names the advising bank {BICS[1]}, but --advising-bank")):
        rc, _, err = await run("mt760", str(advised), *parties, *extra)
        assert rc == 2 and says in err, err
    rc, out, err = await run("mt760", str(fin), "--applicant", pk["exporter"],
                             "--beneficiary", pk["importer"], "--key", bank)
    assert rc == 0, err  # the number was not used by the refused message
    gid = json.loads(out)["result"]["guarantee_id"]
    rc, _, err = await run("export", gid, "--key", bank)
    assert rc == 2 and "--receiver BIC" in err and "MT760 is refused" not in err

    rc, _, err = await run("demand", "--guarantee", gid, "--amount", "100", "--key", imp)
    assert rc == 1 and "add --statement" in err
    why = ["--statement", "late delivery"]
    rc, _, err = await run("demand", "--guarantee", gid, "--amount", "20000000", *why,
                           "--key", imp)
    assert rc == 1 and "available now USD 100,000.50 (10000050 minor units)" in err, err
    rc, out, err = await run("demand", "--guarantee", gid, "--amount", "1000000", *why,
                             "--key", imp)
    assert rc == 0 and "note: amount USD 10,000.00 (1000000 minor units)" in err, err
    result = json.loads(out)["result"]
    assert result["examination_deadline_at"].endswith("T00:00:00Z")
    rc, out, _ = await run("show", "--guarantee", gid, "--key", imp)
    g = json.loads(out)
    assert (g["amount_decimal"], g["available_decimal"], g["reserved_decimal"]) == (
        "100000.50", "90000.50", "10000.00")
    assert (g["applicant_name"], g["beneficiary_name"]) == ("ACME Exports Ltd", "Globex Corp")
    dem = g["demands"][0]
    assert dem["amount_decimal"] == "10000.00" and dem["presented_at"].endswith("Z")

    rc, _, err = await run("pay", "--demand", dem["demand_id"], "--key", bank)
    assert rc == 1 and "fund that account first" in err
    out = await d.commit(d.tx("usd_issuer", "settlement", "issue", {
        "currency": "USD", "to": d.ids["bank_a"].public_key.hex(), "amount": 1_000_000}))
    assert out["status"] == "committed", out
    rc, _, err = await run("pay", "--demand", dem["demand_id"], "--key", bank)
    assert rc == 0, err

    rc, _, err = await run("reduce", "--guarantee", gid, "--amount", "500000", "--key", imp)
    assert rc == 1 and "at least what is paid and demanded, USD 10,000.00" in err, err
    rc, _, err = await run("reduce", "--guarantee", gid, "--amount", "5000000", "--key", imp)
    assert rc == 0, err
    rc, _, err = await run("release", "--guarantee", gid, "--key", imp)
    assert rc == 0, err
    rc, out, err = await run("export", "--guarantee", gid, "--receiver", BICS[1],
                             "--key", bank)
    assert rc == 0 and "the guarantee is released" in err and ":32B:USD50000,00" in out


async def test_an_str_names_parties_by_legal_name_and_gives_a_reason_in_decimals(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The counterparty by its legal name (not a handle), a reason from the alert's rule and
    detail with its amount in decimals when the officer gives none, and ``--review`` saying
    which hash the case keeps."""
    d = desk
    await customer(d)
    for amount in (950, 960):
        assert (await pay(d, "USD", amount))["status"] == "committed"
    structured = await pay(d, "USD", 990)
    alert = (await alerts_of(d, structured["tx_id"]))[0]
    note = tmp_path / "note.txt"
    note.write_text("filed")
    path = tmp_path / "str.xml"
    argv = ["alerts", "str", alert, "--node", str(d.http.make_url("")).rstrip("/"),
            "--key", key_file(d.ids["bank_a"], tmp_path), "--out", str(path),
            "--config", config(tmp_path), "--review", "--note", str(note)]
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, argv) == 0
    err = capsys.readouterr().err
    assert "seals the hash of this reference, not the file's hash" in err
    text = path.read_text()
    assert "<name>Globex Corp</name>" in text and "<name>importer</name>" not in text
    assert (f"<reason>payments just under a per-payment limit (structuring): chainfin alert "
            f"{alert} (amount USD 9.90, ") in text
