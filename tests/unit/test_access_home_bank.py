"""The REST layer's home-bank rule is the contract's (decision 111): a bank reads its
customers' accounts, never another bank's, whatever BIC it carries or spelling it uses."""

from __future__ import annotations

from typing import Any

from node.access import Reader, account_rule

IDS: dict[str, dict[str, Any]] = {
    "bank_e": {"role": "bank", "bank": "BANK_E", "registered_by": "bank_a"},
    "acme": {"role": "exporter", "bank": "BANK_E", "registered_by": "bank_a"},
}


def get(contract: str, key: str) -> Any:
    return IDS.get(key.removeprefix("id/")) if contract == "governance" else None


def bank(ident: str, bic: str) -> Reader:
    return Reader(key=ident, ident_id=ident, role="bank", bank=bic, validator=False,
                  regulator=False)


def test_a_bank_with_the_same_bic_reads_its_customers_not_the_bank() -> None:
    ops = bank("ops", "bank_e ")  # another identity of BANK_E, spelled loosely
    assert account_rule(get, ops, "acme") == "home_bank"
    assert account_rule(get, ops, "bank_e") is None


def test_the_admin_that_registered_a_bank_does_not_read_its_accounts() -> None:
    assert account_rule(get, bank("bank_a", "BANK_A"), "acme") == "home_bank"
    assert account_rule(get, bank("bank_a", "BANK_A"), "bank_e") is None


def test_a_rotated_senders_transactions_stay_its_home_banks() -> None:
    """Red-team round 2: after a key rotation the sender key is no identity id; the rules
    resolve it (governance/key/<key>) before asking who the sender's home bank is."""
    from node.access import tx_rule

    ids = {**IDS, "key/k2": "acme"}

    def get2(contract: str, key: str) -> Any:
        if contract != "governance":
            return None
        return ids.get(key) if key.startswith("key/") else IDS.get(key.removeprefix("id/"))

    assert tx_rule(get2, bank("bank_a", "BANK_A"), "k2", None) == "home_bank"
    owner = Reader(key="k2", ident_id="acme", role="exporter", bank=None, validator=False,
                   regulator=False)
    assert tx_rule(get2, owner, "k2", None) == "sender"


def test_a_loopback_authority_is_taken_from_loopback_only() -> None:
    """Red-team round 2: every node bound to a wildcard address answers to localhost:<port>;
    a read signed for one node's loopback name must not replay on another from outside."""
    from node.api import _authorities_for

    auth = frozenset({"localhost:8000", "127.0.0.1:8000", "node0.bank.example:8000"})
    assert _authorities_for(auth, "127.0.0.1") == auth
    assert _authorities_for(auth, "10.1.2.3") == {"node0.bank.example:8000"}
