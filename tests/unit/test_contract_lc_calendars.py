"""Banking calendars on the ledger (decision 142): a regulator publishes a place's non-banking
days for a year; an LC's examination period counts the banking days of its issuing bank's
place (UCP 600 art. 2, 14 b), its expiry date is extended past the days that bank is closed
(art. 29 a), and a deadline once recorded does not move.

Every ledger here executes through ``chainfin.execution.execute_block`` as a node does
(:class:`contracts.testing.Ledger`). The cast's banks carry no BIC (``BANK_C``): they have no
place until a regulator links them to a calendar. Genesis block time is 2025-11-26, so years
2024 to 2030 may be published."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli
from chainfin import cli_calendar as cc
from chainfin.errors import ChainfinError
from contracts import governance as gov
from contracts.testing import Ledger
from contracts.trade.state import (
    DAY_MS,
    MAX_SCAN_DAYS,
    BankingDays,
    end_of_day_ms,
    examination_deadline_ms,
    extended_expiry_ms,
    last_day,
)
from contracts.trade.view import render, trade_report
from tests.unit.test_contract_lc_deadlines import at, day, presented
from tests.unit.test_contract_trade_documents_lifecycle import issue
from tests.unit.trade_cases import (
    INVOICE_AMOUNT,
    T,
    open_trade,
    refused,
    state_without_receipts,
    trade_ledger,
)

G = "governance"
CHRISTMAS_GB_2025 = ["2025-12-25", "2025-12-26"]


@pytest.fixture
def L() -> Ledger:
    return trade_ledger()


def publish(led: Ledger, cal: str, year: int, holidays: list[str], weekend: list[int] | None = None,
            who: str = "regulator") -> dict[str, Any]:
    args: dict[str, Any] = {"calendar": cal, "year": year, "holidays": holidays}
    if weekend is not None:
        args["weekend"] = weekend
    return led.ok(who, G, "set_calendar", **args)


def gov_refused(led: Ledger, code: str, who: str, method: str, /, **args: Any) -> None:
    """The governance transaction is rejected with ``code`` and changes no state but the
    record of its nonce."""
    before = state_without_receipts(led)
    led.fails(code, who, G, method, **args)
    assert state_without_receipts(led) == before


def link(led: Ledger, bank: str, cal: str | None) -> dict[str, Any]:
    args = {"bank": led.pk(bank), **({"calendar": cal} if cal else {})}
    return led.ok("regulator", G, "set_bank_calendar", **args)


def gb(led: Ledger, *years: int) -> None:
    """GB's Christmas 2025 (and New Year 2026 if 2026 is asked), bank C's place GB."""
    if 2025 in years:
        publish(led, "GB", 2025, CHRISTMAS_GB_2025)
    if 2026 in years:
        publish(led, "GB", 2026, ["2026-01-01", "2026-04-03", "2026-04-06"])
    link(led, "bank_c", "GB")


def deadline_of(led: Ledger, ids: dict[str, Any]) -> str:
    return last_day(led.get(T, "pres/" + ids["presentation"])["examination_deadline_ms"])


# ---------------------------------------------------------------------------- the count


@pytest.mark.parametrize(("presented_on", "last"), [
    ("2025-12-18", "2025-12-29"),  # Thu: Fri 19, Mon 22, Tue 23, Wed 24, (25, 26, w/e) Mon 29
    ("2025-12-19", "2025-12-30"),  # Fri: weekend, three days, two holidays, weekend, two days
    ("2025-12-24", "2026-01-05"),  # Wed: 29, 30, 31, (New Year 2026), Fri 2, Mon 5
    ("2025-12-25", "2026-01-05"),  # on a holiday: the day of presentation is no banking day
    ("2026-04-02", "2026-04-13"),  # Thu before Easter: Good Friday, weekend, Easter Monday
])
def test_the_deadline_counts_the_holidays_of_the_issuing_banks_place(
        L: Ledger, presented_on: str, last: str) -> None:
    gb(L, 2025, 2026)
    ids = presented(L, day(presented_on) + 10 * 3600_000, expiry_date="2026-06-30")
    assert deadline_of(L, ids) == last
    assert ids["presented"]["examine_by"] == last
    rec = L.get(T, "pres/" + ids["presentation"])
    assert (rec["calendar"], rec["weekends_only"]) == ("GB", False)
    assert ids["presented"]["calendar"] == "GB"
    assert L.last is not None and L.last.events[-1].data["calendar"] == "GB"


def test_without_a_place_the_deadline_is_counted_monday_to_friday_as_before(L: Ledger) -> None:
    publish(L, "GB", 2025, CHRISTMAS_GB_2025)  # published, but bank C is not linked to it
    ids = presented(L, day("2025-12-18"))
    assert deadline_of(L, ids) == "2025-12-25"
    rec = L.get(T, "pres/" + ids["presentation"])
    assert (rec["calendar"], rec["weekends_only"]) == (None, True)


@pytest.mark.parametrize(("presented_on", "last"), [
    ("2025-12-04", "2025-12-11"),  # Thu: Sun 7 .. Thu 11 (Sat-Sun: Fri 5 .. Thu 11 as well)
    ("2025-12-05", "2025-12-11"),  # Fri, a weekend day: Sun 7 .. Thu 11 (Sat-Sun: Fri 12)
    ("2025-12-07", "2025-12-14"),  # Sun, a banking day: Mon 8 .. Thu 11, Sun 14 (Sat-Sun: 12)
])
def test_a_friday_saturday_weekend(L: Ledger, presented_on: str, last: str) -> None:
    publish(L, "SA", 2025, [], weekend=[5, 6])
    link(L, "bank_c", "SA")
    ids = presented(L, day(presented_on) + 3600_000)
    assert deadline_of(L, ids) == last
    assert L.get(T, "pres/" + ids["presentation"])["weekends_only"] is False


def test_a_year_with_no_list_counts_the_calendars_weekend_and_says_so(L: Ledger) -> None:
    publish(L, "SA", 2025, [], weekend=[5, 6])
    link(L, "bank_c", "SA")
    # Thu 25 Dec 2025: Sun 28, Mon 29, Tue 30, Wed 31, Thu 1 Jan 2026 (no 2026 list: Fri-Sat)
    ids = presented(L, day("2025-12-25"))
    assert deadline_of(L, ids) == "2026-01-01"
    rec = L.get(T, "pres/" + ids["presentation"])
    assert (rec["calendar"], rec["weekends_only"]) == ("SA", True)


def test_a_place_with_no_published_year_counts_saturday_and_sunday() -> None:
    led = trade_ledger()
    days = BankingDays(led.state, "FR")
    deadline = examination_deadline_ms(day("2025-12-24"), days)
    assert last_day(deadline) == "2025-12-31" and days.weekends_only


def test_the_longest_closure_a_calendar_can_publish_ends_within_the_bound(L: Ledger) -> None:
    # a three-day weekend and 64 holidays covering every other day for 16 weeks
    weekdays = [d for d in range(day("2026-01-05") // DAY_MS, day("2026-04-27") // DAY_MS)
                if (d + 3) % 7 < 4]  # Monday to Thursday
    assert len(weekdays) == gov.MAX_HOLIDAYS
    holidays = [last_day((d + 1) * DAY_MS) for d in weekdays]
    publish(L, "XX", 2026, holidays, weekend=[5, 6, 7])
    days = BankingDays(L.state, "XX")
    # presented Fri 2 Jan: closed through Sun 26 Apr; then Mon 27 .. Thu 30, Mon 4 May
    assert last_day(examination_deadline_ms(day("2026-01-02"), days)) == "2026-05-04"


def test_a_count_stops_at_the_bound_whatever_it_is_given() -> None:
    class Closed(BankingDays):
        def is_banking_day(self, day: int) -> bool:
            return False

    never = Closed(None, None)
    start = day("2026-01-01")
    assert examination_deadline_ms(start, never) == start + (MAX_SCAN_DAYS + 1) * DAY_MS
    assert extended_expiry_ms("2026-01-01", never) == start + (MAX_SCAN_DAYS + 1) * DAY_MS


# ---------------------------------------------------------------------------- deadlines stay


def test_a_calendar_published_after_the_presentation_does_not_move_its_deadline(
        L: Ledger) -> None:
    gb(L, 2025)  # 2026 not yet published: New Year's Day counts as a banking day
    ids = presented(L, day("2025-12-24"))
    assert deadline_of(L, ids) == "2026-01-02"
    assert L.get(T, "pres/" + ids["presentation"])["weekends_only"] is True
    publish(L, "GB", 2026, ["2026-01-01", "2026-01-02"])
    publish(L, "GB", 2025, [])  # and Christmas withdrawn: nothing recorded moves either way
    assert deadline_of(L, ids) == "2026-01-02"
    at(L, end_of_day_ms("2026-01-02"))
    r = refused(L, "refusal_too_late", "bank_c", "refuse_presentation",
                presentation_id=ids["presentation"], discrepancies=["other"])
    assert "2026-01-02" in (r.error_message or "") and "calendar GB (weekends only)" in (
        r.error_message or "")
    assert L.ok("exporter", T, "claim_honour",
                presentation_id=ids["presentation"])["status"] == "paid"


def test_a_presentation_after_the_list_is_published_counts_with_it(L: Ledger) -> None:
    gb(L, 2025)
    publish(L, "GB", 2026, ["2026-01-01"])
    ids = presented(L, day("2025-12-24"))
    assert deadline_of(L, ids) == "2026-01-05"
    at(L, end_of_day_ms("2026-01-05") - 2000)
    r = refused(L, "not_due", "exporter", "claim_honour", presentation_id=ids["presentation"])
    assert "2026-01-05 (UTC, calendar GB)" in (r.error_message or "")
    L.ok("bank_c", T, "refuse_presentation", presentation_id=ids["presentation"],
         discrepancies=["other"])  # a second later: Monday 5 January is the bank's still


# ---------------------------------------------------------------------------- art. 29 a


def _expiring(led: Ledger, expiry: str) -> tuple[dict[str, str], str]:
    ids = open_trade(led)
    return ids, issue(led, ids["trade"], expiry_date=expiry)


def _present(led: Ledger, ids: dict[str, str], lc: str) -> dict[str, Any]:
    return led.ok("exporter", T, "present", lc_id=lc,
                  doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=INVOICE_AMOUNT)


def test_an_expiry_date_on_a_holiday_is_extended_to_the_next_banking_day(L: Ledger) -> None:
    gb(L, 2025)
    ids, lc = _expiring(L, "2025-12-25")  # Thu, Christmas; Fri 26 Boxing Day; weekend
    at(L, end_of_day_ms("2025-12-29") - 1)  # Monday 29's last millisecond
    assert _present(L, ids, lc)["examine_by"] == "2026-01-05"
    assert L.get(T, "lc/" + lc)["expiry_date"] == "2025-12-25"  # the LC's terms as issued
    at(L, end_of_day_ms("2025-12-29"))
    r = refused(L, "lc_expired", "exporter", "present", lc_id=lc,
                doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=INVOICE_AMOUNT)
    assert "expired with 2025-12-25, extended to 2025-12-29" in (r.error_message or "")
    assert "art. 29 a" in (r.error_message or "")


def test_an_expiry_on_a_weekend_of_a_year_with_no_list_is_extended_past_the_weekend(
        L: Ledger) -> None:
    gb(L, 2025)
    ids, lc = _expiring(L, "2026-01-31")  # a Saturday; no GB list for 2026
    at(L, end_of_day_ms("2026-02-02") - 1)  # Monday's last millisecond
    _present(L, ids, lc)


def test_an_issuing_bank_with_no_place_keeps_the_expiry_date_as_written(L: Ledger) -> None:
    publish(L, "GB", 2025, CHRISTMAS_GB_2025)
    ids, lc = _expiring(L, "2025-12-25")
    at(L, end_of_day_ms("2025-12-25"))
    refused(L, "lc_expired", "exporter", "present", lc_id=lc,
            doc_ids=[ids["invoice"], ids["bill_of_lading"]], amount=INVOICE_AMOUNT)


def test_an_lc_is_live_through_its_extension_so_cancelling_needs_consent(L: Ledger) -> None:
    gb(L, 2025)
    lc = issue(L, expiry_date="2025-12-25")
    at(L, end_of_day_ms("2025-12-26"))  # Sat 27: expired as written, live by art. 29 a
    refused(L, "consent_required", "bank_c", "cancel_lc", lc_id=lc)
    at(L, end_of_day_ms("2025-12-29"))
    L.ok("bank_c", T, "cancel_lc", lc_id=lc)


def test_only_an_expiry_date_is_extended_never_a_shipment_date() -> None:
    """Art. 29 c: the latest date for shipment is not extended. The ledger carries no shipment
    date (MT700 :44C: stays in the message); the one extension, ``extended_expiry_ms``, is
    called for the LC's expiry date only, so a shipment date added later is not rolled by
    reuse."""
    root = Path(__file__).resolve().parents[2]
    callers = []
    for src in sorted((root / "contracts").rglob("*.py")):
        tree = ast.parse(src.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                for node in ast.walk(fn):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                            and node.func.id == "extended_expiry_ms"):
                        callers.append((src.name, fn.name, ast.unparse(node.args[0])))
    assert callers == [("letters_of_credit.py", "expiry_end_ms", "lc['expiry_date']")]


# ---------------------------------------------------------------------------- publishing


def test_a_regulator_publishes_a_year_and_may_replace_it(L: Ledger) -> None:
    r = publish(L, "GB", 2025, ["2025-12-26", "2025-12-25"])
    assert r == {"calendar": "GB", "year": 2025, "holidays": 2, "weekend": [6, 7], "version": 1}
    rec = L.get(G, "calendar/GB/2025")
    assert rec["holidays"] == CHRISTMAS_GB_2025 and rec["by"] == L.pk("regulator")
    assert L.last is not None and L.last.events[0].name == "calendar_set"
    assert publish(L, "GB", 2025, ["2025-12-25"])["version"] == 2
    assert L.get(G, "calendar/GB/2025")["holidays"] == ["2025-12-25"]
    # the weekend of unpublished years follows the latest year published
    publish(L, "AE", 2026, [], weekend=[6, 7])
    publish(L, "AE", 2025, [], weekend=[5, 6])  # an earlier year: the head stays 2026's
    assert L.get(G, "calendar/AE") == {"year": 2026, "weekend": [6, 7]}
    assert gov.calendar_weekend(L.state, "AE") == (6, 7)
    assert gov.calendar_weekend(L.state, "ZZ") == gov.DEFAULT_WEEKEND


@pytest.mark.parametrize("who", ["bank_a", "bank_c", "auditor", "exporter", "customs"])
def test_only_a_regulator_publishes_or_links(L: Ledger, who: str) -> None:
    gov_refused(L, "forbidden", who, "set_calendar", calendar="GB", year=2025, holidays=[])
    publish(L, "GB", 2025, [])
    gov_refused(L, "forbidden", who, "set_bank_calendar", bank=L.pk("bank_c"), calendar="GB")


@pytest.mark.parametrize(("change", "code"), [
    ({"calendar": "gb"}, "bad_calendar"),
    ({"calendar": "GBR"}, "bad_calendar"),
    ({"calendar": "G1"}, "bad_calendar"),
    ({"calendar": "DE-HESS"}, "bad_calendar"),
    ({"calendar": 44}, "bad_calendar"),
    ({"year": 2023}, "bad_year"),
    ({"year": 2031}, "bad_year"),
    ({"year": "2025"}, "bad_field"),
    ({"holidays": "2025-12-25"}, "bad_field"),
    ({"holidays": ["2025-12-32"]}, "bad_holiday"),
    ({"holidays": ["2025-02-29"]}, "bad_holiday"),
    ({"holidays": ["25-12-2025"]}, "bad_holiday"),
    ({"holidays": ["2025/12/25"]}, "bad_holiday"),
    ({"holidays": ["2025-12-25T00:00"]}, "bad_holiday"),
    ({"holidays": [" 2025-12-25"]}, "bad_holiday"),
    ({"holidays": [20251225]}, "bad_holiday"),
    ({"holidays": ["2026-01-01"]}, "bad_holiday"),  # not of the year
    ({"holidays": ["2025-12-25", "2025-12-26", "2025-12-25"]}, "duplicate_holiday"),
    ({"holidays": [f"2025-{m:02d}-{d:02d}" for m in range(1, 4) for d in range(1, 23)]},
     "too_many_holidays"),
    ({"weekend": []}, "bad_weekend"),
    ({"weekend": [0]}, "bad_weekend"),
    ({"weekend": [8]}, "bad_weekend"),
    ({"weekend": [6, 6]}, "bad_weekend"),
    ({"weekend": [4, 5, 6, 7]}, "bad_weekend"),
    ({"weekend": ["sat"]}, "bad_weekend"),
    ({"weekend": [True]}, "bad_weekend"),
    ({"extra": 1}, "unknown_field"),
])
def test_a_bad_calendar_is_refused_with_its_code(L: Ledger, change: dict[str, Any],
                                                 code: str) -> None:
    args = {"calendar": "GB", "year": 2025, "holidays": ["2025-12-25"], **change}
    gov_refused(L, code, "regulator", "set_calendar", **args)
    assert L.get(G, "calendar/GB/2025") is None


def test_the_largest_year_a_calendar_takes(L: Ledger) -> None:
    days = [f"2025-{m:02d}-{d:02d}" for m in range(1, 4) for d in range(1, 22)] + ["2025-12-25"]
    assert len(days) == gov.MAX_HOLIDAYS
    assert publish(L, "GB", 2025, days, weekend=[5, 6, 7])["holidays"] == gov.MAX_HOLIDAYS


# ---------------------------------------------------------------------------- a bank's place


def test_a_banks_place_is_its_bic_country_unless_a_regulator_links_it(L: Ledger) -> None:
    bank = L.add_identity("barclays")
    L.ok("bank_a", G, "register_identity", pubkey=bank.public_key.hex(), name="Barclays",
         role="bank", bank="BARCGB22")
    pk = bank.public_key.hex()
    assert gov.bank_calendar(L.state, pk) == "GB"
    assert gov.bank_calendar(L.state, L.pk("bank_c")) is None  # "BANK_C" is no BIC
    publish(L, "GB-SCT", 2025, ["2025-12-01"])  # St Andrew's Day (substitute)
    assert L.ok("regulator", G, "set_bank_calendar", bank=pk,
                calendar="GB-SCT")["calendar"] == "GB-SCT"
    assert gov.bank_calendar(L.state, pk) == "GB-SCT"
    assert L.ok("regulator", G, "set_bank_calendar", bank=pk)["calendar"] == "GB"
    assert L.get(G, "bank_calendar/" + pk) is None


def test_a_link_names_a_published_calendar_and_a_bank(L: Ledger) -> None:
    gov_refused(L, "unknown_calendar", "regulator", "set_bank_calendar", bank=L.pk("bank_c"),
            calendar="GB")
    publish(L, "GB", 2025, [])
    gov_refused(L, "bad_field", "regulator", "set_bank_calendar", bank=L.pk("exporter"),
            calendar="GB")
    gov_refused(L, "unknown_identity", "regulator", "set_bank_calendar", bank="ab" * 32,
            calendar="GB")
    gov_refused(L, "bad_calendar", "regulator", "set_bank_calendar", bank=L.pk("bank_c"),
            calendar="gb")
    link(L, "bank_c", "GB")


# ---------------------------------------------------------------------------- the report


def test_the_trade_view_says_how_the_deadline_was_counted(L: Ledger) -> None:
    gb(L, 2025)
    ids = presented(L, day("2025-12-24"))

    def fetch(key: str) -> object:
        return L.get(T, key)

    text = render(trade_report(fetch, ids["trade"], now_ms=L.now_ms))
    assert ("examine by 2026-01-02 [calendar GB: weekends only, no holiday list for a year "
            "of the period]") in text
    led = trade_ledger()
    gb(led, 2025, 2026)
    ids = presented(led, day("2025-12-24"))
    text = render(trade_report(lambda k: led.get(T, k), ids["trade"], now_ms=led.now_ms))
    assert "examine by 2026-01-05 [calendar GB]" in text


# ---------------------------------------------------------------------------- the CLI


def test_the_cli_mirrors_the_ledgers_limits() -> None:
    assert cc.MAX_HOLIDAYS == gov.MAX_HOLIDAYS
    assert cc.MAX_WEEKEND_DAYS == gov.MAX_WEEKEND_DAYS


def test_a_holidays_file_is_read_strictly(tmp_path: Path) -> None:
    f = tmp_path / "gb-2026.txt"
    f.write_text("# England and Wales 2026\n2026-01-01  New Year's Day\n\n2026-04-03 Good "
                 "Friday\n2026-12-25\n")
    assert cc.read_holidays(str(f), 2026) == ["2026-01-01", "2026-04-03", "2026-12-25"]
    f.write_text("2026-01-01\n01/05/2026\n2025-12-25\n2026-01-01\n2026-02-30\n")
    with pytest.raises(ChainfinError) as e:
        cc.read_holidays(str(f), 2026)
    msg = str(e.value)
    for part in ("line 2: '01/05/2026' is not a date", "line 3: 2025-12-25 is not in 2026",
                 "line 4: 2026-01-01 is listed already (line 1)", "line 5: '2026-02-30'"):
        assert part in msg
    f.write_text("".join(f"2026-{m:02d}-{d:02d}\n" for m in (1, 2, 3) for d in range(1, 23)))
    with pytest.raises(ChainfinError, match="66 holidays: at most 64"):
        cc.read_holidays(str(f), 2026)
    f.write_text("")
    assert cc.read_holidays(str(f), 2026) == []


@pytest.mark.parametrize(("text", "days"), [("sat,sun", [6, 7]), ("Fri, Sat", [5, 6]),
                                            ("7,6", [6, 7]), ("friday", [5])])
def test_a_weekend_is_named_or_numbered(text: str, days: list[int]) -> None:
    assert cc.parse_weekend(text) == days


@pytest.mark.parametrize("text", ["", "sat,sat", "mon,tue,wed,thu", "0", "caturday"])
def test_a_bad_weekend_is_refused_before_anything_is_sent(text: str) -> None:
    with pytest.raises(ChainfinError):
        cc.parse_weekend(text)


def test_calendar_set_dry_run_prints_the_transaction(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "sa.txt"
    f.write_text("2026-02-22 Founding Day\n")
    rc = cli.main(["calendar", "set", "--node", "http://127.0.0.1:1", "--key", "unused",
                   "--calendar", "SA", "--year", "2026", "--holidays", str(f), "--weekend",
                   "fri,sat", "--dry-run"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"status": "dry_run", "method": "set_calendar",
                   "args": {"calendar": "SA", "year": 2026, "holidays": ["2026-02-22"],
                            "weekend": [5, 6]}}
    # what the CLI sends, the ledger takes
    led = trade_ledger()
    led.ok("regulator", G, "set_calendar", **out["args"])
    assert cli.main(["calendar", "set", "--node", "http://127.0.0.1:1", "--key", "unused",
                     "--calendar", "sa", "--year", "2026", "--holidays", str(f),
                     "--dry-run"]) == 2
    assert cli.main(["calendar", "link", "--node", "http://127.0.0.1:1", "--key", "unused",
                     "--bank", "ab" * 32, "--dry-run"]) == 2  # neither --calendar nor --clear


@pytest.mark.parametrize(("argv", "needle"), [
    (["calendar", "show", "--calendar", "GB", "--year", "20277"],
     "'20277' is not a year written YYYY"),
    (["calendar", "set", "--calendar", "GB", "--year", "27", "--holidays", "h.txt"],
     "'27' is not a year written YYYY"),
    (["calendar", "link", "--bank", "7ce40caecb", "--calendar", "GB"],
     "'7ce40caecb' is not a public key (64 hex digits"),
])
def test_a_typo_in_a_year_or_a_bank_key_is_refused_before_anything_is_read_or_signed(
        argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`calendar show --year 20277` answered "no holiday list for 20277" as if it were a year;
    `link --bank` with a cut key reached the node. Both are usage errors (exit 2), no node
    needed (the URL is unreachable)."""
    from chainfin.cli import main

    with pytest.raises(SystemExit) as e:
        main([*argv, "--node", "http://127.0.0.1:1", "--key", "k.json"])
    assert e.value.code == 2
    assert needle in capsys.readouterr().err
