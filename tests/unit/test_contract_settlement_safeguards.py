"""settlement safeguards found by the ISO 20022 and risk red-teams: a UETR books once per debtor
(a payment file sent twice is refused), an open PvP offer's escrow stays under its offerer's
freeze and within a seizure's reach, and a cancelled offer's event says what came back."""

from __future__ import annotations

import pytest

from contracts.settlement import ESCROW
from contracts.testing import Ledger

S, R = "settlement", "risk"
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"
UETR2 = "0b6d7a1e-2f3c-4d5e-8f9a-1b2c3d4e5f60"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    for who in ("bank_a", "exporter"):
        led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk(who), amount=1_000_000)
    led.ok("jpy_issuer", S, "issue", currency="JPY", to=led.pk("importer"), amount=1_000_000)
    return led



# ---------------------------------------------------------------------------- one UETR, one payment


def test_a_payment_file_sent_twice_is_not_booked_twice(L: Ledger) -> None:
    L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=600,
         end_to_end_id="E1", uetr=UETR)
    L.fails("duplicate_payment", "bank_a", S, "transfer", to=L.pk("importer"), currency="USD",
            amount=600, end_to_end_id="E1", uetr=UETR)
    assert L.balance("importer", "USD") == 600
    assert L.get(S, f"uetr/{L.pk('bank_a')}/{UETR}")["height"] == L.height - 1


def test_the_same_uetr_is_a_duplicate_whatever_the_amount_or_creditor(L: Ledger) -> None:
    L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=600, uetr=UETR)
    L.fails("duplicate_payment", "bank_a", S, "transfer", to=L.pk("exporter"), currency="USD",
            amount=1, uetr=UETR)


def test_another_debtors_uetr_is_its_own(L: Ledger) -> None:
    L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=600, uetr=UETR)
    L.ok("exporter", S, "transfer", to=L.pk("importer"), currency="USD", amount=600, uetr=UETR)
    assert L.balance("importer", "USD") == 1_200


def test_a_refused_transfer_leaves_its_uetr_free(L: Ledger) -> None:
    L.fails("insufficient_funds", "bank_a", S, "transfer", to=L.pk("importer"), currency="USD",
            amount=10**9, uetr=UETR)
    assert L.get(S, f"uetr/{L.pk('bank_a')}/{UETR}") is None
    L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=600, uetr=UETR)


def test_transfers_without_a_uetr_are_not_deduplicated(L: Ledger) -> None:
    for _ in range(2):
        L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=5,
             end_to_end_id="NOTPROVIDED")
    L.ok("bank_a", S, "transfer", to=L.pk("importer"), currency="USD", amount=5, uetr=UETR2)
    assert L.balance("importer", "USD") == 15


# ---------------------------------------------------------------------------- PvP escrow vs freezes


def _offer(L: Ledger) -> str:
    return str(L.ok("exporter", S, "offer_pvp", counterparty=L.pk("importer"),
                    give={"currency": "USD", "amount": 900_000},
                    get={"currency": "JPY", "amount": 900_000},
                    expires_at=L.now_ms + 10**7)["offer_id"])


def test_a_frozen_offerers_escrow_cannot_be_accepted(L: Ledger) -> None:
    off = _offer(L)
    L.ok("regulator", R, "freeze_account", account=L.pk("exporter"), currency="USD",
         reason="court order", order_ref="CO-5")
    L.fails("account_frozen", "importer", S, "accept_pvp", offer_id=off)
    assert L.balance(ESCROW, "USD") == 900_000
    assert L.balance("exporter", "JPY") == 0 and L.balance("importer", "JPY") == 1_000_000


def test_a_frozen_offerer_identity_cannot_be_paid_through_its_offer(L: Ledger) -> None:
    off = _offer(L)
    L.ok("regulator", "governance", "freeze_identity", pubkey=L.pk("exporter"),
         reason="court order", order_ref="CO-6")
    L.fails("account_frozen", "importer", S, "accept_pvp", offer_id=off)


def test_seize_reaches_an_open_offers_escrow(L: Ledger) -> None:
    off = _offer(L)
    exp = L.pk("exporter")
    L.ok("regulator", R, "freeze_account", account=exp, currency="USD", reason="court order",
         order_ref="CO-5")
    r = L.tx("regulator", S, "seize", account=exp, currency="USD", amount=1_000_000,
             order_ref="S1", offer_id=off)
    assert r.ok, r.error_message
    assert [e.name for e in r.events] == ["pvp_cancelled", "seized"]
    assert r.events[0].data["give"] == {"currency": "USD", "amount": 900_000}
    assert L.balance(ESCROW, "USD") == 0 and L.balance(exp, "USD") == 0
    assert L.balance("seized", "USD") == 1_000_000
    assert L.get(S, f"pvp/{off}")["status"] == "closed"
    L.fails("offer_closed", "importer", S, "accept_pvp", offer_id=off)


def test_seize_refuses_an_offer_that_is_not_the_accounts(L: Ledger) -> None:
    off = _offer(L)
    L.fails("bad_field", "regulator", S, "seize", account=L.pk("bank_a"), currency="USD",
            amount=1, order_ref="S2", offer_id=off)
    L.fails("bad_field", "regulator", S, "seize", account=L.pk("exporter"), currency="JPY",
            amount=1, order_ref="S3", offer_id=off)
    L.fails("unknown_offer", "regulator", S, "seize", account=L.pk("exporter"), currency="USD",
            amount=1, order_ref="S4", offer_id="ab" * 32)
    assert L.balance(ESCROW, "USD") == 900_000


def test_a_cancelled_offers_event_carries_the_refunded_leg(L: Ledger) -> None:
    off = _offer(L)
    r = L.tx("exporter", S, "cancel_pvp", offer_id=off)
    assert r.events[0].data == {"offer_id": off, "offerer": L.pk("exporter"),
                                "give": {"currency": "USD", "amount": 900_000}}
