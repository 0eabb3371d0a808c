"""Walk-through 2026-12-07e, "Left": the command line as a guarantee desk, a compliance officer
and an auditor read it. Each test fails on the code before:

* a guarantee note wrote "USD 12500.00" beside the ledger's and the explorer's "USD 12,500.00"
  (decision 281: prose on the command line writes amounts as ``chainfin.money.money``);
* ``guarantee show`` gave a decided demand the date to decide by (``decide_through``), not when
  and by which transaction it was decided.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from chainfin import cli_guarantee

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
