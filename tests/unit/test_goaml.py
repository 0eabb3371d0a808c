"""``chainfin alerts str`` (decision 208; docs/risk.md "Filing the report"): a bank's compliance
officer turns alerts of its customers into a goAML STR, read with the bank's own signed reads,
checked, written, its SHA-256 the report reference of a ``reported`` review.

Real alerts on the in-process trade cluster (the ``desk`` fixture): ``bank_a`` registers
``c_own`` under its BIC (BANK0US33XXX); the regulator caps it per payment in USD, JPY and BHD;
three payments near the USD cap raise ``structuring``, one over each cap a kept
``limit_exceeded`` (an attempted transaction). ``bank_c`` is no home bank of ``c_own``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli, cli_alerts, goaml
from chainfin.crypto import Identity
from tests.fixtures import Desk, key_file
from tests.node.test_access import get_as

CAPS = {"USD": 1000, "JPY": 100_000, "BHD": 1_000_000}


def pk(d: Desk, who: str) -> str:
    return d.ids[who].public_key.hex()


async def customer(d: Desk, currencies: tuple[str, ...] = ("USD",)) -> None:
    """``c_own`` (bank_a's, under its BIC), funded and capped per payment in ``currencies``
    (JPY and BHD added by governance)."""
    for code, exp in (("JPY", 0), ("BHD", 3)):
        if code not in currencies:
            continue
        await d.govern("add_currency", {"code": code, "exponent": exp,
                                        "issuer": pk(d, "usd_issuer")})
    d.ids["c_own"] = Identity.generate("c_own")
    out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
        "pubkey": pk(d, "c_own"), "name": "Customer Own Ltd", "role": "exporter",
        "bank": "BANK0US33XXX"}))
    assert out["status"] == "committed", out
    for ccy in currencies:
        cap = CAPS[ccy]
        out = await d.commit(d.tx("usd_issuer", "settlement", "issue", {
            "currency": ccy, "to": pk(d, "c_own"), "amount": cap * 100}))
        assert out["status"] == "committed", out
        out = await d.commit(d.tx("auditor", "risk", "set_limit", {
            "subject": pk(d, "c_own"), "kind": "max_per_tx", "currency": ccy, "max": cap,
            "rule_id": f"cap_{ccy.lower()}"}))
        assert out["status"] == "committed", out


async def pay(d: Desk, ccy: str, amount: int) -> dict[str, Any]:
    return await d.commit(d.tx("c_own", "settlement", "transfer", {
        "to": pk(d, "importer"), "currency": ccy, "amount": amount}))


async def alerts_of(d: Desk, tx_id: str) -> list[str]:
    """The alerts bank_a's queue holds of transaction ``tx_id``."""
    st, doc = await get_as(d, "bank_a", "/v1/risk/alerts/queue?limit=1000")
    assert st == 200, doc
    return [a["alert"] for a in doc["alerts"] if a["alert"].startswith(tx_id)]


def config(tmp_path: Path) -> str:
    """The bank's local goAML configuration (the testnet's bank ids are no ISO 9362 BICs, so
    the country is given)."""
    path = tmp_path / "goaml.json"
    path.write_text(json.dumps({"rentity_id": 1, "country": "US", "reporting_person": {
        "first_name": "Grace", "last_name": "Hopper", "occupation": "MLRO"}}))
    return str(path)


def run(argv: list[str]) -> int:
    return cli.main(argv)


def xml_of(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


def texts(el: ET.Element) -> dict[str, str]:
    return {c.tag: (c.text or "") for c in el if not len(c)}


async def test_an_str_of_a_banks_alerts_reports_each_transaction_exactly(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await customer(d)
    earlier = [await pay(d, "USD", amount) for amount in (950, 960)]
    assert [e["status"] for e in earlier] == ["committed"] * 2
    structured = await pay(d, "USD", 990)
    assert structured["status"] == "committed", structured
    over = await pay(d, "USD", 1001)  # refused: an attempted transaction, its alert kept
    assert over["status"] == "rejected", over
    s_alert = next(a for a in await alerts_of(d, structured["tx_id"]))
    o_alert = (await alerts_of(d, over["tx_id"]))[0]
    base = str(d.http.make_url("")).rstrip("/")
    key = key_file(d.ids["bank_a"], tmp_path)
    assert await asyncio.to_thread(run, ["alerts", "queue", "--all", "--node", base, "--key",
                                         key]) == 0
    queued = {ln.split("  alert ")[1].split()[0]: ln
              for ln in capsys.readouterr().out.splitlines()}
    assert "amount=990 (USD 9.90)" in queued[s_alert]
    assert (f"near_limit_txs={earlier[0]['tx_id'][:16]}… (USD 9.50 to Globex Corp), "
            f"{earlier[1]['tx_id'][:16]}… (USD 9.60 to Globex Corp)") in queued[s_alert]
    assert "amount=1001 (USD 10.01)" in queued[o_alert] and "max=1000 (USD 10.00)" in (
        queued[o_alert])
    note = tmp_path / "note.txt"
    note.write_text("three payments just under the cap, then one over it")
    out = tmp_path / "str.xml"
    argv = ["alerts", "str", s_alert, o_alert, s_alert, "--node", base, "--key", key,
            "--out", str(out), "--config", config(tmp_path), "--entity-id", "4711",
            "--branch", "Head office",
            "--reporter", "Ada Lovelace", "--reporter-email", "mlro@bank-a.example",
            "--reason", "structuring under the per-payment limit", "--action",
            "account under review", "--submission-date", "2026-12-07T18:00:00",
            "--review", "--note", str(note)]
    assert await asyncio.to_thread(run, argv) == 0
    printed = capsys.readouterr()
    data = out.read_bytes()
    ref = hashlib.sha256(data).hexdigest()
    assert printed.out.splitlines()[0] == f"{ref}  {out}"
    assert out.stat().st_mode & 0o777 == 0o600
    assert goaml.check_report(data) == []

    r = ET.fromstring(data)
    assert r.tag == "report"
    assert texts(r) == {
        "rentity_id": "4711", "rentity_branch": "Head office", "submission_code": "E",
        "report_code": "STR", "entity_reference": s_alert,
        "submission_date": "2026-12-07T18:00:00", "currency_code_local": "USD",
        "reason": "structuring under the per-payment limit", "action": "account under review"}
    assert texts(r.find("reporting_person")) == {  # type: ignore[arg-type]
        "first_name": "Ada", "last_name": "Lovelace", "email": "mlro@bank-a.example"}
    # (the flags replace the configuration's person whole: no occupation of Grace's)
    # each transaction once; the structuring alert's whole pattern (decision 217): the two
    # earlier near payments it counted, oldest first, then the one that raised it
    txs = r.findall("transaction")
    pattern = [*earlier, structured]
    assert [t.findtext("transactionnumber") for t in txs] == [
        o["tx_id"][:50] for o in (*pattern, over)]
    assert [t.findtext("amount_local") for t in txs] == ["9.50", "9.60", "9.90", "10.01"]
    assert [t.findtext("transaction_description") for t in txs[:3]] == [
        f"chainfin transaction {o['tx_id']}; a payment of the pattern of alerts {s_alert}"
        for o in earlier] + [f"chainfin transaction {structured['tx_id']}; alerts {s_alert}"]
    assert [t.find("comments") for t in txs[:3]] == [None] * 3
    assert "attempted: refused by the ledger (limit_exceeded)" in txs[3].findtext("comments",
                                                                                   "")
    for t, out_ in zip(txs, (*pattern, over), strict=True):
        st, whole = await get_as(d, "bank_a", f"/v1/tx/{out_['tx_id']}?tx=1")
        assert st == 200
        assert t.findtext("date_transaction") == goaml.goaml_datetime(whole["timestamp_ms"])
        assert t.findtext("transmode_code") == "A"
        frm = t.find("t_from_my_client")  # the payer is bank_a's customer
        assert frm is not None and t.find("t_from") is None
        acc = frm.find("from_account")
        assert acc is not None
        assert texts(acc) == {
            "institution_name": "node0", "institution_code": "BANK0US33XXX",
            "account": pk(d, "c_own")[:40], "currency_code": "USD",
            "account_name": "Customer Own Ltd", "personal_account_type": "A",
            "status_code": "A", "comments": f"chainfin identity {pk(d, 'c_own')}"}
        assert texts(acc.find("t_entity")) == {  # type: ignore[arg-type]
            "name": "Customer Own Ltd"}  # (no country: BANK0US33XXX is no ISO 9362 BIC)
        assert frm.findtext("from_country") == "US"
        to = t.find("t_to")  # the importer is no customer of bank_a's, at no bank named
        assert to is not None and t.find("t_to_my_client") is None
        assert to.findtext("to_entity/name") == "Globex Corp"  # its legal name
        assert to.findtext("to_country") == "US"

    # --review: a `reported` review of each alert, sealing the file's hash, never the file
    for alert in (s_alert, o_alert):
        st, case = await get_as(d, "bank_a", f"/v1/risk/alerts/{alert}")
        assert st == 200 and case["status"] == "reviewed", case
        rec = cli_alerts.open_review(d.ids["bank_a"], alert, case["reviews"][-1])
        assert rec is not None and rec["disposition"] == "reported"
        assert rec["report_sha256"] == hashlib.sha256(ref.encode()).hexdigest()
        assert data.decode() not in json.dumps(case) and "Lovelace" not in json.dumps(case)

    # `alerts case` names the pattern's payments; `queue` and `case` print each amount also in
    # the currency's decimals (decision 217)
    assert await asyncio.to_thread(run, ["alerts", "case", "--alert", s_alert, "--node", base,
                                         "--key", key]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "amount=990 (USD 9.90)" in shown[0] and "near_limit_payments=3" in shown[0]
    assert shown[1:3] == [f"payment of the pattern  transaction {o['tx_id']}  USD {a} to Globex "
                          f"Corp" for o, a in zip(earlier, ("9.50", "9.60"), strict=True)]
    assert shown[3] == (f"payment of the pattern  transaction {structured['tx_id']}  USD 9.90 "
                        f"to Globex Corp  (raised the alert)")
    assert await asyncio.to_thread(run, ["alerts", "case", "--alert", o_alert, "--node", base,
                                         "--key", key]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "amount=1001 (USD 10.01)" in shown[0] and "max=1000 (USD 10.00)" in shown[0]
    assert not [ln for ln in shown if ln.startswith("payment of the pattern")]
    # the customer reads neither the case nor the pattern memory naming its payments
    # (decisions 156, 190: no tipping off)
    for path in (f"/v1/risk/alerts/{s_alert}", f"/v1/state/risk/stats/{pk(d, 'c_own')}/USD"):
        st, doc = await get_as(d, "c_own", path)
        assert st == 404 and earlier[0]["tx_id"] not in json.dumps(doc), (path, doc)
    st, doc = await get_as(d, "bank_a", f"/v1/state/risk/stats/{pk(d, 'c_own')}/USD")
    assert st == 200 and [t for t, _ in doc["value"]["near_tx"]] == [
        o["tx_id"] for o in pattern]


async def test_amounts_are_exact_by_the_currencys_exponent(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JPY (0) and BHD (3) here, USD (2) in the test above: the ledger's integer minor units,
    each in its own report (one currency_code_local a report); a report mixing them is
    refused."""
    d = desk
    await customer(d, ("JPY", "BHD"))
    base = str(d.http.make_url("")).rstrip("/")
    key = key_file(d.ids["bank_a"], tmp_path)
    want = {"JPY": (123_457, "123457"), "BHD": (1_234_567, "1234.567")}
    alerts = {}
    for ccy, (amount, _) in want.items():
        out = await pay(d, ccy, amount)
        assert out["status"] == "rejected", out
        alerts[ccy] = (await alerts_of(d, out["tx_id"]))[0]
    for ccy, (_, text) in want.items():
        path = tmp_path / f"{ccy}.xml"
        argv = ["alerts", "str", alerts[ccy], "--node", base, "--key", key, "--out", str(path),
                "--config", config(tmp_path)]
        assert await asyncio.to_thread(run, argv) == 0
        r = xml_of(path)
        assert r.findtext("currency_code_local") == ccy
        assert r.findtext("transaction/amount_local") == text
        assert r.findtext("transaction/t_from_my_client/from_account/currency_code") == ccy
    capsys.readouterr()
    mixed = tmp_path / "mixed.xml"
    argv = ["alerts", "str", alerts["JPY"], alerts["BHD"], "--node", base, "--key", key,
            "--out", str(mixed), "--config", config(tmp_path)]
    assert await asyncio.to_thread(run, argv) == 1
    assert "is in BHD, the report's local currency is JPY" in capsys.readouterr().err
    assert not mixed.exists()
    assert [goaml.decimal_amount(m, e) for m, e in ((0, 3), (7, 3), (100, 2), (5, 0))] == [
        "0.000", "0.007", "1.00", "5"]


async def test_a_bank_not_entitled_to_the_alert_is_refused_and_writes_nothing(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await customer(d)
    over = await pay(d, "USD", 1001)
    alert = (await alerts_of(d, over["tx_id"]))[0]
    base = str(d.http.make_url("")).rstrip("/")
    out = tmp_path / "str.xml"
    for who, says in (("bank_c", f"no alert {alert} this bank reads"),
                      ("auditor", "this key is no bank identity's")):
        argv = ["alerts", "str", alert, "--node", base, "--key",
                key_file(d.ids[who], tmp_path), "--out", str(out), "--config", config(tmp_path)]
        assert await asyncio.to_thread(run, argv) == 1
        err = capsys.readouterr().err
        assert says in err, err
        assert not out.exists()


def test_the_checks_catch_a_missing_misplaced_or_mistyped_element() -> None:
    filer = goaml.Filer(rentity_id=7, reporting_person={"first_name": "A", "last_name": "B"})
    p = goaml.Party("ab" * 32, "X Ltd", True, "DEUTDEFFXXX", "Deutsche Bank", "DE")
    q = goaml.Party("cd" * 32, "Y Ltd", False, None, None, None)
    tx = goaml.LedgerTx("ef" * 32, 1_796_000_000_000, 1050, "USD", p, q, ["a-0"])
    good = goaml.build_report(filer, [tx], {"USD": 2}, reason="r", action=None,
                              submission_ms=1_796_000_000_000, entity_reference=None,
                              home_country="US")
    assert goaml.check_report(good) == []
    assert b"<amount_local>10.50</amount_local>" in good
    assert b"<swift>DEUTDEFFXXX</swift>" in good and b"<to_country>US</to_country>" in good
    bad = good.replace(b"<report_code>STR</report_code>", b"")
    assert goaml.check_report(bad) == ["report: report_code is missing"]
    bad = good.replace(b"<amount_local>10.50</amount_local>", b"<amount_local>10,5</amount_local>")
    assert goaml.check_report(bad) == [
        "report/transaction/amount_local: '10,5' is not a valid dec"]
    swapped = good.replace(b"<submission_code>E</submission_code>", b"").replace(
        b"<report_code>STR</report_code>",
        b"<report_code>STR</report_code><submission_code>E</submission_code>")
    assert "report: submission_code is missing" in goaml.check_report(swapped)
    assert goaml.submission_ms("2026-12-07T19:00:00+01:00", 0) == goaml.submission_ms(
        "2026-12-07T18:00:00", 0) == 1_796_666_400_000
    with pytest.raises(goaml.ChainfinError, match="not an ISO 8601 date"):
        goaml.submission_ms("7 Dec", 0)
    with pytest.raises(goaml.ChainfinError, match="reporting person"):
        goaml.load_filer(None, {"rentity_id": 1})


def test_a_payment_the_bank_does_not_read_whole_is_reported_from_the_case_detail() -> None:
    """The alert names the bank's customer as payee (the payer banks elsewhere): ``/v1/tx``
    answers the bank 404, so the transaction is the case's amount, currency and counterparty,
    paid to the customer; nothing more is read."""
    bank, cust, payer, tx = "b" * 64, "c" * 64, "d" * 64, "e" * 64
    values = {
        f"/v1/state/governance/id/{bank}": {"role": "bank", "name": "Bank B",
                                            "bank": "DEUTDEFFXXX"},
        f"/v1/state/governance/id/{cust}": {"role": "importer", "name": "Cust GmbH",
                                            "registered_by": bank},
        f"/v1/risk/alerts/{tx}-0": {"tx_id": tx, "time_ms": 1_796_000_000_000,
                                    "accounts": [cust], "rule": "structuring",
                                    "detail": {"amount": 99_000, "currency": "EUR",
                                               "counterparty": payer}}}
    asked: list[str] = []

    def get(path: str) -> Any:
        asked.append(path)
        v = values.get(path)
        return {"value": v} if path.startswith("/v1/state/") and v is not None else v

    [t] = goaml.gather(get, bank, [f"{tx}-0"])
    assert (t.amount, t.currency, t.time_ms) == (99_000, "EUR", 1_796_000_000_000)
    assert (t.frm.ident, t.frm.mine, t.to.ident, t.to.mine) == (payer, False, cust, True)
    assert (t.to.bank_id, t.to.institution, t.to.country) == ("DEUTDEFFXXX", "Bank B", "DE")
    assert f"/v1/tx/{tx}?tx=1" in asked
    # the same case read by a bank that is not the customer's (a stale or wrong home bank)
    values[f"/v1/state/governance/id/{cust}"]["registered_by"] = "a" * 64
    with pytest.raises(goaml.NotEntitled, match="names no customer of this bank"):
        goaml.gather(get, bank, [f"{tx}-0"])
