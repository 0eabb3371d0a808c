"""Walk-through 2026-12-07e, "Left": the command line as a guarantee desk, a compliance officer
and an auditor read it. Each test fails on the code before:

* a guarantee note wrote "USD 12500.00" beside the ledger's and the explorer's "USD 12,500.00"
  (decision 281: prose on the command line writes amounts as ``chainfin.money.money``);
* ``guarantee show`` gave a decided demand the date to decide by (``decide_through``), not when
  and by which transaction it was decided;
* ``alerts queue`` named a structuring pattern's earlier payments by id only (a CNY payment of a
  USD pattern was an id), and ``alerts case`` too: each now with its amount and payee.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from chainfin import cli_alerts, cli_guarantee
from chainfin.client import ClientError

GUARANTEE = {"currency": "USD", "amount": 5_000_000, "paid": 0, "reserved": 1_250_000,
             "reductions": []}


class _Ledger:
    """What the notes read through ``chainfin.client.Client``: the guarantee and its currency."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    async def __aenter__(self) -> _Ledger:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    async def state_value(self, contract: str, key: str) -> Any:
        return {"currency/USD": {"exponent": 2}, "gtee/g1": GUARANTEE}.get(key)


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    monkeypatch.setattr(cli_guarantee, "Client", _Ledger)
    monkeypatch.setattr(cli_guarantee, "load_identity", lambda _: None)
    return argparse.Namespace(node="http://127.0.0.1:9", ca=None, key="k", timeout=1.0)


def test_guarantee_notes_write_amounts_as_the_ledger_and_the_explorer_do(
        ledger: argparse.Namespace) -> None:
    note = asyncio.run(cli_guarantee._amount_note(ledger, {"guarantee_id": "g1",
                                                           "amount": 1_250_000}))
    assert note == "amount USD 12,500.00 (1250000 minor units)"  # before: USD 12500.00
    proposed = asyncio.run(cli_guarantee._amount_note(
        ledger, {"guarantee_id": "g1", "changes": {"amount": 6_000_000}}))
    assert proposed is not None and proposed.startswith(
        "proposed amount USD 60,000.00 (6000000 minor units): the guarantee's amount once")
    notes = asyncio.run(cli_guarantee._refusal_notes(
        ledger, "demand", {"guarantee_id": "g1", "amount": 4_000_000},
        "amount_exceeds_guarantee"))
    assert notes[-1] == (
        "you asked USD 40,000.00 (4000000 minor units); available now USD 37,500.00 (3750000 "
        "minor units): amount in force USD 50,000.00, paid USD 0.00, under open demands "
        "USD 12,500.00")
    floor = asyncio.run(cli_guarantee._refusal_notes(
        ledger, "reduce", {"guarantee_id": "g1", "amount": 100}, "bad_field"))
    assert floor[-1].endswith("below USD 50,000.00 (5000000) and at least what is paid and "
                              "demanded, USD 12,500.00 (1250000)"), floor


def test_a_decided_demand_shows_when_and_by_which_transaction_not_a_date_to_decide_by() -> None:
    tx = "fc94ea4de60dae1e" + "0" * 48
    g: dict[str, Any] = {
        **GUARANTEE, "demands": [
            {"demand_id": "d1", "amount": 1_250_000, "status": "rejected",
             "presented_ms": 1_796_669_681_120, "examination_deadline_ms": 1_797_292_800_000,
             "decided": {"height": 10, "timestamp_ms": 1_796_681_760_000, "tx_id": tx}},
            {"demand_id": "d2", "amount": 1_250_000, "status": "presented",
             "presented_ms": 1_796_669_681_120, "examination_deadline_ms": 1_797_292_800_000}]}
    decided, open_ = cli_guarantee.readable(g, 2, 1_796_700_000_000, {})["demands"]
    assert "decide_through" not in decided  # before: "2026-12-14", a date that has passed
    assert decided["decided"] == {"height": 10, "timestamp_ms": 1_796_681_760_000, "tx_id": tx,
                                  "at": "2026-12-07T22:16:00Z"}
    assert open_["decide_through"] == "2026-12-14" and "decided" not in open_
    # a demand decided before the ledger named the deciding transaction: its height finds it
    old = cli_guarantee.readable({**g, "demands": [{**g["demands"][0], "decided": {
        "height": 10, "timestamp_ms": 1_796_681_760_000}}]}, 2, 1_796_700_000_000, {})
    assert "decide_through" not in old["demands"][0]
    assert old["demands"][0]["decided"]["at"] == "2026-12-07T22:16:00Z"


T1, T2, T3, T4 = ("82d25ba5" * 8, "4c2a9240" * 8, "7e1f0c33" * 8, "99aa00bb" * 8)
PAYER, PAYEE = "aa" * 32, "bb" * 32


def _transfer(tx: str, ccy: str, amount: int) -> dict[str, Any]:
    return {"tx_id": tx, "status": "committed", "tx": {
        "contract": "settlement", "method": "transfer", "sender": PAYER,
        "args": {"to": PAYEE, "currency": ccy, "amount": amount}}}


#: what a bank's signed reads answer: Harbor pays Thames USD 9,500.00, CNY 68,000.00, then
#: USD 9,900.00 (the alert); T4 is a payment this key does not read (404)
READS: dict[str, Any] = {
    f"/v1/tx/{T1}": _transfer(T1, "USD", 950_000), f"/v1/tx/{T2}": _transfer(T2, "CNY", 6_800_000),
    f"/v1/tx/{T3}": _transfer(T3, "USD", 990_000),
    "/v1/state/governance/currency/USD": {"value": {"exponent": 2}},
    "/v1/state/governance/currency/CNY": {"value": {"exponent": 2}},
    f"/v1/state/governance/id/{PAYEE}": {"value": {"name": "thames", "role": "importer",
                                                   "legal_name": "Thames Goods Ltd"}}}
ALERT = {"alert": f"{T3}-0", "rule": "structuring", "tx_id": T3, "height": 7, "age_ms": 60_000,
         "accounts": [PAYER], "names": {PAYER: "Harbor Traders"}, "status": "open",
         "detail": {"currency": "USD", "amount": 990_000, "max": 1_000_000, "base": "USD",
                    "near_limit_payments": 3, "near_limit_txs": [T1, T2]}}


class _Node:
    """``SyncClient`` over :data:`READS`: the queue's one page, the case, the reads."""

    def __init__(self, *_: Any, **__: Any) -> None:
        self.reads: list[str] = []

    def __enter__(self) -> _Node:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def get(self, route: str, params: dict[str, str] | None = None) -> Any:
        self.reads.append(route)
        if route == "/v1/risk/alerts/queue":
            return {"alerts": [ALERT, {**ALERT, "alert": f"{T4}-0", "tx_id": T4, "detail": {
                **ALERT["detail"], "near_limit_txs": [T2, T3, T4]}}],
                "height": 9, "counts": {"open": 2, "reviewed": 0}, "next": None}
        if route.startswith("/v1/risk/alerts/"):
            return ALERT
        if route in READS:
            return READS[route]
        raise ClientError("not_found", "not found", 404)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_alerts, "SyncClient", _Node)
    monkeypatch.setattr(cli_alerts, "reader_identity", lambda _: object())
    monkeypatch.setattr(cli_alerts, "load_identity", lambda _: object())


def test_the_queue_gives_each_payment_of_a_pattern_with_its_amount_and_payee(
        node: None, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(node="http://n", ca=None, limit=100, after=None, all=False,
                              json=False, identity="k")
    assert cli_alerts.cli_alerts_queue(args) == 0
    first, second = capsys.readouterr().out.splitlines()
    # before: near_limit_txs=82d25ba582d25ba5…,4c2a92404c2a9240… (ids only; the CNY one too)
    assert (f"near_limit_txs={T1[:16]}… (USD 9,500.00 to Thames Goods Ltd), "
            f"{T2[:16]}… (CNY 68,000.00 to Thames Goods Ltd)") in first, first
    assert "amount=990000 (USD 9,900.00)" in first  # before: (USD 9900.00)
    # a payment this key does not read stays an id
    assert (f"near_limit_txs={T2[:16]}… (CNY 68,000.00 to Thames Goods Ltd), "
            f"{T3[:16]}… (USD 9,900.00 to Thames Goods Ltd), {T4[:16]}…") in second, second


def test_the_case_lists_the_patterns_payments_the_same_way(
        node: None, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(node="http://n", ca=None, alert=f"{T3}-0", json=False,
                              identity="k")
    assert cli_alerts.cli_alerts_case(args) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[1:] == [
        f"payment of the pattern  transaction {T1}  USD 9,500.00 to Thames Goods Ltd",
        f"payment of the pattern  transaction {T2}  CNY 68,000.00 to Thames Goods Ltd",
        f"payment of the pattern  transaction {T3}  USD 9,900.00 to Thames Goods Ltd  (raised "
        "the alert)"]
