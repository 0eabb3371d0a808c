"""``chainfin trade show`` prints a B/L's shipment as a trade-finance desk checks it (decisions
228-230, walk-through 2026-12-07e): containers, voyage and gross weight, and for a container
clash the box, the other shipment's document and its trade as far as the key reads them. Before,
the text report said "declared distinct from 9620d0d0964d…" and nothing of the box."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from chainfin import trade_show
from contracts.trade.view import render, trade_report

FIRST, SECOND, COPY = "a1" * 32, "b2" * 32, "c3" * 32
T1, T2 = "d4" * 32, "e5" * 32
BOXES = ["CSQU3054383", "MSKU9070323"]


def _doc(trade: str, fields: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"doc_type": "bill_of_lading", "owner": "ee" * 32, "registrant": "ee" * 32,
            "fields": fields, "trade_id": trade, "attestation": None, "verified_by": [],
            "declared_distinct": None, "distinct_copies": [], "presentation_id": None,
            "status": "registered", "height": 3, **more}


def _state(reader_sees_first: bool) -> dict[str, Any]:
    inv = "f6" * 32
    bl = _doc(T2, {"carrier": "MSCU", "containers": ["CSQU3054383"], "voyage": "FE512",
                   "gross_weight_kg": 9_000},
              declared_distinct={"reason": "box reused", "similar_to": FIRST,
                                 "container": "CSQU3054383", "container_of": FIRST})
    st = {f"trade/{T2}": {"seller": "s", "buyer": "b", "owner": "ee" * 32, "currency": "USD",
                          "amount": 100, "invoice": inv, "declaration": None,
                          "docs": [inv, SECOND], "financings": [], "lcs": [],
                          "status": "open", "financed": 0, "outstanding": 0, "pool": None},
          f"doc/{inv}": {**_doc(T2, {"amount": 100}), "doc_type": "invoice"},
          f"doc/{SECOND}": bl}
    if reader_sees_first:
        st[f"doc/{FIRST}"] = _doc(T1, {"containers": BOXES},
                                  distinct_copies=[{"doc_id": SECOND, "reason": "box reused"}])
    return st


class _Client:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def state_value(self, contract: str, key: str) -> Any:
        if contract == "governance":
            return {"exponent": 2} if key.startswith("currency/") else None
        return self.state.get(key)

    def get(self, path: str) -> dict[str, Any]:
        return {"timestamp_ms": 1}


def _show(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          state: dict[str, Any], trade: str) -> str:
    monkeypatch.setattr(trade_show, "SyncClient", lambda *a, **k: _Client(state))
    monkeypatch.setattr(trade_show, "reader_identity", lambda a: None)
    args = argparse.Namespace(node="http://n", trade=trade, json=False, identity="k")
    assert trade_show.cli_trade_show(args, trade_report, render) == 0
    return capsys.readouterr().out


def test_a_clashing_bl_names_its_box_and_the_other_trade(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _show(monkeypatch, capsys, _state(True), T2)
    assert (f"  bill_of_lading {SECOND[:16]}…  containers CSQU3054383  voyage FE512  "
            "gross weight 9,000 kg") in out
    assert (f"    container CSQU3054383 was under the live shipment of {FIRST[:16]}… in trade "
            f"{T1} when this was registered") in out
    assert "declared distinct, 'box reused'" in out


def test_the_other_shipment_unread_is_said_so(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _show(monkeypatch, capsys, _state(False), T2)
    assert (f"live shipment of {FIRST[:16]}… (not found or not visible to you: another "
            "exporter's") in out
    assert T1 not in out


def test_the_first_bl_says_which_box_its_copy_names() -> None:
    st = _state(True)
    rep = {"documents": {FIRST: st[f"doc/{FIRST}"]}}
    lines = trade_show.shipment_lines(rep, st.get)
    assert lines == [
        "shipment (transport documents):",
        f"  bill_of_lading {FIRST[:16]}…  containers CSQU3054383, MSKU9070323",
        f"    copy {SECOND[:16]}… names container CSQU3054383 of this shipment, in trade {T2}: "
        "declared distinct, 'box reused'"]
    # a document without containers, voyage or weight prints no shipment section
    assert trade_show.shipment_lines({"documents": {"x": _doc(T1, {"amount": 1})}}, st.get) == []
