"""Near matches on refused payments (decision 205; docs/redteam-risk.md round 9 "Left"): a
payment from or to an identity whose name contains a watched one raises its
``possible_watch_match`` alert even when the payment is refused for another reason (a limit,
the funds, a freeze), once per version of the list (decision 185), and the refusing rule's own
alert keeps the number it has alone (decision 190: no tipping off)."""

from __future__ import annotations

from typing import Any

from contracts import risk
from tests.unit.test_watch_fuzzy import COMPANY, R, S, _ledger, alerts, watch


def _near(r: Any) -> list[dict[str, Any]]:
    return [a for a in alerts(r) if a["party"] == "identity"]


def test_a_near_match_refused_by_its_limit_alerts_once_and_the_limit_alert_keeps_its_number(
        ) -> None:
    """mallory ("Globex Trading Holdings") probes with a payment over its own limit after
    "Globex Trading LLC" is listed: refused ``limit_exceeded`` as before, but its home bank
    and the supervisors get the near match; its own alert is ``<tx>-0`` as for a customer
    with no match; the next refused payment alerts nothing more (screened at this version)."""
    L = _ledger()
    L.ok("bank_b", R, "set_limit", subject=L.pk("mallory"), kind="max_per_tx",
         currency="USD", max=500)
    L.ok("bank_a", R, "set_limit", subject=L.pk("alice"), kind="max_per_tx",
         currency="USD", max=500)
    watch(L, COMPANY)
    r = L.fails("limit_exceeded", "mallory", S, "transfer", to=L.pk("alice"), currency="USD",
                amount=501)
    (near,) = _near(r)
    assert (near["accounts"], near["name"]) == ([L.pk("mallory")], "Globex Trading Holdings")
    (limit,) = alerts(r, "limit_exceeded")
    assert limit["alert"] == r.tx_id.hex() + "-0" and near["alert"] == r.tx_id.hex() + "-1"
    assert L.get(R, "alert/" + near["alert"])["rule"] == "possible_watch_match"
    assert L.get(R, "near_seen/" + L.pk("mallory"))[0] == L.get(R, risk.NEAR_VERSION)
    rules = [a["rule"] for a in L.get(R, "alerts/" + L.pk("mallory"))]
    assert rules == ["limit_exceeded", "possible_watch_match"]
    # an honest customer's refusal: the same number (the payer learns nothing from it)
    r2 = L.fails("limit_exceeded", "alice", S, "transfer", to=L.pk("bob"), currency="USD",
                 amount=501)
    assert not _near(r2) and alerts(r2, "limit_exceeded")[0]["alert"].endswith("-0")
    r3 = L.fails("limit_exceeded", "mallory", S, "transfer", to=L.pk("alice"),
                 currency="USD", amount=501)
    assert not _near(r3)  # once per version of the list
    assert L.get(R, "alert_count/possible_watch_match") == 1


def test_a_near_match_refused_for_its_funds_or_a_frozen_payee_alerts() -> None:
    """Refusals without a rule's alert (the funds, after the screening) and before the
    screening (a frozen counterparty): the near match of the payer, or of the payee, alerts."""
    L = _ledger()
    watch(L, COMPANY)
    r = L.tx("mallory", S, "transfer", to=L.pk("alice"), currency="USD", amount=10**9)
    assert r.status == "rejected" and r.error_code != "limit_exceeded"
    (near,) = _near(r)
    assert near["alert"] == r.tx_id.hex() + "-0"
    L2 = _ledger()
    watch(L2, COMPANY)
    L2.ok("bank_a", R, "freeze_account", account=L2.pk("alice"), currency="USD",
          reason="court order", order_ref="CO-1")
    r = L2.fails("account_frozen", "mallory", S, "transfer", to=L2.pk("alice"),
                 currency="USD", amount=100)
    assert [a["accounts"] for a in _near(r)] == [[L2.pk("mallory")]]
    r = L2.fails("account_frozen", "bob", S, "transfer", to=L2.pk("alice"),
                 currency="USD", amount=100)
    assert not _near(r)  # an honest payer: nothing


def test_an_honest_refused_payment_keeps_only_its_screening_record() -> None:
    L = _ledger()
    watch(L, COMPANY)
    r = L.tx("alice", S, "transfer", to=L.pk("bob"), currency="USD", amount=10**9)
    assert r.status == "rejected" and not alerts(r)
    assert L.get(R, "near_seen/" + L.pk("alice")) == [L.get(R, risk.NEAR_VERSION), None]
    assert L.get(R, "alert_count/possible_watch_match") is None
