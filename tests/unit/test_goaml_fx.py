"""A goAML STR across currencies, as an FIU reads it (decisions 252-255; docs/risk.md "Filing
the report"): a structuring pattern in USD, EUR and JPY under a USD base-currency maximum
(decision 206) is one report in the bank's local currency. Each transaction's ``amount_local``
is its amount converted at the ledger's reference rate against that currency (``risk``
``rates/<LOCAL>``, exact ratios of minor units), rounded half up to the local minor unit; its
own amount, exact by its ISO 4217 exponent, is in each side's goAML ``t_foreign_currency``
(``{way}_foreign_currency``: ``foreign_currency_code``, ``foreign_amount``,
``foreign_exchange_rate``); the rate and its date are in its ``comments``. A currency with no
rate, or a stale one, refuses the report, named. A report all in one currency is written
byte for byte as before (pinned)."""

from __future__ import annotations

import asyncio
import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from chainfin import goaml
from chainfin.errors import ChainfinError
from contracts.testing import Ledger
from tests.fixtures import key_file
from tests.node.test_access import get_as
from tests.unit.test_goaml import alerts_of, config, customer, pay, pk, run

BANK, CUST, OTHER = "b" * 64, "c" * 64, "d" * 64
T_EUR, T_JPY, T_USD = "1" * 64, "2" * 64, "3" * 64
T0 = 1_796_000_000_000  # 2026-11-30T00:53:20 UTC: the payments' block time
HOUR = 3_600_000
AS_OF = T0 - 20 * HOUR  # the rates' as-of time
NOW = T0 + 2 * HOUR  # when the report is built
EXPS = {"USD": 2, "EUR": 2, "JPY": 0}
#: EUR 100.00 = USD 108.53 (1 EUR = 1.0853 USD); JPY 10,000 = USD 67.12 (1 JPY = 0.006712
#: USD: six decimals, more than a goAML amount's four, so no foreign_exchange_rate is written)
RATES = {"EUR": {"per": 10_000, "base_units": 10_853, "time_ms": AS_OF, "by": "e" * 64,
                 "height": 41},
         "JPY": {"per": 10_000, "base_units": 6_712, "time_ms": AS_OF, "by": "e" * 64,
                 "height": 41}}
FILER = goaml.Filer(rentity_id=4711, reporting_person={"first_name": "Ada",
                                                       "last_name": "Lovelace"},
                    currency_code_local="USD")


def _transfer(tx: str, ccy: str, amount: int, at: int) -> dict[str, Any]:
    return {"tx_id": tx, "status": "committed", "height": 5, "timestamp_ms": at,
            "tx": {"contract": "settlement", "method": "transfer", "sender": CUST,
                   "args": {"to": OTHER, "currency": ccy, "amount": amount}}}


def _values(rates: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the bank reads: its customer's structuring alert under a USD base maximum of
    USD 10.00 (decision 206: EUR 9.00, JPY 1,450, then USD 9.90, the third alerts naming the
    first two), the three transfers whole, the identities, the currencies, the rates."""
    case = {"rule": "structuring", "accounts": [CUST], "time_ms": T0 + 2_000, "tx_id": T_USD,
            "detail": {"currency": "USD", "amount": 990, "base": "USD",
                       "near_limit_payments": 3, "near_limit_txs": [T_EUR, T_JPY]}}
    return {
        f"/v1/state/governance/id/{BANK}": {"role": "bank", "name": "Bank B",
                                            "bank": "DEUTDEFFXXX"},
        f"/v1/state/governance/id/{CUST}": {"role": "exporter", "name": "Cust GmbH",
                                            "registered_by": BANK},
        f"/v1/risk/alerts/{T_USD}-0": case,
        f"/v1/tx/{T_EUR}?tx=1": _transfer(T_EUR, "EUR", 900, T0),
        f"/v1/tx/{T_JPY}?tx=1": _transfer(T_JPY, "JPY", 1_450, T0 + 1_000),
        f"/v1/tx/{T_USD}?tx=1": _transfer(T_USD, "USD", 990, T0 + 2_000),
        **{f"/v1/state/governance/currency/{c}": {"code": c, "exponent": e}
           for c, e in EXPS.items()},
        "/v1/state/risk/rates/USD": RATES if rates is None else rates}


def _reader(values: dict[str, Any]) -> goaml.Get:
    def get(path: str) -> Any:
        v = values.get(path)
        return {"value": v} if path.startswith("/v1/state/") and v is not None else v
    return get


def _report(get: goaml.Get, filer: goaml.Filer = FILER) -> bytes:
    """As ``chainfin alerts str`` builds it (chainfin/cli_alerts.py)."""
    txs = goaml.gather(get, BANK, [f"{T_USD}-0"])
    rates = goaml.reference_rates(get, "USD", [t.currency for t in txs], NOW)
    return goaml.build_report(filer, txs, EXPS, reason="structuring across currencies",
                              action=None, submission_ms=NOW, entity_reference=None,
                              home_country="DE", rates=rates)


def test_a_pattern_in_usd_eur_and_jpy_is_one_report_in_the_local_currency() -> None:
    data = _report(_reader(_values()))
    assert goaml.check_report(data) == []
    r = ET.fromstring(data)
    assert r.findtext("currency_code_local") == "USD"
    txs = r.findall("transaction")
    assert [t.findtext("transactionnumber") for t in txs] == [T_EUR[:50], T_JPY[:50],
                                                             T_USD[:50]]
    # local amounts: EUR 9.00 x 10853/10000 = 976.77 cents -> 977; JPY 1,450 x 6712/10000 =
    # 973.24 cents -> 973; USD as it is
    assert [t.findtext("amount_local") for t in txs] == ["9.77", "9.73", "9.90"]
    for t, (ccy, amount, rate) in zip(txs[:2], (("EUR", "9.00", "1.0853"),
                                                ("JPY", "1450", None)), strict=True):
        for side, way in (("t_from_my_client", "from"), ("t_to", "to")):
            el = t.find(side)
            assert el is not None
            # after the funds code, before the party (goAML's t_from / t_to sequence)
            assert [c.tag for c in el][:3] == [f"{way}_funds_code", f"{way}_foreign_currency",
                                               f"{way}_account" if way == "from"
                                               else f"{way}_entity"]
            fc = el.find(f"{way}_foreign_currency")
            assert fc is not None
            assert [(c.tag, c.text) for c in fc] == [
                ("foreign_currency_code", ccy), ("foreign_amount", amount)] + (
                [("foreign_exchange_rate", rate)] if rate else [])
        # the customer's account is held in the transaction's currency
        assert t.findtext("t_from_my_client/from_account/currency_code") == ccy
    assert txs[0].findtext("comments") == (
        "amount_local is EUR 9.00 at the ledger's reference rate EUR 10000 = USD 10853 in "
        "minor units (1 EUR = 1.0853 USD), as of 2026-11-29T04:53:20 UTC (published at height "
        "41), rounded half up to the USD minor unit")
    assert txs[1].findtext("comments") == (
        "amount_local is JPY 1450 at the ledger's reference rate JPY 10000 = USD 6712 in "
        "minor units (1 JPY = 0.006712 USD), as of 2026-11-29T04:53:20 UTC (published at "
        "height 41), rounded half up to the USD minor unit")
    usd = txs[2]  # in the local currency: as ever, no foreign element, no comment
    assert usd.find("comments") is None and not [
        e for e in usd.iter() if e.tag.endswith("_foreign_currency")]


def test_local_amounts_round_half_up_in_integers() -> None:
    eur = goaml.Rate("EUR", "USD", 10_000, 10_853, AS_OF)
    jpy = goaml.Rate("JPY", "USD", 1_000_000, 670_000, AS_OF)
    bhd = goaml.Rate("BHD", "USD", 1_000_000, 265_957, AS_OF)  # 1 BHD = USD 2.65957
    # EUR 50.00 = 5426.5 cents exactly: a half, up (half-even would say 5426)
    assert goaml.to_local(5_000, eur) == 5_427
    assert goaml.to_local(4_999, eur) == 5_425  # 5425.4147
    assert goaml.to_local(1, eur) == 1 and goaml.to_local(0, eur) == 0  # 1.0853, 0
    assert goaml.to_local(1, jpy) == 1 and goaml.to_local(3, jpy) == 2  # 0.67, 2.01
    assert goaml.to_local(10**15, jpy) == 67 * 10**13  # big: integers never lose a unit
    assert goaml.to_local(1_234_567, bhd) == 328_342  # 328341.7 cents (BHD 1234.567)
    exps = {"USD": 2, "EUR": 2, "JPY": 0, "BHD": 3}
    assert [goaml.rate_decimal(r, exps) for r in (eur, jpy, bhd)] == [
        "1.0853", "0.0067", None]  # BHD: 2.65957, five decimals
    assert goaml.rate_decimal(bhd, exps, 12) == "2.65957"
    third = goaml.Rate("XXX", "USD", 3, 1, AS_OF)  # a third of a cent: no decimal at all
    assert goaml.rate_decimal(third, {"XXX": 2, "USD": 2}, 12) is None


def test_a_currency_without_a_fresh_rate_refuses_the_report_naming_it() -> None:
    no_jpy = {"EUR": RATES["EUR"]}
    with pytest.raises(ChainfinError, match="the ledger holds no reference rate of JPY "
                                            "against USD") as e:
        _report(_reader(_values(no_jpy)))
    assert "never a rate it guesses" in str(e.value)
    with pytest.raises(ChainfinError, match="no reference rate of EUR against USD"):
        _report(_reader(_values({})))
    values = _values()
    del values["/v1/state/risk/rates/USD"]  # none published against USD at all
    with pytest.raises(ChainfinError, match="no reference rate of EUR against USD"):
        _report(_reader(values))
    stale = {**RATES, "JPY": {**RATES["JPY"], "time_ms": NOW - goaml.MAX_RATE_AGE_MS - HOUR}}
    with pytest.raises(ChainfinError, match=r"rate of JPY against USD is 145 h old \(as of "):
        _report(_reader(_values(stale)))
    fresh = {**RATES, "JPY": {**RATES["JPY"], "time_ms": NOW - goaml.MAX_RATE_AGE_MS}}
    assert goaml.check_report(_report(_reader(_values(fresh)))) == []  # 6 days: still fresh
    # build_report itself never converts without the rate
    txs = goaml.gather(_reader(_values()), BANK, [f"{T_USD}-0"])
    with pytest.raises(ChainfinError, match="no reference rate of JPY against USD"):
        goaml.build_report(FILER, txs, EXPS, reason="r", action=None, submission_ms=NOW,
                           entity_reference=None, home_country="DE",
                           rates={"EUR": goaml.Rate("EUR", "USD", 10_000, 10_853, AS_OF)})
    # no local currency configured: the bank's own is not guessed from the first transaction
    with pytest.raises(ChainfinError, match="is in JPY, the report's local currency is EUR "
                                            r"\(the first transaction's"):
        goaml.build_report(goaml.Filer(rentity_id=1, reporting_person=FILER.reporting_person),
                           txs, EXPS, reason="r", action=None, submission_ms=NOW,
                           entity_reference=None, home_country="DE")


def test_the_rates_are_read_as_the_ledger_stores_them() -> None:
    """The record a regulator's ``risk.publish_rates`` leaves (contracts/risk_rates.py) is the
    one the report reads: ratios of minor units, the as-of time, the publisher, the height."""
    led = Ledger()
    as_of = led.now_ms - HOUR
    led.ok("regulator", "risk", "publish_rates", base="USD", as_of_ms=as_of,
           rates=[{"currency": "JPY", "per": 1_000_000, "base_units": 670_000}])
    stored = led.get("risk", "rates/USD")
    got = goaml.reference_rates(_reader({"/v1/state/risk/rates/USD": stored}), "USD",
                                ["USD", "JPY", "JPY"], led.now_ms)
    assert got == {"JPY": goaml.Rate("JPY", "USD", 1_000_000, 670_000, as_of,
                                     led.pk("regulator"), stored["JPY"]["height"])}


def test_the_checks_read_the_foreign_currency_elements() -> None:
    good = _report(_reader(_values()))
    assert goaml.check_report(good) == []
    bad = good.replace(b"<foreign_amount>9.00</foreign_amount>",
                       b"<foreign_amount>9,00</foreign_amount>", 1)
    assert goaml.check_report(bad) == [
        "report/transaction/t_from_my_client/from_foreign_currency/foreign_amount: '9,00' is "
        "not a valid dec"]
    bad = good.replace(b"<foreign_currency_code>EUR</foreign_currency_code>",
                       b"<foreign_currency_code>USD</foreign_currency_code>", 1)
    assert goaml.check_report(bad) == [
        "report/transaction[1]/t_from_my_client/from_foreign_currency: USD is the report's "
        "local currency, not a foreign one"]
    bad = good.replace(b"<foreign_currency_code>EUR</foreign_currency_code>", b"", 1)
    assert goaml.check_report(bad) == [
        "report/transaction/t_from_my_client/from_foreign_currency: foreign_currency_code is "
        "missing"]
    # misplaced: after the party, where goAML's sequence has none
    r = ET.fromstring(good)
    side = r.find("transaction/t_to")
    assert side is not None
    fc = side.find("to_foreign_currency")
    assert fc is not None
    side.remove(fc)
    side.insert(2, fc)
    problems = goaml.check_report(ET.tostring(r))
    assert problems == ["report/transaction/t_to: to_country is missing",
                        "report/transaction/t_to: unexpected element to_foreign_currency (out "
                        "of order, repeated or unknown)"]


#: the SHA-256 of the single-currency report below as the code before decisions 252-255 wrote
#: it (chainfin/goaml.py at 780cc2b): a report all in its local currency is unchanged
PINNED = "b59afc7ec33ca274192a6dfbb0413e2b6054aa6b17bc6626bc9ff9e9f922ad7c"


def _single(filer: goaml.Filer, rates: dict[str, goaml.Rate] | None = None) -> bytes:
    p = goaml.Party(CUST, "Cust GmbH", True, "DEUTDEFFXXX", "Deutsche Bank", "DE")
    q = goaml.Party(OTHER, "Other Ltd", False, None, None, None)
    txs = [goaml.LedgerTx(T_EUR, T0, 950, "USD", p, q, [], None, [f"{T_USD}-0"]),
           goaml.LedgerTx(T_USD, T0 + 2_000, 1_001, "USD", p, q, [f"{T_USD}-0"],
                          "limit_exceeded")]
    kw: dict[str, Any] = {} if rates is None else {"rates": rates}
    return goaml.build_report(filer, txs, {"USD": 2}, reason="r", action="a",
                              submission_ms=NOW, entity_reference="ref", home_country="US",
                              **kw)


def test_a_single_currency_report_is_byte_identical_to_before() -> None:
    plain = goaml.Filer(rentity_id=4711, reporting_person=FILER.reporting_person)
    data = _single(plain)
    assert hashlib.sha256(data).hexdigest() == PINNED
    assert _single(FILER) == data  # USD configured as the local currency: the same bytes
    assert _single(FILER, {"EUR": goaml.Rate("EUR", "USD", 1, 1, AS_OF)}) == data
    assert b"foreign" not in data and goaml.check_report(data) == []


# ---------------------------------------------------------------------------- end to end


async def test_alerts_str_reports_a_pattern_across_currencies_on_a_live_ledger(
        desk: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``chainfin alerts str`` on the in-process cluster: the regulator publishes EUR and JPY
    against USD, caps ``c_own`` at USD 10.00 a payment in every currency (decision 187); EUR
    9.00, JPY 1,450 and USD 9.90 are one pattern (decision 206), one report in USD. Without
    a JPY rate the same command refuses, naming JPY, and writes nothing."""
    d = desk
    await customer(d, ())  # registered, no per-currency cap
    for ccy, exp in (("JPY", 0), ("EUR", 2)):
        await d.govern("add_currency", {"code": ccy, "exponent": exp,
                                        "issuer": pk(d, "usd_issuer")})
    for ccy in ("USD", "EUR", "JPY"):
        out = await d.commit(d.tx("usd_issuer", "settlement", "issue", {
            "currency": ccy, "to": pk(d, "c_own"), "amount": 100_000}))
        assert out["status"] == "committed", out
    out = await d.commit(d.tx("auditor", "risk", "publish_rates", {"base": "USD", "rates": [
        {"currency": "EUR", "per": 10_000, "base_units": 10_853},
        {"currency": "JPY", "per": 10_000, "base_units": 6_712}]}))
    assert out["status"] == "committed", out
    out = await d.commit(d.tx("auditor", "risk", "set_limit", {
        "subject": pk(d, "c_own"), "kind": "max_per_tx", "currency": "USD", "max": 1_000,
        "base": True, "rule_id": "cap_base"}))
    assert out["status"] == "committed", out
    pattern = [await pay(d, ccy, amount) for ccy, amount in (("EUR", 900), ("JPY", 1_450),
                                                             ("USD", 990))]
    assert [p["status"] for p in pattern] == ["committed"] * 3, pattern
    alert = next(a for a in await alerts_of(d, pattern[2]["tx_id"]))
    base = str(d.http.make_url("")).rstrip("/")
    key = key_file(d.ids["bank_a"], tmp_path)
    path = tmp_path / "str.xml"
    argv = ["alerts", "str", alert, "--node", base, "--key", key, "--out", str(path),
            "--config", config(tmp_path), "--currency-local", "USD"]
    assert await asyncio.to_thread(run, argv) == 0
    err = capsys.readouterr().err
    assert "EUR converted to USD at the ledger's reference rate EUR 10000 = USD 10853" in err
    r = ET.fromstring(path.read_bytes())
    assert goaml.check_report(path.read_bytes()) == []
    assert r.findtext("currency_code_local") == "USD"
    txs = r.findall("transaction")
    assert [t.findtext("transactionnumber") for t in txs] == [p["tx_id"][:50] for p in pattern]
    assert [t.findtext("amount_local") for t in txs] == ["9.77", "9.73", "9.90"]
    assert [(t.findtext("t_from_my_client/from_foreign_currency/foreign_currency_code"),
             t.findtext("t_from_my_client/from_foreign_currency/foreign_amount"),
             t.findtext("t_to/to_foreign_currency/foreign_amount")) for t in txs] == [
        ("EUR", "9.00", "9.00"), ("JPY", "1450", "1450"), (None, None, None)]
    assert "at the ledger's reference rate JPY 10000 = USD 6712" in txs[1].findtext(
        "comments", "")

    # a bank whose local currency is EUR: the regulator publishes against USD only, so the
    # ledger has no rate of JPY (nor USD) against EUR, and no rate is derived through USD
    st, doc = await get_as(d, "bank_a", "/v1/state/risk/rates/EUR")
    assert st == 404, doc
    capsys.readouterr()
    refused = tmp_path / "refused.xml"
    argv = ["alerts", "str", alert, "--node", base, "--key", key, "--out", str(refused),
            "--config", config(tmp_path), "--currency-local", "EUR"]
    assert await asyncio.to_thread(run, argv) == 1
    assert "the ledger holds no reference rate of JPY against EUR" in capsys.readouterr().err
    assert not refused.exists()


def test_every_alert_rule_has_words_in_a_report() -> None:
    """A report's default reason says each alert's rule in words: three rules (two of the
    trade desk's, and decision 277's `watched_bank_customer`) came out as bare rule names."""
    from chainfin import goaml
    from contracts import risk

    assert set(risk.ALERT_RULES) <= set(goaml.RULE_WORDS)
