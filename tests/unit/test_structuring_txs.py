"""A structuring alert names the payments it counted (decision 217; docs/risk.md "Alerts"): the
pattern memory keeps the transaction ids of the near payments in its window (at most
``STRUCTURING_TX_KEEP``, written only by a near payment), the alert's detail names the earlier
ones (``near_limit_txs``), its case holds them, and the goAML STR reports one transaction per
payment of the pattern; the queue prints amounts in the currency's decimals too."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import cli_alerts, goaml
from chainfin.errors import ChainfinError
from contracts import risk
from tests.unit.test_contract_risk import alerts
from tests.unit.test_limit_ccy import JPY, R, _ledger, _reads, pay

HOUR_MS = 3_600_000


def _near(L: Any, ccy: str = "USD", amount: int = 950) -> Any:
    r = pay(L, "alice", "bob", ccy, amount)
    assert r.status == "committed", r.error_message
    return r


def test_the_alert_names_the_earlier_near_payments_it_counted_and_its_case_holds_them() -> None:
    """USD 9.50, 9.60 (a plain USD 1.00 between: not near, not named), then 9.90: the third
    alerts naming the first two, oldest first; the 6th names the last 4 (the memory keeps
    ``STRUCTURING_TX_KEEP`` = 5); a day later the window starts again."""
    L = _ledger()
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000)
    first = [_near(L, amount=950), _near(L, amount=960)]
    key = f"stats/{L.pk('alice')}/USD"
    kept = L.get(R, key)["near_tx"]
    plain = _near(L, amount=100)
    assert L.get(R, key)["near_tx"] == kept  # a plain payment leaves the ids as they were
    r = _near(L, amount=990)
    (a,) = alerts(r, "structuring")
    assert a["near_limit_txs"] == [t.tx_id.hex() for t in first]
    assert plain.tx_id.hex() not in a["near_limit_txs"]
    case = L.get(R, "alert/" + a["alert"])
    assert case["tx_id"] == r.tx_id.hex()
    assert case["detail"]["near_limit_txs"] == a["near_limit_txs"]
    more = [r] + [_near(L) for _ in range(3)]
    (a6,) = alerts(more[-1], "structuring")
    assert a6["near_limit_payments"] == 6
    last5 = [first[1], *more]
    assert a6["near_limit_txs"] == [t.tx_id.hex() for t in last5[:4]]  # the last 4 before it
    assert len(L.get(R, key)["near_tx"]) == risk.STRUCTURING_TX_KEEP == 5
    L.now_ms += 25 * HOUR_MS
    assert [t for t, _ in L.get(R, key)["near_tx"]] == [t.tx_id.hex() for t in last5]
    assert not alerts(_near(L), "structuring")
    assert len(L.get(R, key)["near_tx"]) == 1  # the ones out of the window dropped


def test_a_plain_transfer_writes_no_ids_and_reads_nothing_more() -> None:
    """No near payment, no ``near_tx``: the record a plain payment writes is as before
    (the bench digests stay the same); the keys it reads are the same with ids kept."""
    L = _ledger()
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000)
    _near(L, amount=100)
    assert "near_tx" not in L.get(R, f"stats/{L.pk('alice')}/USD")
    seen = _reads(L)
    _near(L, amount=100)
    before = sorted(k for k in seen if not k.startswith("_nonce/"))
    _near(L, amount=950)
    seen.clear()
    _near(L, amount=100)
    assert sorted(k for k in seen if not k.startswith("_nonce/")) == before
    assert "risk/stats/" + L.pk("alice") + "/USD" in before


def test_across_currencies_the_base_memory_names_them() -> None:
    """Near a base-currency maximum (decision 206) the ids go with the count, in the base's
    memory: JPY 1,400 then USD 9.50 then JPY 1,450 name the first two."""
    L = _ledger()
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000, base=True)
    first = [_near(L, "JPY", 1_400), _near(L, "USD", 950)]
    (a,) = alerts(_near(L, "JPY", 1_450), "structuring")
    assert (a["base"], a["near_limit_txs"]) == ("USD", [t.tx_id.hex() for t in first])
    assert "near_tx" not in L.get(R, f"stats/{L.pk('alice')}/JPY")


# ---------------------------------------------------------------------------- the STR


BANK, CUST, OTHER = "b" * 64, "c" * 64, "d" * 64
T1, T2, T3, T4 = "1" * 64, "2" * 64, "3" * 64, "4" * 64


def _transfer(tx: str, amount: int, sender: str = CUST, method: str = "transfer") -> dict:
    return {"tx_id": tx, "status": "committed", "height": 5, "timestamp_ms": 1_796_000_000_000,
            "tx": {"contract": "settlement", "method": method, "sender": sender,
                   "args": {"to": OTHER, "currency": "USD", "amount": amount}}}


def _reader(values: dict[str, Any]) -> tuple[goaml.Get, list[str]]:
    asked: list[str] = []

    def get(path: str) -> Any:
        asked.append(path)
        v = values.get(path)
        return {"value": v} if path.startswith("/v1/state/") and v is not None else v
    return get, asked


def _values() -> dict[str, Any]:
    case = {"rule": "structuring", "accounts": [CUST], "time_ms": 1_796_000_000_000,
            "detail": {"currency": "USD", "amount": 990, "near_limit_payments": 3,
                       "near_limit_txs": [T1, T2]}}
    return {
        f"/v1/state/governance/id/{BANK}": {"role": "bank", "name": "Bank B",
                                            "bank": "DEUTDEFFXXX"},
        f"/v1/state/governance/id/{CUST}": {"role": "exporter", "name": "Cust GmbH",
                                            "registered_by": BANK},
        f"/v1/risk/alerts/{T3}-0": case | {"tx_id": T3},
        f"/v1/risk/alerts/{T4}-0": case | {"tx_id": T4, "detail": case["detail"] | {
            "near_limit_txs": [T2, T3], "near_limit_payments": 4}},
        f"/v1/tx/{T1}?tx=1": _transfer(T1, 950), f"/v1/tx/{T2}?tx=1": _transfer(T2, 960),
        f"/v1/tx/{T3}?tx=1": _transfer(T3, 990), f"/v1/tx/{T4}?tx=1": _transfer(T4, 995)}


def test_the_str_reports_one_transaction_per_payment_of_the_pattern_each_once() -> None:
    get, asked = _reader(_values())
    txs = goaml.gather(get, BANK, [f"{T3}-0", f"{T4}-0"])
    assert [(t.tx_id, t.amount, t.frm.ident, t.to.ident) for t in txs] == [
        (T1, 950, CUST, OTHER), (T2, 960, CUST, OTHER), (T3, 990, CUST, OTHER),
        (T4, 995, CUST, OTHER)]
    assert [(t.alerts, t.counted_by) for t in txs] == [
        ([], [f"{T3}-0"]), ([], [f"{T3}-0", f"{T4}-0"]), ([f"{T3}-0"], [f"{T4}-0"]),
        ([f"{T4}-0"], [])]
    assert goaml.description(txs[2]) == (
        f"chainfin transaction {T3}; alerts {T3}-0; a payment of the pattern of alerts {T4}-0")
    assert asked.count(f"/v1/tx/{T2}?tx=1") == 1  # each payment read once, signed


def test_a_pattern_payment_the_bank_cannot_read_whole_stops_the_report() -> None:
    values = _values()
    values[f"/v1/tx/{T2}?tx=1"] = _transfer(T2, 960, method="pay_lc")
    get, _ = _reader(values)
    with pytest.raises(ChainfinError, match=f"payment {T2} of its pattern is settlement.pay_lc"):
        goaml.gather(get, BANK, [f"{T3}-0"])
    del values[f"/v1/tx/{T2}?tx=1"]  # (404: not this bank's to read)
    with pytest.raises(ChainfinError, match="a transaction this bank does not read whole"):
        goaml.gather(get, BANK, [f"{T3}-0"])


def test_the_queue_prints_amounts_in_the_currencys_decimals_beside_the_minor_units() -> None:
    exps = {"USD": 2, "JPY": 0, "BHD": 3}
    line = cli_alerts.format_case({"rule": "limit_exceeded", "alert": "x-0", "detail": {
        "kind": "max_per_tx", "currency": "JPY", "amount": 1_500, "max": 1_000,
        "base": "USD", "base_amount": 1_005}}, exps)
    assert "amount=1500 (JPY 1,500)" in line and "max=1000 (USD 10.00)" in line
    assert "base_amount=1005 (USD 10.05)" in line
    line = cli_alerts.format_case({"rule": "limit_exceeded", "detail": {
        "kind": "velocity", "currency": "BHD", "amount": 1_234, "max": 5}}, exps)
    assert "amount=1234 (BHD 1.234)" in line and "max=5 " in line + " "  # a count
    line = cli_alerts.format_case({"rule": "structuring", "detail": {
        "currency": "EUR", "amount": 990, "near_limit_txs": [T1, T2]}}, exps)
    assert "amount=990 " in line + " "  # a currency without its exponent: minor units only
    assert f"near_limit_txs={T1[:16]}…,{T2[:16]}…" in line
