"""``chainfin risk jurisdictions set | remove | list`` (chainfin/cli_jurisdictions.py) against an
in-process cluster: a regulator lists and removes a country; a bank cannot; a malformed code is
refused before anything is signed, an unassigned one by the ledger; the list reads back
(decision 149; the rules themselves: tests/unit/test_contract_risk_jurisdictions.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin


def _url(d: Desk) -> str:
    return str(d.http.make_url("")).rstrip("/")


async def _jur(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    rc, out, err = await _chainfin(capsys, "risk", "jurisdictions", *argv)
    return rc, (json.loads(out) if out.strip() else None), err


async def test_a_regulator_sets_lists_and_removes_a_jurisdiction(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, _url(desk)
    regulator = key_file(d.ids["auditor"], tmp_path)  # the trade genesis's regulator
    bank = key_file(d.ids["bank_a"], tmp_path)

    rc, out, _ = await _jur(capsys, "set", "--node", url, "--key", bank, "--code", "IR",
                            "--level", "refuse")
    assert rc == 1 and out["error"]["code"] == "forbidden"
    rc, out, err = await _jur(capsys, "set", "--node", url, "--key", regulator, "--code", "UK",
                              "--level", "refuse")
    assert rc == 2 and out is None and "GB" in err  # refused before anything is signed
    rc, out, _ = await _jur(capsys, "set", "--node", url, "--key", regulator, "--code", "ZZ",
                            "--level", "refuse")
    assert rc == 1 and out["error"]["code"] == "bad_jurisdiction"  # the ledger's table

    rc, out, err = await _jur(capsys, "set", "--node", url, "--key", regulator, "--code", "ir",
                              "--level", "refuse", "--reason", "FATF call for action")
    assert rc == 0 and out["status"] == "committed", (out, err)
    assert out["result"] == {"code": "IR", "level": "refuse", "previous": None}
    rc, out, _ = await _jur(capsys, "set", "--node", url, "--key", regulator, "--code", "MM",
                            "--level", "monitor")
    assert rc == 0

    rc, out, _ = await _jur(capsys, "list", "--node", url, "--key", regulator)
    assert rc == 0 and [(r["code"], r["level"]) for r in out["jurisdictions"]] == [
        ("IR", "refuse"), ("MM", "monitor")]
    rc, out, _ = await _jur(capsys, "list", "--node", url, "--key", regulator,
                            "--level", "monitor")
    assert [r["code"] for r in out["jurisdictions"]] == ["MM"]
    # any identity reads the list (network data): an exporter sees what its payments meet
    exporter = key_file(d.ids["exporter"], tmp_path)
    rc, out, _ = await _jur(capsys, "list", "--node", url, "--key", exporter)
    assert rc == 0 and [r["code"] for r in out["jurisdictions"]] == ["IR", "MM"], out

    rc, out, _ = await _jur(capsys, "remove", "--node", url, "--key", regulator, "--code", "IR",
                            "--reason", "delisted")
    assert rc == 0 and out["result"] == {"code": "IR", "removed": "refuse"}
    rc, out, _ = await _jur(capsys, "remove", "--node", url, "--key", regulator, "--code", "IR",
                            "--reason", "again")
    assert rc == 1 and out["error"]["code"] == "unknown_jurisdiction"
    rc, out, _ = await _jur(capsys, "list", "--node", url, "--key", regulator)
    assert [r["code"] for r in out["jurisdictions"]] == ["MM"]
