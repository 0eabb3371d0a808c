"""A bank's compliance operations read its node's ``/metrics`` (decisions 273-276;
docs/operations.md "What to watch: the bank's risk figures"): committed refusals of its
customers' transactions by code, alerts raised on them by rule, its open alerts and the oldest
one's age — its own bank's only, labelled by codes and rules only, and served only to the
node's own keys (the operator), the supervisors and the metrics listener: never to a customer,
nor to another bank's validator. The alert rules that page on them parse. Real in-process nodes (the ``desk`` fixture: node0 is bank_a, node1 bank_b).

The world: bank_a registers ``c_own`` under its own BIC; the regulator (``auditor``) watches
``exporter2``; ``c_own`` pays exporter2 and is refused ``sanctioned_party``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from chainfin.crypto import Identity
from chainfin.execution import BlockResult, Receipt
from node.risk_metrics import ALERT_RULES, FAMILIES, OTHER, REFUSAL_CODES, BankRiskMetrics
from tests.fixtures import Desk
from tests.node.test_access import get_as
from tests.node.test_alert_queue_bank import review
from tests.node.test_tipping_off import pay, pk, watch_exporter2

ALERTS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "prometheus-alerts.yml"
_SAMPLE = re.compile(r'^(chainfin_bank_\w+?)(?:\{(\w+)="([^"]*)"\})? (\S+)$')


def bank_series(text: str) -> dict[tuple[str, str], float]:
    """The ``chainfin_bank_*`` samples of a Prometheus text: (name, label value) -> value."""
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not m.group(1).endswith("_created"):
            out[(m.group(1), m.group(3) or "")] = float(m.group(4))
    return out


def series(d: Desk, node: int) -> dict[tuple[str, str], float]:
    return bank_series(d.nodes[node].metrics.render_risk().decode())


async def customer(d: Desk) -> None:
    d.ids["c_own"] = Identity.generate("c_own")
    out = await d.commit(d.tx("bank_a", "governance", "register_identity", {
        "pubkey": pk(d, "c_own"), "name": "Customer Own", "role": "exporter",
        "bank": "BANK0US33XXX"}))
    assert out["status"] == "committed", out
    await d.commit(d.issue(1_000_000, "c_own"))
    await watch_exporter2(d)


async def sanctioned(d: Desk) -> dict[str, Any]:
    out = await d.commit(pay(d, "c_own", "exporter2", 500))
    assert (out["status"], out["error"]["code"]) == ("rejected", "sanctioned_party"), out
    return out


async def test_a_refused_sanctioned_payment_moves_its_code_by_one_and_nothing_else(
        desk: Desk) -> None:
    d = desk
    await customer(d)
    before, other_before = series(d, 0), series(d, 1)
    # a bank's compliance codes are there at 0 before any refusal (a rule's increase() needs
    # the 0): those of node0's bank (bank_a)
    assert before[("chainfin_bank_txs_refused_total", "sanctioned_party")] == 0, before
    assert before[("chainfin_bank_risk_alerts_total", "sanctioned_party")] == 0, before
    out = await sanctioned(d)
    after = series(d, 0)
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()
             if after.get(k, 0) != before.get(k, 0)}
    oldest = ("chainfin_bank_risk_alert_oldest_open_age_seconds", "")
    moved.pop(oldest, None)  # appeared (wall clock minus the block's time: 0 or more)
    assert oldest not in before and after[oldest] >= 0, after
    assert moved == {("chainfin_bank_txs_refused_total", "sanctioned_party"): 1,
                     ("chainfin_bank_risk_alerts_total", "sanctioned_party"): 1,
                     ("chainfin_bank_risk_alerts_open", ""): 1}, moved
    # bank_b's node executed the same block: not its customer, it counts nothing
    assert series(d, 1) == other_before
    # the bank's compliance officer reviews the alert: nothing open, no oldest age
    await review(d, "bank_a", out["tx_id"] + "-0")
    assert {k[0] for k in after} == set(FAMILIES)  # what the alert rules may name
    done = series(d, 0)
    assert done[("chainfin_bank_risk_alerts_open", "")] == 0
    assert ("chainfin_bank_risk_alert_oldest_open_age_seconds", "") not in done
    assert done[("chainfin_bank_txs_refused_total", "sanctioned_party")] == 1


async def test_no_label_names_an_account_and_a_customer_reads_none_of_it(desk: Desk) -> None:
    d = desk
    await customer(d)
    out = await sanctioned(d)
    st, text = await get_as(d, "bank_a", "/metrics")  # the node's own key: the operator
    assert st == 200
    text = text.decode()
    bank = [ln for ln in text.splitlines() if ln.startswith("chainfin_bank_")]
    assert any('code="sanctioned_party"' in ln for ln in bank), bank
    labels = {v for ln in bank for v in re.findall(r'="([^"]*)"', ln)}
    assert labels <= set(REFUSAL_CODES) | set(ALERT_RULES) | {OTHER}, labels
    secrets = [pk(d, w) for w in ("c_own", "exporter2", "bank_a")] + [
        out["tx_id"], "Customer Own", "500", "BANK0US33XXX"]
    assert not [s for s in secrets if any(s in ln for ln in bank)]
    # the customer (and any identity that does not read every block) gets none of it
    for who in ("c_own", "exporter2", "exporter"):
        st, body = await get_as(d, who, "/metrics")
        assert st == 200 and b"chainfin_bank_" not in body and b"chainfin_risk_" not in body, who
    # another bank's validator reads the chain-wide counts, not this bank's own figures; a
    # regulator reads both
    st, body = await get_as(d, "bank_b", "/metrics")
    assert st == 200 and b"chainfin_risk_alerts_total" in body and b"chainfin_bank_" not in body
    st, body = await get_as(d, "auditor", "/metrics")
    assert st == 200 and b'chainfin_bank_txs_refused_total{code="sanctioned_party"} 1' in body


def test_an_undeclared_code_or_rule_is_counted_as_other() -> None:
    """The label sets are the contracts' lists: a code or rule not in them cannot add a series."""
    bank = "ab" * 32
    state = {("governance", "id/" + bank): {"role": "bank", "bank": "BANK0US33XXX"},
             ("governance", "regulators"): []}
    m = BankRiskMetrics(bytes.fromhex(bank), lambda c, k: state.get((c, k)), lambda: 0)
    for i in range(50):
        m.rejected(Receipt(b"\x01" * 32, bytes.fromhex(bank), i, 0, "rejected", f"new_code_{i}"))
    m.rejected(Receipt(b"\x02" * 32, bytes.fromhex(bank), 99, 0, "rejected", "sanctioned_party"))
    m.on_block(1, BlockResult({}, [], [], None, None))  # type: ignore[arg-type]
    got = bank_series(b"".join(_render(m)).decode())
    refused = {k[1]: v for k, v in got.items() if k[0] == "chainfin_bank_txs_refused_total"}
    assert refused[OTHER] == 50 and refused["sanctioned_party"] == 1
    assert set(refused) <= set(REFUSAL_CODES) | {OTHER}
    for code in ("sanctioned_party", "limit_exceeded", "account_frozen",
                 "incomplete_originator_info", "jurisdiction_refused", "rate_unavailable"):
        assert code in REFUSAL_CODES, code


def _render(m: BankRiskMetrics) -> list[bytes]:
    from prometheus_client import CollectorRegistry, generate_latest

    r = CollectorRegistry(auto_describe=False)
    r.register(m)
    return [generate_latest(r)]


def test_the_alert_rules_parse_and_page_on_the_bank_families() -> None:
    """``promtool check rules`` where it is installed; here the YAML's structure: every rule an
    alert with an expression, a severity and a summary, and the bank's two rules on the
    families the node exports."""
    doc = yaml.safe_load(ALERTS_FILE.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert all(g["name"] and g["rules"] for g in doc["groups"])
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
        assert r["alert"] and r["expr"] and r["labels"]["severity"] in ("critical", "warning")
        assert r["annotations"]["summary"], r
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    by = {r["alert"]: r for r in rules}
    sanctions = by["ChainfinBankSanctionsRefusal"]
    assert 'chainfin_bank_txs_refused_total{code="sanctioned_party"}' in sanctions["expr"]
    assert 'chainfin_bank_risk_alerts_total{rule="sanctioned_party"}' in sanctions["expr"]
    assert sanctions["labels"]["severity"] == "critical"
    assert "chainfin_bank_risk_alert_oldest_open_age_seconds" in by[
        "ChainfinBankAlertReviewOverdue"]["expr"]


def test_an_alert_counts_when_its_case_lists_a_queue_of_the_bank_and_unscraped_refusals_are_bounded(
        ) -> None:
    """Read from the block's own writes (the case's ``queues``): another bank's customer's
    alert is not counted. A node nobody scrapes attributes its refusals once
    :data:`PENDING_MAX` wait, at commit, rather than keep them all."""
    from chainfin import codec
    from chainfin.execution import Event, storage_key
    from node.risk_metrics import PENDING_MAX

    bank = "ab" * 32
    state = {("governance", "id/" + bank): {"role": "bank", "bank": "BANK0US33XXX"},
             ("governance", "regulators"): []}
    m = BankRiskMetrics(bytes.fromhex(bank), lambda c, k: state.get((c, k)), lambda: 0)
    changes: dict[bytes, bytes | None] = {storage_key("risk", "alert_count/structuring"): b"\x02"}
    events = []
    for i, queues in enumerate(({"*": 0, "id:" + "cd" * 32: 0}, {"*": 1, "bic:BANK0US33XXX": 0})):
        alert = f"{'ef' * 32}-{i}"
        changes[storage_key("risk", "alert/" + alert)] = codec.encode(
            {"rule": "structuring", "queues": queues})
        events.append(Event(b"\x03" * 32, "risk", "alert", {"alert": alert, "rule": "structuring"}))
    for i in range(PENDING_MAX):
        m.rejected(Receipt(b"\x01" * 32, bytes.fromhex(bank), i, 0, "rejected", "limit_exceeded"))
    m.on_block(7, BlockResult(changes, [], events, None, None))  # type: ignore[arg-type]
    assert m.alerts["structuring"] == 1 and m.pending == []
    assert m.refused["limit_exceeded"] == PENDING_MAX


async def test_a_failure_in_the_bank_figures_never_stops_a_commit(
        desk: Desk, monkeypatch: Any) -> None:
    """The figures are counted in the commit path: an exception there (a state read failing in
    them) was the consensus loop's and stopped the node. Now it is logged and the block
    commits on every node."""
    def broken(self: BankRiskMetrics, height: int, result: BlockResult) -> None:
        raise RuntimeError("a read failed")

    monkeypatch.setattr(BankRiskMetrics, "on_block", broken)
    await customer(desk)
    await sanctioned(desk)
    assert all(nd.failure is None for nd in desk.nodes)
