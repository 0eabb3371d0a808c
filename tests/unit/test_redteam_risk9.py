"""Red-team round 9 of the risk controls (docs/redteam-risk.md): a customer, two colluding, one
with a complicit bank, and a watched or frozen party that wants its money out, against the
real contract code. Found and fixed: a watched party's identity registered under a variant of
its name before the listing paid on (only the name's one form was looked up at payment); a
party name with its legal form spelled out, in a language the skeleton has no table for, glued
to its last word, or with digits for letters passed (decision 177); a seizure paid a frozen or
watched identity; near-limit payments from many fresh accounts into one left no trace
(decision 178); a watched or frozen exporter's financing was repaid by its LC's proceeds or its
buyer (decision 178). Tried and held: returns and recalls as a way out for a watched or frozen
party, a return to anyone but the payer, a round trip through a PvP leg, a watched party on
one leg of a PvP."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin.watchlist import Subject, WatchRules, entries_of
from contracts import risk
from contracts.testing import CAST, Ledger, make_genesis

S, R, G = "settlement", "risk", "governance"
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"
LISTED = "Globex Trading LLC"


def _ledger(regulators: tuple[str, ...] = ("regulator",)) -> Ledger:
    """alice (importer, bank_a's), bob (exporter, bank_b's) and mallory (exporter, bank_b's,
    registered as "GlobexTrading" before anything was listed), USD 1,000.00 each."""
    L = Ledger(make_genesis(dict(CAST, bank_b=("bank", True, True)), regulators=regulators))
    for n, role, bank, name in (("alice", "importer", "bank_a", "Alice Imports"),
                                ("bob", "exporter", "bank_b", "Bob Exports"),
                                ("mallory", "exporter", "bank_b", "GlobexTrading")):
        L.add_identity(n)
        L.ok(bank, G, "register_identity", pubkey=L.pk(n), name=name, role=role)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(n), amount=100_000)
    return L


@pytest.fixture
def L() -> Ledger:
    return _ledger()


def _key(L: Ledger) -> bytes:
    return risk.watch_key(bytes.fromhex(L.genesis.fingerprint_key))


def watch_name(L: Ledger, name: str) -> None:
    L.ok("regulator", R, "add_watch", entries=risk.watch_entries(_key(L), name))


def watch_id(L: Ledger, who: str) -> None:
    L.ok("regulator", R, "add_watch", entries=[risk.watch_digest(_key(L), "id", L.pk(who))])


def pay(L: Ledger, frm: str, to: str, amount: int, **more: Any) -> Any:
    return L.tx(frm, S, "transfer", to=L.pk(to), currency="USD", amount=amount, **more)


def alerts(r: Any, rule: str) -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == "alert" and e.data["rule"] == rule]


# ---------------------------------------------------------------------------- found and fixed


def test_an_identity_registered_under_a_variant_of_a_name_listed_later_pays_no_more(
        L: Ledger) -> None:
    """mallory's bank registered it as "GlobexTrading" (nothing was listed); "Globex Trading
    LLC" is listed: a payment looked its name up in the one spaced form only, and went
    through both ways. Every exact form is looked up now (decision 177)."""
    watch_name(L, "Globex Trading LLC")
    assert L.tx("mallory", S, "transfer", to=L.pk("alice"), currency="USD",
                amount=100).error_code == "sanctioned_party"
    assert pay(L, "alice", "mallory", 100).error_code == "sanctioned_party"
    L.fails("sanctioned_party", "usd_issuer", S, "issue", currency="USD", to=L.pk("mallory"),
            amount=1)
    assert L.balance("mallory", "USD") == 100_000
    assert pay(L, "alice", "bob", 100).ok  # everyone else pays as before


@pytest.mark.parametrize("variant", [
    "Globex Trading Limited Liability Company",  # the legal form spelled out
    "Globex Trading Joint Stock Company",
    "Globex Trading Aktiengesellschaft",
    "Globex Trading Gesellschaft mit beschränkter Haftung",
    "Globex Trading Sociedad Anónima",
    "Globex Trading Sp. z o.o.",  # a country's form the skeleton had no word for
    "Globex Trading s.r.o.",
    "Globex Trading Kft",
    "Globex Trading Ltd. Şti.",
    "Globex TradingLLC",  # glued to the last word
    "GLOBEXTRADINGLLC",
    "Gl0bex Trading",  # digits for letters
    "G1obex Tr4ding",
])
def test_a_listed_name_written_with_another_legal_form_or_digits_is_refused(
        L: Ledger, variant: str) -> None:
    """A bank registering a new identity under a variant of a listed name (the same screening
    as a document's parties: risk.screen_parties)."""
    watch_name(L, LISTED)
    L.add_identity("shell")
    L.fails("sanctioned_party", "bank_a", G, "register_identity", pubkey=L.pk("shell"),
            name=variant, role="exporter")


def test_a_listed_name_with_its_legal_form_spelled_out_stops_the_short_form(L: Ledger) -> None:
    """The other way round: the list has the long form, the party writes the short one."""
    watch_name(L, "Oceanic Shipping Limited Liability Company")
    L.add_identity("shell")
    for variant in ("Oceanic Shipping LLC", "Oceanic Shipping", "OceanicShippingLLC"):
        L.fails("sanctioned_party", "bank_a", G, "register_identity", pubkey=L.pk("shell"),
                name=variant, role="exporter")


def test_a_ukrainian_legal_form_no_longer_hides_a_transliterated_name(L: Ledger) -> None:
    """"ТОВ" (an LLC in Ukraine) was read as a word of the name, so the Cyrillic spelling of a
    listed name did not even sound like it; now it does: a possible match for review."""
    watch_name(L, LISTED)
    L.add_identity("shell")
    r = L.tx("bank_a", G, "register_identity", pubkey=L.pk("shell"),
             name="ТОВ Глобекс Трейдинг", role="exporter")
    assert r.ok and alerts(r, "possible_watch_match")


@pytest.mark.parametrize("name", ["Bancorp", "Mimosa Co", "Route 66 Ltd", "B2B Supplies",
                                  "Globex Trading LLC", "Monaco Shipping"])
def test_a_name_with_nothing_to_strip_has_no_second_form(name: str) -> None:
    """Honest names cost nothing more: no bare form, so two exact reads, as before."""
    assert risk.bare_name(name) == name
    assert risk.watch_forms(name)[1][:2] == ("name", "joined")
    assert not any(k.startswith(risk.BARE) for k in risk.watch_forms(name)[1])


def test_the_regulators_client_adds_checks_and_removes_the_bare_forms_as_exact() -> None:
    rules = WatchRules(watch_key=risk.watch_key, watch_digest=risk.watch_digest,
                       watch_forms=risk.watch_forms)
    key = b"k" * 32
    s = Subject("name", "Globex Trading Sp. z o.o.")
    assert sorted(entries_of(s, key, rules)) == sorted(risk.watch_entries(key, s.value))
    exact = entries_of(s, key, rules, exact_only=True)
    assert risk.watch_digest(key, "bare:name", s.value) in exact
    assert risk.watch_digest(key, "name", "Globex Trading") in exact  # the same digest
    assert risk.watch_digest(key, "bare:sound", s.value) not in exact


def test_a_seizure_pays_no_watched_and_no_frozen_identity(L: Ledger) -> None:
    """A seizure's ``to`` was not checked at all: a regulator's order paid a watched party or
    a frozen account out of another's (decision 178)."""
    watch_id(L, "bob")
    L.fails("sanctioned_party", "regulator", S, "seize", account=L.pk("alice"), currency="USD",
            amount=100, order_ref="ORD-1", to=L.pk("bob"))
    L.ok("regulator", G, "freeze_identity", pubkey=L.pk("mallory"), reason="court",
         order_ref="F-1")
    L.fails("account_frozen", "regulator", S, "seize", account=L.pk("alice"), currency="USD",
            amount=100, order_ref="ORD-2", to=L.pk("mallory"))
    assert L.balance("alice", "USD") == 100_000
    r = L.ok("regulator", S, "seize", account=L.pk("alice"), currency="USD", amount=100,
             order_ref="ORD-3")  # to the seized holder, as before
    assert r["status"] == "seized"


def test_a_seizure_whose_payee_was_listed_between_the_two_approvals_is_not_executed() -> None:
    L = _ledger(regulators=("regulator", "auditor"))
    pid = L.ok("bank_a", G, "propose", action="set_seize_approvals",
               params={"count": 2})["proposal_id"]
    for v in ("bank_b", "bank_c"):
        L.ok(v, G, "vote", proposal_id=pid)
    order = {"account": L.pk("alice"), "currency": "USD", "amount": 500, "order_ref": "ORD-9",
             "to": L.pk("bob")}
    assert L.ok("regulator", S, "seize", **order)["status"] == "pending"
    watch_id(L, "bob")
    L.fails("sanctioned_party", "auditor", S, "seize", **order)
    assert L.balance("bob", "USD") == 100_000


def test_near_limit_payments_from_many_fresh_accounts_into_one_alert_for_the_payee(
        L: Ledger) -> None:
    """Smurfing: each fresh account pays bob once, just under its USD 100.00 limit; no payer
    ever had a pattern, so nothing alerted. The payee's count of near-limit receipts does
    (the third within 24 h), for bob's bank and the supervisors (decision 178)."""
    got = []
    for i in range(4):
        n = f"smurf{i}"
        L.add_identity(n)
        L.ok("bank_a", G, "register_identity", pubkey=L.pk(n), name=f"Smurf {i}",
             role="exporter")
        L.ok("bank_a", R, "set_limit", subject=L.pk(n), kind="max_per_tx", currency="USD",
             max=10_000)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk(n), amount=9_900)
        r = pay(L, n, "bob", 9_900)
        assert r.ok  # an alert, never a refusal
        got.append(alerts(r, "structuring"))
    assert got[:2] == [[], []]
    (a,) = got[2]
    assert a["accounts"] == [L.pk("bob")] and a["near_limit_receipts"] == 3
    assert a["counterparty"] == L.pk("smurf2")
    assert got[3][0]["near_limit_receipts"] == 4


def test_an_ordinary_payment_writes_nothing_to_its_payee_s_pattern_memory(L: Ledger) -> None:
    """The cost of decision 178 on the hot path: none. Only a near-limit payment writes the
    payee's record; one payer's own structuring still alerts once, for the payer."""
    pay(L, "alice", "bob", 500)
    assert L.get(R, f"stats/{L.pk('bob')}/USD") is None
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx", currency="USD",
         max=1_000)
    pay(L, "alice", "bob", 950)
    pay(L, "alice", "bob", 960)
    r = pay(L, "alice", "bob", 970)
    assert [a["accounts"] for a in alerts(r, "structuring")] == [[L.pk("alice")]]


@pytest.mark.parametrize("how", ["watch", "freeze"])
def test_a_watched_or_frozen_exporters_debt_is_not_paid_by_its_lc_or_its_buyer(how: str) -> None:
    """A watched (or frozen) exporter takes part in no payment, but its debt was paid for it:
    its LC's proceeds all went to the bank that financed it (the exporter, paid nothing, was
    never screened), and its buyer repaid its financing. Both paths are payments on its
    behalf now, as the applicant's already were (decision 178)."""
    from tests.unit.test_contract_trade_documents_lifecycle import issue
    from tests.unit.trade_cases import T, finance, open_trade, trade_ledger

    code = "sanctioned_party" if how == "watch" else "account_frozen"
    led = trade_ledger()
    ids = open_trade(led)
    lc = issue(led, ids["trade"])
    fid = finance(led, "bank_a", 98_000_00, trade_id=ids["trade"])["financing_id"]
    pres = led.ok("exporter", T, "present", lc_id=lc,
                  doc_ids=[ids["invoice"], ids["bill_of_lading"]],
                  amount=98_000_00)["presentation_id"]
    led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk("importer"), amount=10_000_00)
    if how == "watch":
        watch_id(led, "exporter")
    else:
        led.ok("regulator", G, "freeze_identity", pubkey=led.pk("exporter"), reason="court",
               order_ref="F-3")
    led.fails(code, "bank_c", T, "accept_presentation", presentation_id=pres)
    led.fails(code, "importer", T, "repay", financing_id=fid, amount=1_000_00)
    assert led.balance("importer", "USD") == 10_000_00


# ---------------------------------------------------------------------------- tried and held


def _paid(L: Ledger) -> str:
    r = pay(L, "alice", "bob", 60_000, uetr=UETR)
    assert r.ok, r.error_message
    return r.tx_id.hex()


def _return(L: Ledger, tx: str, who: str = "bob", payer: str = "alice",
            amount: int = 60_000) -> Any:
    return L.tx(who, S, "return_payment", original_tx=tx, payer=L.pk(payer), uetr=UETR,
                currency="USD", amount=amount, reason="FOCR")


def test_a_return_is_no_way_out_for_a_watched_or_frozen_party(L: Ledger) -> None:
    tx = _paid(L)
    watch_id(L, "alice")  # the payer listed after the payment: its recall moves nothing ...
    L.ok("alice", S, "recall", original_tx=tx, uetr=UETR, reason="CUST")
    assert _return(L, tx).error_code == "sanctioned_party"  # ... and it is not paid back
    L2 = _ledger()
    tx2 = _paid(L2)
    watch_name(L2, "Bob Exports")  # the payee listed: it returns nothing either
    assert _return(L2, tx2).error_code == "sanctioned_party"
    L2.ok("regulator", R, "remove_watch", entries=risk.watch_entries(_key(L2), "Bob Exports"),
          reason="test")
    L2.ok("regulator", R, "freeze_account", account=L2.pk("bob"), currency="USD",
          reason="court", order_ref="F-2")
    assert _return(L2, tx2).error_code == "account_frozen"
    assert L.balance("bob", "USD") == L2.balance("bob", "USD") == 160_000


def test_a_return_goes_to_the_payer_and_never_more_than_it_paid(L: Ledger) -> None:
    """Colluding alice and bob: bob cannot "return" alice's payment to mallory, nor return
    more than was paid, so returns never move money anywhere it did not come from."""
    tx = _paid(L)
    assert _return(L, tx, payer="mallory").error_code == "unknown_payment"
    assert _return(L, tx, who="mallory").error_code == "forbidden"
    assert _return(L, tx, amount=60_001).error_code == "over_return"
    assert _return(L, tx).ok
    assert _return(L, tx, amount=1).error_code == "over_return"
    assert L.balance("alice", "USD") == L.balance("bob", "USD") == 100_000


def test_a_round_trip_through_a_pvp_leg_alerts(L: Ledger) -> None:
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("alice"), amount=10_000)
    assert pay(L, "alice", "bob", 5_000).ok
    r = L.tx("bob", S, "offer_pvp", counterparty=L.pk("alice"),
             give={"currency": "USD", "amount": 5_000}, get={"currency": "JPY", "amount": 1},
             expires_at=L.now_ms + 3_600_000)
    assert r.ok and alerts(r, "round_trip")


def test_a_pvp_whose_offerer_is_listed_before_acceptance_settles_nothing(L: Ledger) -> None:
    L.ok("jpy_issuer", S, "issue", currency="JPY", to=L.pk("alice"), amount=10_000)
    oid = L.ok("mallory", S, "offer_pvp", counterparty=L.pk("alice"),
               give={"currency": "USD", "amount": 5_000}, get={"currency": "JPY", "amount": 700},
               expires_at=L.now_ms + 3_600_000)["offer_id"]
    watch_id(L, "mallory")
    L.fails("sanctioned_party", "alice", S, "accept_pvp", offer_id=oid)
    assert L.balance("alice", "JPY") == 10_000 and L.balance("mallory", "JPY") == 0
