"""``chainfin verify --report FILE --record CASE`` as an auditor reads it (walk-through
2026-12-07e, "An auditor checks the STR's seal"; decision 282): the verdict first — does the
file match, which record, at which height and time, signed by which validators, against which
genesis —, the reviewing bank by its genesis name, and the sealed boxes (about 2 KB of hex)
shortened unless ``--verbose``. Before, the proof's lines and the whole boxes came first and the
seal's verdict last, the bank named by its key. Real in-process nodes (the ``desk`` fixture)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.fixtures import Desk, key_file
from tests.node.test_walkthrough_s38_audit import _chainfin, _genesis
from tests.unit.test_goaml import alerts_of, config, customer, pay


async def test_the_seal_verdict_comes_first_and_the_sealed_boxes_only_with_verbose(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await customer(d)
    for amount in (950, 960):
        assert (await pay(d, "USD", amount))["status"] == "committed"
    alert = (await alerts_of(d, (await pay(d, "USD", 990))["tx_id"]))[0]
    url = str(d.http.make_url("")).rstrip("/")
    bank, auditor = key_file(d.ids["bank_a"], tmp_path), key_file(d.ids["auditor"], tmp_path)
    note, report, case = tmp_path / "note.txt", tmp_path / "str.xml", tmp_path / "case.json"
    note.write_text("three payments just under the cap")
    rc, _, err = await _chainfin(capsys, "alerts", "str", alert, "--node", url, "--key", bank,
                                 "--out", str(report), "--config", config(tmp_path),
                                 "--review", "--note", str(note))
    assert rc == 0, err
    rc, out, err = await _chainfin(capsys, "alerts", "case", "--node", url, "--key", bank,
                                   "--alert", alert, "--json")
    assert rc == 0, err
    case.write_text(out)
    proof = tmp_path / "review.json"
    rc, _, err = await _chainfin(capsys, "proof", "state", "--node", url, "--identity", auditor,
                                 "--contract", "risk", "--key", f"review/{alert}/0",
                                 "--out", str(proof))
    assert rc == 0, err
    genesis = _genesis(d, tmp_path)
    doc = json.loads(proof.read_text())
    height = doc["block"]["header"]["height"]
    seal = ("--report", str(report), "--record", str(case))

    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof), *seal)
    assert rc == 0, err
    lines = out.splitlines()
    # the verdict first (before: "VALID state proof", the value with its boxes, ... and the
    # seal's lines last)
    assert lines[0].startswith("SEAL MATCHES"), out
    by = d.ids["bank_a"].public_key.hex()
    name = next(i.name for i in d.genesis.identities if i.public_key == by)
    assert lines[2].startswith(f"sealed by:      review 0 of alert {alert}: disposition "
                               "reported, recorded at height "), lines[2]
    assert lines[2].endswith(f"Z) by {name} ({by[:16]}…)"), lines[2]  # before: the key whole
    assert lines[4].startswith(f"proven by:      a state proof of risk/review/{alert}/0 in the "
                               f"block at height {height} ("), lines[4]
    signers = re.findall(r"\(([^()]*)\)$", lines[4])[0].split(", ")
    assert len(signers) >= 3 and lines[4].endswith(f"validators ({', '.join(signers)})")
    assert set(signers) <= {v.name for v in d.genesis.validators}, signers
    assert lines[5] == (f"against:        genesis {d.genesis.hash().hex()} ({genesis}), chain "
                        f"{d.genesis.chain_id}")
    assert lines.index("VALID state proof") > 5
    # the sealed boxes: shortened, said so; the value line still JSON
    assert not re.search(r"[0-9a-f]{129}", out), "a sealed box printed whole"
    value = json.loads(out.split("value:", 1)[1].split("\n", 1)[0])
    assert all(re.fullmatch(r"[0-9a-f]{16}\.\.\. \(\d+ bytes\)", box)
               for box in value["sealed"].values()), value
    assert "--verbose prints them whole" in out
    # --verbose: the boxes whole, as the proof carries them
    rc, out, err = await _chainfin(capsys, "verify", "--genesis", genesis, str(proof), *seal,
                                   "--verbose")
    assert rc == 0, err
    value = json.loads(out.split("value:", 1)[1].split("\n", 1)[0])
    assert value["sealed"] == doc["value"]["sealed"]
    assert "shortened:" not in out and out.startswith("SEAL MATCHES")
