"""Who gets which transaction proof (node/access.py ``tx_proof_rule``, decision 147), on its
own: the supervisors and the sender's home bank the whole proof; the sender an inclusion-only
one, on a chain of ledger format 3 and from a block that also holds another identity's
transaction (in a block of its own transactions only, the header's receipts_root would let it
test its receipt "without an alert"); a mere party, or anyone on format 1 or 2 but the
supervisors, none. The answer never depends on the receipt."""

from __future__ import annotations

from typing import Any

import pytest

from chainfin.proofs import inclusion_only
from node import access

CUSTOMER, BANK, OTHER, REGULATOR, ROTATED = "c" * 64, "b" * 64, "e" * 64, "f" * 64, "d" * 64

STATE: dict[tuple[str, str], Any] = {
    ("governance", "id/" + CUSTOMER): {"role": "exporter", "registered_by": BANK,
                                       "bank": "BANKXX"},
    ("governance", "id/" + BANK): {"role": "bank", "bank": "BANKXX", "admin": True},
    ("governance", "id/" + OTHER): {"role": "importer", "registered_by": BANK,
                                    "bank": "BANKXX"},
    ("governance", "id/" + REGULATOR): {"role": "auditor"},
    ("governance", "regulators"): [REGULATOR],
    ("governance", "key/" + ROTATED): CUSTOMER,  # a key the customer signed with once
}


def get(contract: str, key: str) -> Any:
    return STATE.get((contract, key))


def rule(who: str, sender: str, salted: bool = True, block: tuple[str, ...] = ()) -> Any:
    r = access.resolve_reader(get, who)
    assert r is not None
    return access.tx_proof_rule(get, r, sender, salted, block or (sender,))


def test_the_sender_gets_the_inclusion_only_proof_beside_another_identity() -> None:
    # an institution's transaction (a bank's): another customer's is not enough, since two
    # customers acting together know both leaves (red-team round 7)
    assert rule(CUSTOMER, CUSTOMER, block=(CUSTOMER, BANK)) == "sender"
    assert rule(CUSTOMER, ROTATED, block=(BANK, ROTATED)) == "sender"  # its old key
    assert rule(CUSTOMER, CUSTOMER, block=(CUSTOMER, OTHER)) is None


@pytest.mark.parametrize("block", [(CUSTOMER,), (CUSTOMER, CUSTOMER), (CUSTOMER, ROTATED)])
def test_not_from_a_block_of_its_own_transactions(block: tuple[str, ...]) -> None:
    assert rule(CUSTOMER, CUSTOMER, block=block) is None


def test_formats_1_and_2_are_the_supervisors_only() -> None:
    assert rule(CUSTOMER, CUSTOMER, salted=False, block=(CUSTOMER, OTHER)) is None
    assert rule(BANK, CUSTOMER, salted=False) is None
    assert rule(REGULATOR, CUSTOMER, salted=False) == "regulator"


def test_the_home_bank_and_the_supervisors_get_the_whole_proof() -> None:
    for block in ((CUSTOMER,), (CUSTOMER, OTHER)):
        assert rule(BANK, CUSTOMER, block=block) == "home_bank"
        assert rule(REGULATOR, CUSTOMER, block=block) == "regulator"


def test_another_identity_in_the_block_gets_nothing() -> None:
    assert rule(OTHER, CUSTOMER, block=(CUSTOMER, OTHER)) is None


def test_the_sender_is_served_no_receipt() -> None:
    doc = {"type": "chainfin/tx-proof", "receipt": {}, "receipt_encoding": "80",
           "receipt_path": [], "tx_id": "00" * 32}
    assert inclusion_only(doc) == {"type": "chainfin/tx-proof", "tx_id": "00" * 32}
