"""The node's bank's risk figures for its compliance operations (decisions 273-276): committed
refusals of its customers' transactions by code, alerts raised on its customers by rule, its
open alerts and how long the oldest has waited.

**Its own bank's only.** The node counts what its bank's compliance team acts on: transactions
sent by the bank or a customer of it (the contracts' home-bank rule), and alerts queued for it
(its ``id:`` or ``bic:`` review queue, :mod:`contracts.risk_cases`). Another bank's customers'
refusals and alerts are left out although a validator executes them (decision 58): a metric
leaves the ledger's access rules for the monitoring stack (Prometheus, Grafana, the pager, their
vendors), unlogged by the read log and kept for months, and a per-code count of another bank's
sanctions hits is that bank's compliance fact, not this one's to page on. The chain-wide alert
counts (``chainfin_risk_alerts_total``, ``chainfin_risk_alerts_open``: :mod:`node.api_risk`)
are the supervisors' view, unchanged.

**Labels are codes and rules only**, from the contracts' fixed lists (:data:`REFUSAL_CODES`,
:data:`ALERT_RULES`); anything else is counted as ``other``, so a new code cannot grow the
series. No account, name, amount or transaction id is ever a label.

**Cost.** At commit: a rejected receipt appends ``(sender, code)`` to a list; a block is looked
at for alerts only when its writes hold one of the 12 ``risk/alert_count/<rule>`` keys (12 dict
lookups), and an alert's queues are read from the block's own writes (its case record): no
state read. The senders are attributed when ``/metrics`` is scraped (a few reads per distinct
sender), or at commit once :data:`PENDING_MAX` wait (a node nobody scrapes).

The families are served where ``chainfin_risk_*`` are (validators, regulators, auditors, the
node's own keys, the metrics listener: ``NodeMetrics.render_risk``), never to a customer's
``/metrics``: read before and after a payment, a count would tell its payer what it raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from chainfin import codec
from chainfin.execution import EXECUTION_CODES, BlockResult, Receipt, bic_key, storage_key
from contracts import (
    credit_sharing,
    governance,
    risk,
    risk_cases,
    settlement,
    settlement_recall,
    trade_documents,
)

#: every error code a committed refusal can carry: the execution layer's and each contract's
#: declared list. A code outside it (a contract that raises an undeclared one) is ``other``.
REFUSAL_CODES: tuple[str, ...] = tuple(sorted(
    set(EXECUTION_CODES) | set(governance.ERROR_CODES) | set(settlement.ERROR_CODES)
    | set(settlement_recall.ERROR_CODES) | set(risk.ERROR_CODES)
    | set(trade_documents.ERROR_CODES) | set(credit_sharing.ERROR_CODES)))
#: the codes a compliance team watches: exported at 0 from the start, so a first refusal is an
#: increase a rule sees (``increase()`` of a series that appears at 1 is 0)
COMPLIANCE_CODES = ("sanctioned_party", "limit_exceeded", "account_frozen", "identity_revoked",
                    "jurisdiction_refused", "controlled_goods", "rate_unavailable",
                    "incomplete_originator_info")
ALERT_RULES: tuple[str, ...] = risk.ALERT_RULES
OTHER = "other"
#: rejected receipts waiting for attribution before the commit path attributes them itself
PENDING_MAX = 4096
#: queue entries looked at from each queue's head for the oldest open alert
OLDEST_SCAN = 256
#: heights between two attempts to find the node's bank when it is not registered (yet)
RESOLVE_EVERY = 64

#: the sample names these figures export (tests/unit/test_deploy_files.py checks the alert rules
#: and the dashboard name only exported ones; tests/node/test_risk_metrics.py that these are)
FAMILIES = ("chainfin_bank_txs_refused_total", "chainfin_bank_risk_alerts_total",
            "chainfin_bank_risk_alerts_open", "chainfin_bank_risk_alert_oldest_open_age_seconds")

_ALERT_COUNT_KEYS = tuple(storage_key(risk.NAME, "alert_count/" + r) for r in ALERT_RULES)

StateGet = Callable[[str, str], Any]


class BankRiskMetrics:
    """The figures of one node's bank (a ``prometheus_client`` collector). ``bank_key``: the
    bank's key (``Node.bank``, else the node's own identity: validators are their banks' admin
    identities); ``get`` reads the committed state; ``now_ms`` is the wall clock."""

    def __init__(self, bank_key: bytes, get: StateGet, now_ms: Callable[[], int]) -> None:
        self._key = bank_key.hex()
        self._get = get
        self._now_ms = now_ms
        self.refused: dict[str, int] = {}
        self.alerts: dict[str, int] = {}
        #: (sender, code) of rejected receipts not attributed yet
        self.pending: list[tuple[bytes, str]] = []
        #: the bank: its identity id, record and review queues, once found
        self._bank: tuple[str, Mapping[str, Any], frozenset[str]] | None = None
        self._retry_at = 0

    # ------------------------------------------------------------------ commit (no state read)

    def rejected(self, rc: Receipt) -> None:
        """A committed block's rejected receipt (``EngineIO.after_commit``'s loop over the
        receipts calls it for those only): kept for attribution at the next scrape."""
        self.pending.append((rc.sender, rc.error_code or OTHER))

    def on_block(self, height: int, result: BlockResult) -> None:
        """A committed block's alerts on the bank's customers, after its receipts."""
        changes = result.changes
        for k in _ALERT_COUNT_KEYS:
            if k in changes:
                self._alerts_of(height, result)
                break
        if len(self.pending) >= PENDING_MAX:
            self.attribute()

    def _alerts_of(self, height: int, result: BlockResult) -> None:
        bank = self._resolve(height)
        if bank is None:
            return
        queues = bank[2]
        for e in result.events:
            if e.contract != risk.NAME or e.name != "alert":
                continue
            alert_id = e.data.get("alert")
            raw = result.changes.get(storage_key(risk.NAME, f"alert/{alert_id}"))
            if not isinstance(alert_id, str) or raw is None:
                continue
            case = codec.decode(raw)
            if isinstance(case, dict) and not queues.isdisjoint(case.get("queues") or ()):
                rule = e.data.get("rule")
                rule = rule if rule in ALERT_RULES else OTHER
                self.alerts[rule] = self.alerts.get(rule, 0) + 1

    # ------------------------------------------------------------------ the bank

    def _resolve(self, height: int | None = None
                 ) -> tuple[str, Mapping[str, Any], frozenset[str]] | None:
        """The bank's (identity id, record, queues), once it is registered as a bank (cached:
        a bank's id and BIC never change). Looked for again at most every
        :data:`RESOLVE_EVERY` heights from the commit path, at every scrape."""
        if self._bank is not None:
            return self._bank
        if height is not None:
            if height < self._retry_at:
                return None
            self._retry_at = height + RESOLVE_EVERY
        ident = self._key
        rec = self._get(governance.NAME, "id/" + ident)
        if rec is None:
            ident = self._get(governance.NAME, "key/" + self._key) or self._key
            rec = self._get(governance.NAME, "id/" + ident)
        if not isinstance(rec, dict) or rec.get("role") != "bank":
            return None
        queues = {"id:" + ident}
        if rec.get("bank"):
            queues.add("bic:" + bic_key(rec["bank"]))
        self._bank = (ident, rec, frozenset(queues))
        for c in COMPLIANCE_CODES:
            self.refused.setdefault(c, 0)
        for r in ALERT_RULES:
            self.alerts.setdefault(r, 0)
        return self._bank

    def attribute(self) -> None:
        """Count the pending refusals whose sender is the bank or one of its customers (the
        home-bank rule as of now); the others are dropped. A few reads per distinct sender."""
        pending, self.pending = self.pending, []
        bank = self._resolve()
        if bank is None or not pending:
            return
        bank_id, bank_rec, _ = bank
        regs = self._get(governance.NAME, "regulators") or []
        ours: dict[bytes, bool] = {}
        for sender, code in pending:
            mine = ours.get(sender)
            if mine is None:
                mine = ours[sender] = self._is_ours(sender.hex(), bank_id, bank_rec, regs)
            if mine:
                code = code if code in REFUSAL_CODES else OTHER
                self.refused[code] = self.refused.get(code, 0) + 1

    def _is_ours(self, key: str, bank_id: str, bank_rec: Mapping[str, Any],
                 regs: list[str]) -> bool:
        rec = self._get(governance.NAME, "id/" + key)
        ident = key
        if rec is None:
            ident = self._get(governance.NAME, "key/" + key) or key
            rec = self._get(governance.NAME, "id/" + ident)
        if ident == bank_id:
            return True
        return isinstance(rec, dict) and governance.home_bank_rule(bank_id, bank_rec, ident,
                                                                   rec, regs)

    # ------------------------------------------------------------------ scrape

    def collect(self) -> Iterator[Metric]:  # the prometheus_client Collector protocol
        self.attribute()
        bank = self._resolve()
        if bank is None:  # no bank here (yet): no bank figures rather than zeros
            return
        fam = CounterMetricFamily(
            "chainfin_bank_txs_refused",
            "Committed transactions of this node's bank and its customers refused, by error "
            "code (admission refusals are chainfin_tx_refused_total)", labels=["code"])
        for code, n in sorted(self.refused.items()):
            fam.add_metric([code], n)
        yield fam
        fam = CounterMetricFamily(
            "chainfin_bank_risk_alerts",
            "Risk alerts raised on this node's bank's customers (queued for its review), by "
            "rule", labels=["rule"])
        for rule, n in sorted(self.alerts.items()):
            fam.add_metric([rule], n)
        yield fam
        yield from self._backlog(bank)

    def _backlog(self, bank: tuple[str, Mapping[str, Any], frozenset[str]]
                 ) -> Iterator[Metric]:
        """The bank's open alerts (its queues' counts, two or three reads) and the wall-clock
        age of the oldest (at most :data:`OLDEST_SCAN` entries per queue from the head)."""
        id_q = "id:" + bank[0]
        bic_q = next((q for q in bank[2] if q.startswith("bic:")), None)
        get = self._get
        counts = risk_cases.bank_counts(get, id_q, bic_q)
        yield GaugeMetricFamily("chainfin_bank_risk_alerts_open",
                                "Risk alerts on this node's bank's customers not reviewed yet",
                                value=counts["open"])
        page, _ = risk_cases.merged_page(get, [q for q in (id_q, bic_q) if q is not None],
                                         [-1] * (1 + (bic_q is not None)), 1, OLDEST_SCAN)
        if page:
            age = max(0, self._now_ms() - int(page[0]["time_ms"])) / 1000
            yield GaugeMetricFamily(
                "chainfin_bank_risk_alert_oldest_open_age_seconds",
                "Wall-clock seconds since the oldest unreviewed alert on this node's bank's "
                "customers was raised (its block time)", value=age)


def wall_ms() -> int:
    return int(time.time() * 1000)
