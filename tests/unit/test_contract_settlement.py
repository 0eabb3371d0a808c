"""settlement: issue/redeem, transfer, PvP — every rejection path, plus property tests over random
operation sequences (balances never negative, per-currency sum == issued - redeemed, PvP is
all-or-nothing), checked against a reference model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from contracts.settlement import ESCROW
from contracts.testing import Ledger

S = "settlement"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk("bank_a"), amount=1_000_00)
    led.ok("jpy_issuer", S, "issue", currency="JPY", to=led.pk("bank_b"), amount=50_000)
    return led


def supply(L: Ledger, ccy: str) -> dict[str, int]:
    return L.get(S, f"supply/{ccy}")


# ---------------------------------------------------------------------------- issue / redeem


def test_issue_credits_and_counts_supply(L: Ledger) -> None:
    r = L.tx("usd_issuer", S, "issue", currency="USD", to=L.pk("exporter"), amount=250)
    assert r.ok and r.result == {"balance": 250}
    assert [(e.contract, e.name) for e in r.events] == [(S, "issued")]
    assert L.balance("exporter", "USD") == 250
    assert supply(L, "USD") == {"issued": 1_000_00 + 250, "redeemed": 0}


@pytest.mark.parametrize("who", ["bank_a", "exporter", "jpy_issuer"])
def test_issue_only_by_that_currencys_issuer(L: Ledger, who: str) -> None:
    L.fails("forbidden", who, S, "issue", currency="USD", to=L.pk("bank_a"), amount=1)


def test_issue_rejections(L: Ledger) -> None:
    L.fails("unknown_currency", "usd_issuer", S, "issue", currency="EUR", to=L.pk("bank_a"),
            amount=1)
    L.fails("unknown_identity", "usd_issuer", S, "issue", currency="USD", to="ab" * 32, amount=1)
    L.fails("missing_field", "usd_issuer", S, "issue", currency="USD", to=L.pk("bank_a"))
    L.fails("unknown_field", "usd_issuer", S, "issue", currency="USD", to=L.pk("bank_a"),
            amount=1, memo="x")
    for bad in (0, -5, "100", True, 2**63):  # floats cannot even be encoded in a tx
        L.fails("bad_field", "usd_issuer", S, "issue", currency="USD", to=L.pk("bank_a"),
                amount=bad)
    L.fails("bad_field", "usd_issuer", S, "issue", currency="usd", to=L.pk("bank_a"), amount=1)
    L.fails("bad_field", "usd_issuer", S, "issue", currency="USD", to="nothex", amount=1)


def test_issue_total_capped(L: Ledger) -> None:
    """Amounts and supplies stop at 10^18 - 1 minor units: what an ISO 20022 amount holds."""
    from chainfin.execution import MAX_AMOUNT

    assert MAX_AMOUNT == 10**18 - 1
    L.fails("amount_too_large", "usd_issuer", S, "issue", currency="USD", to=L.pk("bank_a"),
            amount=MAX_AMOUNT)  # on top of what the fixture issued
    L.fails("bad_field", "usd_issuer", S, "issue", currency="USD", to=L.pk("bank_a"),
            amount=MAX_AMOUNT + 1)


def test_redeem_burns_the_issuers_own_balance(L: Ledger) -> None:
    # a holder cashing out pays the issuer (its consent), then the issuer burns what it holds
    L.ok("bank_a", S, "transfer", to=L.pk("usd_issuer"), currency="USD", amount=300)
    assert L.ok("usd_issuer", S, "redeem", currency="USD", amount=100) == {"balance": 200}
    assert L.balance("usd_issuer", "USD") == 200
    assert L.balance("bank_a", "USD") == 1_000_00 - 300
    assert supply(L, "USD") == {"issued": 1_000_00, "redeemed": 100}


def test_an_issuer_cannot_debit_another_holder(L: Ledger) -> None:
    L.fails("unknown_field", "usd_issuer", S, "redeem", currency="USD", amount=50,
            **{"from": L.pk("bank_a")})
    assert L.balance("bank_a", "USD") == 1_000_00
    assert supply(L, "USD") == {"issued": 1_000_00, "redeemed": 0}


def test_redeem_rejections(L: Ledger) -> None:
    L.fails("insufficient_funds", "usd_issuer", S, "redeem", currency="USD", amount=1)
    L.fails("forbidden", "bank_a", S, "redeem", currency="USD", amount=1)
    L.fails("unknown_currency", "usd_issuer", S, "redeem", currency="EUR", amount=1)
    L.fails("forbidden", "exporter", S, "redeem", currency="USD", amount=1)  # role


# ---------------------------------------------------------------------------- transfer


def test_transfer(L: Ledger) -> None:
    r = L.tx("bank_a", S, "transfer", to=L.pk("exporter"), currency="USD", amount=1234)
    assert r.ok and r.result == {"balance": 1_000_00 - 1234}
    assert r.events[0].data == {"from": L.pk("bank_a"), "to": L.pk("exporter"),
                                "currency": "USD", "amount": 1234}
    assert L.balance("exporter", "USD") == 1234
    # a balance that reaches zero is deleted from the state
    L.ok("exporter", S, "transfer", to=L.pk("bank_b"), currency="USD", amount=1234)
    assert L.get(S, f"bal/{L.pk('exporter')}/USD") is None


def test_transfer_rejections(L: Ledger) -> None:
    L.fails("insufficient_funds", "exporter", S, "transfer", to=L.pk("bank_a"), currency="USD",
            amount=1)
    L.fails("insufficient_funds", "bank_a", S, "transfer", to=L.pk("exporter"), currency="USD",
            amount=1_000_01)
    L.fails("bad_field", "bank_a", S, "transfer", to=L.pk("bank_a"), currency="USD", amount=1)
    L.fails("unknown_identity", "bank_a", S, "transfer", to="cd" * 32, currency="USD", amount=1)
    L.fails("unknown_currency", "bank_a", S, "transfer", to=L.pk("exporter"), currency="EUR",
            amount=1)
    L.fails("missing_field", "bank_a", S, "transfer", to=L.pk("exporter"), currency="USD")
    L.fails("unknown_sender", "stranger", S, "transfer", to=L.pk("exporter"), currency="USD",
            amount=1)
    assert L.balance("bank_a", "USD") == 1_000_00  # nothing moved


# ---------------------------------------------------------------------------- PvP


def offer(L: Ledger, expires_in: int = 60_000, give: int = 1000, get: int = 150) -> str:
    res = L.ok("bank_a", S, "offer_pvp", counterparty=L.pk("bank_b"),
               give={"currency": "USD", "amount": give}, get={"currency": "JPY", "amount": get},
               expires_at=L.now_ms + expires_in)
    return str(res["offer_id"])


def test_pvp_offer_escrows_and_accept_swaps(L: Ledger) -> None:
    oid = offer(L)
    assert oid == L.last.receipts[0].tx_id.hex()
    assert L.balance("bank_a", "USD") == 1_000_00 - 1000
    assert L.balance(ESCROW, "USD") == 1000
    r = L.tx("bank_b", S, "accept_pvp", offer_id=oid)
    assert r.ok and r.result == {"offer_id": oid, "status": "accepted"}
    assert L.balance("bank_b", "USD") == 1000 and L.balance("bank_a", "JPY") == 150
    assert L.balance("bank_b", "JPY") == 50_000 - 150 and L.balance(ESCROW, "USD") == 0
    assert L.get(S, f"pvp/{oid}")["status"] == "accepted"
    assert [e.name for e in r.events] == ["pvp_settled"]
    L.fails("offer_closed", "bank_b", S, "accept_pvp", offer_id=oid)
    L.fails("offer_closed", "bank_a", S, "cancel_pvp", offer_id=oid)


def test_pvp_accept_is_all_or_nothing(L: Ledger) -> None:
    oid = offer(L, get=60_000)  # more JPY than bank_b holds
    before = (L.balances("USD"), L.balances("JPY"))
    L.fails("insufficient_funds", "bank_b", S, "accept_pvp", offer_id=oid)
    assert (L.balances("USD"), L.balances("JPY")) == before  # neither leg moved
    assert L.get(S, f"pvp/{oid}")["status"] == "open"
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("bank_b"), amount=10_000)
    L.ok("bank_b", S, "accept_pvp", offer_id=oid)
    assert L.balance("bank_a", "JPY") == 60_000


def test_pvp_foreign_and_expired(L: Ledger) -> None:
    oid = offer(L, expires_in=5000)
    L.fails("foreign_offer", "bank_c", S, "accept_pvp", offer_id=oid)
    L.fails("foreign_offer", "bank_a", S, "accept_pvp", offer_id=oid)
    L.fails("foreign_offer", "bank_b", S, "cancel_pvp", offer_id=oid)
    L.now_ms += 10_000  # block time passes the expiry
    L.fails("offer_expired", "bank_b", S, "accept_pvp", offer_id=oid)
    # the offerer gets its escrow back by cancelling the expired offer
    L.ok("bank_a", S, "cancel_pvp", offer_id=oid)
    assert L.balance("bank_a", "USD") == 1_000_00 and L.balance(ESCROW, "USD") == 0


def test_pvp_expiry_is_exclusive(L: Ledger) -> None:
    oid = offer(L, expires_in=2000)  # the accept block is exactly at expires_at
    L.fails("offer_expired", "bank_b", S, "accept_pvp", offer_id=oid)


def test_pvp_offer_rejections(L: Ledger) -> None:
    usd = {"currency": "USD", "amount": 10}
    jpy = {"currency": "JPY", "amount": 10}
    base = {"counterparty": L.pk("bank_b"), "give": usd, "get": jpy,
            "expires_at": L.now_ms + 60_000}
    L.fails("offer_expired", "bank_a", S, "offer_pvp", **{**base, "expires_at": L.now_ms})
    L.fails("bad_field", "bank_a", S, "offer_pvp", **{**base, "counterparty": L.pk("bank_a")})
    L.fails("bad_field", "bank_a", S, "offer_pvp", **{**base, "get": usd})
    L.fails("bad_field", "bank_a", S, "offer_pvp", **{**base, "give": {"currency": "USD"}})
    L.fails("bad_field", "bank_a", S, "offer_pvp", **{**base, "give": {**usd, "amount": 0}})
    L.fails("bad_field", "bank_a", S, "offer_pvp", **{**base, "give": [1, 2]})
    L.fails("unknown_currency", "bank_a", S, "offer_pvp",
            **{**base, "get": {"currency": "EUR", "amount": 1}})
    L.fails("unknown_identity", "bank_a", S, "offer_pvp", **{**base, "counterparty": "ef" * 32})
    L.fails("insufficient_funds", "bank_a", S, "offer_pvp",
            **{**base, "give": {"currency": "USD", "amount": 10**9}})
    L.fails("missing_field", "bank_a", S, "offer_pvp",
            **{k: v for k, v in base.items() if k != "expires_at"})
    L.fails("unknown_offer", "bank_b", S, "accept_pvp", offer_id="00" * 32)
    L.fails("unknown_offer", "bank_a", S, "cancel_pvp", offer_id="00" * 32)
    L.fails("bad_field", "bank_b", S, "accept_pvp", offer_id="xyz")


# ---------------------------------------------------------------------------- properties

ACTORS = ("bank_a", "bank_b", "exporter", "importer", "usd_issuer", "jpy_issuer")
CCYS = ("USD", "JPY")
ISSUER = {"USD": "usd_issuer", "JPY": "jpy_issuer"}

amounts = st.integers(min_value=1, max_value=5_000)
op = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(CCYS), st.sampled_from(ACTORS), amounts),
    st.tuples(st.just("redeem"), st.sampled_from(CCYS), st.sampled_from(ACTORS), amounts),
    st.tuples(st.just("transfer"), st.sampled_from(ACTORS), st.sampled_from(ACTORS),
              st.sampled_from(CCYS), amounts),
    st.tuples(st.just("offer"), st.sampled_from(ACTORS), st.sampled_from(ACTORS),
              st.sampled_from(CCYS), amounts, amounts,
              st.one_of(st.integers(5_000, 60_000), st.integers(0, 3_000))),
    # "party": the offer's counterparty (accept) or offerer (cancel), so that these ops mostly
    # reach the interesting paths; any other actor exercises foreign_offer
    st.tuples(st.just("accept"), st.integers(0, 20), st.sampled_from(("party",) * 4 + ACTORS)),
    st.tuples(st.just("cancel"), st.integers(0, 20), st.sampled_from(("party",) * 2 + ACTORS)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=10, max_size=60), block_sizes=st.lists(st.integers(1, 6),
                                                                       min_size=1, max_size=40),
       funded=st.sampled_from((True, True, True, False)))
def test_random_settlement_sequences(ops: list[tuple], block_sizes: list[int],
                                     funded: bool) -> None:
    L = Ledger()
    pk = {a: L.pk(a) for a in ACTORS}
    model: dict[tuple[str, str], int] = {}  # (holder, ccy) -> balance
    issued = {c: 0 for c in CCYS}
    redeemed = {c: 0 for c in CCYS}
    offers: list[str] = []  # ids of every offer tx generated so far (offer_id == its tx id)
    generated: dict[str, dict] = {}  # offer id -> who made it to whom
    txs, expect = [], []  # the model's prediction per tx, applied after the block

    def bal(h: str, c: str) -> int:
        return model.get((h, c), 0)

    def add(h: str, c: str, d: int) -> None:
        model[(h, c)] = bal(h, c) + d

    def flush() -> None:
        if not txs:
            return
        res = L.block(txs, advance_ms=1000)
        for r, predict in zip(res.receipts, expect, strict=True):
            predict(r)
        txs.clear()
        expect.clear()
        check_invariants()

    def check_invariants() -> None:
        for c in CCYS:
            bals = L.balances(c)
            assert all(v > 0 for v in bals.values())
            assert sum(bals.values()) == issued[c] - redeemed[c]
            sup = L.get(S, f"supply/{c}")
            assert sup == {"issued": issued[c], "redeemed": redeemed[c]}
            assert {h: v for (h, cc), v in model.items() if cc == c and v} == bals

    # Each op is predicted against the model *at execution time* (ops inside one block see the
    # effects of the earlier ones), so predictions run in order inside flush().
    sizes = itertools.cycle(block_sizes)
    limit = next(sizes)
    pending_offers: dict[str, dict] = {}

    if funded:  # most examples start with every actor holding both currencies
        ops = [("issue", c, a, 20_000) for a in ACTORS for c in CCYS] + ops
    for o in ops:
        kind = o[0]
        if kind == "issue":
            _, c, to, amt = o
            tx = L.make_tx(ISSUER[c], S, "issue", {"currency": c, "to": pk[to], "amount": amt})

            def pr(r, c=c, to=to, amt=amt):
                assert r.ok
                add(pk[to], c, amt)
                issued[c] += amt
        elif kind == "redeem":
            _, c, _, amt = o
            frm = ISSUER[c]  # an issuer burns only its own balance
            tx = L.make_tx(ISSUER[c], S, "redeem", {"currency": c, "amount": amt})

            def pr(r, c=c, frm=frm, amt=amt):
                if bal(pk[frm], c) >= amt:
                    assert r.ok
                    add(pk[frm], c, -amt)
                    redeemed[c] += amt
                else:
                    assert r.error_code == "insufficient_funds"
        elif kind == "transfer":
            _, frm, to, c, amt = o
            tx = L.make_tx(frm, S, "transfer", {"to": pk[to], "currency": c, "amount": amt})

            def pr(r, frm=frm, to=to, c=c, amt=amt):
                if frm == to:
                    assert r.error_code == "bad_field"
                elif bal(pk[frm], c) < amt:
                    assert r.error_code == "insufficient_funds"
                else:
                    assert r.ok
                    add(pk[frm], c, -amt)
                    add(pk[to], c, amt)
        elif kind == "offer":
            _, frm, cp, c, give_amt, get_amt, life = o
            other = "JPY" if c == "USD" else "USD"
            tx = L.make_tx(frm, S, "offer_pvp", {
                "counterparty": pk[cp], "give": {"currency": c, "amount": give_amt},
                "get": {"currency": other, "amount": get_amt},
                "expires_at": L.now_ms + life})
            offers.append(tx.tx_id.hex())
            generated[tx.tx_id.hex()] = {"offerer": frm, "cp": cp}

            def pr(r, frm=frm, cp=cp, c=c, other=other, g=give_amt, w=get_amt, tx=tx):
                if frm == cp:
                    assert r.error_code == "bad_field"
                elif tx.args["expires_at"] <= L.now_ms:  # L.now_ms is the block time here
                    assert r.error_code == "offer_expired"
                elif bal(pk[frm], c) < g:
                    assert r.error_code == "insufficient_funds"
                else:
                    assert r.ok, r.error_code
                    assert r.result["offer_id"] == tx.tx_id.hex()
                    add(pk[frm], c, -g)
                    add(ESCROW, c, g)
                    pending_offers[r.result["offer_id"]] = {
                        "offerer": frm, "cp": cp, "give": (c, g), "get": (other, w),
                        "expires_at": tx.args["expires_at"], "status": "open"}
        elif kind in ("accept", "cancel"):
            _, idx, who = o
            if not offers:
                continue
            oid = offers[idx % len(offers)]
            if who == "party":
                who = generated[oid]["cp" if kind == "accept" else "offerer"]
            tx = L.make_tx(who, S, f"{kind}_pvp", {"offer_id": oid})

            def pr(r, kind=kind, oid=oid, who=who):
                off = pending_offers.get(oid)
                before = dict(model)
                if off is None:  # the offer itself was rejected
                    assert r.error_code == "unknown_offer"
                elif off["status"] != "open":
                    assert r.error_code == "offer_closed"
                elif kind == "accept":
                    gc, g = off["give"]
                    wc, w = off["get"]
                    if who != off["cp"]:
                        assert r.error_code == "foreign_offer"
                    elif L.now_ms >= off["expires_at"]:
                        assert r.error_code == "offer_expired"
                    elif bal(pk[who], wc) < w:
                        assert r.error_code == "insufficient_funds"
                    else:
                        assert r.ok, r.error_code
                        # both legs, exactly
                        add(pk[who], wc, -w)
                        add(pk[off["offerer"]], wc, w)
                        add(ESCROW, gc, -g)
                        add(pk[who], gc, g)
                        off["status"] = "accepted"
                else:
                    gc, g = off["give"]
                    if who != off["offerer"]:
                        assert r.error_code == "foreign_offer"
                    else:
                        assert r.ok
                        add(ESCROW, gc, -g)
                        add(pk[who], gc, g)
                        off["status"] = "cancelled"
                event(f"{kind}_pvp: {r.error_code or 'committed'}")
                if not r.ok:
                    assert model == before  # a rejected PvP moves nothing
        else:  # pragma: no cover
            raise AssertionError(kind)
        txs.append(tx)
        expect.append(pr)
        if len(txs) >= limit:
            flush()
            limit = next(sizes)
    flush()
    check_invariants()
