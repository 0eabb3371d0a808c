"""``chainfin credit publish | correct | open`` through a real in-process node: a bank publishes
a record from a file (sealed to itself and the regulators, nobody else), the subject's consent
lets another bank ask, the publisher's delivery is opened by the asking bank and checked
against the commitment, and a correction from a file supersedes the record (there was no
command for either: a publisher had to seal by hand in Python)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from chainfin import cli
from contracts import credit_sharing
from tests.fixtures import Desk, key_file

C = "credit_sharing"


async def test_a_bank_publishes_and_corrects_from_a_file_and_the_asker_opens_it(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    pk = {n: i.public_key.hex() for n, i in d.ids.items()}
    base = str(d.http.make_url("/")).rstrip("/")
    keys = {n: key_file(d.ids[n], tmp_path)
            for n in ("bank_a", "bank_b", "auditor", "exporter")}

    async def run(*argv: str) -> tuple[int, str]:
        code = await asyncio.to_thread(cli.main, ["credit", *argv, "--node", base])
        return code, capsys.readouterr().out

    rec = tmp_path / "rec.json"
    rec.write_bytes(b'{"rating": "BB", "late_payments_12m": 3}\n')
    code, out = await run("publish", "--subject", pk["exporter"], "--file", str(rec),
                          "--retain-days", "30", "--key", keys["bank_a"])
    assert code == 0, out
    rid = json.loads(out)["result"]["record_id"]
    status, body = await d.get(f"/v1/state/{C}/record/{rid}")
    assert status == 200, body
    st = body["value"]
    assert set(st["sealed"]) == {pk["bank_a"], pk["auditor"]}  # the publisher, the regulator
    assert st["retain_until_ms"] > 0  # decision 201: delivered 30 days
    for who in ("bank_a", "auditor"):
        code, out = await run("open", "--record", rid, "--key", keys[who])
        assert (code, out) == (0, rec.read_text()), who
    code, _ = await run("open", "--record", rid, "--key", keys["bank_b"])
    assert code == 2  # no copy for it, nor may it read the record

    out2 = await d.commit(d.tx("exporter", C, "grant_consent", {
        "bank": pk["bank_b"], "purposes": ["credit_decision"], "days": 30}))
    assert out2["status"] == "committed", out2
    code, out = await run("request", "--record", rid, "--purpose", "credit_decision",
                          "--key", keys["bank_b"])
    req_id = json.loads(out)["result"]["request_id"]
    code, _ = await run("open", "--request", req_id, "--key", keys["bank_b"])
    assert code == 2  # pending: nothing to open yet
    record, salt = credit_sharing.open_record(d.ids["bank_a"], st["sealed"])
    out2 = await d.commit(d.tx("bank_a", C, "deliver", {
        "request_id": req_id, "sealed": credit_sharing.seal_record(record, salt,
                                                                   [pk["bank_b"]])}))
    assert out2["status"] == "committed", out2
    code, out = await run("open", "--request", req_id, "--key", keys["bank_b"])
    assert (code, out) == (0, rec.read_text())

    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(b'{"rating": "BBB", "late_payments_12m": 0}')
    code, out = await run("correct", "--record", rid, "--file", str(fixed),
                          "--key", keys["bank_a"])
    assert code == 0, out
    res = json.loads(out)["result"]
    assert res["supersedes"] == rid and res["version"] == 2
    # decision 200: the bank the old version was delivered to is told, and only it
    assert res["notices"] == {"sent": 1, "pending": 0}
    code, out = await run("notices", "--key", keys["bank_b"])
    (note,) = json.loads(out)["notices"]
    assert code == 0 and (note["record_id"], note["correction"]) == (rid, res["record_id"])
    code, out = await run("notices", "--key", key_file(d.ids["bank_c"], tmp_path))
    assert code == 0 and json.loads(out)["notices"] == []
    code, out = await run("notify", "--record", rid, "--key", keys["exporter"])
    assert code == 1 and json.loads(out)["error"]["code"] == "no_pending_notices"
    code, out = await run("open", "--record", res["record_id"], "--key", keys["auditor"])
    assert (code, out) == (0, fixed.read_text() + "\n")
    code, out = await run("correct", "--record", rid, "--file", str(fixed),
                          "--key", keys["bank_a"])
    assert code == 1 and json.loads(out)["error"]["code"] == "superseded"

    # the subject reads who asked, whose record, and when, in words and dates (the report gave
    # the publisher as a bare key and the times as milliseconds since 1970)
    code, out = await run("report", "--key", keys["exporter"])
    row = json.loads(out)["requests"][0]
    assert code == 0 and row["status"] == "delivered"
    names = {pk[n]: (await d.get(f"/v1/state/governance/id/{pk[n]}"))[1]["value"]["name"]
             for n in ("bank_a", "bank_b")}
    assert (row["requester_name"], row["publisher_name"]) == (names[pk["bank_b"]],
                                                              names[pk["bank_a"]])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["asked_at"])
    assert row["delivered_at"] >= row["asked_at"]
    assert row["notified_at"] >= row["delivered_at"]  # told of the correction (art. 19)

    # the subject who wants to change a live consent is told how (the contract says only
    # "consent is already granted")
    code = await asyncio.to_thread(cli.main, [
        "credit", "grant", "--bank", pk["bank_b"], "--purpose", "collections", "--node", base,
        "--key", keys["exporter"]])
    cap = capsys.readouterr()
    assert code == 1 and json.loads(cap.out)["error"]["code"] == "already_consented"
    assert "chainfin credit revoke --bank" in cap.err
