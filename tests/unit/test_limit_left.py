"""What decisions 187-188 left of limits in a base currency (decisions 193, 194; docs/risk.md
"Limits in a base currency"): structuring measured against a base-currency per-payment limit,
a bank's financing exposure limit in a base currency, and a rule replaced under the same
``rule_id`` in other units (its counter's units kept: refused)."""

from __future__ import annotations

import pytest

from chainfin.errors import ContractError
from chainfin.execution import Overlay, TxContext
from contracts import risk
from contracts.testing import Ledger
from tests.unit.test_contract_risk import _ctx, alerts
from tests.unit.test_limit_ccy import DAY_S, JPY, R, _ledger, _reads, daily_usd, pay

_EXP: dict[int, _Exp] = {}  # the ledger's overlay under test (one per test)


@pytest.fixture
def L() -> Ledger:
    _EXP.clear()
    return _ledger()


# ---------------------------------------------------------------------------- structuring


def test_structuring_under_a_base_limit_counts_payments_in_another_currency(L: Ledger) -> None:
    """A structurer under a USD 10.00 per-payment limit in base USD paying JPY just under it
    raised nothing (structuring was measured against limits in the payment's own currency).
    JPY 1,400 counts as 938 cents (rounded up, as the limit counts it): at least 90 %."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000, base=True)
    assert not alerts(pay(L, "alice", "bob", "JPY", 1_000), "structuring")  # 670: not near
    for amount in (1_400, 1_450):
        r = pay(L, "alice", "bob", "JPY", amount)
        assert r.ok and not alerts(r, "structuring")
    r = pay(L, "alice", "bob", "JPY", 1_492)  # 999.64 -> 1,000 cents: at the limit, passes
    assert r.ok
    (a,) = alerts(r, "structuring")
    assert a["near_limit_payments"] == 3 and a["currency"] == "JPY"
    # JPY 1,343 = 899.81 -> 900 cents: exactly 90 % once rounded up, so near
    assert alerts(pay(L, "alice", "bob", "JPY", 1_343), "structuring")


def test_structuring_takes_the_limit_the_payment_comes_nearest_to(L: Ledger) -> None:
    """Under a per-currency JPY 100,000 maximum and a base USD 10.00 one, JPY payments just
    under the base limit are near it (they were measured against the JPY maximum only, far
    above them); in USD the lowest maximum is the base one, as before. Near payments under the
    base maximum count in one count whatever their currency (decision 206), so three near
    payments in one currency alert, and those in another add to them."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=10_000, rule_id="usd")
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000, base=True, rule_id="base")
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="JPY",
         max=100_000, rule_id="jpy")
    for amount in (1_400, 1_450):
        assert pay(L, "alice", "bob", "JPY", amount).ok
    assert alerts(pay(L, "alice", "bob", "JPY", 1_492), "structuring")
    for amount in (950, 960):
        assert pay(L, "alice", "bob", "USD", amount).ok
    assert alerts(pay(L, "alice", "bob", "USD", 999), "structuring")
    assert pay(L, "alice", "bob", "JPY", 1_493).error_code == "limit_exceeded"


def test_an_account_under_per_currency_limits_reads_no_rate_for_structuring(L: Ledger) -> None:
    """The cost rule: a plain transfer under no base rule reads no rate nor any new key."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="JPY",
         max=100_000)
    daily_usd(L)
    seen = _reads(L)
    assert pay(L, "alice", "bob", "JPY", 95_000).ok
    assert not [k for k in seen if "rates/" in k or "retired/" in k or "exposure" in k]


# ---------------------------------------------------------------------------- exposure


class _Exp:
    """A bank's financing checked against its exposure limits, in an overlay of the ledger."""
    st: Overlay
    ctx: TxContext

    def __init__(self, L: Ledger) -> None:
        self.st, self.ctx = _ctx(L, "bank_a")


def _exp(L: Ledger, fresh: bool = False) -> _Exp:
    if fresh or id(L) not in _EXP:
        _EXP[id(L)] = _Exp(L)
    return _EXP[id(L)]


def _exposure(L: Ledger, ccy: str, amount: int, buyer: str = "Globex Corp") -> None:
    st, ctx = _exp(L).st, _exp(L).ctx
    risk.check_financing_exposure(st, ctx, L.pk("bank_a"), L.pk("bob"), buyer, ccy, amount)


def _refused(L: Ledger, ccy: str, amount: int) -> ContractError:
    with pytest.raises(ContractError) as ei:
        _exposure(L, ccy, amount)
    return ei.value


def test_a_financing_exposure_limit_in_a_base_currency_counts_every_currency(
        L: Ledger) -> None:
    """A bank's exposure limit per buyer was per currency: USD 1,000.00 to Globex in USD and
    as much again in JPY. In base USD the JPY outstanding counts at the reference rate (rounded
    up); a repayment releases it; what was outstanding before the limit was set counts."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    _exposure(L, "USD", 40_000)  # before any limit: outstanding USD 400.00
    L.state.apply(_exp(L).st.changes())  # (the outstanding amount, on chain)
    r = L.ok("bank_a", R, "set_exposure_limit", side="buyer", party="Globex Corp",
             currency="USD", max=100_000, base=True)
    assert r["base"] is True
    _exp(L, fresh=True)
    _exposure(L, "USD", 50_000)
    _exposure(L, "JPY", 14_925)  # 9,999.75 -> 10,000 cents: 100,000 outstanding in all
    e = _refused(L, "JPY", 1)
    assert e.code == "limit_exceeded" and "exposure:buyer" in str(e)
    assert "JPY 1 (1 minor units) counted as USD 0.01 (1 minor units)" in str(e)
    risk.release_financing_exposure(_exp(L).st, L.pk("bank_a"), L.pk("bob"), "Globex Corp", "JPY",
                                    14_925)
    _exposure(L, "JPY", 14_925)
    assert _refused(L, "USD", 1).code == "limit_exceeded"
    # another buyer: no limit
    _exposure(L, "JPY", 10**7, buyer="Initech")
    # stale: the JPY outstanding can no longer be counted, so nothing more is financed
    L.state.apply(_exp(L).st.changes())
    L.now_ms += 7 * DAY_S * 1000
    risk.release_financing_exposure(_exp(L, fresh=True).st, L.pk("bank_a"), L.pk("bob"),
                                    "Globex Corp", "USD", 10_000)
    e = _refused(L, "USD", 1)
    assert e.code == "rate_unavailable" and "JPY" in str(e)


def test_who_sets_a_base_exposure_limit(L: Ledger) -> None:
    """A regulator's base cap on a bank is the bank's to obey, not to raise; a bank sets its
    own; the per-currency limit stays beside it."""
    L.ok("regulator", R, "set_exposure_limit", side="exporter", party=L.pk("bob"),
         currency="USD", max=1_000, base=True, bank=L.pk("bank_a"))
    L.fails("forbidden", "bank_a", R, "set_exposure_limit", side="exporter", party=L.pk("bob"),
            currency="JPY", max=10**9, base=True)
    L.ok("bank_a", R, "set_exposure_limit", side="exporter", party=L.pk("bob"),
         currency="USD", max=500)  # per currency, its own
    assert _refused(L, "USD", 501).code == "limit_exceeded"
    L.fails("bad_field", "bank_a", R, "set_exposure_limit", side="exporter",
            party=L.pk("bob"), currency="USD", max=1, base="yes")


# ---------------------------------------------------------------------------- rule units


def test_a_rule_replaced_in_other_units_under_the_same_id_is_refused(L: Ledger) -> None:
    """The counter of ``daily-usd`` holds USD cents; re-set in base USD or in JPY under the same
    id it was read in the new units (USD 1,000.00 spent read as JPY 100,000 of a JPY 150,000
    limit) — or, reset, a spent daily limit laundered by re-setting it. Refused; a new id is a
    new rule; the same units keep the counter."""
    daily_usd(L)
    assert pay(L, "alice", "bob", "USD", 100_000).ok
    for more in ({"base": True}, {"currency": "JPY", "max_": 150_000}):
        kw = dict(more)
        ccy = kw.pop("currency", "USD")
        r = L.tx("bank_a", R, "set_limit", subject=L.pk("alice"), kind="window_outflow",
                 currency=ccy, max=kw.pop("max_", 100_000), window_s=DAY_S,
                 rule_id="daily-usd", **kw)
        assert r.error_code == "bad_field" and "another rule_id" in str(r.error_message)
    daily_usd(L, max_=100_001)  # same units: the counter is kept
    assert pay(L, "alice", "bob", "USD", 2).error_code == "limit_exceeded"
    assert pay(L, "alice", "bob", "USD", 1).ok


def test_a_removed_rules_id_keeps_its_units_for_a_window(L: Ledger) -> None:
    """Remove and re-set under the same id, or replace by a per-payment maximum and back: the
    same check, until the old window has passed."""
    daily_usd(L)
    assert pay(L, "alice", "bob", "USD", 100_000).ok
    L.ok("bank_a", R, "remove_limit", subject=L.pk("alice"), rule_id="daily-usd")
    L.fails("bad_field", "bank_a", R, "set_limit", subject=L.pk("alice"),
            kind="window_outflow", currency="USD", max=100_000, window_s=DAY_S,
            rule_id="daily-usd", base=True)
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="JPY",
         max=10, rule_id="daily-usd")
    L.fails("bad_field", "bank_a", R, "set_limit", subject=L.pk("alice"),
            kind="window_outflow", currency="JPY", max=100_000, window_s=DAY_S,
            rule_id="daily-usd")
    daily_usd(L)  # back in USD: the counter is still spent
    assert pay(L, "alice", "bob", "USD", 1).error_code == "limit_exceeded"
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="window_outflow",
         currency="USD", max=100_000, window_s=DAY_S, rule_id="daily-all", base=True)
    L.ok("bank_a", R, "remove_limit", subject=L.pk("alice"), rule_id="daily-usd")
    L.now_ms += DAY_S * 1000 + 1
    daily_usd(L, base=True)  # a window later the id is free
    assert L.get(R, "retired/" + L.pk("alice") + "/daily-usd") is None


def test_a_rule_re_set_with_another_window_keeps_what_was_paid(L: Ledger) -> None:
    """Re-set ``daily-usd`` with a window of 90,157 s (docs/risk.md's advice for a rule over
    every span of 24 h) and the spent counter was dropped (another bucket size): a spent daily
    limit laundered by re-setting it. Its buckets are re-cut, each counted from its start, so
    a payment never counts longer than the new window after it was made."""
    daily_usd(L)
    assert pay(L, "alice", "bob", "USD", 60_000).ok
    L.now_ms += 3_600_000
    assert pay(L, "alice", "bob", "USD", 40_000).ok
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="window_outflow",
         currency="USD", max=100_000, window_s=90_157, rule_id="daily-usd")
    assert pay(L, "alice", "bob", "USD", 1).error_code == "limit_exceeded"
    L.now_ms += 90_157_000 - 3_600_000  # the first payment's new window has passed
    assert pay(L, "alice", "bob", "USD", 60_001).error_code == "limit_exceeded"
    assert pay(L, "alice", "bob", "USD", 60_000).ok


def test_a_network_rule_re_set_in_other_units_by_vote_fails(L: Ledger) -> None:
    """A network rule's counters are in every account's usage record: the same check at the
    vote's application (the proposal ends ``failed``; a new id is a new rule)."""
    from tests.unit.test_limit_ccy import G

    def vote(**params: object) -> str:
        pid = L.ok("bank_a", G, "propose", action="set_network_limit", params={
            "kind": "window_outflow", "max": 100_000, "window_s": DAY_S, **params})["proposal_id"]
        for v in ("bank_b", "bank_c"):
            res = L.ok(v, G, "vote", proposal_id=pid)
        return str(res["status"])

    assert vote(currency="USD", rule_id="net") == "applied"
    assert pay(L, "alice", "bob", "USD", 100_000).ok
    assert vote(currency="USD", rule_id="net", base=True) == "failed"
    assert pay(L, "alice", "bob", "USD", 1).error_code == "limit_exceeded"
    assert vote(currency="USD", rule_id="net-all", base=True) == "applied"
