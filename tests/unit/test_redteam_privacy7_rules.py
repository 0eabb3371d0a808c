"""Red-team round 7's read rules on their own (node/access.py, no node; docs/redteam-privacy.md):
a regulator's pending order is its account's home bank's and the supervisors', never the
account's; the read of a customer's standing names its rule for the read log; and the
auditor's way to a disposition (decision on auditors: a bank discloses its own record, which
the chain's commitment checks)."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin import cli_alerts
from node import access

CUSTOMER, BANK, OTHER, REGULATOR, COURT = "c" * 64, "b" * 64, "e" * 64, "f" * 64, "d" * 64

STATE: dict[tuple[str, str], Any] = {
    ("governance", "id/" + CUSTOMER): {"role": "exporter", "registered_by": BANK,
                                       "bank": "BANKXX"},
    ("governance", "id/" + BANK): {"role": "bank", "bank": "BANKXX", "admin": True},
    ("governance", "id/" + OTHER): {"role": "bank", "bank": "OTHERX", "admin": True},
    ("governance", "id/" + COURT): {"role": "importer", "registered_by": OTHER},
    ("governance", "id/" + REGULATOR): {"role": "auditor"},
    ("governance", "regulators"): [REGULATOR],
}


def get(contract: str, key: str) -> Any:
    return STATE.get((contract, key))


def reader(who: str) -> access.Reader:
    r = access.resolve_reader(get, who)
    assert r is not None
    return r


PENDING = [
    {"contract": "settlement", "name": "seizure_pending", "tx_id": "1" * 64,
     "data": {"account": CUSTOMER, "currency": "USD", "amount": 600, "to": COURT,
              "order_ref": "COURT-7", "by": REGULATOR}},
    {"contract": "governance", "name": "rebind_pending", "tx_id": "2" * 64,
     "data": {"identity": CUSTOMER, "new_key": "a" * 64, "order_ref": "R-7",
              "by": REGULATOR}},
]


@pytest.mark.parametrize("event", PENDING, ids=["seizure", "rebind"])
def test_a_pending_order_reaches_the_home_bank_not_the_account(event: dict[str, Any]) -> None:
    assert access.event_rule(get, reader(BANK), event) == "home_bank"
    for who in (CUSTOMER, OTHER, COURT):  # the account, another bank, the seizure's payee
        assert access.event_rule(get, reader(who), event) is None, who
    assert access.tx_parties({"events": [event]}) == set()


def test_an_executed_seizure_is_the_accounts_to_see() -> None:
    ev = {"contract": "settlement", "name": "seized",
          "data": {"account": CUSTOMER, "to": COURT, "amount": 600, "order_ref": "COURT-7"}}
    assert access.event_rule(get, reader(CUSTOMER), ev) == "own_events"
    assert access.tx_parties({"events": [ev]}) == {CUSTOMER, COURT}


def test_an_alert_to_a_home_bank_is_a_logged_read_and_its_own_refusal_is_not() -> None:
    ev = {"contract": "risk", "name": "alert",
          "data": {"rule": "limit_exceeded", "accounts": [CUSTOMER], "alert": "x-0"}}
    assert access.event_rule(get, reader(CUSTOMER), ev) == "own_events"
    assert access.event_rule(get, reader(BANK), ev) == "home_bank"
    assert not access.logged("own_events") and access.logged("home_bank")


def test_a_standing_read_names_its_rule() -> None:
    frozen = {"role": "exporter", "registered_by": BANK, "bank": "BANKXX", "status": "frozen",
              "frozen_by": BANK, "frozen_by_regulator": False}
    key = "id/" + CUSTOMER
    rules = {who: access.standing_read_rule(get, reader(who), "governance", key, frozen)
             for who in (CUSTOMER, BANK, REGULATOR, OTHER)}
    assert rules == {CUSTOMER: "owner", BANK: "home_bank", REGULATOR: "regulator", OTHER: None}
    active = {k: v for k, v in frozen.items() if k not in access.PRIVATE_ID_FIELDS}
    assert access.standing_read_rule(get, reader(BANK), "governance", key, active) is None
    assert "status" not in access.visible_value(get, reader(OTHER), "governance", key, frozen)


def test_a_disclosed_disposition_is_checked_against_the_commitment() -> None:
    """No auditor is sealed to (decision: a disposition is the reviewer's and the regulators');
    a bank discloses its own record to its auditor, who checks it against the case's
    commitment: a changed disposition, note or nonce does not pass."""
    rec = cli_alerts.review_record("t-0", "reported", b"note", "FIU-1", nonce=b"\x01" * 32)
    review = {"state": "reviewed", "commitment": cli_alerts.commitment(rec)}
    assert cli_alerts.check_record("t-0", review, rec) == rec
    for bad in ({**rec, "disposition": "false_positive", "report_sha256": None},
                {**rec, "nonce": "00" * 32}, {**rec, "note_sha256": "00" * 32}, {"x": 1}, None):
        with pytest.raises(cli_alerts.ReviewCheckError):
            cli_alerts.check_record("t-0", review, bad)
    with pytest.raises(cli_alerts.ReviewCheckError):
        cli_alerts.check_record("t-1", review, rec)  # another alert's record
