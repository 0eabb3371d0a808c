"""``chainfin risk goods set | remove | list`` (chainfin/cli_goods.py) against an in-process
cluster: a regulator lists and removes HS code prefixes, for every destination or some; a bank
cannot; a malformed prefix or country is refused before anything is signed, an unassigned
country by the ledger; any identity reads the list back (the rules themselves:
tests/unit/test_goods_controls.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import Desk, key_file
from tests.unit.test_swift_mt700 import _chainfin


def _url(d: Desk) -> str:
    return str(d.http.make_url("")).rstrip("/")


async def _goods(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    rc, out, err = await _chainfin(capsys, "risk", "goods", *argv)
    return rc, (json.loads(out) if out.strip() else None), err


async def test_a_regulator_sets_lists_and_removes_goods_controls(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d, url = desk, _url(desk)
    regulator = key_file(d.ids["auditor"], tmp_path)  # the trade genesis's regulator
    bank = key_file(d.ids["bank_a"], tmp_path)
    exporter = key_file(d.ids["exporter"], tmp_path)

    rc, out, _ = await _goods(capsys, "set", "--node", url, "--key", bank, "--code", "8542",
                              "--level", "refuse", "--reason", "x")
    assert rc == 1 and out["error"]["code"] == "forbidden"
    for bad in (["--code", "854"], ["--code", "8542.31"], ["--code", "8542", "--to", "RU,UK"],
                ["--code", "8542", "--to", ","]):
        rc, out, err = await _goods(capsys, "set", "--node", url, "--key", regulator,
                                    "--level", "refuse", "--reason", "x", *bad)
        assert rc == 2 and out is None and err, bad  # refused before anything is signed
    rc, out, _ = await _goods(capsys, "set", "--node", url, "--key", regulator, "--code", "8542",
                              "--level", "refuse", "--to", "ZZ", "--reason", "x")
    assert rc == 1 and out["error"]["code"] == "bad_jurisdiction"  # the ledger's table

    rc, out, _ = await _goods(capsys, "set", "--node", url, "--key", regulator, "--code", "8542",
                              "--level", "refuse", "--to", "ru, BY", "--reason",
                              "EU Reg. 833/2014 Art. 2a", "--dry-run")
    assert rc == 0 and out == {"status": "dry_run", "method": "set_goods_control", "args": {
        "code": "8542", "reason": "EU Reg. 833/2014 Art. 2a", "level": "refuse",
        "to": ["BY", "RU"]}}
    rc, out, err = await _goods(capsys, "set", "--node", url, "--key", regulator, "--code",
                                "8542", "--level", "refuse", "--to", "RU,BY", "--reason",
                                "EU Reg. 833/2014 Art. 2a")
    assert rc == 0 and out["status"] == "committed", (out, err)
    assert out["result"] == {"code": "8542", "level": "refuse", "to": ["BY", "RU"],
                             "previous": None}
    for code, level in (("8542", "monitor"), ("93", "refuse")):
        rc, out, _ = await _goods(capsys, "set", "--node", url, "--key", regulator, "--code",
                                  code, "--level", level, "--reason", "listed")
        assert rc == 0, out

    rc, out, _ = await _goods(capsys, "list", "--node", url, "--key", regulator)
    assert rc == 0 and [(r["code"], r["level"], r["to"]) for r in out["goods_controls"]] == [
        ("8542", "refuse", ["BY", "RU"]), ("8542", "monitor", []), ("93", "refuse", [])]
    assert out["goods_controls"][0]["reason"] == "EU Reg. 833/2014 Art. 2a"
    rc, out, _ = await _goods(capsys, "list", "--node", url, "--key", regulator,
                              "--level", "monitor")
    assert [r["code"] for r in out["goods_controls"]] == ["8542"]
    # any identity reads the list (it is published law): an exporter sees what its goods meet
    rc, out, _ = await _goods(capsys, "list", "--node", url, "--key", exporter, "--code", "93")
    assert rc == 0 and out["count"] == 1 and out["goods_controls"][0]["level"] == "refuse"

    rc, out, _ = await _goods(capsys, "remove", "--node", url, "--key", regulator, "--code",
                              "8542", "--level", "monitor", "--reason", "delisted")
    assert rc == 0 and out["result"] == {"code": "8542", "removed": ["monitor"]}
    rc, out, _ = await _goods(capsys, "remove", "--node", url, "--key", regulator, "--code",
                              "93", "--reason", "embargo lifted")
    assert rc == 0 and out["result"] == {"code": "93", "removed": ["refuse"]}
    rc, out, _ = await _goods(capsys, "remove", "--node", url, "--key", regulator, "--code",
                              "93", "--reason", "again")
    assert rc == 1 and out["error"]["code"] == "unknown_goods_control"
    rc, out, _ = await _goods(capsys, "list", "--node", url, "--key", regulator)
    assert [(r["code"], r["level"]) for r in out["goods_controls"]] == [("8542", "refuse")]
