"""Decision 179, through a real in-process node: the subject's access report (GDPR art. 15)
is read by the subject and the regulators only — the requesting banks, the publisher and any
other bank get exactly a missing item's 404 — a regulator's read is logged, and
``chainfin credit report`` prints it as the subject reads it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli
from contracts import credit_sharing
from tests.fixtures import Desk, key_file

C = "credit_sharing"
ANY_ID = "ab" * 32


async def get_as(d: Desk, who: str, path: str) -> tuple[int, Any]:
    async with d.http.get(path, as_=d.ids[who]) as r:
        return r.status, await r.json()


async def test_only_the_subject_and_the_regulators_read_its_access_report(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    pk = {n: i.public_key.hex() for n, i in d.ids.items()}
    exp = pk["exporter"]
    out = await d.commit(d.tx("exporter", C, "grant_consent", {
        "bank": pk["bank_b"], "purposes": ["account_review"], "days": 30}))
    assert out["status"] == "committed", out
    sealed = credit_sharing.seal_record(b"record", bytes(16), [pk["bank_a"], pk["auditor"]])
    out = await d.commit(d.tx("bank_a", C, "publish", {
        "subject": exp, "commitment": credit_sharing.make_commitment(b"record", bytes(16)),
        "sealed": sealed}))
    assert out["status"] == "committed", out
    rid = out["result"]["record_id"]
    for bank, purpose in (("bank_b", "account_review"), ("bank_c", "collections")):
        out = await d.commit(d.tx(bank, C, "request_access",
                                  {"record_id": rid, "purpose": purpose}))
        assert out["status"] == "committed", out

    for path in (f"/v1/state/{C}/access/{exp}", f"/v1/state/{C}/access/{exp}/2"):
        st, missing = await get_as(d, "auditor", path.replace(exp, ANY_ID))
        assert st == 404
        want = json.loads(json.dumps(missing).replace(ANY_ID, exp))
        for who in ("exporter", "auditor"):  # the subject; the regulator
            st, body = await get_as(d, who, path)
            assert st == 200, (who, path, body)
        for who in ("bank_a", "bank_b", "bank_c", "exporter2", "importer"):
            assert await get_as(d, who, path) == (404, want), (who, path)
    st, log = await get_as(d, "auditor", "/v1/audit/reads")
    assert (pk["auditor"], "regulator", f"GET /v1/state/{C}/access/{exp}/2") in [
        (e["reader"], e["rule"], e["what"]) for e in log["entries"]]

    base = str(d.http.make_url("/")).rstrip("/")
    kf = key_file(d.ids["exporter"], tmp_path)
    code = await asyncio.to_thread(cli.main, ["credit", "report", "--node", base, "--key", kf])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["subject"] == exp and report["entries"] == 2
    assert [(r["requester"], r["purpose"], r["status"]) for r in report["requests"]] == [
        (pk["bank_b"], "account_review", "pending"), (pk["bank_c"], "collections", "refused")]
    # another bank's key gets an empty report for the subject: nothing to tell it
    kf = key_file(d.ids["bank_b"], tmp_path)
    code = await asyncio.to_thread(cli.main, ["credit", "report", "--node", base, "--key", kf,
                                              "--subject", exp])
    assert code == 0 and json.loads(capsys.readouterr().out)["requests"] == []
