"""settlement.transfer's optional ISO 20022 references (issue 19): checked, echoed into the
transfer's event and result, absent when not given."""

from __future__ import annotations

import pytest

from contracts.testing import Ledger

S = "settlement"
UETR = "6f2c1b8e-3d4a-4c5b-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def L() -> Ledger:
    led = Ledger()
    led.ok("usd_issuer", S, "issue", currency="USD", to=led.pk("bank_a"), amount=1_000)
    return led


def test_refs_are_echoed_into_event_and_result(L: Ledger) -> None:
    refs = {"end_to_end_id": "E2E-0001", "uetr": UETR, "remittance_info": "INV 42 / PO 7"}
    r = L.tx("bank_a", S, "transfer", to=L.pk("exporter"), currency="USD", amount=10, **refs)
    assert r.ok and r.result == {"balance": 990, **refs}
    (ev,) = r.events
    assert ev.name == "transferred" and ev.data == {
        "from": L.pk("bank_a"), "to": L.pk("exporter"), "currency": "USD", "amount": 10, **refs}


def test_without_refs_nothing_changes(L: Ledger) -> None:
    r = L.tx("bank_a", S, "transfer", to=L.pk("exporter"), currency="USD", amount=10)
    assert r.ok and r.result == {"balance": 990}
    assert set(r.events[0].data) == {"from", "to", "currency", "amount"}


@pytest.mark.parametrize("field,bad", [
    ("end_to_end_id", ""), ("end_to_end_id", "x" * 36), ("end_to_end_id", " E2E"),
    ("end_to_end_id", 7), ("end_to_end_id", "a\nb"), ("uetr", UETR.upper()),
    ("uetr", "6f2c1b8e-3d4a-1c5b-9e7f-0a1b2c3d4e5f"), ("uetr", "not-a-uuid"),
    ("remittance_info", "r" * 141),
])
def test_bad_refs_are_refused(L: Ledger, field: str, bad: object) -> None:
    L.fails("bad_field", "bank_a", S, "transfer", to=L.pk("exporter"), currency="USD",
            amount=10, **{field: bad})
    assert L.balance("bank_a", "USD") == 1_000
