"""Decision 192, through a real in-process node: ``chainfin credit records`` lists every credit
record about the subject — one nobody asked for too, which the access report does not name —
and every consent it gave, from the subject index; the index is read by the subject and the
regulators only: the publisher of one of its records, a consented bank and any other bank get
exactly a missing item's 404."""

from __future__ import annotations

import asyncio
import json
import re
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


async def test_the_subject_lists_every_record_and_consent_and_no_bank_reads_the_index(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    pk = {n: i.public_key.hex() for n, i in d.ids.items()}
    exp = pk["exporter"]

    async def commit(who: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
        out = await d.commit(d.tx(who, C, method, args))
        assert out["status"] == "committed", out
        return dict(out["result"])

    async def publish(bank: str, subject: str = exp) -> str:
        sealed = credit_sharing.seal_record(b"record", bytes(16), [pk[bank], pk["auditor"]])
        return str((await commit(bank, "publish", {
            "subject": subject, "commitment": credit_sharing.make_commitment(b"record", bytes(16)),
            "sealed": sealed}))["record_id"])

    await commit("exporter", "grant_consent", {"bank": pk["bank_b"],
                                               "purposes": ["account_review"], "days": 30})
    quiet = await publish("bank_a")  # nobody asks for it: in no access report
    asked = await publish("bank_c")
    elsewhere = await publish("bank_a", pk["exporter2"])
    await commit("bank_b", "request_access", {"record_id": asked, "purpose": "account_review"})

    path = f"/v1/state/{C}/subj/{exp}"
    st, missing = await get_as(d, "auditor", path.replace(exp, ANY_ID))
    assert st == 404
    want = json.loads(json.dumps(missing).replace(ANY_ID, exp))
    for who in ("exporter", "auditor"):  # the subject; the regulator
        st, body = await get_as(d, who, path)
        assert st == 200 and body["value"]["r"] == [quiet, asked], (who, body)
    # the publisher of one record, the consented (and asking) bank, another bank, others
    for who in ("bank_a", "bank_b", "bank_c", "exporter2", "importer"):
        assert await get_as(d, who, path) == (404, want), who

    base = str(d.http.make_url("/")).rstrip("/")

    async def records(who: str, *argv: str) -> dict[str, Any]:
        code = await asyncio.to_thread(cli.main, ["credit", "records", "--node", base, "--key",
                                                  key_file(d.ids[who], tmp_path), *argv])
        out = capsys.readouterr().out
        assert code == 0, out
        return dict(json.loads(out))

    mine = await records("exporter")
    assert mine["subject"] == exp and mine["indexed"] == {"records": 2, "banks": 1}
    assert [(r["record_id"], r["publisher"], r["indexed"]) for r in mine["records"]] == [
        (quiet, pk["bank_a"], True), (asked, pk["bank_c"], True)]
    assert [(c["bank"], c["purposes"], c["indexed"]) for c in mine["consents"]] == [
        (pk["bank_b"], ["account_review"], True)]
    # a regulator reads any subject's; an id given that is about another subject is dropped
    theirs = await records("auditor", "--subject", exp, "--record", elsewhere)
    assert [r["record_id"] for r in theirs["records"]] == [quiet, asked]
    # a bank gets no index: the consented bank nothing (its own consent, given its id); the
    # publisher of one record that record, given its id, and not the other bank's
    assert await records("bank_b", "--subject", exp) == {
        "subject": exp, "indexed": {"records": 0, "banks": 0}, "records": [], "consents": [],
        "no_consent": []}
    pub = await records("bank_a", "--subject", exp, "--record", quiet, "--record", asked)
    assert pub["indexed"] == {"records": 0, "banks": 0}
    assert [r["record_id"] for r in pub["records"]] == [quiet] and pub["consents"] == []


def test_the_explorer_credit_page_reads_the_index() -> None:
    app = (Path(__file__).parents[2] / "node" / "static" / "app.js").read_text()
    m = re.search(r"const CREDIT_PAGE = (\d+);", app)
    assert m and int(m[1]) == credit_sharing.INDEX_PAGE
    for read in ('ask("subj/" + subject)', 'ask("subj/" + subject + "/" + kind + "/" + p)'):
        assert read in app, read
