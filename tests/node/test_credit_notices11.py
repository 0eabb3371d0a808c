"""Decision 248 through a real in-process node: the subject reads the result of its dispute
(its reason, the publisher's answer) in its own inbox with ``chainfin credit notices``, the bank
the record was delivered to marked disputed reads that the dispute was rejected, and neither
reads the other's notice (``GET /v1/state``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli
from contracts import credit_sharing as cs
from tests.fixtures import Desk, key_file

C = "credit_sharing"


async def get_as(d: Desk, who: str, path: str) -> tuple[int, Any]:
    async with d.http.get(path, as_=d.ids[who]) as r:
        return r.status, await r.json()


async def test_the_subject_and_the_marked_bank_read_a_rejected_disputes_notice(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    pk = {n: i.public_key.hex() for n, i in d.ids.items()}
    base = str(d.http.make_url("/")).rstrip("/")
    keys = {n: key_file(d.ids[n], tmp_path) for n in ("bank_a", "bank_b", "bank_c", "exporter")}

    async def run(*argv: str) -> tuple[int, Any]:
        code = await asyncio.to_thread(cli.main, ["credit", *argv, "--node", base])
        return code, json.loads(capsys.readouterr().out)

    async def ok(who: str, method: str, **args: Any) -> dict[str, Any]:
        out = await d.commit(d.tx(who, C, method, args))
        assert out["status"] == "committed", out
        return out["result"]  # type: ignore[no-any-return]

    record, salt = b'{"late_payments_12m": 3}', bytes(range(16))
    rid = (await ok("bank_a", "publish", subject=pk["exporter"],
                    commitment=cs.make_commitment(record, salt),
                    sealed=cs.seal_record(record, salt, [pk["bank_a"], pk["auditor"]])))[
        "record_id"]
    code, out = await run("dispute", "--record", rid, "--reason", "paid in full",
                          "--key", keys["exporter"])
    assert code == 0, out
    await ok("exporter", "grant_consent", bank=pk["bank_b"])
    req = (await ok("bank_b", "request_access", record_id=rid))["request_id"]
    await ok("bank_a", "deliver", request_id=req,
             sealed=cs.seal_record(record, salt, [pk["bank_b"]]))
    code, out = await run("answer", "--record", rid, "--reason", "the payment bounced",
                          "--key", keys["bank_a"])
    assert code == 0 and out["result"]["notices"] == {"sent": 1, "pending": 0}, out

    code, out = await run("notices", "--key", keys["exporter"])
    (mine,) = out["notices"]
    assert code == 0 and (mine["status"], mine["reason"], mine["answer"], mine["banks"]) == (
        "dispute_rejected", "paid in full", "the payment bounced", 1)
    code, out = await run("notices", "--key", keys["bank_b"])
    (theirs,) = out["notices"]
    assert (theirs["record_id"], theirs["status"]) == (rid, "dispute_rejected")
    assert "answer" not in theirs and "reason" not in theirs
    code, out = await run("notices", "--key", keys["bank_c"])
    assert out["notices"] == []
    # each inbox is its owner's: not the publisher's, the other's, another bank's
    for path, owner in ((f"/v1/state/{C}/notice/{pk['exporter']}/1", "exporter"),
                        (f"/v1/state/{C}/notice/{pk['bank_b']}/1", "bank_b")):
        for who in ("exporter", "bank_a", "bank_b", "bank_c"):
            st, _ = await get_as(d, who, path)
            assert st == (200 if who == owner else 404), (path, who)
    code, out = await run("notify", "--record", rid, "--dispute", "--key", keys["exporter"])
    assert code == 1 and out["error"]["code"] == "no_pending_notices"
