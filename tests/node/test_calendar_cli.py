"""``chainfin calendar set | link | show`` (chainfin/cli_calendar.py) against an in-process
cluster: a regulator publishes a place's holidays for a year and links a bank to it; a bank
cannot; any identity reads the calendar (governance records are network data, node/access.py).
What the deadlines do with it: tests/unit/test_contract_lc_calendars.py (decision 142)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin


def _url(d: Desk) -> str:
    return str(d.http.make_url("")).rstrip("/")


async def _calendar(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    rc, out, err = await _chainfin(capsys, "calendar", *argv)
    return rc, (json.loads(out) if out.strip() else None), err


async def test_a_regulator_publishes_and_links_and_anyone_reads(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, _url(desk)
    regulator = key_file(d.ids["auditor"], tmp_path)  # the trade genesis's regulator
    bank = key_file(d.ids["bank_a"], tmp_path)
    exporter = key_file(d.ids["exporter"], tmp_path)
    year = datetime.datetime.now(datetime.UTC).year + 1  # block time is the nodes' clock
    holidays = tmp_path / "gb.txt"
    holidays.write_text(f"# England\n{year}-12-25 Christmas Day\n{year}-12-28 Boxing Day "
                        "(substitute)\n")

    rc, out, _ = await _calendar(capsys, "show", "--node", url, "--key", exporter,
                                 "--calendar", "GB")
    assert rc == 0 and out["published"] is False and out["latest_year"] is None

    rc, out, _ = await _calendar(capsys, "set", "--node", url, "--key", bank, "--calendar", "GB",
                                 "--year", str(year), "--holidays", str(holidays))
    assert rc == 1 and out["status"] in ("rejected", "refused")
    assert out["error"]["code"] == "forbidden"

    rc, out, err = await _calendar(capsys, "set", "--node", url, "--key", regulator,
                                   "--calendar", "GB", "--year", str(year), "--holidays",
                                   str(holidays))
    assert rc == 0 and out["status"] == "committed", (out, err)
    assert out["result"] == {"calendar": "GB", "year": year, "holidays": 2, "weekend": [6, 7],
                             "version": 1}

    # a file the ledger would refuse is refused before anything is signed
    holidays.write_text(f"{year}-12-25\n{year + 1}-01-01\n")
    rc, out, err = await _calendar(capsys, "set", "--node", url, "--key", regulator,
                                   "--calendar", "GB", "--year", str(year), "--holidays",
                                   str(holidays))
    assert rc == 2 and out is None and f"line 2: {year + 1}-01-01 is not in {year}" in err

    for reader in (exporter, bank):  # network data: any identity reads it
        rc, out, _ = await _calendar(capsys, "show", "--node", url, "--key", reader,
                                     "--calendar", "GB")
        assert rc == 0 and out["published"] is True and out["year"] == year
        assert out["holidays"] == [f"{year}-12-25", f"{year}-12-28"]
        assert out["weekend"] == [6, 7] and out["version"] == 1
    rc, out, _ = await _calendar(capsys, "show", "--node", url, "--key", exporter,
                                 "--calendar", "GB", "--year", str(year + 1))
    assert rc == 0 and out["published"] is False and "weekend only" in out["note"]

    bank_c = d.ids["bank_c"].public_key.hex()
    rc, out, _ = await _calendar(capsys, "link", "--node", url, "--key", regulator,
                                 "--bank", bank_c, "--calendar", "GB")
    assert rc == 0 and out["result"] == {"bank": bank_c, "calendar": "GB"}
    rc, out, _ = await _calendar(capsys, "link", "--node", url, "--key", regulator,
                                 "--bank", bank_c, "--calendar", "FR")
    assert rc == 1 and out["error"]["code"] == "unknown_calendar"
