"""A bank's compliance officer works its alert queue (decision 165; docs/risk.md "Reviewing
alerts"): ``GET /v1/risk/alerts/queue`` answers a bank its customers' open alerts a page at a
time (``next``, ``after``) with the counts ``open`` and ``reviewed`` of its customers' alerts,
each alert once though it is queued under both the bank's id and its BIC; a regulator's review
of a customer's alert (``alert_reviewed``) reaches the home bank on ``/v1/events``, logged, and
never the alert's subject. Real in-process nodes (the ``desk`` fixture), as
tests/node/test_tipping_off.py.

The world: ``bank_a`` (an admin bank, BIC BANK0US33XXX) registers ``c_own`` under its own BIC
(queued under ``id:bank_a`` and ``bic:BANK0US33XXX``: both bank_a's) and ``c_nobic`` (no BIC:
``id:bank_a`` only); the regulator (``auditor``) caps both at USD 0.10 a payment, and each
refused payment keeps a ``limit_exceeded`` alert. ``bank_c`` is no home bank of either."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli, cli_alerts
from chainfin.crypto import Identity
from tests.fixtures import Desk, key_file
from tests.node.test_access import get_as
from tests.node.test_redteam_privacy7 import audit_rows
from tests.node.test_tipping_off import _until, pay, pk, structuring


async def customers(d: Desk) -> None:
    for name, bic in (("c_own", "BANK0US33XXX"), ("c_nobic", None)):
        d.ids[name] = Identity.generate(name)
        args: dict[str, Any] = {"pubkey": pk(d, name), "name": f"Customer {name}",
                                "role": "exporter"}
        if bic:
            args["bank"] = bic
        out = await d.commit(d.tx("bank_a", "governance", "register_identity", args))
        assert out["status"] == "committed", out
        await d.commit(d.issue(1_000_000, name))
        out = await d.commit(d.tx("auditor", "risk", "set_limit", {
            "subject": pk(d, name), "kind": "max_per_tx", "currency": "USD", "max": 10,
            "rule_id": "cap"}))
        assert out["status"] == "committed", out


async def refused(d: Desk, who: str) -> str:
    """A payment over the cap: refused, its ``limit_exceeded`` alert kept. The alert's id."""
    out = await d.commit(pay(d, who, "importer", 11))
    assert out["status"] == "rejected", out
    return str(out["tx_id"]) + "-0"


async def review(d: Desk, who: str, alert: str, disposition: str = "false_positive") -> None:
    st, case = await get_as(d, who, f"/v1/risk/alerts/{alert}")
    assert st == 200, case
    record = cli_alerts.review_record(alert, disposition, b"looked at it", None)
    out = await d.commit(d.tx(who, "risk", "review_alert",
                              cli_alerts.review_args(record, case["seal_to"])))
    assert out["status"] == "committed", out


async def pages(d: Desk, who: str, limit: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every page of ``who``'s queue at ``limit`` a page, following ``next``: the pages' alerts
    and the pages' answers."""
    docs, alerts, after = [], [], None
    for _ in range(20):
        path = f"/v1/risk/alerts/queue?limit={limit}" + (f"&after={after}" if after else "")
        st, doc = await get_as(d, who, path)
        assert st == 200, doc
        assert len(doc["alerts"]) <= limit
        docs.append(doc)
        alerts += doc["alerts"]
        after = doc["next"]
        if after is None:
            return alerts, docs
    raise AssertionError("the cursor never ended")


async def test_a_banks_queue_pages_with_a_cursor_and_counts_each_alert_once(
        desk: Desk) -> None:
    d = desk
    await customers(d)
    own = [await refused(d, "c_own") for _ in range(3)]
    nobic = [await refused(d, "c_nobic") for _ in range(2)]
    raised = own + nobic  # in the order raised

    st, whole = await get_as(d, "bank_a", "/v1/risk/alerts/queue")
    assert st == 200 and [a["alert"] for a in whole["alerts"]] == raised, whole
    # counted once each, though c_own's are queued under bank_a's id and its BIC
    assert (whole["queue"], whole["counts"], whole["next"]) == (
        "bank", {"open": 5, "reviewed": 0}, None), whole
    assert "open" not in whole  # (a supervisor's answer, as old clients tell them apart)
    # the names it may read come with the queue: no read per account
    assert whole["alerts"][0]["names"] == {pk(d, "c_own"): "Customer c_own"}
    alerts, docs = await pages(d, "bank_a", 2)
    assert [a["alert"] for a in alerts] == raised and len(docs) == 3
    assert all(p["counts"] == {"open": 5, "reviewed": 0} for p in docs)
    assert [a["alert"] for a in alerts] == [a["alert"] for a in whole["alerts"]]

    # the bank reviews one, the regulator another: 3 open, 2 reviewed, 2 pages of 2
    await review(d, "bank_a", own[0])
    await review(d, "auditor", nobic[1], "escalated")
    alerts, docs = await pages(d, "bank_a", 2)
    assert [a["alert"] for a in alerts] == [own[1], own[2], nobic[0]] and len(docs) == 2
    assert all(p["counts"] == {"open": 3, "reviewed": 2} for p in docs), docs
    # a regulator reopens the bank's reviewed case: open again, at the back of the queue
    await review(d, "auditor", own[0], "reopened")
    alerts, docs = await pages(d, "bank_a", 2)
    assert [a["alert"] for a in alerts] == [own[1], own[2], nobic[0], own[0]]
    assert docs[0]["counts"] == {"open": 4, "reviewed": 1}, docs[0]
    # the supervisors' answer has its counts too
    st, sup = await get_as(d, "auditor", "/v1/risk/alerts/queue?limit=2")
    assert st == 200 and (sup["queue"], sup["counts"], sup["open"]) == (
        "all", {"open": 4, "reviewed": 1}, 4), sup

    # another bank sees none of them, and counts none; the subjects have no queue at all
    st, other = await get_as(d, "bank_c", "/v1/risk/alerts/queue?limit=2")
    assert st == 200 and (other["alerts"], other["counts"], other["next"]) == (
        [], {"open": 0, "reviewed": 0}, None), other
    for who in ("c_own", "c_nobic"):
        st, body = await get_as(d, who, "/v1/risk/alerts/queue?limit=2")
        assert st == 404 and "counts" not in body, body
    # a bank's cursor is its own shape
    st, body = await get_as(d, "bank_a", "/v1/risk/alerts/queue?after=3")
    assert st == 400, body


async def test_a_regulators_review_reaches_the_home_banks_stream_logged_not_the_subjects(
        desk: Desk) -> None:
    """``customer`` (BIC TESTDEFFXXX: bank_d's; registered by bank_a) raises a structuring
    alert; the regulator reviews it. The ``alert_reviewed`` event names only the regulator:
    before decision 165 the home banks' open pages learnt of it on a reload. Now it reaches
    bank_d's and bank_a's streams (each delivery logged, as an alert's), not the customer's,
    nor another bank's (bank_e: no validator)."""
    d = desk
    out = await structuring(d)
    alert = out["tx_id"] + "-0"
    await d.register("bank_e", "bank")  # a bank, no validator (validators read every block)
    streams = {who: d.http.get("/v1/events", as_=d.ids[who])
               for who in ("bank_d", "customer", "bank_e")}
    async with streams["bank_d"] as bank, streams["customer"] as own, \
            streams["bank_e"] as other:
        await review(d, "auditor", alert, "escalated")
        # a later block naming the customer and bank_e: their streams read on past the review
        marker = await d.commit(pay(d, "customer", "bank_e", 7))
        assert marker["status"] == "committed", marker

        def marked(i: dict[str, Any]) -> bool:
            return i["type"] == "block" and any(e.get("tx_id") == marker["tx_id"]
                                                for e in i["events"])

        got = {who: await asyncio.wait_for(_until(s, marked), 15)
               for who, s in (("customer", own), ("bank_e", other))}
        got["bank_d"] = await asyncio.wait_for(_until(bank, lambda i: i["type"] == "block" and any(
            e["name"] == "alert_reviewed" for e in i["events"])), 15)

    def reviews(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for i in items if i["type"] == "block" for e in i["events"]
                if e["name"] == "alert_reviewed"]

    [ev] = reviews(got["bank_d"])
    assert ev["data"]["alert"] == alert and ev["data"]["by"] == pk(d, "auditor")
    assert ev["data"]["status"] == "reviewed" and "disposition" not in ev["data"]
    assert reviews(got["customer"]) == [] and reviews(got["bank_e"]) == []
    assert all(alert not in str(i) for i in got["customer"])  # nothing of its case at all
    rows = await audit_rows(d)
    assert (pk(d, "bank_d"), "home_bank",
            f"GET /v1/events alert_reviewed {ev['tx_id']}") in rows, rows
    assert not [r for r in rows if r[0] == pk(d, "customer") and "alert_reviewed" in r[2]]
    # the event rule answers bank_a too (it registered the customer), by the alert looked up
    from node import access
    get = d.nodes[0].ledger.state_value
    for who, want in (("bank_a", "home_bank"), ("bank_d", "home_bank"), ("auditor", "own_events"),
                      ("customer", None), ("bank_e", None)):
        reader = access.resolve_reader(get, pk(d, who))
        assert reader is not None
        assert access.event_rule(get, reader, ev) == want, who


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINFIN_KEY", raising=False)


async def test_chainfin_alerts_queue_prints_a_banks_counts_and_follows_the_cursor(
        desk: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = desk
    await customers(d)
    raised = [await refused(d, "c_own") for _ in range(3)]
    await review(d, "bank_a", raised[1])
    base = str(d.http.make_url("")).rstrip("/")
    key = key_file(d.ids["bank_a"], tmp_path)

    def printed_alerts(out: str) -> list[str]:
        return [ln.split("  alert ")[1].split()[0] for ln in out.splitlines()]

    argv = ["alerts", "queue", "--node", base, "--key", key, "--limit", "1"]
    assert await asyncio.to_thread(cli.main, argv) == 0
    printed = capsys.readouterr()
    assert printed_alerts(printed.out) == raised[:1]
    assert "2 open alerts of this bank's customers (1 reviewed)" in printed.err, printed.err
    assert "more: --after " in printed.err
    after = printed.err.split("more: --after ")[1].split()[0]

    # --all follows the cursor to the end, a page of --limit at a time; --after goes on from
    # a page (the flags chainfin.cli gives `alerts queue`: the command reads them if present)
    def run(identity: str = key, **kw: Any) -> int:
        ns = argparse.Namespace(node=base, identity=identity, limit=1, json=False, ca=None,
                                **kw)
        return cli_alerts.cli_alerts_queue(ns)

    assert await asyncio.to_thread(run, all=True) == 0
    printed = capsys.readouterr()
    assert printed_alerts(printed.out) == [raised[0], raised[2]], printed
    assert "more:" not in printed.err
    assert await asyncio.to_thread(run, after=after) == 0
    assert printed_alerts(capsys.readouterr().out) == raised[2:]
    # a supervisor's cursor is one number (0 included), followed the same way
    assert await asyncio.to_thread(run, key_file(d.ids["auditor"], tmp_path), all=True) == 0
    printed = capsys.readouterr()
    assert printed_alerts(printed.out) == [raised[0], raised[2]], printed
    assert "2 open alerts on the chain (1 reviewed)" in printed.err, printed.err
