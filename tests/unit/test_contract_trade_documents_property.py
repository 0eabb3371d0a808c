"""Property: over random sequences of register / link / attest / finance / repay / issue_lc /
present / accept / refuse across several banks and exporters, every trade's total ever financed
stays within its pool, and per currency the settlement supply is conserved (sum of balances =
issued - redeemed, no balance negative)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import trade_documents as td
from contracts.testing import Ledger
from tests.unit.trade_cases import BUYER, MATURITY, T, h, trade_ledger

EXPORTERS = {"exporter": "ACME Exports Ltd", "exporter2": "Borealis Trading Co"}
BANKS = ("bank_a", "bank_b", "bank_c")

OPS = ("invoice", "declaration", "loose_declaration", "link", "attest", "finance", "finance",
       "repay", "issue_lc", "present", "accept", "refuse")

op_strategy = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 2**20),
                                 st.integers(1, 60_000_00)), min_size=1, max_size=40)


class Model:
    """What the test has created so far (ids only; the ledger is the truth)."""

    def __init__(self) -> None:
        self.trades: list[tuple[str, str]] = []  # (trade_id, exporter)
        self.declarations: list[str] = []
        #: declarations registered in no trade: (doc_id, exporter, the trade they were made for)
        self.loose: list[tuple[str, str, str | None]] = []
        self.financings: list[tuple[str, str]] = []  # (financing_id, exporter)
        self.lcs: list[tuple[str, str, str]] = []  # (lc_id, trade_id, exporter)
        self.presentations: list[str] = []
        self.n = 0


def pick(seq: list[Any], k: int) -> Any:
    return seq[k % len(seq)] if seq else None


def step(led: Ledger, m: Model, op: str, k: int, amount: int) -> None:
    m.n += 1
    n = m.n
    if op == "invoice":
        who = pick(sorted(EXPORTERS), k)
        r = led.tx(who, T, "register", doc_type="invoice", content_hash=h(("inv", n)), fields={
            "seller": EXPORTERS[who], "buyer": BUYER, "number": f"INV-{k % 7}",
            "issue_date": "2025-11-20", "amount": amount + k % 3, "currency": "USD"})
        if r.ok:
            m.trades.append((r.result["trade_id"], who))
    elif op == "declaration" and m.trades:
        trade_id, who = pick(m.trades, k)
        inv_amount = led.get(T, "trade/" + trade_id)["amount"]
        r = led.tx(who, T, "register", doc_type="customs_declaration",
                   content_hash=h(("decl", n)), trade_id=trade_id,
                   fields={"declaration_number": f"CD-{n}", "exporter": EXPORTERS[who],
                           "amount": inv_amount - inv_amount * (k % 7) // 100,
                           "currency": "USD"})
        if r.ok:
            m.declarations.append(r.result["doc_id"])
    elif op == "loose_declaration":
        who, meant = pick(sorted(EXPORTERS), k), None
        if m.trades and k % 3:  # usually made for some trade (its exporter and amount)
            meant, who = pick(m.trades, k // 7)
            amount = led.get(T, "trade/" + meant)["amount"]
        r = led.tx(who, T, "register", doc_type="customs_declaration",
                   content_hash=h(("loose", n)),
                   fields={"declaration_number": f"CD-L{n}", "exporter": EXPORTERS[who],
                           "amount": amount, "currency": "USD"})
        if r.ok:
            m.loose.append((r.result["doc_id"], who, meant))
            m.declarations.append(r.result["doc_id"])
    elif op == "link" and m.loose and m.trades:
        doc_id, who, meant = pick(m.loose, k)
        trade_id = meant if meant is not None and k % 4 else pick(m.trades, k // 7)[0]
        led.tx(who, T, "link", trade_id=trade_id, doc_id=doc_id)
    elif op == "attest" and m.declarations:
        led.tx("customs", T, "attest", doc_id=pick(m.declarations, k),
               result="match" if k % 5 else "mismatch", declared_amount=amount)
    elif op == "finance" and m.trades:
        trade_id, who = pick(m.trades, k)
        r = led.tx(pick(list(BANKS), k // 3), T, "request_financing", trade_id=trade_id,
                   amount=amount // (1 + k % 4), currency="USD", maturity_date=MATURITY)
        if r.ok:
            m.financings.append((r.result["financing_id"], who))
    elif op == "repay" and m.financings:
        fid, who = pick(m.financings, k)
        led.tx(who, T, "repay", financing_id=fid, amount=amount // 4 + 1)
    elif op == "issue_lc" and m.trades:
        trade_id, who = pick(m.trades, k)
        r = led.tx("bank_c", T, "issue_lc", applicant=led.pk("importer"),
                   beneficiary=led.pk(who), amount=amount, currency="USD",
                   expiry_date="2026-06-30", lc_number=f"LC-{n}", required_docs=["invoice"],
                   tolerance_bps=k % 1000, partial_drawings=bool(k % 2), trade_id=trade_id)
        if r.ok:
            m.lcs.append((r.result["lc_id"], trade_id, who))
    elif op == "present" and m.lcs:
        lc_id, trade_id, who = pick(m.lcs, k)
        trade = led.get(T, "trade/" + trade_id)
        r = led.tx(who, T, "present", lc_id=lc_id, doc_ids=[trade["invoice"]], amount=amount)
        if r.ok:
            m.presentations.append(r.result["presentation_id"])
    elif op == "accept" and m.presentations:
        led.tx("bank_c", T, "accept_presentation", presentation_id=pick(m.presentations, k))
    elif op == "refuse" and m.presentations:
        led.tx("bank_c", T, "refuse_presentation", presentation_id=pick(m.presentations, k),
               discrepancies=["other"])


def check_invariants(led: Ledger, m: Model) -> None:
    for trade_id, _ in m.trades:
        trade = led.get(T, "trade/" + trade_id)
        fins = [led.get(T, "fin/" + f) for f in trade["financings"]]
        assert trade["financed"] == sum(f["amount"] for f in fins)
        assert trade["financed"] <= td.pool_of(led.state, trade)
        assert trade["outstanding"] == sum(f["amount"] - f["repaid"] for f in fins)
        assert all(0 <= f["repaid"] <= f["amount"] for f in fins)
    balances = led.balances("USD")
    supply = led.get("settlement", "supply/USD")
    assert all(v > 0 for v in balances.values())
    assert sum(balances.values()) == supply["issued"] - supply["redeemed"]
    for lc_id, _, _ in m.lcs:
        lc = led.get(T, "lc/" + lc_id)
        assert 0 <= lc["drawn"] + lc["reserved"] <= td.letters_of_credit.available(
            {**lc, "drawn": 0, "reserved": 0})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=op_strategy)
def test_pool_never_exceeded_and_money_conserved(ops: list[tuple[str, int, int]]) -> None:
    led = trade_ledger(max_advance_rate_bps=9_000)
    m = Model()
    for op, k, amount in ops:
        step(led, m, op, k, amount)
        check_invariants(led, m)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=op_strategy)
def test_same_without_required_attestation(ops: list[tuple[str, int, int]]) -> None:
    led = trade_ledger(financing_requires_attestation=False)
    m = Model()
    for op, k, amount in ops:
        step(led, m, op, k, amount)
        check_invariants(led, m)
