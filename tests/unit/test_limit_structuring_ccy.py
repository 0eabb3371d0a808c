"""Structuring across currencies (decision 206; docs/risk.md "Limits in a base currency"): near
payments under a base-currency per-payment maximum count in one count, whatever their currency
(they alternated between currencies and counted in each separately); without a base rule the
count stays per currency, and a plain transfer reads nothing more."""

from __future__ import annotations

from contracts.testing import Ledger
from tests.unit.test_contract_risk import alerts
from tests.unit.test_limit_ccy import CNY, JPY, G, R, S, _ledger, _reads, pay


def _base_limit(L: Ledger, who: str = "alice", bank: str = "bank_a") -> None:
    """USD 10.00 per payment in base USD, at JPY 0.67 cent and CNY 14 cents."""
    L.ok(bank, R, "set_limit", subject=L.pk(who), kind="max_per_tx", currency="USD",
         max=1_000, base=True)


def test_near_payments_alternating_between_currencies_count_once() -> None:
    """JPY 1,400 (938 cents), CNY 69.00 (966 cents), USD 9.50: each just under the base USD
    10.00 maximum, one per currency — the third alerts, naming the base."""
    L = _ledger()
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY, CNY])
    _base_limit(L)
    assert pay(L, "alice", "bob", "JPY", 1_400).ok
    assert not alerts(pay(L, "alice", "bob", "CNY", 6_900), "structuring")
    r = pay(L, "alice", "bob", "USD", 950)
    (a,) = alerts(r, "structuring")
    assert (a["near_limit_payments"], a["currency"]) == (3, "USD")
    (a,) = alerts(pay(L, "alice", "bob", "JPY", 1_450), "structuring")
    assert (a["near_limit_payments"], a["currency"], a["base"]) == (4, "JPY", "USD")
    assert L.get(R, f"stats/{L.pk('alice')}/USD")["near"][-1][1] == 4
    assert L.get(R, f"stats/{L.pk('alice')}/JPY").get("near") == []


def test_smurfing_into_one_account_across_currencies_alerts_the_payee() -> None:
    """Three fresh payers, each under a base USD 10.00 maximum, pay bob once each just under
    it, in JPY, CNY and USD: the payee's count is one too."""
    L = _ledger()
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY, CNY])
    for n, (ccy, amount) in zip(("m1", "m2", "m3"), (("JPY", 1_400), ("CNY", 6_900),
                                                       ("USD", 950)), strict=True):
        L.add_identity(n)
        L.ok("bank_a", G, "register_identity", pubkey=L.pk(n), name=f"Mule {n}",
             role="importer")
        L.ok("jpy_issuer" if ccy == "JPY" else "usd_issuer", S, "issue", currency=ccy,
             to=L.pk(n), amount=10_000)
        _base_limit(L, n)
        r = pay(L, n, "bob", ccy, amount)
    (a,) = alerts(r, "structuring")
    assert a["accounts"] == [L.pk("bob")] and a["near_limit_receipts"] == 3


def test_per_currency_limits_still_count_per_currency_and_read_nothing_more() -> None:
    """Without a base rule (a USD 10.00 and a JPY 1,500 maximum) near payments alternating
    between the two count in each (as before: decision 193); a payment not near a base
    maximum reads no base-currency memory."""
    L = _ledger()
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    for ccy, mx in (("USD", 1_000), ("JPY", 1_500)):
        L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx",
             currency=ccy, max=mx)
    for ccy, amount in (("USD", 950), ("JPY", 1_400), ("USD", 950), ("JPY", 1_400)):
        assert not alerts(pay(L, "alice", "bob", ccy, amount), "structuring")
    L2 = _ledger()
    L2.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    _base_limit(L2)
    seen = _reads(L2)
    assert pay(L2, "alice", "bob", "JPY", 1_000).ok  # 670 cents: not near
    assert not [k for k in seen if k.startswith("risk/stats/") and k.endswith("/USD")]
