"""The read rules of decision 144 on their own (node/access.py, no node): an alert is the home
bank's and the supervisors', never its subject's — whatever the rule, a future one included —
save the account's own ``limit_exceeded`` refusal; the pattern memory likewise; a watch-list
refusal's message is withheld from its sender, its code not."""

from __future__ import annotations

from typing import Any

import pytest

from node import access

CUSTOMER, BANK, OTHER, REGULATOR = "c" * 64, "b" * 64, "e" * 64, "f" * 64

STATE: dict[tuple[str, str], Any] = {
    ("governance", "id/" + CUSTOMER): {"role": "exporter", "registered_by": BANK,
                                       "bank": "BANKXX"},
    ("governance", "id/" + BANK): {"role": "bank", "bank": "BANKXX", "admin": True},
    ("governance", "id/" + OTHER): {"role": "bank", "bank": "OTHERX", "admin": True},
    ("governance", "id/" + REGULATOR): {"role": "auditor"},
    ("governance", "regulators"): [REGULATOR],
}


def get(contract: str, key: str) -> Any:
    return STATE.get((contract, key))


def reader(who: str) -> access.Reader:
    r = access.resolve_reader(get, who)
    assert r is not None
    return r


def alert(rule: str, accounts: list[str]) -> dict[str, Any]:
    return {"contract": "risk", "name": "alert",
            "data": {"rule": rule, "accounts": accounts, "amount": 990}}


@pytest.mark.parametrize("rule", ["structuring", "counterparty_change", "round_trip",
                                  "possible_watch_match", "sanctioned_party",
                                  "a_rule_added_next_year"])
def test_an_alert_reaches_the_home_bank_not_its_subject(rule: str) -> None:
    ev = alert(rule, [CUSTOMER])
    assert not access.event_names_reader(get, reader(CUSTOMER), ev)
    assert access.event_names_reader(get, reader(BANK), ev)
    assert not access.event_names_reader(get, reader(OTHER), ev)


def test_the_account_reads_its_own_limit_refusal() -> None:
    ev = alert("limit_exceeded", [CUSTOMER])
    assert access.event_names_reader(get, reader(CUSTOMER), ev)
    assert access.event_names_reader(get, reader(BANK), ev)


def test_a_party_view_drops_the_alert_naming_the_party() -> None:
    receipt = {"events": [
        {"contract": "settlement", "name": "transferred",
         "data": {"from": OTHER, "to": CUSTOMER, "amount": 5}},
        alert("round_trip", [CUSTOMER, OTHER])]}
    view = access.party_view(get, reader(CUSTOMER), {"tx_id": "t", "status": "committed"},
                             receipt)
    assert [e["name"] for e in view["events"]] == ["transferred"]


@pytest.mark.parametrize("key", [f"alerts/{CUSTOMER}", f"stats/{CUSTOMER}/USD"])
def test_the_monitoring_keys_are_not_the_owners(key: str) -> None:
    assert access.state_rule(get, reader(CUSTOMER), "risk", key) is None
    assert access.state_rule(get, reader(BANK), "risk", key) == "home_bank"
    assert access.state_rule(get, reader(REGULATOR), "risk", key) == "regulator"
    assert access.state_rule(get, reader(OTHER), "risk", key) is None


@pytest.mark.parametrize("key", [f"profile/{CUSTOMER}", f"use/{CUSTOMER}"])
def test_the_limits_and_their_usage_stay_the_owners(key: str) -> None:
    assert access.state_rule(get, reader(CUSTOMER), "risk", key) == "owner"


@pytest.mark.parametrize("key", ["alert/" + "a" * 64 + "-0", "review/" + "a" * 64 + "-0/0",
                                 "queue/*", "queue/*/0", "queue/id:" + BANK])
def test_cases_and_queues_in_state_are_the_supervisors(key: str) -> None:
    for who in (CUSTOMER, BANK):
        assert access.state_rule(get, reader(who), "risk", key) is None
    assert access.state_rule(get, reader(REGULATOR), "risk", key) == "regulator"


def test_a_format_3_proof_goes_to_the_home_bank_not_the_sender() -> None:
    assert access.tx_proof_rule(get, reader(CUSTOMER), CUSTOMER, salted=True) is None
    assert access.tx_proof_rule(get, reader(BANK), CUSTOMER, salted=True) == "home_bank"
    assert access.tx_proof_rule(get, reader(REGULATOR), CUSTOMER, salted=True) == "regulator"


def test_a_sender_reads_the_code_of_a_watch_list_refusal_not_the_role() -> None:
    err = {"code": "sanctioned_party", "message": "the buyer is on the watch list"}
    seen = access.sender_error(err)
    assert seen["code"] == "sanctioned_party" and "buyer" not in seen["message"]
    assert err["message"] == "the buyer is on the watch list"  # the record is not changed
    limit = {"code": "limit_exceeded", "message": "limit cap (max_per_tx, max 10): 11 > 10"}
    assert access.sender_error(limit) == limit
