"""Recalls and returns of settled transfers (contracts/settlement_recall.py; camt.056, camt.029,
pacs.004): a recall answered by a return, or rejected; a return without a recall; never more
back than was paid; one open recall at a time, within its deadline; returns under the risk
controls; only the parties and their banks act; a fraud recall is the payee's bank's, not the
payee's; who reads a recall (node/access.py)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.testing import CAST, Ledger, make_genesis
from node import access

S, G, R = "settlement", "governance", "risk"
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"
UETR2 = "0b6d7a1e-2f3c-4d5e-8f9a-1b2c3d4e5f60"
DAY = 86_400_000  # ms; the recall windows are 14 and 395 days of block time


class Pay:
    """A ledger where alice (importer, bank_a's customer) paid bob (exporter, bank_b's
    customer) USD 600.00 under UETR; carol (bank_a's customer) is another payee of alice."""

    def __init__(self) -> None:
        cast = dict(CAST, bank_b=("bank", True, True))  # a second admin bank: bob's
        self.L = L = Ledger(make_genesis(cast))
        for name, role, bank in (("alice", "importer", "bank_a"), ("bob", "exporter", "bank_b"),
                                 ("carol", "exporter", "bank_a")):
            L.add_identity(name)
            L.ok(bank, G, "register_identity", pubkey=L.pk(name), name=name, role=role)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("alice"), amount=100_000)
        L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("bob"), amount=5_000)
        r = L.tx("alice", S, "transfer", to=L.pk("bob"), currency="USD", amount=60_000,
                 uetr=UETR, end_to_end_id="E2E-1")
        assert r.ok, r.error_message
        self.tx = r.tx_id.hex()

    def recall(self, who: str = "alice", reason: str = "DUPL", **more: Any) -> dict[str, Any]:
        return self.L.ok(who, S, "recall", original_tx=self.tx, uetr=UETR,
                         payer=self.L.pk("alice"), reason=reason, **more)

    def ret(self, amount: int = 60_000, who: str = "bob", reason: str = "FOCR",
            **more: Any) -> Any:
        return self.L.tx(who, S, "return_payment", original_tx=self.tx, payer=self.L.pk("alice"),
                         uetr=UETR, currency=more.pop("currency", "USD"), amount=amount,
                         reason=reason, **more)

    def record(self) -> Any:
        return self.L.get(S, f"recall/{self.tx}")

    def usd(self, who: str) -> int:
        return self.L.balance(who, "USD")


@pytest.fixture
def P() -> Pay:
    return Pay()


def _refs(r: Any, name: str) -> list[dict[str, Any]]:
    return [e.data for e in r.events if e.name == name]


# ---------------------------------------------------------------------------- the happy paths


def test_a_recall_answered_by_a_return_pays_the_payer_back(P: Pay) -> None:
    r = P.L.tx("alice", S, "recall", original_tx=P.tx, uetr=UETR, reason="DUPL",
               info="sent twice", case_id="CASE-7")
    assert r.ok, r.error_message
    rid = r.result["recall_id"]
    assert r.result == {"recall_id": rid, "original_tx": P.tx, "status": "open",
                        "currency": "USD", "outstanding": 60_000}
    (ev,) = _refs(r, "payment_recalled")
    assert ev["payee"] == P.L.pk("bob") and ev["reason"] == "DUPL" and ev["by"] == P.L.pk("alice")
    assert ev["payee_bank"] == P.L.pk("bank_b") and ev["uetr"] == UETR
    assert P.usd("alice") == 40_000 and P.usd("bob") == 65_000  # a recall moves nothing

    back = P.ret()
    assert back.ok, back.error_message
    assert back.result == {"balance": 5_000, "original_tx": P.tx, "returned": 60_000,
                           "outstanding": 0, "recall_id": rid}
    (t,) = _refs(back, "transferred")
    assert t == {"from": P.L.pk("bob"), "to": P.L.pk("alice"), "currency": "USD",
                 "amount": 60_000, "purpose": "return", "original_tx": P.tx,
                 "return_reason": "FOCR", "uetr": UETR, "recall_id": rid}
    assert P.usd("alice") == 100_000 and P.usd("bob") == 5_000
    rec = P.record()
    assert (rec["returned"], rec["returns"], rec["recalls"]) == (60_000, 1, 1)
    assert rec["recall"]["status"] == "returned" and rec["recall"]["case_id"] == "CASE-7"
    assert rec["recall"]["answer"]["reason"] == "FOCR"
    assert rec["recall"]["answer"]["tx_id"] == back.tx_id.hex()
    # everything is back: no recall, no return of it any more
    P.L.fails("already_returned", "alice", S, "recall", original_tx=P.tx, uetr=UETR,
              reason="CUST")
    P.L.fails("over_return", "bob", S, "return_payment", original_tx=P.tx,
              payer=P.L.pk("alice"), uetr=UETR, currency="USD", amount=1, reason="MS02")


def test_the_payers_home_bank_recalls_on_its_customers_behalf(P: Pay) -> None:
    out = P.recall("bank_a", "TECH")
    assert P.record()["recall"]["by"] == P.L.pk("bank_a")
    assert P.ret(60_000).result["recall_id"] == out["recall_id"]
    assert P.usd("alice") == 100_000


def test_a_rejected_recall_moves_nothing_and_may_be_made_again(P: Pay) -> None:
    rid = P.recall(reason="CUST")["recall_id"]
    r = P.L.tx("bank_b", S, "reject_recall", original_tx=P.tx, reason="CUST",
               info="the customer refused")
    assert r.ok and r.result == {"recall_id": rid, "original_tx": P.tx, "status": "rejected"}
    (ev,) = _refs(r, "recall_rejected")
    assert ev["reason"] == "CUST" and ev["payee"] == P.L.pk("bob") and ev["by"] == P.L.pk(
        "bank_b")
    assert P.record()["recall"]["answer"]["info"] == "the customer refused"
    assert P.usd("alice") == 40_000 and P.usd("bob") == 65_000
    P.L.fails("no_open_recall", "bob", S, "reject_recall", original_tx=P.tx, reason="NOAS")
    # the payer asks again (within the deadline); the payee itself answers no this time
    rid2 = P.recall(reason="AC03")["recall_id"]
    assert rid2 != rid and P.record()["recalls"] == 2
    P.L.ok("bob", S, "reject_recall", original_tx=P.tx, reason="LEGL")
    assert P.record()["recall"]["status"] == "rejected"


def test_a_return_needs_no_recall(P: Pay) -> None:
    r = P.ret(60_000, reason="AC04", return_id="RTR-1")
    assert r.ok, r.error_message
    assert "recall_id" not in r.result
    (t,) = _refs(r, "transferred")
    assert t["return_reason"] == "AC04" and t["return_id"] == "RTR-1" and "recall_id" not in t
    rec = P.record()
    assert rec["recall"] is None and rec["returned"] == 60_000 and rec["recalls"] == 0
    assert P.usd("alice") == 100_000


# ---------------------------------------------------------------------------- never more back


def test_partial_returns_never_add_up_to_more_than_the_payment(P: Pay) -> None:
    P.L.fails("over_return", "bob", S, "return_payment", original_tx=P.tx,
              payer=P.L.pk("alice"), uetr=UETR, currency="USD", amount=60_001, reason="MS02")
    assert P.ret(20_000, reason="MS02").ok
    assert P.ret(30_000, reason="MS02").ok
    r = P.ret(10_001, reason="MS02")
    assert r.error_code == "over_return" and (  # decision 223: decimals, minor units labelled
        "left to return of this payment: USD 100.00 (10000 minor units) of USD 600.00 (60000 "
        "minor units)") in r.error_message
    assert P.ret(10_000, reason="MS02").ok
    assert P.record()["returned"] == 60_000 and P.record()["returns"] == 3
    assert P.usd("alice") == 100_000 and P.usd("bob") == 5_000


def test_a_return_is_in_the_payments_currency(P: Pay) -> None:
    P.L.ok("jpy_issuer", S, "issue", currency="JPY", to=P.L.pk("bob"), amount=10**6)
    r = P.ret(600, currency="JPY")
    assert r.error_code == "wrong_currency"
    assert P.L.balance("bob", "JPY") == 10**6 and P.record() is None


def test_a_second_recall_while_one_is_open_is_refused(P: Pay) -> None:
    rid = P.recall()["recall_id"]
    r = P.L.fails("recall_open", "bank_a", S, "recall", original_tx=P.tx, uetr=UETR,
                  payer=P.L.pk("alice"), reason="FRAD")
    assert rid in r.error_message
    assert P.record()["recall"]["recall_id"] == rid and P.record()["recalls"] == 1


@pytest.mark.parametrize("reason,days", [("DUPL", 14), ("TECH", 14), ("FRAD", 14),
                                         ("CUST", 395), ("AC03", 395), ("AM09", 395)])
def test_a_recall_after_its_deadline_is_refused(P: Pay, reason: str, days: int) -> None:
    paid_at = P.record() or P.L.get(S, f"uetr/{P.L.pk('alice')}/{UETR}")
    deadline = paid_at["time_ms"] + days * DAY
    P.L.now_ms = deadline + 1 - 1000  # the next block's time is deadline + 1 ms
    r = P.L.fails("recall_expired", "alice", S, "recall", original_tx=P.tx, uetr=UETR,
                  reason=reason)
    assert str(deadline) in r.error_message and P.record() is None
    # a return still may (a payee may always pay back what it was paid)
    assert P.ret(1_000, reason="MS02").ok


def test_a_recall_on_its_deadline_is_taken(P: Pay) -> None:
    booked = P.L.get(S, f"uetr/{P.L.pk('alice')}/{UETR}")
    P.L.now_ms = booked["time_ms"] + 14 * DAY - 1000  # the next block is exactly on it
    assert P.recall(reason="DUPL")["status"] == "open"


# ---------------------------------------------------------------------------- risk controls


def test_a_return_from_a_frozen_payee_account_is_refused_by_the_risk_check(P: Pay) -> None:
    P.recall(reason="FRAD")
    P.L.ok("regulator", R, "freeze_account", account=P.L.pk("bob"), currency="USD",
           reason="fraud inquiry", order_ref="FI-1")
    r = P.ret()
    assert r.error_code == "account_frozen"
    assert P.usd("alice") == 40_000 and P.usd("bob") == 65_000
    assert P.record()["returned"] == 0 and P.record()["recall"]["status"] == "open"


def test_a_return_to_a_frozen_payer_is_refused_too(P: Pay) -> None:
    P.L.ok("regulator", G, "freeze_identity", pubkey=P.L.pk("alice"), reason="court order",
           order_ref="CO-1")
    assert P.ret().error_code == "account_frozen" and P.usd("bob") == 65_000


def test_a_return_counts_against_the_payees_limits(P: Pay) -> None:
    P.L.ok("regulator", R, "set_limit", subject=P.L.pk("bob"), kind="max_per_tx",
           currency="USD", max=10_000, rule_id="cap")
    assert P.ret(60_000).error_code == "limit_exceeded"
    assert P.ret(10_000).ok


# ---------------------------------------------------------------------------- who may


def test_someone_elses_recall_is_refused(P: Pay) -> None:
    for who in ("bob", "bank_b", "bank_c", "bank_e", "carol"):
        P.L.fails("forbidden", who, S, "recall", original_tx=P.tx, uetr=UETR,
                  payer=P.L.pk("alice"), reason="FRAD")
    P.recall()
    for who in ("alice", "bank_a", "bank_e", "carol"):
        P.L.fails("forbidden", who, S, "reject_recall", original_tx=P.tx, reason="CUST")
    # only the payee signs a return: its bank may not debit it (decision 50)
    for who in ("bank_b", "carol", "alice", "bank_a"):
        r = P.ret(who=who)
        assert r.error_code == "forbidden", (who, r.error_code)
    assert "holder's signature" in P.ret(who="bank_b").error_message
    assert P.usd("bob") == 65_000 and P.record()["recall"]["status"] == "open"


def test_a_payment_is_named_by_its_payer_uetr_and_tx_id(P: Pay) -> None:
    alice = P.L.pk("alice")
    P.L.fails("unknown_payment", "alice", S, "recall", original_tx=P.tx, uetr=UETR2,
              reason="DUPL")
    P.L.fails("unknown_payment", "alice", S, "recall", original_tx="ab" * 32, uetr=UETR,
              reason="DUPL")
    P.L.fails("unknown_payment", "bank_a", S, "recall", original_tx=P.tx, uetr=UETR,
              reason="DUPL")  # without payer: the bank's own payments
    P.L.fails("unknown_payment", "bob", S, "return_payment", original_tx=P.tx,
              payer=P.L.pk("carol"), uetr=UETR, currency="USD", amount=1, reason="MS02")
    # a transfer without a UETR is not recalled on the ledger
    r = P.L.tx("alice", S, "transfer", to=P.L.pk("bob"), currency="USD", amount=5)
    P.L.fails("unknown_payment", "alice", S, "recall", original_tx=r.tx_id.hex(), uetr=UETR,
              reason="DUPL")
    # one booked before the payment index kept the payment: refused, not guessed
    old = P.L.tx("alice", S, "transfer", to=P.L.pk("bob"), currency="USD", amount=5, uetr=UETR2)
    P.L.state.put(S, f"uetr/{alice}/{UETR2}", {"tx_id": old.tx_id.hex(), "height": 9})
    P.L.fails("not_recallable", "alice", S, "recall", original_tx=old.tx_id.hex(), uetr=UETR2,
              reason="DUPL")


@pytest.mark.parametrize("method,reason", [("recall", "FOCR"), ("recall", "dupl"),
                                           ("return_payment", "DUPL"),
                                           ("reject_recall", "FOCR"), ("reject_recall", 7)])
def test_a_reason_the_ledger_does_not_take_is_refused(P: Pay, method: str,
                                                      reason: Any) -> None:
    if method == "reject_recall":
        P.recall()
    args: dict[str, Any] = {"original_tx": P.tx, "reason": reason}
    if method != "reject_recall":
        args.update(uetr=UETR, payer=P.L.pk("alice"))
    if method == "return_payment":
        args.update(currency="USD", amount=1)
    who = "alice" if method == "recall" else "bob"
    P.L.fails("bad_reason", who, S, method, **args)


def test_the_payment_index_keeps_what_a_recall_needs(P: Pay) -> None:
    booked = P.L.get(S, f"uetr/{P.L.pk('alice')}/{UETR}")
    assert booked == {"tx_id": P.tx, "height": booked["height"], "time_ms": booked["time_ms"],
                      "to": P.L.pk("bob"), "currency": "USD", "amount": 60_000}


# ---------------------------------------------------------------------------- fraud: no tipping off


def test_a_fraud_recall_is_the_payees_banks_not_the_payees(P: Pay) -> None:
    never = P.L.tx("bob", S, "reject_recall", original_tx=P.tx, reason="CUST")
    r = P.L.tx("bank_a", S, "recall", original_tx=P.tx, uetr=UETR, payer=P.L.pk("alice"),
               reason="FRAD")
    (ev,) = _refs(r, "payment_recalled")
    assert "payee" not in ev and P.L.pk("bob") not in str(ev)
    assert ev["payee_bank"] == P.L.pk("bank_b")
    assert P.record()["recall"]["payee_informed"] is False
    # the payee trying to answer learns exactly what it learns of a payment never recalled
    hidden = P.L.tx("bob", S, "reject_recall", original_tx=P.tx, reason="CUST")
    assert (hidden.error_code, hidden.error_message) == (never.error_code, never.error_message)
    # its bank freezes the account and answers; or the payee, told by its bank, pays back
    back = P.ret()
    assert back.ok and "recall_id" not in back.result
    assert "recall_id" not in _refs(back, "transferred")[0]
    assert P.record()["recall"]["status"] == "returned"


def test_a_payee_without_a_home_bank_answers_a_fraud_recall_itself() -> None:
    L = Ledger()  # the genesis exporter: no registering bank, no BIC
    L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("importer"), amount=1_000)
    tx = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="USD", amount=700,
              uetr=UETR).tx_id.hex()
    r = L.tx("importer", S, "recall", original_tx=tx, uetr=UETR, reason="FRAD")
    assert _refs(r, "payment_recalled")[0]["payee"] == L.pk("exporter")
    L.ok("exporter", S, "reject_recall", original_tx=tx, reason="LEGL")


# ---------------------------------------------------------------------------- who reads


def _rule(P: Pay, who: str, key: str) -> str | None:
    def get(c: str, k: str) -> Any:
        return P.L.get(c, k)
    reader = access.resolve_reader(get, P.L.pk(who))
    assert reader is not None
    return access.state_rule(get, reader, S, key)


def _sees(P: Pay, who: str, event: Any) -> bool:
    def get(c: str, k: str) -> Any:
        return P.L.get(c, k)
    reader = access.resolve_reader(get, P.L.pk(who))
    assert reader is not None
    return access.event_names_reader(get, reader, {"contract": S, "name": event.name,
                                                   "data": event.data})


@pytest.mark.parametrize("reason", ["DUPL", "FRAD"])
def test_only_the_parties_their_banks_and_the_supervisors_read_a_recall(P: Pay,
                                                                        reason: str) -> None:
    r = P.L.tx("alice", S, "recall", original_tx=P.tx, uetr=UETR, reason=reason)
    key = f"recall/{P.tx}"
    assert _rule(P, "alice", key) == "party"
    assert _rule(P, "bank_a", key) == "home_bank" and _rule(P, "bank_b", key) == "home_bank"
    assert _rule(P, "regulator", key) == "regulator" and _rule(P, "auditor", key) == "auditor"
    # a third bank (validating or not) and the payer's other counterparties read nothing, and
    # the payee with a home bank reads no recall record, whatever the reason (its bank's)
    for who in ("bank_c", "bank_e", "carol", "exporter", "bob"):
        assert _rule(P, who, key) is None, who
    (ev,) = [e for e in r.events if e.name == "payment_recalled"]
    assert [w for w in ("alice", "bob", "bank_b", "carol", "bank_e", "exporter")
            if _sees(P, w, ev)] == (["alice", "bank_b"] if reason == "FRAD"
                                    else ["alice", "bob", "bank_b"])


def test_the_payment_index_is_its_payers_and_its_payees(P: Pay) -> None:
    key = f"uetr/{P.L.pk('alice')}/{UETR}"
    assert [_rule(P, w, key) for w in ("alice", "bank_a", "bob", "bank_b", "regulator")] == [
        "owner", "home_bank", "party", "home_bank", "regulator"]
    for who in ("carol", "bank_e", "bank_c", "exporter"):
        assert _rule(P, who, key) is None, who


def test_a_payee_without_a_home_bank_reads_its_recalls() -> None:
    L = Ledger()
    L.ok("usd_issuer", S, "issue", currency="USD", to=L.pk("importer"), amount=1_000)
    tx = L.tx("importer", S, "transfer", to=L.pk("exporter"), currency="USD", amount=7,
              uetr=UETR).tx_id.hex()
    L.ok("importer", S, "recall", original_tx=tx, uetr=UETR, reason="CUST")

    def get(c: str, k: str) -> Any:
        return L.get(c, k)
    reader = access.resolve_reader(get, L.pk("exporter"))
    assert reader is not None and access.state_rule(get, reader, S, f"recall/{tx}") == "party"


# ---------------------------------------------------------------------------- the invariant


def test_money_is_neither_made_nor_lost(P: Pay) -> None:
    P.recall()
    P.ret(25_000)
    P.ret(35_000, reason="MS02")
    bal = P.L.balances("USD")
    sup = P.L.get(S, "supply/USD")
    assert sum(bal.values()) == sup["issued"] - sup["redeemed"] == 105_000
    assert min(bal.values()) > 0


# ---------------------------------------------------------------------------- alerts


def _alert_rules(r: Any) -> list[str]:
    return [e.data["rule"] for e in r.events if e.name == "alert"]


def test_a_linked_return_raises_no_round_trip_alert_a_plain_payment_back_does(P: Pay) -> None:
    """A return is the money going back on purpose, recorded against its payment: the
    round-trip rule (B pays A within 24 h of A paying B) would put every return in the home
    banks' review queues. Paying back with a plain transfer still raises it."""
    r = P.ret(30_000)
    assert r.ok, r.error_message
    assert "round_trip" not in _alert_rules(r)
    r = P.L.tx("bob", S, "transfer", to=P.L.pk("alice"), currency="USD", amount=30_000)
    assert r.ok, r.error_message
    assert "round_trip" in _alert_rules(r)


def test_paying_again_after_a_return_is_no_round_trip(P: Pay) -> None:
    """The return leaves no trace in the returner's pattern memory: the payer re-sending the
    right payment after its duplicate came back is not money going back."""
    assert P.ret(60_000).ok
    r = P.L.tx("alice", S, "transfer", to=P.L.pk("bob"), currency="USD", amount=60_000)
    assert r.ok, r.error_message
    assert "round_trip" not in _alert_rules(r)


def test_a_rejection_naming_an_older_recall_rejects_nothing(P: Pay) -> None:
    """A rejection file written for the first recall, processed after a second was made, must
    not reject the second: the same no_open_recall as for no recall at all."""
    first = P.recall()["recall_id"]
    assert P.L.tx("bob", S, "reject_recall", original_tx=P.tx, reason="CUST",
                  recall_id=first).ok
    second = P.recall(reason="CUST")["recall_id"]
    r = P.L.tx("bob", S, "reject_recall", original_tx=P.tx, reason="CUST", recall_id=first)
    assert not r.ok and r.error_code == "no_open_recall"
    assert P.record()["recall"]["status"] == "open"
    assert P.L.tx("bob", S, "reject_recall", original_tx=P.tx, reason="CUST",
                  recall_id=second).ok
