"""Risk alerts reach people: the three pattern alerts raised on a real in-process node are seen by
an SSE subscriber of /v1/events (event type ``alert``) and by ``chainfin alerts``; /metrics counts
them by rule; GET /v1/risk/... lists an account's rules, freezes and alerts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chainfin import cli
from tests.fixtures import Harness, key_file

PATTERNS = ("structuring", "counterparty_change", "round_trip")


async def setup_patterns(h: Harness) -> list[Any]:
    """Transactions that raise one structuring, one counterparty_change and one round_trip
    alert (exporter and importer funded, the exporter under a 1,000 per-payment limit)."""
    exp, imp = (h.ids[n].public_key.hex() for n in ("exporter", "importer"))
    issuer = h.ids["usd_issuer"].public_key.hex()
    for who in ("exporter", "importer"):
        await h.commit(h.issue(1_000_000, to=who))
    out = await h.commit(h.tx("auditor", "risk", "set_limit", {
        "subject": exp, "kind": "max_per_tx", "currency": "USD", "max": 1000,
        "rule_id": "per-tx"}))
    assert out["status"] == "committed", out

    def pay(frm: str, to: str, amount: int):
        return h.tx(frm, "settlement", "transfer", {"to": to, "currency": "USD",
                                                    "amount": amount})

    # structuring: three payments just under the limit; the importer pays one back: round trip
    txs = [pay("exporter", imp, 950), pay("exporter", imp, 960), pay("exporter", imp, 990),
           pay("importer", exp, 10)]
    # counterparty change: the importer has paid the exporter 5 small amounts, then a new party
    txs += [pay("importer", exp, 10) for _ in range(4)] + [pay("importer", issuer, 5000)]
    return txs


async def read_sse_alerts(r: Any, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    event = ""
    while len(got) < want:
        line = (await asyncio.wait_for(r.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "alert":
            got.append(json.loads(line[6:]))
    return got


async def test_pattern_alerts_reach_sse_subscribers_and_chainfin_alerts(
        h: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    txs = await setup_patterns(h)
    regulator = key_file(h.ids["auditor"], tmp_path)
    base = str(h.http.make_url("")).rstrip("/")
    follower = asyncio.create_task(asyncio.to_thread(
        cli.main, ["alerts", "--node", base, "--key", regulator, "--follow", "--blocks", "0", "--max", "3",
                   "--json"]))
    await asyncio.sleep(0.5)  # the CLI subscribes
    async with h.http.get("/v1/events") as r:
        assert await asyncio.wait_for(r.content.readline(), 5) == b": connected\n"
        for tx in txs:
            out = await h.commit(tx)
            assert out["status"] == "committed", out
        seen = await read_sse_alerts(r, 3)
    assert sorted(a["rule"] for a in seen) == sorted(PATTERNS)
    assert all(a["type"] == "alert" and len(a["tx_id"]) == 64 for a in seen)
    assert await asyncio.wait_for(follower, 10) == 0
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sorted(a["rule"] for a in printed) == sorted(PATTERNS)

    # the same alerts from the recent blocks, as text lines
    assert await asyncio.to_thread(cli.main, ["alerts", "--node", base, "--key", regulator]) == 0
    text = capsys.readouterr().out
    assert all(rule in text for rule in PATTERNS)

    # /metrics counts them by rule
    async with h.http.get("/metrics") as r:
        metrics = await r.text()
    for rule in PATTERNS:
        assert f'chainfin_risk_alerts_total{{rule="{rule}"}} 1' in metrics
    assert 'chainfin_risk_alerts_total{rule="limit_exceeded"} 0' in metrics


async def test_risk_routes_list_an_accounts_rules_freezes_and_alerts(
        h: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    exp = h.ids["exporter"].public_key.hex()
    await h.commit(h.issue(5000, to="exporter"))
    for args in ({"subject": exp, "kind": "max_per_tx", "currency": "USD", "max": 10,
                  "rule_id": "small"},):
        assert (await h.commit(h.tx("auditor", "risk", "set_limit", args)))["status"] == \
            "committed"
    refused = await h.commit(h.tx("exporter", "settlement", "transfer", {
        "to": h.ids["importer"].public_key.hex(), "currency": "USD", "amount": 11}))
    assert refused["status"] == "rejected" and refused["error"]["code"] == "limit_exceeded"
    await h.commit(h.tx("auditor", "risk", "freeze_account", {
        "account": exp, "currency": "USD", "reason": "court order", "order_ref": "C-1"}))
    status, acct = await h.get(f"/v1/risk/accounts/{exp}")
    assert status == 200
    assert [r["rule_id"] for r in acct["rules"]] == ["small"]
    assert acct["frozen"]["USD"]["order_ref"] == "C-1" and acct["status"] == "active"
    assert [a["rule"] for a in acct["alerts"]] == ["limit_exceeded"]
    # chainfin alerts with the account holder's key: nothing (an account never reads its own
    # alerts: decision 144), and a word on stderr saying why
    base = str(h.http.make_url("")).rstrip("/")
    own = key_file(h.ids["exporter"], tmp_path)
    assert await asyncio.to_thread(cli.main, ["alerts", "--node", base, "--key", own]) == 0
    printed = capsys.readouterr()
    assert printed.out == "" and "no past alerts" in printed.err, printed
    status, rules = await h.get("/v1/risk/rules")
    assert status == 200 and rules["rules"] == [] and rules["seize_approvals"] == 1
    status, _ = await h.get("/v1/risk/accounts/" + "ab" * 32)
    assert status == 404
