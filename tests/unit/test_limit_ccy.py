"""A limit that holds across currencies (decisions 187, 188; docs/risk.md "Limits in a base
currency"): a limit set in a base currency counts the payments of every currency at the
regulator's reference rates (exact integer ratios of minor units, rounded up against the
customer); a rate older than 6 days, or none, refuses the payment of an account under such a
limit (``rate_unavailable``); an account without one reads no rate and pays as before.

The bypass this closes (docs/redteam-risk.md "Left", round 9): a customer at its USD daily
limit paid on in JPY, CNY, ..., or through a swap's leg."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin.execution import DictState
from contracts import risk_rates
from contracts.testing import CAST, Ledger, make_genesis

S, R, G = "settlement", "risk", "governance"
DAY_S = 24 * 3600
#: 1,000,000 JPY (exponent 0) = USD 6,700.00 (670,000 cents): 1 JPY = 0.67 cent
JPY = {"currency": "JPY", "per": 1_000_000, "base_units": 670_000}
#: CNY 100.00 (10,000 fen) = USD 14.00 (1,400 cents)
CNY = {"currency": "CNY", "per": 10_000, "base_units": 1_400}


def _ledger() -> Ledger:
    """alice (importer, bank_a's) and bob (exporter, bank_b's), each with USD 10,000.00,
    JPY 10,000,000 and CNY 10,000.00."""
    L = Ledger(make_genesis(dict(CAST, bank_b=("bank", True, True))))
    for n, role, bank in (("alice", "importer", "bank_a"), ("bob", "exporter", "bank_b")):
        L.add_identity(n)
        L.ok(bank, G, "register_identity", pubkey=L.pk(n), name=n.title() + " Trading",
             role=role)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(n), amount=1_000_000)
        L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk(n), amount=10_000_000)
        L.ok("usd_issuer", S, "issue", currency="CNY", to=L.pk(n), amount=1_000_000)
    return L


@pytest.fixture
def L() -> Ledger:
    return _ledger()


def pay(L: Ledger, frm: str, to: str, currency: str, amount: int) -> Any:
    return L.tx(frm, S, "transfer", to=L.pk(to), currency=currency, amount=amount)


def daily_usd(L: Ledger, who: str = "alice", max_: int = 100_000, **more: Any) -> None:
    """USD 1,000.00 a day out of ``who``, in every currency (its home bank sets it)."""
    L.ok("bank_a", R, "set_limit", subject=L.pk(who), kind="window_outflow", currency="USD",
         max=max_, window_s=DAY_S, rule_id="daily-usd", **more)


def test_at_its_usd_daily_limit_a_customer_no_longer_pays_on_in_another_currency(
        L: Ledger) -> None:
    """The bypass: at the USD daily limit, JPY and CNY went out unlimited (a USD limit counted
    USD only). A limit in base USD counts them at the reference rates."""
    daily_usd(L, base=True)
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY, CNY])
    assert pay(L, "alice", "bob", "USD", 90_000).ok
    # JPY 14,925 = 9,999.75 cents -> 10,000 (rounded up): exactly at the limit
    assert pay(L, "alice", "bob", "JPY", 14_925).ok
    r = pay(L, "alice", "bob", "JPY", 1)
    assert r.error_code == "limit_exceeded", r.error_message
    assert "JPY 1 (1 minor units) counted as USD 0.01 (1 minor units)" in r.error_message
    alert = next(e.data for e in r.events if e.name == "alert")
    assert alert["base"] == "USD" and alert["base_amount"] == 1 and alert["amount"] == 1
    assert pay(L, "alice", "bob", "CNY", 100).error_code == "limit_exceeded"
    assert pay(L, "alice", "bob", "USD", 1).error_code == "limit_exceeded"
    # a day later the window is empty again
    L.now_ms += DAY_S * 1000
    assert pay(L, "alice", "bob", "CNY", 700_000).ok  # CNY 7,000.00 = USD 980.00
    # CNY 200.00 = USD 28.00, USD 20.00 left
    assert pay(L, "alice", "bob", "CNY", 20_000).error_code == "limit_exceeded"


def test_a_per_payment_limit_in_a_base_currency_and_its_rounding_up(L: Ledger) -> None:
    """1 JPY is 0.67 cent: counted as 1 cent; 150 JPY (100.5 cents) as 101, over a 100-cent
    maximum, and 149 JPY (99.83 cents) as 100, at it. Rounding is always up, against the
    customer."""
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=100, rule_id="one-usd", base=True)
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    assert risk_rates.to_base(L.state, L.now_ms, "USD", "JPY", 1) == 1
    assert risk_rates.to_base(L.state, L.now_ms, "USD", "JPY", 0) == 0
    assert risk_rates.to_base(L.state, L.now_ms, "USD", "USD", 7) == 7
    assert pay(L, "alice", "bob", "JPY", 149).ok
    assert pay(L, "alice", "bob", "JPY", 150).error_code == "limit_exceeded"
    assert pay(L, "alice", "bob", "USD", 100).ok
    assert pay(L, "alice", "bob", "USD", 101).error_code == "limit_exceeded"
    # a window counts the rounded-up amounts: 3 payments of 1 JPY are 3 cents, not 2.01
    daily_usd(L, max_=3, base=True)
    for _ in range(3):
        assert pay(L, "alice", "bob", "JPY", 1).ok
    assert pay(L, "alice", "bob", "JPY", 1).error_code == "limit_exceeded"


def test_a_stale_or_missing_rate_refuses_the_payment_until_a_fresh_one_is_published(
        L: Ledger) -> None:
    """Decision 188: fail closed. No rate of the currency, or one more than 6 days old:
    ``rate_unavailable``; the base currency itself needs no rate; a fresh rate lets it pay."""
    daily_usd(L, base=True)
    assert pay(L, "alice", "bob", "JPY", 100).error_code == "rate_unavailable"
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    assert pay(L, "alice", "bob", "JPY", 100).ok
    assert pay(L, "alice", "bob", "CNY", 100).error_code == "rate_unavailable"  # none for CNY
    published = L.get(R, "rates/USD")["JPY"]["time_ms"]
    L.now_ms = published + risk_rates.MAX_RATE_AGE_MS - 1_000  # next block: 6 days after it
    assert pay(L, "alice", "bob", "JPY", 100).ok
    r = pay(L, "alice", "bob", "JPY", 100)
    assert r.error_code == "rate_unavailable" and "144 h old" in r.error_message
    assert pay(L, "alice", "bob", "USD", 100).ok
    assert pay(L, "bob", "alice", "JPY", 100).ok  # bob has no base limit
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    assert pay(L, "alice", "bob", "JPY", 100).ok


def test_who_publishes_rates_and_what_a_publication_may_say(L: Ledger) -> None:
    L.fails("forbidden", "bank_a", R, "publish_rates", base="USD", rates=[JPY])
    for rates, code in (([{**JPY, "currency": "USD"}], "bad_field"),  # the base
                        ([JPY, JPY], "bad_field"),
                        ([{**JPY, "per": 0}], "bad_field"),
                        ([{**JPY, "per": "1"}], "bad_field"),
                        ([{**JPY, "rate": 1}], "unknown_field"),
                        ([{"currency": "JPY", "per": 1}], "missing_field"),
                        ([{**JPY, "currency": "EUR"}], "unknown_currency")):
        L.fails(code, "regulator", R, "publish_rates", base="USD", rates=rates)
    L.fails("bad_field", "regulator", R, "publish_rates", base="USD", rates=[JPY],
            as_of_ms=L.now_ms + 60_000)  # later than the block
    L.fails("bad_field", "regulator", R, "publish_rates", base="USD", rates=[JPY],
            as_of_ms=L.now_ms - risk_rates.MAX_RATE_AGE_MS)  # stale on arrival
    r = L.ok("regulator", R, "publish_rates", base="USD", rates=[CNY, JPY],
             as_of_ms=L.now_ms - 3_600_000)
    assert r["currencies"] == ["CNY", "JPY"]
    L.fails("bad_field", "regulator", R, "publish_rates", base="USD", rates=[JPY],
            as_of_ms=L.now_ms - 7_200_000)  # older than the rate it would replace
    assert L.get(R, "rates/USD")["JPY"]["per"] == 1_000_000
    # a velocity rule counts payments: it has no base form
    L.fails("bad_field", "bank_a", R, "set_limit", subject=L.pk("alice"), kind="velocity",
            currency="USD", max=3, window_s=DAY_S, base=True)
    L.fails("bad_field", "bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx",
            currency="USD", max=3, base="yes")


def test_a_pvp_give_leg_counts_against_a_base_limit_at_offer_and_at_acceptance(
        L: Ledger) -> None:
    """Each side's give leg is its payment: the offerer's when offered, the accepter's when
    accepted, each counted in base USD (a swap was the other way round the USD limit)."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY, CNY])
    daily_usd(L, base=True)
    L.ok("bank_b", R, "set_limit", subject=L.pk("bob"), kind="window_outflow",
         currency="USD", max=100_000, window_s=DAY_S, base=True)
    exp = L.now_ms + 2 * DAY_S * 1000
    assert pay(L, "alice", "bob", "USD", 100_000).ok  # alice at its limit
    assert L.tx("alice", S, "offer_pvp", counterparty=L.pk("bob"),
                give={"currency": "JPY", "amount": 1_000}, get={"currency": "CNY", "amount": 1},
                expires_at=exp).error_code == "limit_exceeded"
    assert pay(L, "bob", "alice", "USD", 99_000).ok  # bob: USD 10.00 left
    # CNY 100.00 = USD 14.00: refused at the offer
    assert L.tx("bob", S, "offer_pvp", counterparty=L.pk("alice"),
                give={"currency": "CNY", "amount": 10_000}, get={"currency": "JPY", "amount": 1},
                expires_at=exp).error_code == "limit_exceeded"
    # CNY 50.00 = USD 7.00 passes; alice's JPY 100 leg (67 cents) is refused at acceptance
    oid = L.ok("bob", S, "offer_pvp", counterparty=L.pk("alice"),
               give={"currency": "CNY", "amount": 5_000}, get={"currency": "JPY", "amount": 100},
               expires_at=exp)["offer_id"]
    assert L.tx("alice", S, "accept_pvp", offer_id=oid).error_code == "limit_exceeded"
    L.now_ms += DAY_S * 1000  # alice's window has emptied
    jpy = L.balance("alice", "JPY")
    assert L.tx("alice", S, "accept_pvp", offer_id=oid).ok
    assert L.balance("alice", "JPY") == jpy - 100


def _reads(L: Ledger) -> list[str]:
    """The state keys the next block reads (a probe over the ledger's state)."""
    seen: list[str] = []
    state = L.state

    class Probe(DictState):
        def get_raw(self, key: bytes) -> bytes | None:
            seen.append(key.decode(errors="replace"))
            return state.get_raw(key)

    probe = Probe()
    probe.data = state.data
    L.state = probe
    return seen


def test_a_per_currency_limit_stays_per_currency(L: Ledger) -> None:
    """The existing limits are unchanged: a USD limit counts USD only, so the USD-then-JPY
    payment this file is about still goes out under it (and did before decision 187: this
    test passes on the code before it); its rule is stored as before (no ``base`` field)."""
    daily_usd(L)
    assert pay(L, "alice", "bob", "USD", 100_000).ok
    assert pay(L, "alice", "bob", "USD", 1).error_code == "limit_exceeded"
    assert pay(L, "alice", "bob", "JPY", 1_000_000).ok  # per currency: the bypass
    assert "base" not in L.get(R, "profile/" + L.pk("alice"))["rules"][0]


def test_an_account_without_a_base_limit_reads_no_rate(L: Ledger) -> None:
    """An account without a base-currency limit reads exactly the keys it read before, even
    when rates are published and another account has a base limit (decision 187's cost rule:
    the flag is on the rule the payment already reads)."""
    daily_usd(L)
    seen = _reads(L)
    assert pay(L, "alice", "bob", "JPY", 1_000).ok
    before = sorted(seen)
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    L.ok("bank_b", R, "set_limit", subject=L.pk("bob"), kind="max_per_tx", currency="USD",
         max=10**9, base=True)
    seen.clear()
    assert pay(L, "alice", "bob", "JPY", 1_000).ok
    assert sorted(seen) == before
    assert not [k for k in seen if "rates/" in k]
    seen.clear()
    assert pay(L, "bob", "alice", "JPY", 1_000).ok  # bob's base limit reads the rates
    assert {k for k in seen if k.startswith("risk/rates/")} == {"risk/rates/USD"}


def test_financing_moves_count_against_a_base_limit_in_another_currency() -> None:
    """Trade finance pays through ``settlement.pay``: a bank's USD disbursement and the
    exporter's USD repayment count against limits in base JPY (at 150 JPY per USD 1.00)."""
    from tests.unit.trade_cases import T, finance, open_trade, trade_ledger

    led = trade_ledger()
    ids = open_trade(led)
    led.ok("regulator", R, "publish_rates", base="JPY",
           rates=[{"currency": "USD", "per": 100, "base_units": 150}])
    led.ok("regulator", R, "set_limit", subject=led.pk("bank_a"), kind="max_per_tx",
           currency="JPY", max=1_500_000, base=True)  # USD 10,000.00
    r = led.tx("bank_a", T, "request_financing", amount=10_000_01, currency="USD",
               maturity_date="2026-02-28", trade_id=ids["trade"])
    assert r.error_code == "limit_exceeded"
    fin = finance(led, "bank_a", 10_000_00, trade_id=ids["trade"])
    led.ok("regulator", R, "set_limit", subject=led.pk("exporter"), kind="max_per_tx",
           currency="JPY", max=750_000, base=True)  # USD 5,000.00
    led.fails("limit_exceeded", "exporter", T, "repay", financing_id=fin["financing_id"],
              amount=5_000_01)
    led.ok("exporter", T, "repay", financing_id=fin["financing_id"], amount=5_000_00)


def test_a_network_limit_in_a_base_currency_by_governance_vote(L: Ledger) -> None:
    """``set_network_limit`` takes the base form too (a vote of the validators): it binds every
    account's payments in every currency."""
    L.ok("regulator", R, "publish_rates", base="USD", rates=[JPY])
    pid = L.ok("bank_a", G, "propose", action="set_network_limit",
               params={"kind": "max_per_tx", "currency": "USD", "max": 1_000, "base": True,
                       "rule_id": "net-usd"})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        res = L.ok(v, G, "vote", proposal_id=pid)
    assert res["status"] == "applied"
    assert pay(L, "alice", "bob", "JPY", 1_492).ok  # 999.64 cents -> 1,000
    r = pay(L, "bob", "alice", "JPY", 1_493)  # 1,000.31 -> 1,001
    assert r.error_code == "limit_exceeded" and "net-usd" in r.error_message
