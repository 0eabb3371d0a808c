"""``chainfin risk watch add | remove | check`` (chainfin/watchlist.py): a regulator keeps the
watch list from the command line, with the consortium's fingerprint key from its file (decision
133), against an in-process cluster whose nodes loaded genesis.json and fingerprint.key from
disk. The entries it sends are the ones screening uses: a document naming a watched party is
refused, a sound-alike raises the supervisors' alert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainfin.genesis import FINGERPRINT_KEY_FILE, new_fingerprint_key, write_fingerprint_key
from chainfin.watchlist import ENTRIES_PER_TX
from contracts import risk
from tests.fixtures import Desk, key_file
from tests.node.test_fingerprint_key import keyed_desk  # noqa: F401
from tests.unit.test_swift_mt700 import _chainfin
from tests.unit.trade_cases import INVOICE, h


def _url(d: Desk) -> str:
    return str(d.http.make_url("")).rstrip("/")


async def _watch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    rc, out, err = await _chainfin(capsys, "risk", "watch", *argv)
    lines = [json.loads(ln) for ln in out.splitlines() if ln.strip()]
    return rc, (lines[0] if len(lines) == 1 else lines), err


async def test_a_regulator_watches_checks_and_removes_names(
        keyed_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    d = keyed_desk
    url, fk = _url(d), str(tmp_path / FINGERPRINT_KEY_FILE)
    regulator = key_file(d.ids["auditor"], tmp_path)  # the trade genesis's regulator
    common = ("--node", url, "--key", regulator, "--fingerprint-key", fk)

    # nothing sent on a dry run: the entries are the contract's own
    rc, out, _ = await _watch(capsys, "add", "--name", "Globex Corporation", "--dry-run", *common)
    wk = risk.watch_key(d.genesis.fingerprint_key_bytes())
    assert rc == 0 and out["status"] == "dry_run"
    assert out["digests"] == sorted(risk.watch_entries(wk, "Globex Corporation"))

    # another chain's key: refused before anything is signed
    other = tmp_path / "other.key"
    write_fingerprint_key(other, new_fingerprint_key())
    rc, out, err = await _watch(capsys, "add", "--name", "Globex Corporation", "--node", url,
                                "--key", regulator, "--fingerprint-key", str(other))
    assert rc == 2 and "does not match" in err and not out

    # a bank is no regulator: the ledger refuses, and the summary says so
    bank = key_file(d.ids["bank_a"], tmp_path)
    rc, out, _ = await _watch(capsys, "add", "--name", "Globex Corporation", "--node", url,
                              "--key", bank, "--fingerprint-key", fk)
    assert rc == 1 and out["status"] in ("rejected", "refused") and out["added"] == 0

    rc, out, err = await _watch(capsys, "add", "--name", "Globex Corporation", *common)
    assert rc == 0 and out["status"] == "committed", (out, err)
    # name, joined, sound, consonants and the near forms (decision 184)
    near = len(risk.near_kinds("Globex Corporation"))
    assert out["added"] == out["entries"] == 4 + near and "[1/1]" in err

    # screening uses them: a document naming the watched party is refused
    await d.refused("sanctioned_party", "exporter", "register", [], doc_type="invoice",
                    fields={**INVOICE, "buyer": "GLOBEX CORPORATION LTD"},
                    content_hash=h("watched"))

    rc, out, _ = await _watch(capsys, "check", "--name", "Globex Corporation",
                              "--name", "Glowbecks Corporation", "--name", "Initech",
                              "--name", "Globex Holdings", "--node", url, "--key", regulator,
                              "--fingerprint-key", fk)
    assert rc == 1
    assert [(r["name"], r["screening"]) for r in out] == [
        ("Globex Corporation", "refused"), ("Glowbecks Corporation", "possible_match"),
        ("Initech", "clear"), ("Globex Holdings", "possible_match")]  # a near form (184)

    # removal: the exact forms by default (a sound form may be another watched name's too)
    rc, out, _ = await _watch(capsys, "remove", "--name", "Globex Corporation", "--reason",
                              "delisted 2026-12-07 (OFAC)", *common)
    assert rc == 0 and out["removed"] == 2
    rc, out, _ = await _watch(capsys, "check", "--name", "Globex Corporation", "--node", url,
                              "--key", regulator, "--fingerprint-key", fk)
    assert out["screening"] == "possible_match"
    rc, out, _ = await _watch(capsys, "remove", "--name", "Globex Corporation", "--all-forms",
                              "--reason", "delisted", *common)
    assert rc == 0 and out["removed"] == 2 + near
    rc, out, _ = await _watch(capsys, "check", "--name", "Globex Corporation", "--node", url,
                              "--key", regulator, "--fingerprint-key", fk)
    assert rc == 0 and out["screening"] == "clear"


async def test_a_names_file_goes_in_several_transactions_with_progress(
        keyed_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    d = keyed_desk
    url, fk = _url(d), str(tmp_path / FINGERPRINT_KEY_FILE)
    regulator = key_file(d.ids["auditor"], tmp_path)
    names = [f"Shell Company Number {i} Holdings" for i in range(100)]
    f = tmp_path / "sdn.txt"
    f.write_text("# consolidated list, 2026-12-07\n\n" + "\n".join(names) + "\n")
    rc, out, err = await _watch(capsys, "add", "--file", str(f), "--identity",
                                d.ids["exporter2"].public_key.hex(), "--node", url, "--key",
                                regulator, "--fingerprint-key", fk)
    assert rc == 0 and out["subjects"] == 101, err
    assert out["transactions"] == -(-out["entries"] // ENTRIES_PER_TX) >= 2
    assert out["added"] == out["entries"] and f"[{out['transactions']}/" in err
    rc, res, _ = await _watch(capsys, "check", "--file", str(f), "--identity",
                              d.ids["exporter2"].public_key.hex(), "--node", url, "--key",
                              regulator, "--fingerprint-key", fk)
    assert rc == 1 and {r["screening"] for r in res} == {"refused"} and len(res) == 101
    # the same file again adds nothing new
    rc, out, _ = await _watch(capsys, "add", "--file", str(f), "--node", url, "--key",
                              regulator, "--fingerprint-key", fk)
    assert rc == 0 and out["added"] == 0


async def test_bad_input_is_refused_before_anything_is_sent(
        keyed_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    d = keyed_desk
    url, fk = _url(d), str(tmp_path / FINGERPRINT_KEY_FILE)
    regulator = key_file(d.ids["auditor"], tmp_path)
    rc, _, err = await _watch(capsys, "add", "--identity", "xyz", "--node", url, "--key",
                              regulator, "--fingerprint-key", fk)
    assert rc == 2 and "is not a public key" in err
    rc, _, err = await _watch(capsys, "add", "--node", url, "--key", regulator,
                              "--fingerprint-key", fk)
    assert rc == 2 and "nothing to do" in err
    f = tmp_path / "bad.txt"
    f.write_bytes(b"Globex\n\xff\xfe\n")
    rc, _, err = await _watch(capsys, "add", "--file", str(f), "--node", url, "--key",
                              regulator, "--fingerprint-key", fk)
    assert rc == 2 and "not UTF-8" in err
    rc, _, err = await _watch(capsys, "add", "--name", "Globex", "--node", url, "--key",
                              regulator)
    assert rc == 2 and "--fingerprint-key" in err


async def test_check_refuses_a_key_that_may_not_read_the_list_instead_of_saying_clear(
        keyed_desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """The node answers a non-supervisor's read of ``risk/watch/…`` 404, like a missing entry:
    ``check`` with an exporter's or a bank's key said ``clear`` (exit 0) of a watched name."""
    d = keyed_desk
    url, fk = _url(d), str(tmp_path / FINGERPRINT_KEY_FILE)
    regulator = key_file(d.ids["auditor"], tmp_path)
    rc, out, err = await _watch(capsys, "add", "--name", "Globex Corporation", "--node", url,
                                "--key", regulator, "--fingerprint-key", fk)
    assert rc == 0 and out["status"] == "committed", err
    for who in ("exporter", "bank_a"):
        rc, out, err = await _watch(capsys, "check", "--name", "Globex Corporation", "--node",
                                    url, "--key", key_file(d.ids[who], tmp_path),
                                    "--fingerprint-key", fk)
        assert rc == 2 and not out, (who, out)
        assert "only a regulator's or an auditor's key reads the watch list" in err
    rc, out, _ = await _watch(capsys, "check", "--name", "Globex Corporation", "--node", url,
                              "--key", regulator, "--fingerprint-key", fk)
    assert rc == 1 and out["screening"] == "refused"
